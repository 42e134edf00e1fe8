package keys

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"sync/atomic"
	"time"
)

// SeqLen is the length of an encoded sequence number: 16 hex digits of time, 8 of node.
const SeqLen = 24

// Seq orders messages. Time is Unix nanoseconds, made strictly increasing within a process so
// that messages pushed in the same millisecond (or nanosecond) keep their push order; Node is
// random per process and breaks ties between processes.
type Seq struct {
	Time uint64
	Node uint32
}

// Append appends the fixed-width, lexicographically ordered encoding of s.
func (s Seq) Append(b []byte) []byte {
	b = appendHex(b, s.Time, 16)
	return appendHex(b, uint64(s.Node), 8)
}

// String returns the encoding of s.
func (s Seq) String() string { return string(s.Append(make([]byte, 0, SeqLen))) }

// ParseSeq decodes a sequence number produced by Seq.String.
func ParseSeq(s string) (Seq, bool) {
	if len(s) != SeqLen {
		return Seq{}, false
	}
	t, ok1 := parseHex(s[:16])
	n, ok2 := parseHex(s[16:])
	if !ok1 || !ok2 {
		return Seq{}, false
	}
	return Seq{Time: t, Node: uint32(n)}, true
}

// Sequencer hands out strictly increasing sequence numbers. The zero value is not usable;
// call NewSequencer. Safe for concurrent use.
type Sequencer struct {
	last atomic.Uint64
	node uint32
	now  func() time.Time
}

// NewSequencer returns a sequencer with a random node ID and the given clock (nil: time.Now).
func NewSequencer(now func() time.Time) *Sequencer {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never returns an error since Go 1.24
	if now == nil {
		now = time.Now
	}
	return &Sequencer{node: binary.BigEndian.Uint32(b[:]), now: now}
}

// Next returns a sequence number greater than every one this sequencer returned before and
// not earlier than the clock.
func (s *Sequencer) Next() Seq {
	now := uint64(s.now().UnixNano())
	for {
		last := s.last.Load()
		next := max(now, last+1)
		if s.last.CompareAndSwap(last, next) {
			return Seq{Time: next, Node: s.node}
		}
	}
}

// ErrBadVis reports a malformed visibility key.
var ErrBadVis = errors.New("malformed visibility key")

// Vis is the sort key of the ready index: the moment an item becomes visible, then the
// sequence number of the message (or the group) so that items visible in the same
// nanosecond keep their push order. A poll asks for vis < VisBound(now): items in flight or
// delayed have a later time and are never read.
func Vis(at time.Time, seq Seq) string {
	b := make([]byte, 0, 16+1+SeqLen)
	b = appendHex(b, uint64(at.UnixNano()), 16)
	b = append(b, '.')
	return string(seq.Append(b))
}

// VisBound is the exclusive upper bound of the keys visible at now.
func VisBound(now time.Time) string {
	return string(appendHex(make([]byte, 0, 16), uint64(now.UnixNano())+1, 16))
}

// ParseVis splits a visibility key into its time and sequence number.
func ParseVis(v string) (time.Time, Seq, error) {
	if len(v) != 16+1+SeqLen || v[16] != '.' {
		return time.Time{}, Seq{}, ErrBadVis
	}
	t, ok := parseHex(v[:16])
	seq, ok2 := ParseSeq(v[17:])
	if !ok || !ok2 {
		return time.Time{}, Seq{}, ErrBadVis
	}
	return time.Unix(0, int64(t)), seq, nil
}

const hexDigits = "0123456789abcdef"

func appendHex(b []byte, v uint64, width int) []byte {
	for i := width - 1; i >= 0; i-- {
		b = append(b, hexDigits[(v>>(uint(i)*4))&0xf])
	}
	return b
}

func appendPadded(b []byte, v uint64, width int) []byte { return appendHex(b, v, width) }

func parseHex(s string) (uint64, bool) {
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		default:
			return 0, false
		}
		v = v<<4 | uint64(d)
	}
	return v, true
}
