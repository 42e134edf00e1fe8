package keys

import (
	"errors"
	"fmt"
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
	if len(s) > MaxNameLen {
		return fmt.Errorf("%w: %s is %d characters long, at most %d are allowed", ErrInvalidName, kind, len(s), MaxNameLen)
	}
	for i := 0; i < len(s); i++ {
		if !nameChar(s[i]) {
			return fmt.Errorf("%w: %s %q has character %q at %d; allowed are A-Z a-z 0-9, underscore, hyphen and period", ErrInvalidName, kind, s, s[i], i)
		}
	}
	return nil
}

func nameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
}

// ValidateGroup checks a message group ID the way SQS does: 1..128 characters, each an
// ASCII letter, digit or punctuation mark.
func ValidateGroup(g string) error {
	if g == "" || len(g) > MaxGroupLen {
		return fmt.Errorf("%w: length %d, must be 1..%d", ErrInvalidGroup, len(g), MaxGroupLen)
	}
	for i := 0; i < len(g); i++ {
		if g[i] < '!' || g[i] > '~' {
			return fmt.Errorf("%w: %q has character %q at %d; allowed are ASCII letters, digits and punctuation", ErrInvalidGroup, g, g[i], i)
		}
	}
	return nil
}
