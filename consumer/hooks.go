package consumer

import (
	"context"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Source names one (queue, client) pair a consumer polls. Hooks and logs label everything
// with it.
type Source struct {
	Table    string // DynamoDB table
	Queue    string // queue name
	ClientID string // client ID (the tenant)
}

// String returns "queue/client".
func (s Source) String() string { return s.Queue + "/" + s.ClientID }

// Hooks observes a consumer: counters and latencies for metrics. The consumer calls the hooks
// synchronously from its goroutines, concurrently with each other, so implementations must be
// safe for concurrent use and quick (no I/O). The context carries the values of the context
// given to Run. Embed NopHooks to implement only some methods; package prommetrics has a
// ready implementation for Prometheus.
type Hooks interface {
	// OnReceive: a poll of src claimed n > 0 messages.
	OnReceive(ctx context.Context, src Source, n int)
	// OnReceiveError: a poll of src failed. The consumer waits a little and goes on, unless
	// the error is one a retry cannot fix (see Run).
	OnReceiveError(ctx context.Context, src Source, err error)
	// OnSuccess: the handler returned nil for msg after running for took.
	OnSuccess(ctx context.Context, src Source, msg events.SQSMessage, took time.Duration)
	// OnError: the handler returned err for msg (a *PanicError if it panicked) after running
	// for took. The message becomes visible again after retryIn.
	OnError(ctx context.Context, src Source, msg events.SQSMessage, took time.Duration, err error, retryIn time.Duration)
	// OnDelete: a batch delete of handled messages of src deleted `deleted` messages and
	// failed for `failed` of them; err says why (nil if failed is 0).
	OnDelete(ctx context.Context, src Source, deleted, failed int, err error)
	// OnRelease: messages of src were made visible again at once because the consumer shut
	// down before or while handling them; failed of them could not be released (err says
	// why): they are delivered again after their visibility timeout.
	OnRelease(ctx context.Context, src Source, released, failed int, err error)
	// OnHeartbeat: the visibility timeout of msg, whose handler is still running, was
	// renewed (err nil) or could not be (err says why).
	OnHeartbeat(ctx context.Context, src Source, msg events.SQSMessage, err error)
}

// ClockSkewHooks is an optional extension of Hooks: when the Hooks given to a consumer also
// implement it, the consumer reports the clock offset of the process serving each source. (It
// is a separate interface so that Hooks implementations written before it keep compiling; NopHooks
// and MultiHooks implement it.)
type ClockSkewHooks interface {
	// OnClockSkew: the queue of src estimates that DynamoDB's clock is offset ahead of this
	// process's clock (negative: behind), and corrects its own time by it (see
	// dynamodbqueue.DynamoDBQueue.ClockOffset). It is called once when Run starts, and then
	// whenever the queue warns about the offset: when its size reaches the queue's threshold
	// (UseClockSkewThreshold), when it moves by the threshold or more, and when it falls back
	// under the threshold. The queue logs a warning too, through its own logger.
	OnClockSkew(ctx context.Context, src Source, offset time.Duration)
}

// NopHooks implements Hooks with methods that do nothing. Embed it in a struct to implement
// only the hooks you need.
type NopHooks struct{}

var (
	_ Hooks          = NopHooks{}
	_ ClockSkewHooks = NopHooks{}
	_ ClockSkewHooks = multiHooks{}
)

// OnReceive does nothing.
func (NopHooks) OnReceive(context.Context, Source, int) {}

// OnReceiveError does nothing.
func (NopHooks) OnReceiveError(context.Context, Source, error) {}

// OnSuccess does nothing.
func (NopHooks) OnSuccess(context.Context, Source, events.SQSMessage, time.Duration) {}

// OnError does nothing.
func (NopHooks) OnError(context.Context, Source, events.SQSMessage, time.Duration, error, time.Duration) {
}

// OnDelete does nothing.
func (NopHooks) OnDelete(context.Context, Source, int, int, error) {}

// OnRelease does nothing.
func (NopHooks) OnRelease(context.Context, Source, int, int, error) {}

// OnHeartbeat does nothing.
func (NopHooks) OnHeartbeat(context.Context, Source, events.SQSMessage, error) {}

// OnClockSkew does nothing.
func (NopHooks) OnClockSkew(context.Context, Source, time.Duration) {}

// MultiHooks returns Hooks that call each of hs in turn; nil entries are skipped.
func MultiHooks(hs ...Hooks) Hooks {
	var list multiHooks
	for _, h := range hs {
		if h != nil {
			list = append(list, h)
		}
	}
	return list
}

type multiHooks []Hooks

func (m multiHooks) OnReceive(ctx context.Context, src Source, n int) {
	for _, h := range m {
		h.OnReceive(ctx, src, n)
	}
}

func (m multiHooks) OnReceiveError(ctx context.Context, src Source, err error) {
	for _, h := range m {
		h.OnReceiveError(ctx, src, err)
	}
}

func (m multiHooks) OnSuccess(ctx context.Context, src Source, msg events.SQSMessage, took time.Duration) {
	for _, h := range m {
		h.OnSuccess(ctx, src, msg, took)
	}
}

func (m multiHooks) OnError(ctx context.Context, src Source, msg events.SQSMessage, took time.Duration, err error, retryIn time.Duration) {
	for _, h := range m {
		h.OnError(ctx, src, msg, took, err, retryIn)
	}
}

func (m multiHooks) OnDelete(ctx context.Context, src Source, deleted, failed int, err error) {
	for _, h := range m {
		h.OnDelete(ctx, src, deleted, failed, err)
	}
}

func (m multiHooks) OnRelease(ctx context.Context, src Source, released, failed int, err error) {
	for _, h := range m {
		h.OnRelease(ctx, src, released, failed, err)
	}
}

func (m multiHooks) OnHeartbeat(ctx context.Context, src Source, msg events.SQSMessage, err error) {
	for _, h := range m {
		h.OnHeartbeat(ctx, src, msg, err)
	}
}

// OnClockSkew calls the hooks that implement ClockSkewHooks.
func (m multiHooks) OnClockSkew(ctx context.Context, src Source, offset time.Duration) {
	for _, h := range m {
		if c, ok := h.(ClockSkewHooks); ok {
			c.OnClockSkew(ctx, src, offset)
		}
	}
}

// watchClocks reports the clock offset of each source's process to the hooks, if they implement
// ClockSkewHooks: now, and whenever the queue warns about it, until the returned stop is called.
func (r *run) watchClocks() (stop func()) {
	h, ok := r.c.hooks.(ClockSkewHooks)
	if !ok {
		return func() {}
	}
	stops := make([]func(), 0, len(r.c.sources))
	for _, s := range r.c.sources {
		src := s.id
		stops = append(stops, s.q.OnClockSkew(func(offset time.Duration) { h.OnClockSkew(r.base, src, offset) }))
		h.OnClockSkew(r.base, src, s.q.ClockOffset())
	}
	return func() {
		for _, stop := range stops {
			stop()
		}
	}
}
