package bench

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Body builds a message body of exactly size bytes (at least the tag and id): "tag|id|xxx...".
// Bodies carry their id so that consumers can check that nothing is lost or duplicated.
func Body(tag string, id, size int) string {
	var b strings.Builder
	b.Grow(max(size, len(tag)+12))
	b.WriteString(tag)
	b.WriteByte('|')
	b.WriteString(strconv.Itoa(id))
	b.WriteByte('|')
	for b.Len() < size {
		b.WriteByte('x')
	}
	return b.String()
}

// ParseBody returns the tag and id of a body made by Body.
func ParseBody(body string) (tag string, id int, ok bool) {
	tag, rest, ok1 := strings.Cut(body, "|")
	num, _, ok2 := strings.Cut(rest, "|")
	if !ok1 || !ok2 {
		return "", 0, false
	}
	id, err := strconv.Atoi(num)
	if err != nil {
		return "", 0, false
	}
	return tag, id, true
}

func messages(tag string, ids []int, size int) []events.SQSMessage {
	msgs := make([]events.SQSMessage, len(ids))
	for i, id := range ids {
		msgs[i] = events.SQSMessage{Body: Body(tag, id, size)}
	}
	return msgs
}

// ledger records which message ids were received, to find lost and duplicated messages.
type ledger struct {
	seen   []atomic.Int32
	unique atomic.Int64
	dups   atomic.Int64
	bad    atomic.Int64 // bodies that do not parse or have an id out of range
}

func newLedger(n int) *ledger { return &ledger{seen: make([]atomic.Int32, n)} }

// mark records id; it reports whether this was its first receipt.
func (l *ledger) mark(id int) bool {
	if id < 0 || id >= len(l.seen) {
		l.bad.Add(1)
		return false
	}
	if l.seen[id].Add(1) == 1 {
		l.unique.Add(1)
		return true
	}
	l.dups.Add(1)
	return false
}

func (l *ledger) lost() int { return len(l.seen) - int(l.unique.Load()) }

// split divides ids 0..n-1 into parts contiguous ranges of almost equal size.
func split(n, parts int) [][]int {
	out := make([][]int, parts)
	for i := range n {
		p := i * parts / n
		out[p] = append(out[p], i)
	}
	return out
}

// chunks cuts ids into batches of at most size.
func chunks(ids []int, size int) [][]int {
	var out [][]int
	for len(ids) > 0 {
		k := min(size, len(ids))
		out = append(out, ids[:k])
		ids = ids[k:]
	}
	return out
}

// stopper ends consumer loops without cancelling a request in flight. dynalite 4.0.0 crashes
// when a client aborts a request it is still reading (index.js rethrows the request's
// ECONNRESET "aborted" error), and cancelling the context of a running SDK call does exactly
// that, so consumers are told to stop and finish their current call instead.
type stopper struct {
	done atomic.Bool
	ch   chan struct{}
	once sync.Once
}

func newStopper() *stopper { return &stopper{ch: make(chan struct{})} }

func (s *stopper) stop() { s.once.Do(func() { s.done.Store(true); close(s.ch) }) }

func (s *stopper) stopped() bool { return s.done.Load() }

// sleep waits for d; it returns false early if the stopper stops or ctx ends.
func (s *stopper) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-s.ch:
		return false
	case <-t.C:
		return true
	}
}

// completion records, once, the moment the last message of a workload was done and the
// meter's counts then, so that consumers idling until they notice the end are not measured.
type completion struct {
	once  sync.Once
	at    time.Time
	usage Usage
}

func (c *completion) mark(m *Meter, st *stopper) {
	c.once.Do(func() {
		c.at = time.Now()
		c.usage = m.Snapshot()
		st.stop()
	})
}

// result returns the end time and usage: the recorded ones, or now if the workload never
// completed (messages lost).
func (c *completion) result(m *Meter) (time.Time, Usage) {
	if c.usage != nil {
		return c.at, c.usage
	}
	return time.Now(), m.Snapshot()
}
