// Package message validates user messages the way SQS does, computes the SQS MD5 digests, and
// encodes a message into the bytes stored in DynamoDB (and back).
package message

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dynamodbqueue/dynamodbqueue/internal/keys"
)

// Limits, as SQS documents them.
const (
	MaxAttributes       = 10
	MaxAttributeNameLen = 256
	MaxDataTypeLen      = 256
	DefaultMaxSize      = 1 << 20 // SQS's current limit on body plus attributes: 1 MiB
)

// Errors returned by Validate. The public package re-exports them.
var (
	ErrInvalidMessage = errors.New("invalid message")
	ErrTooLarge       = errors.New("message too large")
)

// TooLargeError is a message whose body and attributes exceed the size limit. It matches
// ErrTooLarge with errors.Is.
type TooLargeError struct {
	// Size is the message's size as SQS counts it: body plus every attribute's name, type and value.
	Size int
	// Limit is the largest size allowed.
	Limit int
}

// Error says how large the message is and what the limit is.
func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%v: %d bytes of body and attributes, at most %d are allowed", ErrTooLarge, e.Size, e.Limit)
}

// Is reports whether target is ErrTooLarge.
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

// Validate checks body and message attributes against SQS's rules and maxSize (the sum of the
// body and every attribute's name, type and value, as SQS counts it).
func Validate(m *events.SQSMessage, maxSize int) error {
	if m.Body == "" {
		return fmt.Errorf("%w: body is empty (SQS requires at least one character)", ErrInvalidMessage)
	}
	if i := invalidBodyChar(m.Body); i >= 0 {
		return fmt.Errorf("%w: body has a character SQS does not allow at byte %d", ErrInvalidMessage, i)
	}
	if n := len(m.MessageAttributes); n > MaxAttributes {
		return fmt.Errorf("%w: %d message attributes, at most %d are allowed", ErrInvalidMessage, n, MaxAttributes)
	}
	size := len(m.Body)
	for name, a := range m.MessageAttributes {
		if err := validateAttribute(name, a); err != nil {
			return err
		}
		size += len(name) + len(a.DataType) + attributeValueSize(a)
	}
	if size > maxSize {
		return &TooLargeError{Size: size, Limit: maxSize}
	}
	return nil
}

func attributeValueSize(a events.SQSMessageAttribute) int {
	n := len(a.BinaryValue)
	if a.StringValue != nil {
		n += len(*a.StringValue)
	}
	for _, s := range a.StringListValues {
		n += len(s)
	}
	for _, b := range a.BinaryListValues {
		n += len(b)
	}
	return n
}

func validateAttribute(name string, a events.SQSMessageAttribute) error {
	if name == "" || len(name) > MaxAttributeNameLen {
		return fmt.Errorf("%w: attribute name %q must be 1..%d characters", ErrInvalidMessage, name, MaxAttributeNameLen)
	}
	if bad := keys.FirstInvalid(name, keys.NameChar); bad != "" {
		return fmt.Errorf("%w: attribute name %q has %s; allowed are A-Z a-z 0-9, underscore, hyphen and period", ErrInvalidMessage, name, bad)
	}
	lower := strings.ToLower(name)
	if strings.HasPrefix(lower, "aws.") || strings.HasPrefix(lower, "amazon.") || strings.Contains(name, "..") ||
		name[0] == '.' || name[len(name)-1] == '.' {
		return fmt.Errorf("%w: attribute name %q is reserved or has misplaced periods", ErrInvalidMessage, name)
	}
	base, _, _ := strings.Cut(a.DataType, ".")
	if len(a.DataType) > MaxDataTypeLen {
		return fmt.Errorf("%w: attribute %q data type is longer than %d", ErrInvalidMessage, name, MaxDataTypeLen)
	}
	switch base {
	case "String":
		if a.StringValue == nil || *a.StringValue == "" {
			return fmt.Errorf("%w: attribute %q of type %s needs a non-empty StringValue", ErrInvalidMessage, name, a.DataType)
		}
		if i := invalidBodyChar(*a.StringValue); i >= 0 {
			return fmt.Errorf("%w: attribute %q has a character SQS does not allow at byte %d", ErrInvalidMessage, name, i)
		}
	case "Number":
		if a.StringValue == nil {
			return fmt.Errorf("%w: attribute %q of type %s needs a StringValue", ErrInvalidMessage, name, a.DataType)
		}
		if !isDecimal(*a.StringValue) {
			return fmt.Errorf("%w: attribute %q of type Number has value %q; SQS takes a decimal number: digits with an optional sign, fraction and exponent (not NaN, Inf or hexadecimal)", ErrInvalidMessage, name, *a.StringValue)
		}
		if _, err := strconv.ParseFloat(*a.StringValue, 64); err != nil {
			return fmt.Errorf("%w: attribute %q of type Number has value %q, which is out of range", ErrInvalidMessage, name, *a.StringValue)
		}
	case "Binary":
		if len(a.BinaryValue) == 0 {
			return fmt.Errorf("%w: attribute %q of type %s needs a non-empty BinaryValue", ErrInvalidMessage, name, a.DataType)
		}
	default:
		return fmt.Errorf("%w: attribute %q has data type %q; it must be String, Number or Binary (optionally with a .custom suffix)", ErrInvalidMessage, name, a.DataType)
	}
	return nil
}

// isDecimal reports whether s is a decimal number: an optional sign, digits with an optional
// fraction (at least one digit in all), and an optional exponent. strconv.ParseFloat also takes
// NaN, Inf, hexadecimal and underscores, which SQS rejects.
func isDecimal(s string) bool {
	i, digits := 0, 0
	skipDigits := func() int {
		n := 0
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			n++
		}
		return n
	}
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits += skipDigits()
	if i < len(s) && s[i] == '.' {
		i++
		digits += skipDigits()
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if skipDigits() == 0 {
			return false
		}
	}
	return i == len(s)
}

// invalidBodyChar returns the byte offset of the first character SQS rejects, or -1.
// Allowed: #x9 #xA #xD, #x20-#xD7FF, #xE000-#xFFFD, #x10000-#x10FFFF.
func invalidBodyChar(s string) int {
	for i, r := range s {
		switch {
		case r == utf8.RuneError:
			if _, size := utf8.DecodeRuneInString(s[i:]); size <= 1 {
				return i
			}
		case r == 0x9 || r == 0xA || r == 0xD:
		case r >= 0x20 && r <= 0xD7FF, r >= 0xE000 && r <= 0xFFFD, r >= 0x10000 && r <= 0x10FFFF:
		default:
			return i
		}
	}
	return -1
}

// MD5OfBody returns the hex MD5 of the body, as SQS reports it.
func MD5OfBody(body string) string {
	sum := md5.Sum([]byte(body))
	return hex.EncodeToString(sum[:])
}

// MD5OfAttributes returns the MD5 of the message attributes with the algorithm SQS documents
// (names sorted; each name, type and value length-prefixed; a transport byte per value), or ""
// when there are none.
func MD5OfAttributes(attrs map[string]events.SQSMessageAttribute) string {
	if len(attrs) == 0 {
		return ""
	}
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	sort.Strings(names)
	h := md5.New()
	var lenBuf [4]byte
	put := func(b []byte) {
		binary.BigEndian.PutUint32(lenBuf[:], uint32(len(b)))
		h.Write(lenBuf[:])
		h.Write(b)
	}
	for _, n := range names {
		a := attrs[n]
		put([]byte(n))
		put([]byte(a.DataType))
		if strings.HasPrefix(a.DataType, "Binary") {
			h.Write([]byte{2})
			put(a.BinaryValue)
		} else {
			h.Write([]byte{1})
			if a.StringValue != nil {
				put([]byte(*a.StringValue))
			} else {
				put(nil)
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Stored forms. The first byte tells them apart: a JSON object starts with '{'.
//
//   - legacy: the whole events.SQSMessage as JSON, without the receipt handle (written before
//     the compact form; still read).
//   - compact: formatCompact, then the JSON of a compactMessage: only what cannot be derived.
//     The message ID and the send time are item attributes (mid, st) and the MD5 digests are
//     computed from the body and attributes, so storing them again would triple the bytes every
//     poll reads back for a small message.
const formatCompact = 0x01

// sentTimestamp is the SentTimestamp attribute, which the compact form leaves to the item.
const sentTimestamp = "SentTimestamp"

// compactMessage is the compact stored form of a message.
type compactMessage struct {
	Body           string                                `json:"b"`
	Attributes     map[string]string                     `json:"a,omitempty"`
	MessageAttrs   map[string]events.SQSMessageAttribute `json:"m,omitempty"`
	EventSourceARN string                                `json:"esa,omitempty"`
	EventSource    string                                `json:"es,omitempty"`
	AWSRegion      string                                `json:"r,omitempty"`
}

// Encode returns the compact stored form of a message. It leaves out the receipt handle
// (which belongs to a claim, not to the message), the message ID, the MD5 digests and the
// SentTimestamp attribute: Decode computes the digests, and the caller keeps the ID and the
// send time in the item and restores them (see Decode).
func Encode(m events.SQSMessage) ([]byte, error) {
	c := compactMessage{Body: m.Body, MessageAttrs: m.MessageAttributes,
		EventSourceARN: m.EventSourceARN, EventSource: m.EventSource, AWSRegion: m.AWSRegion}
	for k, v := range m.Attributes {
		if k == sentTimestamp {
			continue
		}
		if c.Attributes == nil {
			c.Attributes = make(map[string]string, len(m.Attributes))
		}
		c.Attributes[k] = v
	}
	var buf bytes.Buffer
	buf.WriteByte(formatCompact)
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("encode message: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Decode reverses Encode, and reads the legacy form too. A message decoded from the compact
// form has its MD5 digests computed, and no MessageId and no SentTimestamp attribute: the
// caller sets them from the item.
func Decode(b []byte) (events.SQSMessage, error) {
	var m events.SQSMessage
	if len(b) == 0 || b[0] != formatCompact {
		if err := json.Unmarshal(b, &m); err != nil {
			return m, fmt.Errorf("decode stored message: %w", err)
		}
		return m, nil
	}
	var c compactMessage
	if err := json.Unmarshal(b[1:], &c); err != nil {
		return m, fmt.Errorf("decode stored message: %w", err)
	}
	m = events.SQSMessage{Body: c.Body, Attributes: c.Attributes, MessageAttributes: c.MessageAttrs,
		EventSourceARN: c.EventSourceARN, EventSource: c.EventSource, AWSRegion: c.AWSRegion,
		Md5OfBody: MD5OfBody(c.Body), Md5OfMessageAttributes: MD5OfAttributes(c.MessageAttrs)}
	if m.Attributes == nil {
		m.Attributes = map[string]string{}
	}
	return m, nil
}
