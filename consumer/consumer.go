package consumer

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/keys"
)

// A Handler processes one message. Returning nil means the message is done: the consumer
// deletes it. Returning an error (or panicking) means it failed: the consumer makes it
// visible again after a backoff, or after the delay of a RetryAfter error.
//
// ctx is cancelled when the handler returns, and when the consumer's shutdown grace period
// is over (context.Cause is then ErrShutdown): a handler should give up its work then and
// return an error, and the message is made visible again at once. Delivery is at least once:
// a message can be handled again after a crash, or when its visibility timeout could not be
// renewed, so handlers should be idempotent.
type Handler interface {
	HandleMessage(ctx context.Context, msg events.SQSMessage) error
}

// HandlerFunc adapts an ordinary function to the Handler interface.
type HandlerFunc func(ctx context.Context, msg events.SQSMessage) error

// HandleMessage calls f(ctx, msg).
func (f HandlerFunc) HandleMessage(ctx context.Context, msg events.SQSMessage) error {
	return f(ctx, msg)
}

// Consumer runs a Handler over messages of one or more (queue, client) pairs with a pool of
// workers. Create it with New and start it with Run. Its methods are safe for concurrent use.
type Consumer struct {
	handler Handler
	opts    Options
	sources []*source
	limits  []tenantLimits // of each source
	// subscribe opens the wake-up subscription of a source.
	subscribe subscribeFunc
	// now is the scheduler's clock (rate limits, retry wake-ups); tests replace it.
	now     func() time.Time
	log     *slog.Logger
	hooks   Hooks
	running atomic.Bool
}

// source is one (queue, client) pair the consumer polls.
type source struct {
	idx int // in Consumer.sources
	q   *dynamodbqueue.DynamoDBQueue
	id  Source
	log *slog.Logger
}

// New returns a consumer that runs h over the messages of q, and of the extra sources that
// opts names (ClientIDs, Sources). q and the extra sources are cloned, so later changes to
// them do not affect the consumer. Zero option fields take their defaults (see Options).
//
// New checks everything it can without calling DynamoDB: errors wrap ErrNilQueue,
// ErrNilHandler, ErrInvalidOptions (and ErrDuplicateSource), or the queue package's
// ErrTableNotSet, ErrQueueNameNotSet, ErrClientIDNotSet and ErrInvalidName.
func New(q *dynamodbqueue.DynamoDBQueue, h Handler, opts Options) (*Consumer, error) {
	if q == nil {
		return nil, ErrNilQueue
	}
	if h == nil {
		return nil, ErrNilHandler
	}
	if f, ok := h.(HandlerFunc); ok && f == nil {
		return nil, ErrNilHandler
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	ownLogger := o.Logger != nil
	if !ownLogger {
		o.Logger = q.Logger()
	}
	queues := []*dynamodbqueue.DynamoDBQueue{q.Clone()}
	for _, id := range o.ClientIDs {
		queues = append(queues, q.Clone().UseClientID(id))
	}
	for i, s := range o.Sources {
		if s == nil {
			return nil, fmt.Errorf("%w: Options.Sources[%d]", ErrNilQueue, i)
		}
		queues = append(queues, s.Clone())
	}
	for _, sq := range queues {
		// Each poll is one pass (the consumer waits on wake-ups itself), whatever receive wait
		// time the queue's definition gives.
		sq.UseReceiveWaitTime(0)
	}
	c := &Consumer{handler: h, opts: o, log: o.Logger, hooks: o.Hooks}
	seen := make(map[Source]int, len(queues))
	for i, sq := range queues {
		id := Source{Table: sq.Table(), Queue: sq.QueueName(), ClientID: sq.ClientID()}
		if err := sq.Err(); err != nil { // a Use* setter rejected its value (a bad client ID, say)
			return nil, fmt.Errorf("consumer: source %d: %w", i, err)
		}
		if err := checkSource(id); err != nil {
			return nil, fmt.Errorf("consumer: source %d (%s): %w", i, id, err)
		}
		if j, dup := seen[id]; dup {
			return nil, fmt.Errorf("%w: %w: sources %d and %d are both table %q, %s", ErrInvalidOptions, ErrDuplicateSource, j, i, id.Table, id)
		}
		seen[id] = i
		log := o.Logger.With("queue", id.Queue, "client", id.ClientID)
		if ownLogger {
			sq.UseLogger(log) // one logger for the consumer and the queue's own events
		}
		to := o.Tenant
		if o.Tenants != nil {
			to = o.Tenants(id)
		}
		limits, err := to.resolve()
		if err != nil {
			return nil, fmt.Errorf("%w: tenant options of source %d (%s): %s", ErrInvalidOptions, i, id, err)
		}
		c.limits = append(c.limits, limits)
		c.sources = append(c.sources, &source{idx: i, q: sq, id: id, log: log})
	}
	c.subscribe = watchSource(o.WaitTime)
	c.now = time.Now
	return c, nil
}

// checkSource applies the queue's naming rules, so a typo fails in New rather than in Run.
// (The table name is checked by the first call to DynamoDB.)
func checkSource(id Source) error {
	switch {
	case id.Table == "":
		return dynamodbqueue.ErrTableNotSet
	case id.Queue == "":
		return dynamodbqueue.ErrQueueNameNotSet
	case id.ClientID == "":
		return dynamodbqueue.ErrClientIDNotSet
	}
	if err := keys.ValidateName("queue name", id.Queue); err != nil {
		return err
	}
	return keys.ValidateName("client ID", id.ClientID)
}

// Options returns the options in effect: those given to New with the defaults filled in.
func (c *Consumer) Options() Options {
	o := c.opts
	o.ClientIDs = append([]string(nil), o.ClientIDs...)
	o.Sources = append([]*dynamodbqueue.DynamoDBQueue(nil), o.Sources...)
	return o
}

// Sources returns the (queue, client) pairs the consumer serves: the queue given to New, then
// Options.ClientIDs, then Options.Sources.
func (c *Consumer) Sources() []Source {
	out := make([]Source, len(c.sources))
	for i, s := range c.sources {
		out[i] = s.id
	}
	return out
}

// Run polls the sources and handles their messages until ctx is done, then shuts down
// gracefully, and returns when the shutdown is complete: no goroutine of the run is left
// (except those of handlers it had to abandon, see below).
//
// Shutdown stops polling (a poll in progress finishes; polls do not wait), makes messages that
// were received but not yet handed to a worker visible again at once, and lets running
// handlers finish within ShutdownGrace; then it cancels their contexts. Messages whose handler
// returns an error after that are released at once too. Handled messages waiting for their
// batch delete are deleted before Run returns.
//
// Run returns nil after a clean shutdown. It returns an error wrapping ErrShutdownTimeout
// if handlers were still running AbandonTimeout after their contexts were cancelled: Run
// leaves them running, stops renewing their messages' visibility, and still deletes or
// releases each message when its handler returns. It stops early, shutting down the same way,
// and returns the error if a poll fails in a way retrying cannot fix: the table does not exist
// (wrapping dynamodbqueue.ErrTableNotFound) or the queue is misconfigured
// (dynamodbqueue.ErrInvalidName, ErrInvalidArgument, ...). Other poll errors are logged,
// reported to Hooks.OnReceiveError and retried with a backoff of up to 5 seconds. Run fails
// at once, starting nothing, if a source cannot be watched (an error of
// dynamodbqueue.Client.Watch).
//
// A Consumer runs once at a time: a concurrent call returns ErrAlreadyRunning. After Run
// returns, it may be called again.
func (c *Consumer) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return ErrAlreadyRunning
	}
	defer c.running.Store(false)
	return newRun(ctx, c).run(ctx)
}
