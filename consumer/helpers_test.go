package consumer_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/consumer"
	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
)

// patience bounds every wait of a test: generous, so that a slow machine under -race passes,
// while a hang still fails instead of blocking the suite.
const patience = 2 * time.Minute

// newTable creates a queue table for one test and drops it afterwards. The queue has no
// queue name or client ID yet.
func newTable(t testing.TB, api dynamodbqueue.API) *dynamodbqueue.DynamoDBQueue {
	t.Helper()
	if api == nil {
		api = testenv.Client(t)
	}
	q := dynamodbqueue.NewFromClient(api, 0).UseTable(testenv.TableName(t)).UseLogger(nil)
	if created, err := q.CreateQueueTable(context.Background()); err != nil || !created {
		t.Fatalf("CreateQueueTable(%s) = %v, %v", q.Table(), created, err)
	}
	t.Cleanup(func() { _ = q.DropQueueTable(context.Background()) })
	return q
}

// newQueue returns a (queue, client) pair on a fresh table.
func newQueue(t testing.TB, queue, client string) *dynamodbqueue.DynamoDBQueue {
	t.Helper()
	return newTable(t, nil).UseQueueName(queue).UseClientID(client)
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	t.Cleanup(cancel)
	return ctx
}

func bodies(n int, prefix string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%03d", prefix, i)
	}
	return out
}

func push(t testing.TB, q *dynamodbqueue.DynamoDBQueue, bodies ...string) {
	t.Helper()
	msgs := make([]events.SQSMessage, len(bodies))
	for i, b := range bodies {
		msgs[i] = events.SQSMessage{Body: b}
	}
	if failed, err := q.PushMessages(testCtx(t), 0, msgs...); err != nil || len(failed) > 0 {
		t.Fatalf("PushMessages: %d failed, %v", len(failed), err)
	}
}

// testLogger sends the consumer's warnings and errors to the test log, and nothing once the
// test is over.
func testLogger(t testing.TB) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

// mustNew is consumer.New that fails the test on error.
func mustNew(t testing.TB, q *dynamodbqueue.DynamoDBQueue, h consumer.HandlerFunc, opts consumer.Options) *consumer.Consumer {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	c, err := consumer.New(q, h, opts)
	if err != nil {
		t.Fatalf("consumer.New: %v", err)
	}
	return c
}

// start runs c in the background. stop cancels its context and returns Run's result; it
// fails the test if Run does not return within patience. If the test ends without calling
// stop, the cleanup does it.
func start(t testing.TB, c *consumer.Consumer) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			timer := time.NewTimer(patience)
			defer timer.Stop()
			select {
			case err = <-done:
			case <-timer.C:
				err = fmt.Errorf("Run did not return within %v of cancel", patience)
				t.Error(err)
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// waitUntil polls cond every 10 ms until it holds; it fails the test after patience.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("gave up after %v waiting for %s", patience, what)
		case <-tick.C:
		}
	}
}

// recorder is a consumer.Hooks that keeps everything it is told.
type recorder struct {
	mu              sync.Mutex
	received        int
	receiveErrors   []error
	succeeded       []string // bodies
	failures        []failure
	deleted         int
	deleteFailed    int
	deleteBatches   []int
	released        int
	releaseFailed   int
	heartbeats      map[string]int // body -> renewals
	heartbeatErrors []error
}

type failure struct {
	body         string
	receiveCount int
	err          error
	retryIn      time.Duration
}

var _ consumer.Hooks = (*recorder)(nil)

func newRecorder() *recorder { return &recorder{heartbeats: map[string]int{}} }

func (r *recorder) OnReceive(_ context.Context, _ consumer.Source, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.received += n
}

func (r *recorder) OnReceiveError(_ context.Context, _ consumer.Source, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.receiveErrors = append(r.receiveErrors, err)
}

func (r *recorder) OnSuccess(_ context.Context, _ consumer.Source, msg events.SQSMessage, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.succeeded = append(r.succeeded, msg.Body)
}

func (r *recorder) OnError(_ context.Context, _ consumer.Source, msg events.SQSMessage, _ time.Duration, err error, retryIn time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = append(r.failures, failure{msg.Body, consumer.ReceiveCount(msg), err, retryIn})
}

func (r *recorder) OnDelete(_ context.Context, _ consumer.Source, deleted, failed int, _ error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deleted += deleted
	r.deleteFailed += failed
	r.deleteBatches = append(r.deleteBatches, deleted+failed)
}

func (r *recorder) OnRelease(_ context.Context, _ consumer.Source, released, failed int, _ error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.released += released
	r.releaseFailed += failed
}

func (r *recorder) OnHeartbeat(_ context.Context, _ consumer.Source, msg events.SQSMessage, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.heartbeatErrors = append(r.heartbeatErrors, err)
		return
	}
	r.heartbeats[msg.Body]++
}

// read runs fn under the recorder's lock.
func (r *recorder) read(fn func(r *recorder)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fn(r)
}

// drain receives everything visible in q right now, without waiting, and deletes it. It
// returns the bodies.
func drain(t testing.TB, q *dynamodbqueue.DynamoDBQueue) []string {
	t.Helper()
	var out []string
	for {
		msgs, err := q.PollMessages(testCtx(t), 0, time.Minute, 100)
		if err != nil {
			t.Fatalf("PollMessages: %v", err)
		}
		if len(msgs) == 0 {
			return out
		}
		for _, m := range msgs {
			out = append(out, m.Body)
		}
		if failed, err := q.DeleteMessages(testCtx(t), dynamodbqueue.ToReceiptHandles(msgs)...); err != nil {
			t.Fatalf("DeleteMessages: %d failed: %v", len(failed), err)
		}
	}
}

func stats(t testing.TB, q *dynamodbqueue.DynamoDBQueue) dynamodbqueue.Stats {
	t.Helper()
	st, err := q.Stats(testCtx(t))
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	return st
}
