package dynamodbqueue_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// markRig is one table seen by two processes: polling, whose requests are counted (and can be
// refused), long-polls a pair; pushing is another process. Both read the test clock. The
// polling process's fallback budget is too small to spend in a test, so nothing but hints,
// marks and its own passes makes its long polls look.
type markRig struct {
	api              *hookAPI
	polling, pushing *dynamodbqueue.Client
	pq, other        *dynamodbqueue.DynamoDBQueue // polling's and pushing's handle on the pair
	clk              *dynamodbqueue.Clock
	pairQueries      atomic.Int64 // ready-index Queries of the polling process (passes, probes)
	failHints        atomic.Int64 // hint queries still to refuse
}

var errHintRefused = errors.New("test: hint query refused")

func newMarkRig(t *testing.T, queue, client string, opts dynamodbqueue.Options) *markRig {
	t.Helper()
	_, table := newTable(t)
	r := &markRig{api: newHookAPI(t), clk: &dynamodbqueue.Clock{}}
	r.api.set(func(op string, in any) error {
		if isHintQuery(op, in) {
			if r.failHints.Load() > 0 && r.failHints.Add(-1) >= 0 {
				return errHintRefused
			}
			return nil
		}
		if qi, ok := in.(*dynamodb.QueryInput); ok && qi.IndexName != nil && *qi.IndexName == "vis" {
			r.pairQueries.Add(1)
		}
		return nil
	})
	opts.WatchFallbackRate = 0.001
	r.polling = newWatchClient(t, r.api, table, opts)
	r.pushing = newWatchClient(t, nil, table, dynamodbqueue.Options{})
	r.pq = dynamodbqueue.WithClock(mustHandle(t, r.polling, queue, client), r.clk)
	r.other = dynamodbqueue.WithClock(mustHandle(t, r.pushing, queue, client), r.clk)
	return r
}

// longPoll receives one message from q, waiting up to wait.
func longPoll(t *testing.T, q *dynamodbqueue.DynamoDBQueue, wait time.Duration) []events.SQSMessage {
	t.Helper()
	got, err := q.ReceiveMessages(ctxT(t), dynamodbqueue.ReceiveOptions{WaitTime: wait})
	if err != nil {
		t.Fatalf("ReceiveMessages: %v", err)
	}
	return got
}

// idle makes an idle long poll of the pair, which marks the pair checked empty if its first pass
// ends before its deadline (a first request to a fresh table can take longer), and returns the
// ready-index queries it sent.
func (r *markRig) idle(t *testing.T) int64 {
	t.Helper()
	before := r.pairQueries.Load()
	if got := longPoll(t, r.pq, 500*time.Millisecond); len(got) != 0 {
		t.Fatalf("idle long poll received %v", bodyList(got))
	}
	return r.pairQueries.Load() - before
}

// settle makes idle long polls until one sends no ready-index query (at most 10): the wake-ups
// of what another process did (a hint's second signal, a follow-up hint) come at the
// watcher's pace, and each voids the mark once.
func (r *markRig) settle(t *testing.T, what string) {
	t.Helper()
	for range 10 {
		if r.idle(t) == 0 {
			return
		}
	}
	t.Fatalf("%s: 10 idle long polls in a row sent ready-index queries; want one with none", what)
}

// TestIdleMarkSparesTheQuery: the first idle long poll of a pair pays its pass and the probe
// that marks the pair empty; the next ones send no ready-index Query at all, and still return a
// message that another process pushes while they wait.
func TestIdleMarkSparesTheQuery(t *testing.T) {
	t.Parallel()
	r := newMarkRig(t, "idle", "c", dynamodbqueue.Options{})
	if n := r.idle(t); n == 0 {
		t.Fatal("first idle long poll sent no ready-index query")
	}
	r.settle(t, "idle pair")
	if n := r.idle(t); n != 0 {
		t.Fatalf("second idle long poll sent %d ready-index queries; want 0", n)
	}
	before := r.pairQueries.Load()
	done := make(chan []events.SQSMessage, 1)
	go func() {
		got, _ := r.pq.ReceiveMessages(ctxT(t), dynamodbqueue.ReceiveOptions{WaitTime: 20 * time.Second})
		done <- got
	}()
	awaitSubscribed(t, r.polling, 2) // the mark's subscription and the waiting poll's
	awaitTicks(t, r.polling, 5)
	if n := r.pairQueries.Load() - before; n != 0 {
		t.Fatalf("a waiting long poll of a marked pair sent %d ready-index queries; want 0", n)
	}
	push(t, r.other, bodies(1, "idle")...)
	if got := <-done; !slices.Equal(bodyList(got), []string{"idle-000"}) {
		t.Fatalf("marked long poll returned %v; want the other process's push", bodyList(got))
	}
}

// TestIdleMarkPushBeforePoll: another process pushes after the pair was marked and right
// before the next long poll starts; the poll returns the message (the push's hint voids the
// mark, or wakes the poll if it already waits).
func TestIdleMarkPushBeforePoll(t *testing.T) {
	t.Parallel()
	r := newMarkRig(t, "before", "c", dynamodbqueue.Options{})
	r.idle(t)
	r.idle(t)
	push(t, r.other, bodies(1, "before")...)
	if got := longPoll(t, r.pq, 20*time.Second); !slices.Equal(bodyList(got), []string{"before-000"}) {
		t.Fatalf("long poll after a push returned %v", bodyList(got))
	}
}

// TestIdleMarkLapsedClaim: a message another process holds lapses with no hint. The probe
// records when (nextVis): a long poll before then skips its query, one after it receives the
// message.
func TestIdleMarkLapsedClaim(t *testing.T) {
	t.Parallel()
	r := newMarkRig(t, "lapse", "c", dynamodbqueue.Options{})
	r.idle(t)
	push(t, r.other, bodies(1, "lapse")...)
	if got := mustPoll(t, r.other, 30*time.Second, 1); len(got) != 1 {
		t.Fatal("the other process received nothing")
	}
	awaitTicks(t, r.polling, 10) // the push's hint and its second signal are read
	if n := r.idle(t); n == 0 {
		t.Fatal("a long poll after another process's push sent no query (the mark should have lapsed)")
	}
	r.settle(t, "while the claim holds") // the mark now records when the claim lapses
	r.clk.Advance(31 * time.Second)
	if got := longPoll(t, r.pq, 20*time.Second); !slices.Equal(bodyList(got), []string{"lapse-000"}) {
		t.Fatalf("long poll after the claim lapsed returned %v", bodyList(got))
	}
}

// TestIdleMarkDelayedPush: a message pushed with a delay after the pair was marked does not
// void the mark, and is received once due (its hint is read then).
func TestIdleMarkDelayedPush(t *testing.T) {
	t.Parallel()
	r := newMarkRig(t, "delay", "c", dynamodbqueue.Options{})
	r.idle(t)
	if _, err := r.other.PushWithOptions(ctxT(t), dynamodbqueue.PushOptions{Delay: time.Minute}, bodies(1, "delay")...); err != nil {
		t.Fatal(err)
	}
	r.settle(t, "before the delay ran out")
	r.clk.Advance(time.Minute + time.Second)
	if got := longPoll(t, r.pq, 20*time.Second); !slices.Equal(bodyList(got), []string{"delay-000"}) {
		t.Fatalf("long poll after the delay returned %v", bodyList(got))
	}
}

// TestIdleMarkFailedHintQuery: a failed hint query leaves a gap in what the watcher read, so
// the marks of its queue lapse and the next long poll queries.
func TestIdleMarkFailedHintQuery(t *testing.T) {
	t.Parallel()
	r := newMarkRig(t, "gap", "c", dynamodbqueue.Options{})
	r.settle(t, "idle pair")
	r.failHints.Store(1)
	ctx, cancel := context.WithTimeout(ctxT(t), time.Minute)
	defer cancel()
	for r.failHints.Load() > 0 && ctx.Err() == nil {
		awaitTicks(t, r.polling, 1)
	}
	if n := r.idle(t); n == 0 {
		t.Fatal("long poll after a failed hint query sent no query")
	}
}

// TestIdleMarkDeadLetterMoveWakes: a move into a dead-letter queue writes the dead-letter
// pair's hint, so a long poll of the dead-letter queue in another process wakes for it (the
// fallback budget is too small to find it otherwise).
func TestIdleMarkDeadLetterMoveWakes(t *testing.T) {
	t.Parallel()
	r := newMarkRig(t, "work-dlq", "c", dynamodbqueue.Options{})
	r.settle(t, "idle dead-letter pair")
	src := dynamodbqueue.WithClock(mustHandle(t, r.pushing, "work", "c"), r.clk)
	src.UseDeadLetterQueue(&dynamodbqueue.DeadLetterConfig{MaxReceiveCount: 1})
	push(t, src, bodies(1, "poison")...)
	if got := mustPoll(t, src, time.Second, 1); len(got) != 1 {
		t.Fatal("first receive got nothing")
	}
	done := make(chan []events.SQSMessage, 1)
	go func() {
		got, _ := r.pq.ReceiveMessages(ctxT(t), dynamodbqueue.ReceiveOptions{WaitTime: 20 * time.Second})
		done <- got
	}()
	awaitSubscribed(t, r.polling, 2)
	r.clk.Advance(2 * time.Second)
	if got := mustPoll(t, src, time.Second, 1); len(got) != 0 {
		t.Fatalf("second receive delivered %v; want it dead-lettered", bodyList(got))
	}
	if got := <-done; !slices.Equal(bodyList(got), []string{"poison-000"}) {
		t.Fatalf("dead-letter long poll returned %v; want the moved message", bodyList(got))
	}
}

// TestIdleMarkOwnPushAndVisibilityChange: what this process does voids its marks at once: a
// push of its own (no hint needs to be read back), and a visibility change that makes a held
// message visible sooner than the mark recorded.
func TestIdleMarkOwnPushAndVisibilityChange(t *testing.T) {
	t.Parallel()
	r := newMarkRig(t, "own", "c", dynamodbqueue.Options{})
	r.settle(t, "idle pair")
	push(t, r.pq, bodies(1, "own")...)
	got := longPoll(t, r.pq, 20*time.Second)
	if !slices.Equal(bodyList(got), []string{"own-000"}) {
		t.Fatalf("long poll after a push of the same process returned %v", bodyList(got))
	}
	// Held for an hour: the next marks record that as nextVis.
	if _, err := r.pq.ChangeVisibility(ctxT(t), time.Hour, toHandles(got)...); err != nil {
		t.Fatal(err)
	}
	r.settle(t, "while the message is held")
	if _, err := r.pq.ChangeVisibility(ctxT(t), time.Second, toHandles(got)...); err != nil {
		t.Fatal(err)
	}
	r.clk.Advance(2 * time.Second)
	if again := longPoll(t, r.pq, 20*time.Second); !slices.Equal(bodyList(again), []string{"own-000"}) {
		t.Fatalf("long poll after the visibility was shortened and ran out returned %v", bodyList(again))
	}
}

// TestIdleMarkSkewedClock: the polling process's clock runs a minute behind DynamoDB's and is
// corrected by its first response; a claim of another process lapses after the pair was
// marked, and the corrected clock reaches the mark's nextVis when the world's does.
func TestIdleMarkSkewedClock(t *testing.T) {
	t.Parallel()
	r := newMarkRig(t, "skew", "c", dynamodbqueue.Options{})
	dynamodbqueue.WithSkewedClock(r.pq, r.clk, -time.Minute)
	if _, err := r.pq.Stats(ctxT(t)); err != nil { // one response corrects the clock
		t.Fatal(err)
	}
	r.idle(t)
	push(t, r.other, bodies(1, "skew")...)
	if got := mustPoll(t, r.other, 30*time.Second, 1); len(got) != 1 {
		t.Fatal("the other process received nothing")
	}
	r.settle(t, "while the claim holds")
	r.clk.Advance(31 * time.Second)
	if got := longPoll(t, r.pq, 20*time.Second); !slices.Equal(bodyList(got), []string{"skew-000"}) {
		t.Fatalf("long poll of the skewed process after the claim lapsed returned %v", bodyList(got))
	}
}
