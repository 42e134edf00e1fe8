package consumer

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// Defaults for Options fields left at zero, and limits New enforces.
const (
	// DefaultConcurrency is the number of workers.
	DefaultConcurrency = 10
	// DefaultMaxMessages is the most messages one poll claims (never more than Concurrency).
	DefaultMaxMessages = 10
	// DefaultPollers is the number of polls a consumer has in flight at most (never more than
	// Concurrency).
	DefaultPollers = 4
	// DefaultVisibilityTimeout hides received messages from other consumers this long; the
	// heartbeat renews it while the handler runs.
	DefaultVisibilityTimeout = 30 * time.Second
	// MinVisibilityTimeout is the shortest visibility timeout accepted: the heartbeat needs
	// room to renew it in time.
	MinVisibilityTimeout = time.Second
	// DefaultWaitTime is how often a source is polled when its client has watching disabled.
	DefaultWaitTime = time.Second
	// MaxWaitTime bounds WaitTime.
	MaxWaitTime = 20 * time.Second
	// DefaultShutdownGrace is how long running handlers may go on after shutdown begins.
	DefaultShutdownGrace = 10 * time.Second
	// DefaultAbandonTimeout is how long Run still waits, after the grace period, for handlers
	// whose context it cancelled.
	DefaultAbandonTimeout = 5 * time.Second
	// DefaultBackoffMin is the visibility timeout after the first failed delivery.
	DefaultBackoffMin = time.Second
	// DefaultBackoffMax caps the backoff.
	DefaultBackoffMax = 15 * time.Minute
	// DefaultDeleteBatchSize is how many handled messages of one source are deleted together.
	DefaultDeleteBatchSize = 10
	// MaxDeleteBatchSize bounds DeleteBatchSize.
	MaxDeleteBatchSize = 1000
	// DefaultDeleteInterval is the longest a handled message waits for its batch delete.
	DefaultDeleteInterval = 50 * time.Millisecond
	// DefaultOperationTimeout bounds each call to the queue (delete, visibility change,
	// release, and a receive).
	DefaultOperationTimeout = 10 * time.Second
)

// Backoff is the visibility timeout given to a message whose handler failed, growing with the
// message's ApproximateReceiveCount: Min after the first delivery, doubling with each further
// one, at most Max. Zero fields take DefaultBackoffMin and DefaultBackoffMax (or Min, if that is
// larger).
type Backoff struct {
	// Min is the delay after the first failed delivery (at most Max). 0 means
	// DefaultBackoffMin; for an immediate retry, return RetryAfter(0) from the handler.
	Min time.Duration
	// Max caps the delay (Min..dynamodbqueue.MaxVisibilityTimeout). 0 means
	// DefaultBackoffMax, or Min if that is larger.
	Max time.Duration
}

// Delay returns how long a message stays invisible after its receiveCount-th delivery failed:
// Min·2^(receiveCount-1), at most Max. Zero fields take their defaults.
func (b Backoff) Delay(receiveCount int) time.Duration {
	b = b.withDefaults()
	d := b.Min
	for i := 1; i < receiveCount && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

func (b Backoff) withDefaults() Backoff {
	if b.Min == 0 {
		b.Min = DefaultBackoffMin
	}
	if b.Max == 0 {
		b.Max = max(DefaultBackoffMax, b.Min)
	}
	return b
}

// Options configures a Consumer. The zero value is usable: every zero field takes the default
// named in its comment. New rejects values out of range with an error wrapping
// ErrInvalidOptions.
type Options struct {
	// Concurrency is the number of workers: how many messages are handled at once.
	// Default DefaultConcurrency.
	Concurrency int

	// MaxMessages is the most messages one poll claims (1..dynamodbqueue.MaxReceiveMessages).
	// A poll never claims more messages than there are idle workers, so a message never waits
	// for a worker while its visibility timeout runs. Default: DefaultMaxMessages, or
	// Concurrency if that is smaller.
	MaxMessages int

	// Pollers is how many polls (receive requests) the consumer has in flight at most, each
	// for a different source (1..Concurrency). More pollers claim messages faster when polls
	// are slow compared to handlers, and get through many woken sources sooner (when Run
	// starts, every source is polled once). Default: DefaultPollers, or Concurrency if that is
	// smaller.
	Pollers int

	// VisibilityTimeout hides a received message from other consumers
	// (MinVisibilityTimeout..dynamodbqueue.MaxVisibilityTimeout). The heartbeat renews it while
	// the handler runs, so it need not cover the longest handler: it bounds how soon a message
	// is delivered again when this process dies. Default DefaultVisibilityTimeout.
	VisibilityTimeout time.Duration

	// HeartbeatInterval is how often the visibility timeout of a message whose handler is
	// still running is renewed (to VisibilityTimeout from then). It must be shorter than
	// VisibilityTimeout. Default: half of VisibilityTimeout.
	HeartbeatInterval time.Duration

	// WaitTime matters only when the client of a source was made with watching disabled
	// (dynamodbqueue.Options.WatchInterval < 0): the consumer then polls such a source every
	// WaitTime, idle or not (0..MaxWaitTime). Otherwise the table's watcher wakes the consumer
	// when a source has messages, and polls never wait (see the package documentation).
	// Default DefaultWaitTime.
	WaitTime time.Duration

	// ShutdownGrace is how long handlers that are running when shutdown begins may go on.
	// After it, their contexts are cancelled (with cause ErrShutdown). Default
	// DefaultShutdownGrace.
	ShutdownGrace time.Duration

	// AbandonTimeout is how long Run still waits, after ShutdownGrace, for handlers that do
	// not return although their context was cancelled. Run then returns an error wrapping
	// ErrShutdownTimeout; the heartbeats of those messages stop, so they are delivered again
	// after their visibility timeout. Default DefaultAbandonTimeout.
	AbandonTimeout time.Duration

	// Backoff sets how long a message whose handler failed stays invisible before its next
	// delivery. Zero fields take their defaults.
	Backoff Backoff

	// DeleteBatchSize is how many handled messages of one source are deleted with one
	// DeleteMessages call (1..MaxDeleteBatchSize). Default DefaultDeleteBatchSize.
	DeleteBatchSize int

	// DeleteInterval is the longest a handled message waits for a batch to fill before it is
	// deleted. A handled message is no longer heartbeated, so DeleteInterval must be at most
	// half of VisibilityTimeout-HeartbeatInterval, the least time a handled message has left.
	// Default DefaultDeleteInterval.
	DeleteInterval time.Duration

	// OperationTimeout bounds each call to the queue: a delete, a visibility change or a
	// release, and a receive. Default DefaultOperationTimeout.
	OperationTimeout time.Duration

	// ClientIDs adds sources: for each ID, the consumer's queue with that client ID
	// (q.Clone().UseClientID(id)). Use it for a process that serves many tenants of one queue.
	ClientIDs []string

	// Sources adds further queues, of any table, queue name and client ID. Each is cloned when
	// New runs, so later changes to it do not affect the consumer.
	Sources []*dynamodbqueue.DynamoDBQueue

	// Logger receives structured logs: start and stop at Info, handler errors and failed queue
	// operations at Warn, panics at Error, per-message detail at Debug. When set, it also
	// replaces the logger of the queues the consumer works with (their clones; see
	// DynamoDBQueue.UseLogger), so the queue's own events, such as a message moved to the
	// dead-letter queue, go to the same place, tagged with queue and client. nil means the
	// logger of the queue given to New (slog.Default() unless set with UseLogger); use
	// slog.New(slog.DiscardHandler) to silence both.
	Logger *slog.Logger

	// Hooks receives counters and latencies (see package prommetrics for Prometheus). nil
	// means no hooks. Hooks that also implement TenantHooks learn how each source is
	// scheduled (wake-ups, polls, rate-limit waits).
	Hooks Hooks

	// Tenant holds the limits of every source (tenant) unless Tenants is set: a maximum
	// concurrency, a rate limit and a weight (see TenantOptions). The zero value: no limits,
	// equal shares.
	Tenant TenantOptions

	// Tenants, if set, returns the limits of each source instead of Tenant: for weights or
	// limits that differ between tenants. New calls it once per source and validates each
	// result.
	Tenants func(Source) TenantOptions
}

// withDefaults fills in the zero fields and validates the result.
func (o Options) withDefaults() (Options, error) {
	bad := func(format string, args ...any) (Options, error) {
		return o, fmt.Errorf("%w: "+format, append([]any{ErrInvalidOptions}, args...)...)
	}
	if o.Concurrency == 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Concurrency < 0 {
		return bad("Concurrency %d, must be positive", o.Concurrency)
	}
	if o.MaxMessages == 0 {
		o.MaxMessages = min(DefaultMaxMessages, o.Concurrency)
	}
	if o.MaxMessages < 0 || o.MaxMessages > dynamodbqueue.MaxReceiveMessages {
		return bad("MaxMessages %d, must be 1..%d", o.MaxMessages, dynamodbqueue.MaxReceiveMessages)
	}
	if o.Pollers == 0 {
		o.Pollers = min(DefaultPollers, o.Concurrency)
	}
	if o.Pollers < 0 || o.Pollers > o.Concurrency {
		return bad("Pollers %d, must be 1..Concurrency (%d)", o.Pollers, o.Concurrency)
	}
	if o.VisibilityTimeout == 0 {
		o.VisibilityTimeout = DefaultVisibilityTimeout
	}
	if o.VisibilityTimeout < MinVisibilityTimeout || o.VisibilityTimeout > dynamodbqueue.MaxVisibilityTimeout {
		return bad("VisibilityTimeout %v, must be %v..%v", o.VisibilityTimeout, MinVisibilityTimeout, dynamodbqueue.MaxVisibilityTimeout)
	}
	if o.HeartbeatInterval == 0 {
		o.HeartbeatInterval = o.VisibilityTimeout / 2
	}
	if o.HeartbeatInterval < 0 || o.HeartbeatInterval >= o.VisibilityTimeout {
		return bad("HeartbeatInterval %v, must be positive and shorter than VisibilityTimeout (%v)", o.HeartbeatInterval, o.VisibilityTimeout)
	}
	if o.WaitTime == 0 {
		o.WaitTime = DefaultWaitTime
	}
	if o.WaitTime < 0 || o.WaitTime > MaxWaitTime {
		return bad("WaitTime %v, must be 0..%v", o.WaitTime, MaxWaitTime)
	}
	if o.ShutdownGrace == 0 {
		o.ShutdownGrace = DefaultShutdownGrace
	}
	if o.ShutdownGrace < 0 {
		return bad("ShutdownGrace %v, must not be negative", o.ShutdownGrace)
	}
	if o.AbandonTimeout == 0 {
		o.AbandonTimeout = DefaultAbandonTimeout
	}
	if o.AbandonTimeout < 0 {
		return bad("AbandonTimeout %v, must not be negative", o.AbandonTimeout)
	}
	o.Backoff = o.Backoff.withDefaults()
	if b := o.Backoff; b.Min < 0 || b.Min > b.Max || b.Max > dynamodbqueue.MaxVisibilityTimeout {
		return bad("Backoff %v..%v, need 0 <= Min <= Max <= %v", b.Min, b.Max, dynamodbqueue.MaxVisibilityTimeout)
	}
	if o.DeleteBatchSize == 0 {
		o.DeleteBatchSize = DefaultDeleteBatchSize
	}
	if o.DeleteBatchSize < 0 || o.DeleteBatchSize > MaxDeleteBatchSize {
		return bad("DeleteBatchSize %d, must be 1..%d", o.DeleteBatchSize, MaxDeleteBatchSize)
	}
	if o.DeleteInterval == 0 {
		o.DeleteInterval = DefaultDeleteInterval
	}
	if limit := (o.VisibilityTimeout - o.HeartbeatInterval) / 2; o.DeleteInterval < 0 || o.DeleteInterval > limit {
		return bad("DeleteInterval %v, must be 0..(VisibilityTimeout-HeartbeatInterval)/2 = %v", o.DeleteInterval, limit)
	}
	if o.OperationTimeout == 0 {
		o.OperationTimeout = DefaultOperationTimeout
	}
	if o.OperationTimeout < 0 {
		return bad("OperationTimeout %v, must be positive", o.OperationTimeout)
	}
	if o.Hooks == nil {
		o.Hooks = NopHooks{}
	}
	if _, err := o.Tenant.resolve(); err != nil {
		return bad("Tenant: %s", err)
	}
	o.ClientIDs = append([]string(nil), o.ClientIDs...)
	o.Sources = append([]*dynamodbqueue.DynamoDBQueue(nil), o.Sources...)
	return o, nil
}
