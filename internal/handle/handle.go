// Package handle encodes and parses receipt handles.
//
// A handle names one claim: the table, the message item, the group lock it was claimed under
// (if any), and the random claim token that the claim wrote into the item. Since version 2 it
// also carries what a delete must know of the message (its body chunk count, whether it has a
// deduplication ID), so the delete need not read the item back. Deletes and
// visibility changes are conditional writes on that token, so a handle whose claim has been
// superseded (the message was claimed again after its visibility timeout) matches nothing.
//
// The token is 128 random bits that only DynamoDB and the claimer know: that is what makes a
// handle impossible to forge. The MAC over the rest is an integrity check that rejects
// tampered, truncated or foreign handles before any request is sent. It is keyed with a
// per-deployment key when the user sets one, so handles cannot be minted by anyone without it.
package handle

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"sync"
)

// Errors of Parse. The public package re-exports ErrInvalid.
var ErrInvalid = errors.New("invalid receipt handle")

// InvalidError is a receipt handle that cannot be used; Reason says why. It matches ErrInvalid
// with errors.Is.
type InvalidError struct {
	// Reason says what is wrong: "empty", "not base64url", "signature does not match ...", ...
	Reason string
}

// Error names the problem.
func (e *InvalidError) Error() string { return ErrInvalid.Error() + ": " + e.Reason }

// Is reports whether target is ErrInvalid.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

func invalid(reason string) error { return &InvalidError{Reason: reason} }

// TokenLen is the length of a claim token in bytes.
const TokenLen = 16

// Versions, the first byte of every encoded handle; bump it when the layout changes. Version 2
// adds what a delete must know about the message after the token (so the delete need not read
// the item back); version 1 handles, issued before, still parse, with Legacy set.
const (
	version1 = 1
	version  = 2
)

// flagDedup marks, in a version 2 handle, a message that has a deduplication ID.
const flagDedup = 1

// macLen is the truncated HMAC-SHA256 length. 96 bits is ample for an integrity check; the
// unforgeability comes from the token.
const macLen = 12

// metaLen is the length of what version 2 adds after the token: a flags byte and a 16-bit
// chunk count.
const metaLen = 3

// maxField bounds each length-prefixed field (keys are far shorter; DynamoDB allows 2 KB).
const maxField = 2048

// Handle is the decoded content of a receipt handle.
type Handle struct {
	Table string // table the message lives in
	PK    string // partition key of the message item
	SK    string // sort key of the message item
	Group string // sort key of the group lock item, empty for messages outside groups
	Token string // claim token (hex) written into the item by the claim
	// Chunks is the number of body chunk items of the message (0: the body is in the item).
	Chunks int
	// Dedup says the message has a deduplication ID (its record is marked consumed on delete).
	Dedup bool
	// Legacy marks a version 1 handle, which does not carry Chunks and Dedup: a delete must
	// read the item back to learn them. Encode keeps the version, so it re-encodes identically.
	Legacy bool
}

// NewToken returns a fresh random claim token.
func NewToken() string {
	var b [TokenLen]byte
	_, _ = rand.Read(b[:]) // never fails since Go 1.24
	return hex.EncodeToString(b[:])
}

// Signer encodes and verifies handles with one key. Safe for concurrent use.
type Signer struct {
	pool sync.Pool
}

// defaultKey is used when the deployment sets no key: handles then carry a checksum that
// catches tampering and corruption, while forgery still needs the secret claim token.
var defaultKey = []byte("dynamodbqueue receipt handle v1")

// NewSigner returns a Signer for key (nil or empty: the built-in key).
func NewSigner(key []byte) *Signer {
	if len(key) == 0 {
		key = defaultKey
	}
	k := append([]byte(nil), key...)
	return &Signer{pool: sync.Pool{New: func() any { return hmac.New(sha256.New, k) }}}
}

var b64 = base64.RawURLEncoding.Strict() // strict: one string per handle

// Encode returns the opaque string form of h.
func (s *Signer) Encode(h Handle) string {
	var tok [TokenLen]byte
	if len(h.Token) != 2*TokenLen {
		panic(fmt.Sprintf("handle: token %q is not %d hex bytes", h.Token, TokenLen))
	}
	if _, err := hex.Decode(tok[:], []byte(h.Token)); err != nil {
		panic(fmt.Sprintf("handle: token %q is not %d hex bytes", h.Token, TokenLen))
	}
	if h.Chunks < 0 || h.Chunks > 0xffff {
		panic(fmt.Sprintf("handle: chunk count %d out of range", h.Chunks))
	}
	n := 1 + 4*2 + len(h.Table) + len(h.PK) + len(h.SK) + len(h.Group) + TokenLen + metaLen + macLen
	raw := make([]byte, 0, n)
	raw = append(raw, version)
	if h.Legacy {
		raw[0] = version1
	}
	for _, f := range [...]string{h.Table, h.PK, h.SK, h.Group} {
		raw = append(raw, byte(len(f)>>8), byte(len(f)))
		raw = append(raw, f...)
	}
	raw = append(raw, tok[:]...)
	if !h.Legacy {
		var flags byte
		if h.Dedup {
			flags |= flagDedup
		}
		raw = append(raw, flags, byte(h.Chunks>>8), byte(h.Chunks))
	}
	raw = s.appendMAC(raw, raw)
	return b64.EncodeToString(raw)
}

func (s *Signer) appendMAC(dst, msg []byte) []byte {
	m := s.pool.Get().(hash.Hash)
	m.Reset()
	m.Write(msg)
	var sum [sha256.Size]byte
	dst = append(dst, m.Sum(sum[:0])[:macLen]...)
	s.pool.Put(m)
	return dst
}

// Parse decodes and verifies a handle. Every failure wraps ErrInvalid and says what is wrong.
func (s *Signer) Parse(str string) (Handle, error) {
	if str == "" {
		return Handle{}, invalid("empty")
	}
	raw, err := b64.DecodeString(str)
	// The decoder skips '\r' and '\n': a handle with them would be another string for the
	// same claim. Only the exact encoding is a handle.
	if err != nil || len(str) != b64.EncodedLen(len(raw)) {
		return Handle{}, invalid("not base64url")
	}
	if len(raw) < 1+8+TokenLen+macLen {
		return Handle{}, invalid("too short")
	}
	if raw[0] != version && raw[0] != version1 {
		return Handle{}, invalid(fmt.Sprintf("unknown version %d", raw[0]))
	}
	body, mac := raw[:len(raw)-macLen], raw[len(raw)-macLen:]
	var want [macLen + sha256.Size]byte
	if !hmac.Equal(s.appendMAC(want[:0], body), mac) {
		return Handle{}, invalid("signature does not match (tampered, or signed with another key)")
	}
	// One string for all fields, sliced below: one allocation instead of one per field.
	all := string(body[1:])
	var fields [4]string
	rest := all
	for i := range fields {
		if len(rest) < 2 {
			return Handle{}, invalid("truncated")
		}
		n := int(rest[0])<<8 | int(rest[1])
		rest = rest[2:]
		if n > maxField || n > len(rest) {
			return Handle{}, invalid("truncated")
		}
		fields[i] = rest[:n]
		rest = rest[n:]
	}
	h := Handle{Table: fields[0], PK: fields[1], SK: fields[2], Group: fields[3], Legacy: raw[0] == version1}
	if !h.Legacy {
		if len(rest) != TokenLen+metaLen {
			return Handle{}, invalid("bad token length")
		}
		flags, meta := rest[TokenLen], rest[TokenLen+1:]
		if flags&^flagDedup != 0 {
			return Handle{}, invalid("unknown flags")
		}
		h.Dedup, h.Chunks = flags&flagDedup != 0, int(meta[0])<<8|int(meta[1])
		rest = rest[:TokenLen]
	}
	if len(rest) != TokenLen {
		return Handle{}, invalid("bad token length")
	}
	h.Token = hex.EncodeToString([]byte(rest))
	if h.Table == "" || h.PK == "" || h.SK == "" {
		return Handle{}, invalid("missing table or key")
	}
	return h, nil
}
