package dynamodbqueue

import (
	"cmp"
	"errors"
	"log/slog"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue/internal/handle"
	"github.com/dynamodbqueue/dynamodbqueue/internal/keys"
	"github.com/dynamodbqueue/dynamodbqueue/internal/message"
)

// Defaults of Options.
const (
	// DefaultLongPollInterval and DefaultLongPollMaxInterval bound how often an idle long poll
	// asks DynamoDB again (see UseLongPollInterval).
	DefaultLongPollInterval    = 5 * time.Millisecond
	DefaultLongPollMaxInterval = 50 * time.Millisecond
	// DefaultDefinitionStaleness is how long a process trusts a queue definition it read: an
	// UpdateQueue takes effect in every process within this long (see Options).
	DefaultDefinitionStaleness = 5 * time.Second
)

// Options configure a Client: everything that is per process. The zero value of each field is
// its default; New validates them once.
type Options struct {
	// API is the DynamoDB client (required): a *dynamodb.Client or any wrapper around one.
	API API
	// Table is the table of the queues this client's handles and definition operations use.
	// It may be empty when every handle sets its own (UseTable).
	Table string
	// DefaultTTL is the retention of messages of queues that no definition gives one
	// (0: DefaultTTL, 14 days).
	DefaultTTL time.Duration
	// SigningKey is the key of the receipt-handle MAC (see UseSigningKey); empty: a checksum.
	SigningKey []byte
	// Logger receives warnings and debug detail; nil means slog.Default(). For no logging at
	// all give slog.New(slog.DiscardHandler).
	Logger *slog.Logger
	// Clock is the process's own clock (nil: time.Now). It is corrected by its offset from
	// DynamoDB's clock either way (see ClockOffset).
	Clock func() time.Time
	// LongPollInterval and LongPollMaxInterval: without a watcher (WatchInterval < 0), and on a
	// handle given another interval with UseLongPollInterval, an idle long poll asks again
	// after the first, doubling up to the second (0: DefaultLongPollInterval,
	// DefaultLongPollMaxInterval). With the watcher (the default) long polls wait on it instead.
	LongPollInterval, LongPollMaxInterval time.Duration
	// DefinitionStaleness bounds how old a cached queue definition may be when an operation
	// uses it (0: DefaultDefinitionStaleness, 5 s). Each process reads a queue's definition
	// and the client's override at most once per this period: with one strongly consistent
	// BatchGetItem per (queue, client) pair while it uses one client of the queue, and with one
	// Query of the whole definition partition (every client's override) per queue once it uses
	// several, so 1,000 clients of a queue cost one read per period (definition_cache.go).
	// Negative: read it before every operation.
	DefinitionStaleness time.Duration
	// WatchInterval is how often the process's watcher of a table reads the activity hints of
	// the queues it watches (0: DefaultWatchInterval, 50 ms): one Query per hint partition of
	// each watched queue per interval, whatever the number of tenants subscribed. At the
	// default fallback rate that is all an idle process sends: the fallback sweep takes some of
	// those ticks instead of the hints (see WatchFallbackRate). Long polls
	// (ReceiveMessages with a wait time) and Watch subscribers wait on it instead of asking
	// DynamoDB again themselves. It trades idle cost for latency: another process's push is
	// seen about half an interval (plus a request) later on average. Negative: no watcher;
	// Watch fails with ErrWatchDisabled and long polls re-poll at LongPollInterval as before.
	// See docs/SCALING.md, "Thousands of tenants".
	WatchInterval time.Duration
	// WatchFallbackRate is the most requests per second a watcher's fallback sweep sends
	// (0: the default, DefaultWatchFallbackRate (1) or DefaultWatchFallbackShare (a tenth) of
	// the ticks, whichever is less; at most MaxWatchFallbackRate). The sweep checks subscribed
	// pairs directly, in turn, for work no hint announced (a visibility timeout that ran out, a
	// lost hint): such work is found within about max(WatchInterval, P/rate), P being the
	// number of subscribed pairs (times their shards). Below one request per tick, a tick that
	// sweeps reads no hints (the next tick reads them), so the watcher's idle cost stays one
	// request per tick and hint partition; a higher rate sweeps besides the hints.
	WatchFallbackRate float64
	// HintPartitions is the number of activity-hint partitions per queue (0: 1; at most
	// MaxHintPartitions). Each takes about 1,000 hint writes per second on AWS (one per push
	// batch per tenant), and each costs a watcher one Query per interval. Every process using
	// a table must use the same value: hints another process writes to a partition this one
	// does not read are found only by the fallback.
	HintPartitions int
}

// Client is one process's connection to a queue table: the DynamoDB API, the clock corrected
// by DynamoDB's, the cache of queue definitions, and the in-process signals between long polls
// and pushes. Handles (Queue) and definition operations (CreateQueue, ...) come from it. It
// is safe for concurrent use.
type Client struct {
	core  *core
	table string
}

// New validates opts and returns a Client. Nothing is sent until the first operation.
func New(opts Options) (*Client, error) {
	if opts.API == nil {
		return nil, argError("API", "Options.API is nil; give a *dynamodb.Client or a wrapper")
	}
	if opts.Table != "" {
		if err := validateTableName(opts.Table); err != nil {
			return nil, err
		}
	}
	if err := checkRange("DefaultTTL", opts.DefaultTTL, 0, MaxTTL); err != nil {
		return nil, err
	}
	first := cmp.Or(opts.LongPollInterval, DefaultLongPollInterval)
	limit := cmp.Or(opts.LongPollMaxInterval, max(DefaultLongPollMaxInterval, first))
	if err := checkLongPoll("LongPollInterval", first, limit); err != nil {
		return nil, err
	}
	opts.LongPollInterval, opts.LongPollMaxInterval = first, limit
	if opts.WatchFallbackRate < 0 || opts.WatchFallbackRate > MaxWatchFallbackRate {
		return nil, argError("WatchFallbackRate", "fallback rate %v, must be 0 (default) or up to %v requests/s", opts.WatchFallbackRate, MaxWatchFallbackRate)
	}
	if opts.HintPartitions < 0 || opts.HintPartitions > MaxHintPartitions {
		return nil, argError("HintPartitions", "%d hint partitions, must be 0 (default) to %d", opts.HintPartitions, MaxHintPartitions)
	}
	c := newClient(opts, nil)
	return c, nil
}

// checkLongPoll validates a long-poll interval pair.
func checkLongPoll(name string, first, limit time.Duration) error {
	if first <= 0 || limit < first || limit > MaxWaitTime {
		return argError(name, "long poll interval %v..%v, need 0 < first <= limit <= %v", first, limit, MaxWaitTime)
	}
	return nil
}

// newClient builds a client from valid, defaulted options. logger, when not nil, is where the
// clock's warnings go (NewFromClient passes its handle's logger, so UseLogger on it keeps
// covering them); otherwise they go to the options' logger.
func newClient(opts Options, logger func() *slog.Logger) *Client {
	base := &settings{
		table:             opts.Table,
		order:             FIFO,
		visibilityTimeout: DefaultVisibilityTimeout,
		ttl:               cmp.Or(opts.DefaultTTL, DefaultTTL),
		shards:            1,
		maxMessageSize:    message.DefaultMaxSize,
		signer:            handle.NewSigner(opts.SigningKey),
		logger:            cmp.Or(opts.Logger, slog.Default()),
		pollMin:           opts.LongPollInterval,
		pollMax:           opts.LongPollMaxInterval,
		expiredMargin:     DefaultExpiredDeletionMargin,
	}
	if logger == nil {
		logger = func() *slog.Logger { return base.logger }
	}
	clk := newClockState(logger)
	if opts.Clock != nil {
		clk.use(opts.Clock, nil)
	}
	staleness := cmp.Or(opts.DefinitionStaleness, DefaultDefinitionStaleness)
	co := &core{api: &clockedAPI{API: opts.API, clock: clk}, callerAPI: opts.API, clock: clk, base: base}
	co.defs.staleness = staleness
	co.watch.configure(opts.WatchInterval, opts.WatchFallbackRate, opts.HintPartitions)
	co.spread.Store(1)
	co.seq = keys.NewSequencer(func() time.Time { return co.now() })
	return &Client{core: co, table: opts.Table}
}

// Queue returns a handle on the (queue, client) pair in the client's table. Its settings come
// from the queue's stored definition (see CreateQueue), or today's defaults when the queue has
// none; Use* setters on the handle override them for that handle only.
func (c *Client) Queue(queue, clientID string) (*DynamoDBQueue, error) {
	if c.table == "" {
		return nil, ErrTableNotSet
	}
	if err := validatePair(queue, clientID); err != nil {
		return nil, err
	}
	q := c.handle()
	s := *q.snapshot()
	s.table, s.queue, s.client = c.table, queue, clientID
	q.cur.Store(&s)
	return q, nil
}

// validatePair checks a queue name and client ID; errors.Join reports both problems at once.
func validatePair(queue, clientID string) error {
	var errs []error
	if queue == "" {
		errs = append(errs, ErrQueueNameNotSet)
	} else if err := keys.ValidateName("queue name", queue); err != nil {
		errs = append(errs, err)
	}
	if clientID == "" {
		errs = append(errs, ErrClientIDNotSet)
	} else if err := keys.ValidateName("client ID", clientID); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// handle returns a new handle with the client's base settings.
func (c *Client) handle() *DynamoDBQueue {
	q := &DynamoDBQueue{core: c.core}
	s := *c.core.base
	s.table = c.table
	q.cur.Store(&s)
	return q
}

// Table returns the table the client's definition operations and handles use.
func (c *Client) Table() string { return c.table }

// WithTable returns a client for another table that shares this one's process state (API,
// clock, definition cache). An invalid name is reported by the operations.
func (c *Client) WithTable(table string) *Client { return &Client{core: c.core, table: table} }

// API returns the DynamoDB client, as given in Options.
func (c *Client) API() API { return c.core.callerAPI }

// Client returns the client the handle was made from (NewFromClient makes one per call), for
// the table the handle uses now: the way to definition operations from a handle.
func (q *DynamoDBQueue) Client() *Client { return &Client{core: q.core, table: q.Table()} }
