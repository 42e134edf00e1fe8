package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/consumer"
	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
)

func noop(context.Context, events.SQSMessage) error { return nil }

// TestNewValidation checks that New rejects bad input with the documented sentinel errors.
func TestNewValidation(t *testing.T) {
	t.Parallel()
	api := testenv.Client(t) // New sends nothing; the client is never used
	q := func() *dynamodbqueue.DynamoDBQueue {
		return dynamodbqueue.NewFromClient(api, 0).UseTable("tbl").UseQueueName("q").UseClientID("c")
	}
	var nilFunc consumer.HandlerFunc
	cases := []struct {
		name string
		q    *dynamodbqueue.DynamoDBQueue
		h    consumer.Handler
		opts consumer.Options
		want []error
	}{
		{"nil queue", nil, consumer.HandlerFunc(noop), consumer.Options{}, []error{consumer.ErrNilQueue}},
		{"nil handler", q(), nil, consumer.Options{}, []error{consumer.ErrNilHandler}},
		{"nil HandlerFunc", q(), nilFunc, consumer.Options{}, []error{consumer.ErrNilHandler}},
		{"negative concurrency", q(), consumer.HandlerFunc(noop), consumer.Options{Concurrency: -1}, []error{consumer.ErrInvalidOptions}},
		{"too many messages", q(), consumer.HandlerFunc(noop), consumer.Options{MaxMessages: 1001}, []error{consumer.ErrInvalidOptions}},
		{"short visibility", q(), consumer.HandlerFunc(noop), consumer.Options{VisibilityTimeout: time.Millisecond}, []error{consumer.ErrInvalidOptions}},
		{"long visibility", q(), consumer.HandlerFunc(noop), consumer.Options{VisibilityTimeout: 13 * time.Hour}, []error{consumer.ErrInvalidOptions}},
		{"heartbeat too slow", q(), consumer.HandlerFunc(noop), consumer.Options{VisibilityTimeout: 10 * time.Second, HeartbeatInterval: 10 * time.Second}, []error{consumer.ErrInvalidOptions}},
		{"wait too long", q(), consumer.HandlerFunc(noop), consumer.Options{WaitTime: time.Minute}, []error{consumer.ErrInvalidOptions}},
		{"negative grace", q(), consumer.HandlerFunc(noop), consumer.Options{ShutdownGrace: -1}, []error{consumer.ErrInvalidOptions}},
		{"backoff min above max", q(), consumer.HandlerFunc(noop), consumer.Options{Backoff: consumer.Backoff{Min: time.Minute, Max: time.Second}}, []error{consumer.ErrInvalidOptions}},
		{"delete interval too long", q(), consumer.HandlerFunc(noop), consumer.Options{VisibilityTimeout: 10 * time.Second, DeleteInterval: 4 * time.Second}, []error{consumer.ErrInvalidOptions}},
		{"more pollers than workers", q(), consumer.HandlerFunc(noop), consumer.Options{Concurrency: 2, Pollers: 3}, []error{consumer.ErrInvalidOptions}},
		{"negative pollers", q(), consumer.HandlerFunc(noop), consumer.Options{Pollers: -1}, []error{consumer.ErrInvalidOptions}},
		{"delete batch too big", q(), consumer.HandlerFunc(noop), consumer.Options{DeleteBatchSize: 5000}, []error{consumer.ErrInvalidOptions}},
		{"no table", dynamodbqueue.NewFromClient(api, 0).UseQueueName("q").UseClientID("c"), consumer.HandlerFunc(noop), consumer.Options{}, []error{dynamodbqueue.ErrTableNotSet}},
		{"no queue name", dynamodbqueue.NewFromClient(api, 0).UseTable("tbl").UseClientID("c"), consumer.HandlerFunc(noop), consumer.Options{}, []error{dynamodbqueue.ErrQueueNameNotSet}},
		{"no client", dynamodbqueue.NewFromClient(api, 0).UseTable("tbl").UseQueueName("q"), consumer.HandlerFunc(noop), consumer.Options{}, []error{dynamodbqueue.ErrClientIDNotSet}},
		{"bad client ID", q(), consumer.HandlerFunc(noop), consumer.Options{ClientIDs: []string{"a|b"}}, []error{dynamodbqueue.ErrInvalidName}},
		{"duplicate client ID", q(), consumer.HandlerFunc(noop), consumer.Options{ClientIDs: []string{"x", "c"}}, []error{consumer.ErrDuplicateSource, consumer.ErrInvalidOptions}},
		{"duplicate source", q(), consumer.HandlerFunc(noop), consumer.Options{Sources: []*dynamodbqueue.DynamoDBQueue{q()}}, []error{consumer.ErrDuplicateSource}},
		{"nil source", q(), consumer.HandlerFunc(noop), consumer.Options{Sources: []*dynamodbqueue.DynamoDBQueue{nil}}, []error{consumer.ErrNilQueue}},
	}
	for _, tc := range cases {
		c, err := consumer.New(tc.q, tc.h, tc.opts)
		if c != nil || err == nil {
			t.Errorf("%s: New = %v, %v; want an error", tc.name, c, err)
			continue
		}
		for _, want := range tc.want {
			if !errors.Is(err, want) {
				t.Errorf("%s: New error %q does not wrap %q", tc.name, err, want)
			}
		}
	}

	// The zero Options are valid and the defaults are reported.
	c, err := consumer.New(q(), consumer.HandlerFunc(noop), consumer.Options{ClientIDs: []string{"d"}})
	if err != nil {
		t.Fatalf("New with zero options: %v", err)
	}
	o := c.Options()
	if o.Concurrency != consumer.DefaultConcurrency || o.VisibilityTimeout != consumer.DefaultVisibilityTimeout ||
		o.HeartbeatInterval != consumer.DefaultVisibilityTimeout/2 || o.Backoff.Min != consumer.DefaultBackoffMin ||
		o.Backoff.Max != consumer.DefaultBackoffMax || o.Hooks == nil || o.Logger == nil || o.Pollers != consumer.DefaultPollers {
		t.Errorf("defaults not filled in: %+v", o)
	}
	want := []consumer.Source{{Table: "tbl", Queue: "q", ClientID: "c"}, {Table: "tbl", Queue: "q", ClientID: "d"}}
	if got := c.Sources(); !slices.Equal(got, want) {
		t.Errorf("Sources = %v, want %v", got, want)
	}
}

// TestBackoffDelay checks the exponential backoff and its cap.
func TestBackoffDelay(t *testing.T) {
	t.Parallel()
	b := consumer.Backoff{Min: 100 * time.Millisecond, Max: time.Second}
	want := map[int]time.Duration{0: 100 * time.Millisecond, 1: 100 * time.Millisecond, 2: 200 * time.Millisecond,
		3: 400 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 1000: time.Second}
	for rc, d := range want {
		if got := b.Delay(rc); got != d {
			t.Errorf("Delay(%d) = %v, want %v", rc, got, d)
		}
	}
	if got := (consumer.Backoff{}).Delay(1); got != consumer.DefaultBackoffMin {
		t.Errorf("zero Backoff: Delay(1) = %v, want %v", got, consumer.DefaultBackoffMin)
	}
}

// TestThroughput pushes 300 messages and runs 8 workers over them: every message is handled,
// none twice, and the queue is empty after shutdown.
func TestThroughput(t *testing.T) {
	t.Parallel()
	const n = 300
	q := newQueue(t, "orders", "tenant-a")
	push(t, q, bodies(n, "m")...)

	var mu sync.Mutex
	seen := map[string]int{}
	var first, last time.Time
	var running, peak atomic.Int32
	rec := newRecorder()
	c := mustNew(t, q, func(ctx context.Context, msg events.SQSMessage) error {
		raisePeak(&peak, running.Add(1))
		defer running.Add(-1)
		mu.Lock()
		defer mu.Unlock()
		if first.IsZero() {
			first = time.Now()
		}
		last = time.Now()
		seen[msg.Body]++
		return nil
	}, consumer.Options{Concurrency: 8, MaxMessages: 10, Hooks: rec})
	stop := start(t, c)
	waitUntil(t, "all messages handled", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == n
	})
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}

	dups := 0
	for _, b := range bodies(n, "m") {
		switch k := seen[b]; {
		case k == 0:
			t.Errorf("%s was never handled", b)
		case k > 1:
			dups += k - 1
		}
	}
	if dups > 0 {
		t.Errorf("%d duplicate deliveries (visibility is 30 s and renewed; there should be none)", dups)
	}
	if st := stats(t, q); st.Total() != 0 {
		t.Errorf("queue not empty after shutdown: %+v", st)
	}
	rec.read(func(r *recorder) {
		if r.deleted != n || r.deleteFailed != 0 || len(r.succeeded) != n || len(r.failures) != 0 {
			t.Errorf("hooks: deleted %d (failed %d), succeeded %d, failures %d; want %d deleted and succeeded",
				r.deleted, r.deleteFailed, len(r.succeeded), len(r.failures), n)
		}
		for _, b := range r.deleteBatches {
			if b > consumer.DefaultDeleteBatchSize {
				t.Errorf("a delete batch had %d handles, more than DeleteBatchSize %d", b, consumer.DefaultDeleteBatchSize)
			}
		}
		t.Logf("%d messages in %v: %.0f msgs/s with 8 workers (peak %d running), %d DeleteMessages calls",
			n, last.Sub(first).Round(time.Millisecond), float64(n)/last.Sub(first).Seconds(), peak.Load(), len(r.deleteBatches))
	})
	if p := peak.Load(); p > 8 {
		t.Errorf("%d handlers ran at once; Concurrency is 8", p)
	}
}

// TestBackoffOnErrors makes the handler fail the first 3 deliveries of a message: it is
// delivered again with a growing ApproximateReceiveCount, each failure sets the backoff
// delay of its receive count, and the 4th delivery succeeds and deletes it.
func TestBackoffOnErrors(t *testing.T) {
	t.Parallel()
	const failures = 3
	q := newQueue(t, "jobs", "tenant-a")
	push(t, q, "flaky", "fine")
	backoff := consumer.Backoff{Min: 50 * time.Millisecond, Max: 150 * time.Millisecond}

	var mu sync.Mutex
	var counts []int // receive counts of "flaky", in delivery order
	rec := newRecorder()
	c := mustNew(t, q, func(ctx context.Context, msg events.SQSMessage) error {
		if msg.Body != "flaky" {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		counts = append(counts, consumer.ReceiveCount(msg))
		if len(counts) <= failures {
			return fmt.Errorf("attempt %d: downstream unavailable", len(counts))
		}
		return nil
	}, consumer.Options{Concurrency: 2, Backoff: backoff, Hooks: rec})
	stop := start(t, c)
	waitUntil(t, "flaky to succeed", func() bool {
		var ok bool
		rec.read(func(r *recorder) { ok = slices.Contains(r.succeeded, "flaky") })
		return ok
	})
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}

	if want := []int{1, 2, 3, 4}; !slices.Equal(counts, want) {
		t.Errorf("receive counts of the deliveries = %v, want %v", counts, want)
	}
	rec.read(func(r *recorder) {
		if len(r.failures) != failures {
			t.Fatalf("failures reported: %+v, want %d", r.failures, failures)
		}
		for i, f := range r.failures {
			if f.body != "flaky" || f.receiveCount != i+1 || f.retryIn != backoff.Delay(i+1) || !strings.Contains(f.err.Error(), "downstream unavailable") {
				t.Errorf("failure %d = %+v; want receive count %d, retry in %v", i, f, i+1, backoff.Delay(i+1))
			}
		}
	})
	if st := stats(t, q); st.Total() != 0 {
		t.Errorf("queue not empty: %+v", st)
	}
}

// TestRetryAfter lets a handler choose its retry delay with consumer.RetryAfter, wrapped.
func TestRetryAfter(t *testing.T) {
	t.Parallel()
	q := newQueue(t, "jobs", "tenant-a")
	push(t, q, "snooze")
	var calls atomic.Int32
	rec := newRecorder()
	c := mustNew(t, q, func(ctx context.Context, msg events.SQSMessage) error {
		if calls.Add(1) == 1 {
			return fmt.Errorf("not yet: %w", consumer.RetryAfter(300*time.Millisecond))
		}
		return nil
	}, consumer.Options{Hooks: rec, Backoff: consumer.Backoff{Min: time.Hour}})
	stop := start(t, c)
	waitUntil(t, "the retry to succeed", func() bool {
		var n int
		rec.read(func(r *recorder) { n = len(r.succeeded) })
		return n == 1
	})
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	rec.read(func(r *recorder) {
		var ra *consumer.RetryAfterError
		if len(r.failures) != 1 || r.failures[0].retryIn != 300*time.Millisecond || !errors.As(r.failures[0].err, &ra) {
			t.Errorf("failures = %+v; want one with retry in 300ms (not the 1h backoff)", r.failures)
		}
	})
}

// TestPanicRecovered: a panicking handler does not bring the consumer down; the panic is
// reported as a *PanicError and the message is retried.
func TestPanicRecovered(t *testing.T) {
	t.Parallel()
	q := newQueue(t, "jobs", "tenant-a")
	push(t, q, bodies(5, "ok")...)
	push(t, q, "boom")
	var panicked atomic.Bool
	rec := newRecorder()
	c := mustNew(t, q, func(ctx context.Context, msg events.SQSMessage) error {
		if msg.Body == "boom" && panicked.CompareAndSwap(false, true) {
			panic("kaboom")
		}
		return nil
	}, consumer.Options{Concurrency: 3, Hooks: rec, Backoff: consumer.Backoff{Min: 20 * time.Millisecond}})
	stop := start(t, c)
	waitUntil(t, "all 6 messages to succeed", func() bool {
		var n int
		rec.read(func(r *recorder) { n = len(r.succeeded) })
		return n == 6
	})
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	rec.read(func(r *recorder) {
		if len(r.failures) != 1 {
			t.Fatalf("failures = %+v, want the one panic", r.failures)
		}
		f := r.failures[0]
		var pe *consumer.PanicError
		if !errors.Is(f.err, consumer.ErrHandlerPanic) || !errors.As(f.err, &pe) || pe.Value != "kaboom" ||
			!strings.Contains(string(pe.Stack), "TestPanicRecovered") {
			t.Errorf("panic reported as %v (%T); want a *PanicError of \"kaboom\" with the handler's stack", f.err, f.err)
		}
		if f.body != "boom" || f.retryIn != 20*time.Millisecond {
			t.Errorf("failure = %+v", f)
		}
	})
	if st := stats(t, q); st.Total() != 0 {
		t.Errorf("queue not empty: %+v", st)
	}
}

// TestHeartbeatKeepsSlowMessage: a handler runs 2.5 times the visibility timeout; the
// heartbeat keeps renewing it, so a second consumer polling the same queue all along never
// receives the message, and it is handled exactly once.
func TestHeartbeatKeepsSlowMessage(t *testing.T) {
	t.Parallel()
	const vt = 2 * time.Second
	q := newQueue(t, "jobs", "tenant-a")
	push(t, q, "slow")

	started := make(chan struct{})
	var slowCalls atomic.Int32
	rec := newRecorder()
	slow := mustNew(t, q, func(ctx context.Context, msg events.SQSMessage) error {
		slowCalls.Add(1)
		close(started)
		t := time.NewTimer(5 * time.Second)
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}, consumer.Options{Concurrency: 1, VisibilityTimeout: vt, HeartbeatInterval: 500 * time.Millisecond, Hooks: rec})
	stopSlow := start(t, slow)
	<-started

	// The rival polls the same (queue, client) through its own client, as another process
	// would.
	var rivalGot atomic.Int32
	other := dynamodbqueue.NewFromClient(testenv.Client(t), 0).UseTable(q.Table()).UseQueueName("jobs").UseClientID("tenant-a").UseLogger(nil)
	rival := mustNew(t, other, func(ctx context.Context, msg events.SQSMessage) error {
		rivalGot.Add(1)
		return nil
	}, consumer.Options{Concurrency: 2, VisibilityTimeout: vt, WaitTime: 100 * time.Millisecond})
	stopRival := start(t, rival)

	waitUntil(t, "the slow handler to finish", func() bool {
		var ok bool
		rec.read(func(r *recorder) { ok = len(r.succeeded) == 1 })
		return ok
	})
	if err := stopSlow(); err != nil {
		t.Fatalf("Run (slow): %v", err)
	}
	if err := stopRival(); err != nil {
		t.Fatalf("Run (rival): %v", err)
	}
	if n := rivalGot.Load(); n != 0 {
		t.Errorf("the rival consumer received the message %d times while its handler ran", n)
	}
	if n := slowCalls.Load(); n != 1 {
		t.Errorf("slow handler called %d times, want 1", n)
	}
	rec.read(func(r *recorder) {
		if r.heartbeats["slow"] < 2 || len(r.heartbeatErrors) > 0 {
			t.Errorf("heartbeats = %d, errors %v; want at least 2 renewals over 5 s", r.heartbeats["slow"], r.heartbeatErrors)
		}
		t.Logf("visibility renewed %d times during a 5 s handler with a %v visibility timeout", r.heartbeats["slow"], vt)
	})
	if st := stats(t, q); st.Total() != 0 {
		t.Errorf("queue not empty: %+v", st)
	}
}

// TestShutdownLosesNothing cancels a consumer in the middle of a stream of 200 messages:
// afterwards every message is either handled and deleted, or visible in the queue at once
// (released, not hidden), and none is both.
func TestShutdownLosesNothing(t *testing.T) {
	t.Parallel()
	const n = 200
	q := newQueue(t, "jobs", "tenant-a")
	push(t, q, bodies(n, "m")...)

	var mu sync.Mutex
	handled := map[string]bool{}
	rec := newRecorder()
	c := mustNew(t, q, func(ctx context.Context, msg events.SQSMessage) error {
		t := time.NewTimer(5 * time.Millisecond) // a little work
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
		mu.Lock()
		defer mu.Unlock()
		handled[msg.Body] = true
		return nil
	}, consumer.Options{Concurrency: 8, ShutdownGrace: 30 * time.Second, Hooks: rec})
	stop := start(t, c)
	waitUntil(t, "50 messages handled", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(handled) >= 50
	})
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}

	st := stats(t, q)
	if st.InFlight != 0 || st.Delayed != 0 {
		t.Errorf("after shutdown: %+v; want no message in flight", st)
	}
	left := drain(t, q)
	mu.Lock()
	defer mu.Unlock()
	if len(handled) == n {
		t.Logf("all %d messages were handled before shutdown; the test proves less than intended", n)
	}
	for _, b := range left {
		if handled[b] {
			t.Errorf("%s was handled but is still in the queue", b)
		}
	}
	if len(handled)+len(left) != n {
		t.Errorf("handled %d + left %d != pushed %d", len(handled), len(left), n)
	}
	rec.read(func(r *recorder) {
		t.Logf("shutdown after %d handled; %d left visible; %d released by the consumer", len(handled), len(left), r.released)
	})
}

// TestShutdownGraceCancelsHandlers: handlers that run past the grace period get their
// context cancelled with cause ErrShutdown; their messages are released, visible at once.
func TestShutdownGraceCancelsHandlers(t *testing.T) {
	t.Parallel()
	q := newQueue(t, "jobs", "tenant-a")
	push(t, q, bodies(10, "m")...)
	var running atomic.Int32
	causes := make(chan error, 10)
	rec := newRecorder()
	c := mustNew(t, q, func(ctx context.Context, msg events.SQSMessage) error {
		running.Add(1)
		<-ctx.Done() // works until told to stop
		causes <- context.Cause(ctx)
		return ctx.Err()
	}, consumer.Options{Concurrency: 4, ShutdownGrace: 200 * time.Millisecond, Hooks: rec})
	stop := start(t, c)
	waitUntil(t, "4 handlers running", func() bool { return running.Load() == 4 })
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	close(causes)
	for cause := range causes {
		if !errors.Is(cause, consumer.ErrShutdown) {
			t.Errorf("handler context cause = %v, want ErrShutdown", cause)
		}
	}
	if st := stats(t, q); st.Visible != 10 || st.InFlight != 0 {
		t.Errorf("after shutdown: %+v; want all 10 visible", st)
	}
	rec.read(func(r *recorder) {
		if r.released != 4 || r.releaseFailed != 0 || len(r.failures) != 4 {
			t.Errorf("released %d (failed %d), failures %d; want the 4 running ones released", r.released, r.releaseFailed, len(r.failures))
		}
		for _, f := range r.failures {
			if f.retryIn != 0 {
				t.Errorf("cancelled handler's message retries in %v, want 0 (released)", f.retryIn)
			}
		}
	})
}

// gatedAPI holds the first write to a pair's partitions after it is armed (in a poll: the
// claim of a message) until the gate opens, and says when that write has begun.
type gatedAPI struct {
	*dynamodb.Client
	pair    string // key prefix of the pair: queue|client|
	armed   atomic.Bool
	once    sync.Once
	entered chan struct{}
	gate    chan struct{}
}

func (g *gatedAPI) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if pk, ok := in.Key["PK"].(*types.AttributeValueMemberS); ok && g.armed.Load() && strings.HasPrefix(pk.Value, g.pair) {
		g.once.Do(func() {
			close(g.entered)
			<-g.gate
		})
	}
	return g.Client.UpdateItem(ctx, in, optFns...)
}

// TestShutdownReleasesFetchedMessages: a message that a poll claims after shutdown began
// is not handled but released, so another consumer can have it at once. The poll is held
// until shutdown has begun, so it claims the message then.
func TestShutdownReleasesFetchedMessages(t *testing.T) {
	t.Parallel()
	api := &gatedAPI{Client: testenv.Client(t), pair: "jobs|tenant-a|", entered: make(chan struct{}), gate: make(chan struct{})}
	q := newTable(t, api).UseQueueName("jobs").UseClientID("tenant-a")
	push(t, q, "late")
	api.armed.Store(true)
	var handled atomic.Int32
	rec := newRecorder()
	c := mustNew(t, q, func(ctx context.Context, msg events.SQSMessage) error {
		handled.Add(1)
		return nil
	}, consumer.Options{Concurrency: 1, Hooks: rec})
	ctx, cancel := context.WithCancel(testCtx(t))
	runDone := make(chan error, 1)
	go func() { runDone <- c.Run(ctx) }()
	select {
	case <-api.entered: // the first poll of the source claims the message
	case <-testCtx(t).Done():
		t.Fatal("no poll")
	}
	cancel()
	// Shutdown has begun; the poll is not interrupted: its claim goes through.
	close(api.gate)
	select {
	case err := <-runDone:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-testCtx(t).Done():
		t.Fatal("Run did not return")
	}
	if n := handled.Load(); n != 0 {
		t.Errorf("handler called %d times after shutdown began", n)
	}
	rec.read(func(r *recorder) {
		if r.received != 1 || r.released != 1 || r.releaseFailed != 0 {
			t.Errorf("received %d, released %d (failed %d); want the one message received and released", r.received, r.released, r.releaseFailed)
		}
	})
	if got := drain(t, q); !slices.Equal(got, []string{"late"}) {
		t.Errorf("visible after shutdown: %v, want [late]", got)
	}
}

// TestAbandonStuckHandler: a handler that ignores its context keeps Run from finishing only
// until AbandonTimeout; Run then reports ErrShutdownTimeout, and the message is still deleted
// when the handler finally returns.
func TestAbandonStuckHandler(t *testing.T) {
	t.Parallel()
	q := newQueue(t, "jobs", "tenant-a")
	push(t, q, "stuck")
	unblock := make(chan struct{})
	started := make(chan struct{})
	rec := newRecorder()
	c := mustNew(t, q, func(ctx context.Context, msg events.SQSMessage) error {
		close(started)
		<-unblock // ignores ctx
		return nil
	}, consumer.Options{Concurrency: 1, ShutdownGrace: 50 * time.Millisecond, AbandonTimeout: 50 * time.Millisecond, Hooks: rec})
	stop := start(t, c)
	<-started
	err := stop()
	if !errors.Is(err, consumer.ErrShutdownTimeout) {
		t.Fatalf("Run = %v, want ErrShutdownTimeout", err)
	}
	close(unblock)
	waitUntil(t, "the late delete", func() bool {
		var n int
		rec.read(func(r *recorder) { n = r.deleted })
		return n == 1
	})
	if st := stats(t, q); st.Total() != 0 {
		t.Errorf("queue not empty: %+v", st)
	}
}

// TestMultiTenantFairness: one consumer serves two clients of a queue; one has 100 messages,
// the other 10. Round-robin polling serves both from the start: the small tenant is done long
// before the big one.
func TestMultiTenantFairness(t *testing.T) {
	t.Parallel()
	q := newQueue(t, "jobs", "big")
	small := q.Clone().UseClientID("small")
	push(t, q, bodies(100, "big")...)
	push(t, small, bodies(10, "small")...)

	var mu sync.Mutex
	var order []string // client of each handled message
	c := mustNew(t, q, func(ctx context.Context, msg events.SQSMessage) error {
		mu.Lock()
		defer mu.Unlock()
		order = append(order, strings.SplitN(msg.Body, "-", 2)[0])
		return nil
	}, consumer.Options{Concurrency: 2, MaxMessages: 2, ClientIDs: []string{"small"}})
	if got := c.Sources(); len(got) != 2 || got[1].ClientID != "small" {
		t.Fatalf("Sources = %v", got)
	}
	stop := start(t, c)
	waitUntil(t, "all 110 messages", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(order) >= 110
	})
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	lastSmall := slices.Index(order, "small")
	for i, who := range order {
		if who == "small" {
			lastSmall = i
		}
	}
	// Strict alternation would finish the small tenant by about position 20; FIFO by tenant
	// (no fairness) at 110.
	if lastSmall < 0 || lastSmall >= 50 {
		t.Errorf("the small tenant's last message was handled at position %d of %d: starved", lastSmall, len(order))
	}
	t.Logf("small tenant's 10 messages done by position %d of 110", lastSmall+1)
	if st := stats(t, q); st.Total() != 0 {
		t.Errorf("big tenant's queue not empty: %+v", st)
	}
	if st := stats(t, small); st.Total() != 0 {
		t.Errorf("small tenant's queue not empty: %+v", st)
	}
}

// TestSourcesAcrossQueues: Options.Sources adds queues of other names (and tables); each
// message is deleted from the queue it came from.
func TestSourcesAcrossQueues(t *testing.T) {
	t.Parallel()
	a := newQueue(t, "emails", "t1")
	b := newQueue(t, "sms", "t1") // another table too
	push(t, a, bodies(5, "email")...)
	push(t, b, bodies(5, "sms")...)
	var count atomic.Int32
	c := mustNew(t, a, func(ctx context.Context, msg events.SQSMessage) error {
		count.Add(1)
		return nil
	}, consumer.Options{Sources: []*dynamodbqueue.DynamoDBQueue{b}})
	stop := start(t, c)
	waitUntil(t, "10 messages", func() bool { return count.Load() == 10 })
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, q := range []*dynamodbqueue.DynamoDBQueue{a, b} {
		if st := stats(t, q); st.Total() != 0 {
			t.Errorf("%s not empty: %+v", q.QueueName(), st)
		}
	}
}

// TestDeletesBatchedAndFlushedOnShutdown: handled messages wait for their batch (here: a
// long DeleteInterval and a big batch), and shutdown deletes them before Run returns.
func TestDeletesBatchedAndFlushedOnShutdown(t *testing.T) {
	t.Parallel()
	q := newQueue(t, "jobs", "tenant-a")
	push(t, q, bodies(5, "m")...)
	rec := newRecorder()
	c := mustNew(t, q, func(ctx context.Context, msg events.SQSMessage) error { return nil },
		consumer.Options{Concurrency: 5, DeleteBatchSize: 100, DeleteInterval: 7 * time.Second, Hooks: rec})
	stop := start(t, c)
	waitUntil(t, "5 handled", func() bool {
		var n int
		rec.read(func(r *recorder) { n = len(r.succeeded) })
		return n == 5
	})
	if n, err := q.Count(testCtx(t)); err != nil || n != 5 {
		t.Errorf("Count before shutdown = %d, %v; want 5 (deletes still batched)", n, err)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n, err := q.Count(testCtx(t)); err != nil || n != 0 {
		t.Errorf("Count after shutdown = %d, %v; want 0", n, err)
	}
	rec.read(func(r *recorder) {
		if r.deleted != 5 || len(r.deleteBatches) != 1 {
			t.Errorf("deleted %d in batches %v; want one batch of 5", r.deleted, r.deleteBatches)
		}
	})
}

// TestFatalPollError: a missing table stops Run with an error, without waiting for the
// context.
func TestFatalPollError(t *testing.T) {
	t.Parallel()
	q := dynamodbqueue.NewFromClient(testenv.Client(t), 0).UseTable(testenv.TableName(t)).
		UseQueueName("jobs").UseClientID("c").UseLogger(nil)
	c := mustNew(t, q, noop, consumer.Options{})
	err := c.Run(testCtx(t))
	if !errors.Is(err, dynamodbqueue.ErrTableNotFound) {
		t.Fatalf("Run = %v, want ErrTableNotFound", err)
	}
}

// TestRunOnceAtATime: a second concurrent Run fails; after Run returns, it can run again.
func TestRunOnceAtATime(t *testing.T) {
	t.Parallel()
	q := newQueue(t, "jobs", "tenant-a")
	var count atomic.Int32
	c := mustNew(t, q, func(ctx context.Context, msg events.SQSMessage) error {
		count.Add(1)
		return nil
	}, consumer.Options{WaitTime: 50 * time.Millisecond})
	push(t, q, "first")
	stop := start(t, c)
	waitUntil(t, "the first run to handle a message", func() bool { return count.Load() == 1 })
	if err := c.Run(testCtx(t)); !errors.Is(err, consumer.ErrAlreadyRunning) {
		t.Errorf("second Run = %v, want ErrAlreadyRunning", err)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	push(t, q, "again")
	stop = start(t, c)
	waitUntil(t, "the second run to handle a message", func() bool { return count.Load() == 2 })
	if err := stop(); err != nil {
		t.Fatalf("second Run: %v", err)
	}
}

// TestPoisonMessageGoesToDeadLetterQueue: with the queue's dead-letter configuration, a
// message whose handler always fails is retried with backoff MaxReceiveCount times and then
// moved to the dead-letter queue, while the other messages are handled.
func TestPoisonMessageGoesToDeadLetterQueue(t *testing.T) {
	t.Parallel()
	q := newQueue(t, "jobs", "tenant-a").UseDeadLetterQueue(&dynamodbqueue.DeadLetterConfig{MaxReceiveCount: 3})
	push(t, q, "poison", "ok-1", "ok-2")
	var poisonCalls atomic.Int32
	rec := newRecorder()
	c := mustNew(t, q, func(ctx context.Context, msg events.SQSMessage) error {
		if msg.Body == "poison" {
			poisonCalls.Add(1)
			return errors.New("cannot parse")
		}
		return nil
	}, consumer.Options{Concurrency: 2, Backoff: consumer.Backoff{Min: 20 * time.Millisecond}, Hooks: rec})
	stop := start(t, c)
	waitUntil(t, "the poison message to be dead-lettered", func() bool { return stats(t, q).DeadLettered == 1 })
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := poisonCalls.Load(); n != 3 {
		t.Errorf("poison handled %d times, want MaxReceiveCount = 3", n)
	}
	if st := stats(t, q); st.Total() != 0 || st.DeadLettered != 1 {
		t.Errorf("after shutdown: %+v; want empty queue and 1 dead letter", st)
	}
	rec.read(func(r *recorder) {
		if len(r.succeeded) != 2 {
			t.Errorf("succeeded %v, want the 2 good messages", r.succeeded)
		}
	})
}

// TestMessageGroupKeepsOrder: messages of one FIFO message group are handled one at a time,
// in push order, even with several workers; a failure holds the group back until the retry
// succeeds.
func TestMessageGroupKeepsOrder(t *testing.T) {
	t.Parallel()
	q := newQueue(t, "jobs", "tenant-a")
	var msgs []events.SQSMessage
	for _, b := range bodies(15, "g") {
		msgs = append(msgs, events.SQSMessage{Body: b, Attributes: map[string]string{dynamodbqueue.AttributeMessageGroupID: "account-7"}})
	}
	if failed, err := q.PushMessages(testCtx(t), 0, msgs...); err != nil || len(failed) > 0 {
		t.Fatalf("PushMessages: %v", err)
	}
	var mu sync.Mutex
	var order []string
	var running, peak atomic.Int32
	failedOnce := false
	c := mustNew(t, q, func(ctx context.Context, msg events.SQSMessage) error {
		raisePeak(&peak, running.Add(1))
		defer running.Add(-1)
		mu.Lock()
		defer mu.Unlock()
		if msg.Body == "g-005" && !failedOnce {
			failedOnce = true
			return errors.New("transient")
		}
		order = append(order, msg.Body)
		return nil
	}, consumer.Options{Concurrency: 4, Backoff: consumer.Backoff{Min: 20 * time.Millisecond}})
	stop := start(t, c)
	waitUntil(t, "15 messages", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(order) == 15
	})
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if want := bodies(15, "g"); !slices.Equal(order, want) {
		t.Errorf("handled in order %v, want %v", order, want)
	}
	if p := peak.Load(); p != 1 {
		t.Errorf("%d messages of one group ran at once, want 1", p)
	}
}

// raisePeak records cur in peak if it is higher.
func raisePeak(peak *atomic.Int32, cur int32) {
	for {
		p := peak.Load()
		if cur <= p || peak.CompareAndSwap(p, cur) {
			return
		}
	}
}

// TestMultiHooks: every hook gets every event; nil hooks are skipped.
func TestMultiHooks(t *testing.T) {
	t.Parallel()
	a, b := newRecorder(), newRecorder()
	h := consumer.MultiHooks(a, nil, b)
	ctx, src, msg := context.Background(), consumer.Source{Table: "t", Queue: "q", ClientID: "c"}, events.SQSMessage{Body: "x"}
	h.OnReceive(ctx, src, 2)
	h.OnReceiveError(ctx, src, errors.New("poll"))
	h.OnSuccess(ctx, src, msg, time.Millisecond)
	h.OnError(ctx, src, msg, time.Millisecond, errors.New("fail"), time.Second)
	h.OnDelete(ctx, src, 1, 0, nil)
	h.OnRelease(ctx, src, 1, 0, nil)
	h.OnHeartbeat(ctx, src, msg, nil)
	for _, r := range []*recorder{a, b} {
		r.read(func(r *recorder) {
			if r.received != 2 || len(r.receiveErrors) != 1 || len(r.succeeded) != 1 || len(r.failures) != 1 ||
				r.deleted != 1 || r.released != 1 || r.heartbeats["x"] != 1 {
				t.Errorf("recorder missed events: %+v", r)
			}
		})
	}
}
