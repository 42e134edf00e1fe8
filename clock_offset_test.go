package dynamodbqueue_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// TestClockOffsetFromDateHeader uses the real source of the estimate, the Date header of the
// server's responses: a process whose clock is 60 s ahead of real time learns an offset of about
// -60 s from one request, and a process with the machine's clock (the server's too) gets
// about 0.
func TestClockOffsetFromDateHeader(t *testing.T) {
	t.Parallel()
	_, table := newTable(t)
	for _, tc := range []struct {
		name string
		skew time.Duration
	}{{"ahead", 60 * time.Second}, {"right", 0}} {
		q := newProcess(t, table, "date", tc.name)
		dynamodbqueue.WithLocalClock(q, func() time.Time { return time.Now().Add(tc.skew) })
		if got := q.ClockOffset(); got != 0 {
			t.Fatalf("%s: offset %v before any request, want 0", tc.name, got)
		}
		liveCount(t, q) // one Query
		if got, want := q.ClockOffset(), -tc.skew; got < want-2*time.Second || got > want+2*time.Second {
			t.Fatalf("%s: offset after one request = %v, want %v ± 2 s", tc.name, got, want)
		}
	}
}

// TestClockSkewWarnsThroughLoggerAndHooks: a process 60 s off warns once through its logger and
// its OnClockSkew subscribers, not on every request; again when the offset moves by the
// threshold or more; and says so (info) when the clock is fine again. A threshold above the
// offset keeps it quiet, but the offset is corrected all the same.
func TestClockSkewWarnsThroughLoggerAndHooks(t *testing.T) {
	t.Parallel()
	_, table := newTable(t)
	world := &dynamodbqueue.Clock{}
	logs := &logRecords{}
	q := newProcess(t, table, "warn", "c").UseLogger(slog.New(logs))
	if got := q.ClockSkewThreshold(); got != dynamodbqueue.DefaultClockSkewThreshold {
		t.Fatalf("default threshold %v, want %v", got, dynamodbqueue.DefaultClockSkewThreshold)
	}
	skew := dynamodbqueue.WithSkewedClock(q, world, 60*time.Second)
	var mu sync.Mutex
	var hooked []time.Duration
	stop := q.OnClockSkew(func(off time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		hooked = append(hooked, off)
	})
	prevHooks := 0
	for i, step := range []struct {
		step        time.Duration
		offset      time.Duration
		warns       int
		infos       int
		hooks       int
		unsubscribe bool
	}{
		{0, -60 * time.Second, 1, 0, 1, false},
		{0, -60 * time.Second, 1, 0, 1, false},           // no repeat
		{time.Second, -61 * time.Second, 1, 0, 1, false}, // moved less than the threshold
		{5 * time.Second, -66 * time.Second, 2, 0, 2, false},
		{-66 * time.Second, 0, 2, 1, 3, false}, // fine again
		{10 * time.Second, -10 * time.Second, 3, 1, 3, true},
	} {
		if step.unsubscribe {
			stop()
		}
		skew.Step(step.step)
		push(t, q, events.SQSMessage{Body: "x"})
		if got := q.ClockOffset(); got < step.offset-100*time.Millisecond || got > step.offset+100*time.Millisecond {
			t.Fatalf("step %d: offset %v, want %v", i, got, step.offset)
		}
		warns, infos := logs.clock()
		mu.Lock()
		hooks := slices.Clone(hooked)
		mu.Unlock()
		if len(warns) != step.warns || len(infos) != step.infos || len(hooks) != step.hooks {
			t.Fatalf("step %d: %d warnings, %d infos, hooks %v; want %d, %d and %d hook calls", i, len(warns), len(infos), hooks, step.warns, step.infos, step.hooks)
		}
		if n := len(hooks); n == step.hooks && n > prevHooks && (hooks[n-1] < step.offset-100*time.Millisecond || hooks[n-1] > step.offset+100*time.Millisecond) {
			t.Fatalf("step %d: the hook got %v, want %v", i, hooks[n-1], step.offset)
		}
		prevHooks = len(hooks)
	}

	quiet := newProcess(t, table, "warn", "quiet")
	quietLogs := &logRecords{}
	quiet.UseLogger(slog.New(quietLogs)).UseClockSkewThreshold(2 * time.Minute)
	dynamodbqueue.WithSkewedClock(quiet, world, 60*time.Second)
	push(t, quiet, events.SQSMessage{Body: "x"})
	if warns, _ := quietLogs.clock(); len(warns) > 0 || quiet.ClockOffset() > -59*time.Second {
		t.Fatalf("threshold 2 min, clock 60 s ahead: %d warnings, offset %v; want none and about -60 s", len(warns), quiet.ClockOffset())
	}
}

// logRecords is a slog.Handler that keeps every record.
type logRecords struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecords) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r.Clone())
	return nil
}
func (h *logRecords) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logRecords) WithGroup(string) slog.Handler      { return h }

// clock returns the records about the clock, warnings and infos apart.
func (h *logRecords) clock() (warns, infos []slog.Record) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.recs {
		switch {
		case !strings.Contains(r.Message, "clock"):
		case r.Level == slog.LevelWarn:
			warns = append(warns, r)
		case r.Level == slog.LevelInfo:
			infos = append(infos, r)
		}
	}
	return warns, infos
}
