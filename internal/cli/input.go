package cli

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// ParseAttr parses a --attr value, name=type:value, into a message attribute. The type is
// String, Number or Binary (case-insensitive), optionally with a custom suffix as in SQS
// (String.json); Binary values are base64. name=value without a type is a String.
func ParseAttr(s string) (name string, attr events.SQSMessageAttribute, err error) {
	name, rest, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return "", attr, fmt.Errorf("attribute %q: want name=type:value, e.g. color=String:blue", s)
	}
	typ, value, typed := strings.Cut(rest, ":")
	if !typed {
		typ, value = "String", rest
	}
	base, custom, hasCustom := strings.Cut(typ, ".")
	switch strings.ToLower(base) {
	case "string":
		base = "String"
	case "number":
		base = "Number"
	case "binary":
		base = "Binary"
	default:
		return "", attr, fmt.Errorf("attribute %q: type %q must be String, Number or Binary (with an optional .suffix)", s, typ)
	}
	attr.DataType = base
	if hasCustom {
		attr.DataType += "." + custom
	}
	if base == "Binary" {
		b, err := base64.StdEncoding.DecodeString(value)
		if err != nil {
			return "", attr, fmt.Errorf("attribute %q: Binary value must be base64: %v", s, err)
		}
		attr.BinaryValue = b
	} else {
		v := value
		attr.StringValue = &v
	}
	return name, attr, nil
}

// ParseAttrs parses --attr values into a map; a name given twice is an error.
func ParseAttrs(specs []string) (map[string]events.SQSMessageAttribute, error) {
	if len(specs) == 0 {
		return nil, nil
	}
	attrs := make(map[string]events.SQSMessageAttribute, len(specs))
	for _, s := range specs {
		name, a, err := ParseAttr(s)
		if err != nil {
			return nil, err
		}
		if _, dup := attrs[name]; dup {
			return nil, fmt.Errorf("attribute %q given twice", name)
		}
		attrs[name] = a
	}
	return attrs, nil
}

// inputMessage is one message of JSON input: an events.SQSMessage as receive prints it, or
// just {"body": ...} with optional shortcuts for the push attributes.
type inputMessage struct {
	Body              json.RawMessage                       `json:"body"`
	Attributes        map[string]string                     `json:"attributes"`
	MessageAttributes map[string]events.SQSMessageAttribute `json:"messageAttributes"`
	// Shortcuts for the MessageGroupId, MessageDeduplicationId and DelaySeconds attributes.
	Group        string `json:"group"`
	DedupID      string `json:"dedupId"`
	DelaySeconds *int   `json:"delaySeconds"`
}

// pushAttributes are the attributes a push reads; the others (SentTimestamp,
// ApproximateReceiveCount, ...) describe an earlier delivery and are dropped from input.
var pushAttributes = []string{
	dynamodbqueue.AttributeMessageGroupID,
	dynamodbqueue.AttributeMessageDeduplicationID,
	dynamodbqueue.AttributeDelaySeconds,
}

// toMessage turns the input into a message to push.
func (in *inputMessage) toMessage() (events.SQSMessage, error) {
	var m events.SQSMessage
	body := bytes.TrimSpace(in.Body)
	switch {
	case len(body) == 0 || string(body) == "null":
		return m, errors.New(`no "body"`)
	case body[0] == '"':
		if err := json.Unmarshal(body, &m.Body); err != nil {
			return m, fmt.Errorf("body: %v", err)
		}
	default:
		// A JSON object, array, number or boolean is pushed as its compact JSON text.
		var buf bytes.Buffer
		if err := json.Compact(&buf, body); err != nil {
			return m, fmt.Errorf("body: %v", err)
		}
		m.Body = buf.String()
	}
	for _, name := range pushAttributes {
		if v, ok := in.Attributes[name]; ok {
			setAttr(&m, name, v)
		}
	}
	if in.Group != "" {
		setAttr(&m, dynamodbqueue.AttributeMessageGroupID, in.Group)
	}
	if in.DedupID != "" {
		setAttr(&m, dynamodbqueue.AttributeMessageDeduplicationID, in.DedupID)
	}
	if in.DelaySeconds != nil {
		setAttr(&m, dynamodbqueue.AttributeDelaySeconds, fmt.Sprint(*in.DelaySeconds))
	}
	m.MessageAttributes = in.MessageAttributes
	return m, nil
}

func setAttr(m *events.SQSMessage, name, value string) {
	if m.Attributes == nil {
		m.Attributes = map[string]string{}
	}
	m.Attributes[name] = value
}

// ParseJSONMessages reads messages from JSON input: a JSON array of messages, or a stream of
// JSON objects (JSON lines, or pretty-printed objects one after another). Each object is an
// events.SQSMessage (as receive prints it) or {"body": ...}; a body that is not a string is
// pushed as its JSON text. Attributes other than MessageGroupId, MessageDeduplicationId and
// DelaySeconds are dropped, so received messages can be pushed again. name says where the
// input comes from, for errors.
func ParseJSONMessages(r io.Reader, name string) ([]events.SQSMessage, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var ins []inputMessage
		if err := json.Unmarshal(trimmed, &ins); err != nil {
			return nil, fmt.Errorf("%s: %w", name, jsonError(data, err))
		}
		msgs := make([]events.SQSMessage, 0, len(ins))
		for i := range ins {
			m, err := ins[i].toMessage()
			if err != nil {
				return nil, fmt.Errorf("%s: message %d: %v", name, i+1, err)
			}
			msgs = append(msgs, m)
		}
		return msgs, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var msgs []events.SQSMessage
	for {
		start := dec.InputOffset()
		var in inputMessage
		err := dec.Decode(&in)
		if errors.Is(err, io.EOF) {
			return msgs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, jsonError(data, err))
		}
		m, err := in.toMessage()
		if err != nil {
			return nil, fmt.Errorf("%s: line %d: %v", name, lineAt(data, int(start)+leadingSpace(data[start:])), err)
		}
		msgs = append(msgs, m)
	}
}

// maxBodyLine is the longest line ParseLines accepts: a body of the library's largest message
// size. A longer line could not be pushed anyway.
const maxBodyLine = dynamodbqueue.DefaultMaxMessageSize

// maxJSONLine is the longest line ParseHandles accepts: a message of the library's largest
// size as JSON from any writer, even one escaping every byte as \u00XX (six bytes), plus room
// for the IDs, receipt handle, digests and attribute names around it.
const maxJSONLine = 6*dynamodbqueue.DefaultMaxMessageSize + 64<<10

// lineTooLongError is scanLines' error for a line longer than its limit.
type lineTooLongError struct{ line, limit int }

func (e *lineTooLongError) Error() string {
	return fmt.Sprintf("line %d: more than %d bytes", e.line, e.limit)
}

// scanLines calls fn with each line of r (without "\n" or a trailing "\r") and its number,
// from 1. A line longer than limit bytes stops it with a *lineTooLongError.
func scanLines(r io.Reader, limit int, fn func(n int, line string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), limit+len("\r\n"))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSuffix(sc.Text(), "\r")
		if len(line) > limit {
			return &lineTooLongError{line: n, limit: limit}
		}
		if err := fn(n, line); err != nil {
			return err
		}
	}
	if errors.Is(sc.Err(), bufio.ErrTooLong) {
		return &lineTooLongError{line: n + 1, limit: limit}
	}
	return sc.Err()
}

// ParseLines reads one message body per line; empty lines are skipped and a trailing \r is
// removed. A line longer than the largest message fails with ErrMessageTooLarge. name says
// where the input comes from, for errors.
func ParseLines(r io.Reader, name string) ([]events.SQSMessage, error) {
	var msgs []events.SQSMessage
	err := scanLines(r, maxBodyLine, func(_ int, line string) error {
		if line != "" {
			msgs = append(msgs, events.SQSMessage{Body: line})
		}
		return nil
	})
	var long *lineTooLongError
	if errors.As(err, &long) {
		return nil, fmt.Errorf("%s: line %d: %w: more than %d bytes, the most a message may have",
			name, long.line, dynamodbqueue.ErrMessageTooLarge, long.limit)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return msgs, nil
}

// ParseHandles reads receipt handles, one per line. A line that is a JSON object (a message as
// receive prints it) gives its receiptHandle, so `ddbq receive | ddbq delete` works for any
// message receive can print.
func ParseHandles(r io.Reader) ([]string, error) {
	var hs []string
	err := scanLines(r, maxJSONLine, func(n int, line string) error {
		line = strings.TrimSpace(line)
		if line == "" {
			return nil
		}
		if line[0] == '{' {
			var m struct {
				ReceiptHandle string `json:"receiptHandle"`
			}
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				return fmt.Errorf("line %d: %v", n, err)
			}
			if m.ReceiptHandle == "" {
				return fmt.Errorf(`line %d: no "receiptHandle"`, n)
			}
			line = m.ReceiptHandle
		}
		hs = append(hs, line)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("stdin: %w", err)
	}
	return hs, nil
}

// jsonError adds the line number to a JSON decoding error, which it wraps.
func jsonError(data []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("line %d: invalid JSON: %w", lineAt(data, int(se.Offset)), err)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("line %d: %w", lineAt(data, int(te.Offset)), err)
	}
	return err
}

// lineAt returns the 1-based line number of byte offset off.
func lineAt(data []byte, off int) int {
	off = min(max(off, 0), len(data))
	return bytes.Count(data[:off], []byte("\n")) + 1
}

func leadingSpace(b []byte) int {
	return len(b) - len(bytes.TrimLeft(b, " \t\r\n"))
}
