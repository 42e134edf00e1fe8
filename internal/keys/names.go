package keys

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// MaxNameLen is the longest queue name or client ID accepted.
const MaxNameLen = 80

// MaxGroupLen is the longest message group ID accepted (SQS allows 128 characters).
const MaxGroupLen = 128

// Errors returned by the validators. The public package re-exports them.
var (
	ErrInvalidName  = errors.New("invalid name")
	ErrInvalidGroup = errors.New("invalid message group ID")
)

// ValidateName checks a queue name or client ID: 1..MaxNameLen characters from
// [A-Za-z0-9_.-]. The separator '|' and everything else that could confuse the key
// encoding or an IAM LeadingKeys pattern ('*', '?') are rejected.
func ValidateName(kind, s string) error {
	if s == "" {
		return fmt.Errorf("%w: %s is empty", ErrInvalidName, kind)
	}
	// Counted in characters, so a name of 50 'ö' is reported for its characters, not as too long.
	if n := utf8.RuneCountInString(s); n > MaxNameLen {
		return fmt.Errorf("%w: %s is %d characters long, at most %d are allowed", ErrInvalidName, kind, n, MaxNameLen)
	}
	if bad := FirstInvalid(s, NameChar); bad != "" {
		return fmt.Errorf("%w: %s %q has %s; allowed are A-Z a-z 0-9, underscore, hyphen and period", ErrInvalidName, kind, s, bad)
	}
	return nil
}

// NameChar reports whether c may appear in a queue name or client ID (and in a table or
// attribute name, which allow the same characters): A-Z a-z 0-9, underscore, period, hyphen.
func NameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
}

// ValidateGroup checks a message group ID the way SQS does: 1..128 characters, each an
// ASCII letter, digit or punctuation mark.
func ValidateGroup(g string) error {
	if n := utf8.RuneCountInString(g); n == 0 || n > MaxGroupLen {
		return fmt.Errorf("%w: length %d, must be 1..%d", ErrInvalidGroup, n, MaxGroupLen)
	}
	if bad := FirstInvalid(g, groupChar); bad != "" {
		return fmt.Errorf("%w: %q has %s; allowed are ASCII letters, digits and punctuation", ErrInvalidGroup, g, bad)
	}
	return nil
}

func groupChar(c byte) bool { return c >= '!' && c <= '~' }

// FirstInvalid describes the first character of s that ok rejects, or returns "" when there is
// none. It reports whole characters, not bytes, so "ördérs" names 'ö' (U+00F6) at
// position 1, and counts positions in characters from 1 as a reader would. Only ASCII is
// ever allowed, so ok sees bytes; anything else is rejected as the rune it starts.
func FirstInvalid(s string, ok func(byte) bool) string {
	pos := 0
	for i, r := range s {
		pos++
		if r < utf8.RuneSelf && ok(byte(r)) {
			continue
		}
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return fmt.Sprintf("invalid UTF-8 byte 0x%02x at position %d", s[i], pos)
			}
		}
		return fmt.Sprintf("character %q (%U) at position %d", r, r, pos)
	}
	return ""
}
