package consumer_test

import (
	"context"
	"errors"
	"log/slog"
	"regexp"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dynamodbqueue/dynamodbqueue/consumer"
)

// consumerFrame matches a stack frame of the consumer package itself (not of its tests).
var consumerFrame = regexp.MustCompile(`github\.com/dynamodbqueue/dynamodbqueue/consumer\.`)

// consumerGoroutines returns the stacks of goroutines that run code of package consumer.
func consumerGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for _, g := range regexp.MustCompile(`\n\n`).Split(string(buf), -1) {
		if consumerFrame.MatchString(g) {
			out = append(out, g)
		}
	}
	return out
}

// TestRunLeavesNoGoroutines runs a consumer through successes, failures, panics, a
// heartbeated slow handler and a shutdown that cancels handlers, and checks that once Run
// has returned no goroutine of the package is left. It is not parallel, so no other test's
// consumer runs meanwhile.
func TestRunLeavesNoGoroutines(t *testing.T) {
	if g := consumerGoroutines(); len(g) > 0 {
		t.Fatalf("consumer goroutines before the test:\n%s", g[0])
	}
	q := newQueue(t, "jobs", "tenant-a")
	push(t, q, bodies(40, "m")...)
	var calls atomic.Int32
	c := mustNew(t, q, func(ctx context.Context, msg events.SQSMessage) error {
		switch calls.Add(1) % 4 {
		case 0:
			return errors.New("fail")
		case 1:
			panic("boom")
		case 2:
			t := time.NewTimer(1500 * time.Millisecond) // outlives a heartbeat, or is cut off by shutdown
			defer t.Stop()
			select {
			case <-t.C:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}, consumer.Options{
		Concurrency: 6, VisibilityTimeout: time.Second, HeartbeatInterval: 300 * time.Millisecond,
		ShutdownGrace: 200 * time.Millisecond, Backoff: consumer.Backoff{Min: 10 * time.Millisecond},
		Logger: quietLogger(),
	})
	stop := start(t, c)
	waitUntil(t, "60 handler calls", func() bool { return calls.Load() >= 60 })
	if len(consumerGoroutines()) == 0 {
		t.Fatal("no consumer goroutine found while Run runs: the check is broken")
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	// Goroutines that have signalled their end may still be returning: allow them a moment.
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		left := consumerGoroutines()
		if len(left) == 0 {
			return
		}
		select {
		case <-deadline.C:
			t.Fatalf("%d consumer goroutine(s) left after Run returned, e.g.:\n%s", len(left), left[0])
		case <-tick.C:
		}
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
