package consumer_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/consumer"
)

// logRecord is one captured log line: its message and its attributes, including those added
// with Logger.With.
type logRecord struct {
	msg   string
	attrs map[string]string
}

// captureHandler is a slog.Handler that keeps every record, at every level.
type captureHandler struct {
	mu      *sync.Mutex
	records *[]logRecord
	with    []slog.Attr
}

func newCapture() (*slog.Logger, *captureHandler) {
	h := &captureHandler{mu: &sync.Mutex{}, records: new([]logRecord)}
	return slog.New(h), h
}

func (h *captureHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *captureHandler) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{msg: r.Message, attrs: map[string]string{}}
	for _, a := range h.with {
		rec.attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	*h.records = append(*h.records, rec)
	return nil
}

func (h *captureHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.with = append(append([]slog.Attr(nil), h.with...), as...)
	return &c
}

func (h *captureHandler) WithGroup(string) slog.Handler { return h } // not used by the library

// find returns the first record with message msg.
func (h *captureHandler) find(msg string) (logRecord, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range *h.records {
		if r.msg == msg {
			return r, true
		}
	}
	return logRecord{}, false
}

const deadLetterLog = "dynamodbqueue: message moved to dead-letter queue"

// poisonQueue returns a queue that logs to its own capture and dead-letters a message at its
// second receive, with one message in it, and a handler that always fails.
func poisonQueue(t *testing.T) (*dynamodbqueue.DynamoDBQueue, *captureHandler, consumer.HandlerFunc) {
	queueLog, capture := newCapture()
	q := newQueue(t, "jobs", "tenant-a").UseLogger(queueLog).
		UseDeadLetterQueue(&dynamodbqueue.DeadLetterConfig{MaxReceiveCount: 1})
	push(t, q, "poison")
	return q, capture, func(context.Context, events.SQSMessage) error { return errors.New("cannot parse") }
}

// quickRetry makes a failed message visible again after 20 ms.
var quickRetry = consumer.Backoff{Min: 20 * time.Millisecond}

// TestConsumerLoggerReachesQueue: with Options.Logger set, a dead-letter move that the
// consumer's receive makes is logged to that logger (tagged with the source's queue and
// client), not to the queue's own logger; the queue given to New keeps its logger.
func TestConsumerLoggerReachesQueue(t *testing.T) {
	t.Parallel()
	q, queueCapture, fail := poisonQueue(t)
	queueLog := q.Logger()
	consumerLog, consumerCapture := newCapture()
	c := mustNew(t, q, fail, consumer.Options{Concurrency: 1, Backoff: quickRetry, Logger: consumerLog})
	stop := start(t, c)
	waitUntil(t, "the dead-letter move to be logged", func() bool { _, ok := consumerCapture.find(deadLetterLog); return ok })
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	r, _ := consumerCapture.find(deadLetterLog)
	if r.attrs["queue"] != "jobs" || r.attrs["client"] != "tenant-a" || r.attrs["receive_count"] != "2" {
		t.Errorf("dead-letter log attributes = %v; want queue=jobs client=tenant-a receive_count=2 (the receive that moved it)", r.attrs)
	}
	if _, ok := consumerCapture.find("consumer: started"); !ok {
		t.Error("the consumer's own start was not logged to Options.Logger")
	}
	if r, ok := queueCapture.find(deadLetterLog); ok {
		t.Errorf("the move was also logged to the queue's logger: %v", r)
	}
	if q.Logger() != queueLog {
		t.Error("New changed the logger of the queue it was given")
	}
}

// TestQueueLoggerIsConsumerDefault: a consumer without Options.Logger logs to the queue's
// logger (UseLogger), its own events and the queue's alike.
func TestQueueLoggerIsConsumerDefault(t *testing.T) {
	t.Parallel()
	q, capture, fail := poisonQueue(t)
	c, err := consumer.New(q, fail, consumer.Options{Concurrency: 1, Backoff: quickRetry})
	if err != nil {
		t.Fatal(err)
	}
	if c.Options().Logger != q.Logger() {
		t.Error("Options().Logger is not the queue's logger")
	}
	stop := start(t, c)
	waitUntil(t, "the dead-letter move to be logged", func() bool { _, ok := capture.find(deadLetterLog); return ok })
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, msg := range []string{"consumer: started", "consumer: handler failed", "consumer: stopped"} {
		if _, ok := capture.find(msg); !ok {
			t.Errorf("%q was not logged to the queue's logger", msg)
		}
	}
}
