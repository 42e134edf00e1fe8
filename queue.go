package dynamodbqueue

import (
	"context"
	"fmt"
	"iter"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dynamodbqueue/dynamodbqueue/internal/handle"
	"github.com/dynamodbqueue/dynamodbqueue/internal/keys"
)

// Defaults for settings left at zero.
const (
	// DefaultTTL is the retention of a message when NewDynamoDBQueue is given 0: 14 days, the
	// longest retention SQS offers.
	DefaultTTL = 14 * 24 * time.Hour
	// DefaultVisibilityTimeout is the visibility timeout of ReceiveMessages when neither the
	// call nor UseVisibilityTimeout sets one (SQS's default).
	DefaultVisibilityTimeout = 30 * time.Second
	// MaxVisibilityTimeout is the longest visibility timeout accepted (SQS's limit).
	MaxVisibilityTimeout = 12 * time.Hour
	// MaxDelay is the longest delivery delay accepted (SQS's limit).
	MaxDelay = 15 * time.Minute
	// MaxShards is the largest shard count accepted.
	MaxShards = 1000
	// DedupWindow is how long a deduplication ID suppresses repeated pushes (SQS's window).
	DedupWindow = 5 * time.Minute
	// DefaultExpiredDeletionMargin is how long past its TTL a message must be before a process
	// deletes it (see UseExpiredDeletionMargin).
	DefaultExpiredDeletionMargin = 5 * time.Minute
)

// Order says which end of the queue a poll takes from.
type Order int

const (
	// FIFO delivers the message that became visible first (the default).
	FIFO Order = iota
	// LIFO delivers the message that became visible last.
	LIFO
)

// String returns "FIFO" or "LIFO".
func (o Order) String() string {
	if o == LIFO {
		return "LIFO"
	}
	return "FIFO"
}

// DeadLetterConfig routes messages that were received too often to a dead-letter queue.
type DeadLetterConfig struct {
	// MaxReceiveCount is how many receives a message gets; the next receive moves it to the
	// dead-letter queue instead. 1..1000, as in SQS.
	MaxReceiveCount int
	// Table holds the dead-letter queue; empty means the queue's own table.
	Table string
	// QueueName and ClientID name the dead-letter (queue, client) pair. Empty QueueName means
	// "<queue>-dlq"; empty ClientID means the queue's client ID.
	QueueName string
	ClientID  string
}

// settings is one immutable snapshot of everything an operation needs to know. Setters
// build a new snapshot and swap it in atomically, so each operation runs on one consistent
// view even while other goroutines change the queue.
type settings struct {
	table             string
	queue             string
	client            string
	order             Order
	visibilityTimeout time.Duration
	ttl               time.Duration
	delay             time.Duration
	shards            int // shards to read (and to write, unless pushShards says fewer)
	maxMessageSize    int
	dlq               *DeadLetterConfig
	contentDedup      bool
	signer            *handle.Signer
	logger            *slog.Logger
	pollMin, pollMax  time.Duration
	expiredMargin     time.Duration // see UseExpiredDeletionMargin
	receiveWait       time.Duration // ReceiveMessages' wait when the call sets none

	// explicit marks the settings a Use* setter set on this handle: they win over the stored
	// definition (definition_cache.go). The others come from it, or from these defaults.
	explicit explicitSet
	// pushShards is the shard count producers spread over; shards is then the count to read,
	// which also covers the shards a lowered count gave up (QueueDefinition.MaxShards). 0: the
	// same as shards.
	pushShards int
	// rejected holds the Use* calls that were given an invalid value (settings_use.go); every
	// operation fails with them until the setter is called again with a valid value.
	rejected []rejectedUse
	// defErr is why the stored definition could not be read; operations fail with it.
	defErr error
}

// core is what every copy of a queue shares: the client, the clock, the sequencer, the
// in-process wake-up signals for long polls and the registry cache.
type core struct {
	api        API // the caller's API wrapped so that every response feeds the clock (clock_api.go)
	callerAPI  API // the caller's API as given, for API()
	clock      *clockState
	seq        *keys.Sequencer
	wake       wakeups
	registered registryCache // table+"\x00"+pk: registry entries this process wrote (registry.go)
	shardHint  sync.Map      // table+"\x00"+pk -> idleMark: shards found empty, skipped until then (fairgroup.go)
	passCursor sync.Map      // table+"\x00"+pair prefix -> *atomic.Uint64: where the next receive pass starts (passStart)
	spread     atomic.Int32  // contention with consumers elsewhere (see adaptSpread)
	claiming   sync.Map      // table+"\x00"+pk+"\x00"+sk -> struct{}: claims in progress in this process
	chains     readChains    // reads of each shard by this process's receives (receive_window.go)
	base       *settings     // the settings of a new handle (client.go)
	defs       defCache      // queue definitions read recently (definition_cache.go)
	watch      watchState    // the watchers of activity hints and their options (watcher.go)
}

// DynamoDBQueue is a message queue on one DynamoDB table, addressed by (queue name, client ID).
// All methods are safe for concurrent use. The Use* setters may be called at any time, also
// while other goroutines push and poll: each operation takes one snapshot of the settings when
// it starts and uses it throughout. Use Clone for an independent handle that shares the client.
type DynamoDBQueue struct {
	core *core
	cur  atomic.Pointer[settings]
}

// NewDynamoDBQueue returns a queue that talks to DynamoDB with cfg. defaultTTL is the retention
// of pushed messages when PushMessages is given 0 and no queue definition sets one; 0 here
// means DefaultTTL (14 days). ctx is accepted for symmetry with the AWS constructors; nothing is
// sent until the first operation.
func NewDynamoDBQueue(ctx context.Context, cfg aws.Config, defaultTTL time.Duration) *DynamoDBQueue {
	_ = ctx
	return NewFromClient(dynamodb.NewFromConfig(cfg), defaultTTL)
}

// NewFromClient returns a queue that uses api: a *dynamodb.Client, or any wrapper around one
// (instrumentation, custom retryers, a local endpoint). defaultTTL as in NewDynamoDBQueue. It
// is New with Options{API: api, DefaultTTL: defaultTTL} and the defaults otherwise, then a
// handle with no table, queue or client yet (set them with UseTable, UseQueueName and
// UseClientID); the clock's warnings go to this handle's logger (UseLogger).
func NewFromClient(api API, defaultTTL time.Duration) *DynamoDBQueue {
	var q *DynamoDBQueue
	c := newClient(Options{
		API:                 api,
		DefaultTTL:          max(defaultTTL, 0),
		LongPollInterval:    DefaultLongPollInterval,
		LongPollMaxInterval: DefaultLongPollMaxInterval,
	}, func() *slog.Logger { return q.snapshot().logger })
	q = c.handle()
	return q
}

// now returns the process's time: its clock corrected by the estimated offset from DynamoDB's
// (clock.go).
func (c *core) now() time.Time { return c.clock.now() }

// Clone returns a new queue with a copy of the current settings that shares the client and the
// in-process state. Changing the clone's settings does not affect q.
func (q *DynamoDBQueue) Clone() *DynamoDBQueue {
	c := &DynamoDBQueue{core: q.core}
	s := *q.cur.Load()
	c.cur.Store(&s)
	return c
}

// snapshot returns the settings for one operation.
func (q *DynamoDBQueue) snapshot() *settings { return q.cur.Load() }

// update applies fn to a copy of the settings and publishes it; concurrent updates retry, so
// none is lost.
func (q *DynamoDBQueue) update(fn func(*settings)) *DynamoDBQueue {
	for {
		old := q.cur.Load()
		next := *old
		fn(&next)
		if q.cur.CompareAndSwap(old, &next) {
			return q
		}
	}
}

// UseTable sets the DynamoDB table. An invalid name is rejected at once (see Err); "" unsets it.
func (q *DynamoDBQueue) UseTable(table string) *DynamoDBQueue {
	var err error
	if table != "" {
		err = validateTableName(table)
	}
	return q.use("UseTable", err, 0, func(s *settings) { s.table = table })
}

// UseQueueName sets the queue name: 1..80 characters of A-Z a-z 0-9 _ . -; an invalid name is
// rejected at once (see Err); "" unsets it.
func (q *DynamoDBQueue) UseQueueName(name string) *DynamoDBQueue {
	return q.use("UseQueueName", checkOptionalName("queue name", name), 0, func(s *settings) { s.queue = name })
}

// UseClientID sets the client ID (the tenant): same rules as the queue name. Each (queue name,
// client ID) pair is its own queue.
func (q *DynamoDBQueue) UseClientID(id string) *DynamoDBQueue {
	return q.use("UseClientID", checkOptionalName("client ID", id), 0, func(s *settings) { s.client = id })
}

// UseOrder sets the order of delivery; it applies from the next poll.
func (q *DynamoDBQueue) UseOrder(o Order) *DynamoDBQueue {
	var err error
	if o != FIFO && o != LIFO {
		err = argError("UseOrder", "order %d, must be FIFO or LIFO", int(o))
	}
	return q.use("UseOrder", err, 0, func(s *settings) { s.order = o })
}

// UseFIFO delivers the oldest visible messages first (the default).
func (q *DynamoDBQueue) UseFIFO() *DynamoDBQueue { return q.UseOrder(FIFO) }

// UseLIFO delivers the newest visible messages first.
func (q *DynamoDBQueue) UseLIFO() *DynamoDBQueue { return q.UseOrder(LIFO) }

// UseVisibilityTimeout sets the visibility timeout that ReceiveMessages uses when the call sets
// none, over the queue definition's. Values outside 0..MaxVisibilityTimeout are rejected at once
// (see Err).
func (q *DynamoDBQueue) UseVisibilityTimeout(d time.Duration) *DynamoDBQueue {
	err := checkRange("UseVisibilityTimeout", d, 0, MaxVisibilityTimeout)
	return q.use("UseVisibilityTimeout", err, useVisibility, func(s *settings) { s.visibilityTimeout = d })
}

// UseTTL sets the retention of messages pushed with ttl 0, over the queue definition's.
// 0 goes back to the definition's retention (DefaultTTL for a queue without one); a negative
// value or one above MaxTTL is rejected at once (see Err).
func (q *DynamoDBQueue) UseTTL(ttl time.Duration) *DynamoDBQueue {
	err := checkRange("UseTTL", ttl, 0, MaxTTL)
	if ttl == 0 && err == nil {
		return q.use("UseTTL", nil, 0, func(s *settings) { s.ttl, s.explicit = q.core.base.ttl, s.explicit&^useTTL })
	}
	return q.use("UseTTL", err, useTTL, func(s *settings) { s.ttl = ttl })
}

// UseDelay sets the queue's delivery delay, over the queue definition's: pushed messages stay
// invisible this long (0..MaxDelay; other values are rejected at once, see Err). A
// per-message delay (PushOptions.Delay, or the DelaySeconds attribute) takes precedence.
func (q *DynamoDBQueue) UseDelay(d time.Duration) *DynamoDBQueue {
	return q.use("UseDelay", checkRange("UseDelay", d, 0, MaxDelay), useDelay, func(s *settings) { s.delay = d })
}

// UseReceiveWaitTime sets the long-poll wait of ReceiveMessages calls whose WaitTime is 0, over
// the queue definition's (0..MaxWaitTime; other values are rejected at once, see Err).
func (q *DynamoDBQueue) UseReceiveWaitTime(d time.Duration) *DynamoDBQueue {
	err := checkRange("UseReceiveWaitTime", d, 0, MaxWaitTime)
	return q.use("UseReceiveWaitTime", err, useWait, func(s *settings) { s.receiveWait = d })
}

// UseShards spreads the (queue, client) pair over n partition keys (1..MaxShards; other values
// are rejected at once, see Err) so it can go past the throughput of one DynamoDB partition,
// over the queue definition's count. Producers spread messages outside groups over the shards
// (a fair group's messages to its shard, see AttributeFairGroupID); message groups and
// deduplication records stay on shard 0 whatever n is, so changing n never splits a group or
// forgets a deduplication ID. Consumers visit shards starting at each one in turn (from a
// random one), and also drain the shards above n that the definition ever had (QueueDefinition.MaxShards).
// Order then holds per shard and per group. To change the count for every process, use
// UpdateQueue: with a per-handle count, before lowering it drain the shards that go away.
func (q *DynamoDBQueue) UseShards(n int) *DynamoDBQueue {
	var err error
	if n < 1 || n > MaxShards {
		err = argError("UseShards", "shard count %d, must be 1..%d", n, MaxShards)
	}
	return q.use("UseShards", err, useShards, func(s *settings) { s.shards, s.pushShards = n, 0 })
}

// UseMaxMessageSize sets the largest body plus attributes accepted by a push, in bytes
// (default 1 MiB, SQS's limit; bodies above 350 KB are stored over several items), over the
// queue definition's. Values outside 1..2 MiB are rejected at once (see Err).
func (q *DynamoDBQueue) UseMaxMessageSize(n int) *DynamoDBQueue {
	var err error
	if n < 1 || n > maxStoredMessage {
		err = argError("UseMaxMessageSize", "max message size %d, must be 1..%d", n, maxStoredMessage)
	}
	return q.use("UseMaxMessageSize", err, useMaxSize, func(s *settings) { s.maxMessageSize = n })
}

// UseDeadLetterQueue routes messages received more than cfg.MaxReceiveCount times to a
// dead-letter queue, over the queue definition's redrive policy. A nil cfg turns
// dead-lettering off for this handle. An invalid cfg is rejected at once (see Err).
func (q *DynamoDBQueue) UseDeadLetterQueue(cfg *DeadLetterConfig) *DynamoDBQueue {
	var c *DeadLetterConfig
	var err error
	if cfg != nil {
		cp := *cfg
		c = &cp
		err = c.validate()
	}
	return q.use("UseDeadLetterQueue", err, useDLQ, func(s *settings) { s.dlq = c })
}

// validate checks what a dead-letter configuration says on its own; that it does not name the
// queue itself is checked when an operation knows the queue.
func (d *DeadLetterConfig) validate() error {
	if d.MaxReceiveCount < 1 || d.MaxReceiveCount > 1000 {
		return argError("MaxReceiveCount", "dead-letter MaxReceiveCount %d, must be 1..1000", d.MaxReceiveCount)
	}
	if d.Table != "" {
		if err := validateTableName(d.Table); err != nil {
			return err
		}
	}
	if err := checkOptionalName("dead-letter queue name", d.QueueName); err != nil {
		return err
	}
	return checkOptionalName("dead-letter client ID", d.ClientID)
}

// UseContentBasedDeduplication makes pushes without a MessageDeduplicationId attribute use the
// SHA-256 of the body as their deduplication ID, as an SQS FIFO queue with that option does;
// it overrides the queue definition's setting.
func (q *DynamoDBQueue) UseContentBasedDeduplication(on bool) *DynamoDBQueue {
	return q.use("UseContentBasedDeduplication", nil, useContentDedup, func(s *settings) { s.contentDedup = on })
}

// UseSigningKey sets the key of the receipt-handle integrity check. Every process that deletes
// or changes messages of the table must use the same key. Without a key, handles carry a
// checksum; either way a handle only works with the secret claim token inside it.
func (q *DynamoDBQueue) UseSigningKey(key []byte) *DynamoDBQueue {
	signer := handle.NewSigner(key)
	return q.use("UseSigningKey", nil, 0, func(s *settings) { s.signer = signer })
}

// UseLogger sets the logger for events worth knowing about: warnings (TTL could not be
// enabled, a message moved to the dead-letter queue, a rejected Use* value) and debug detail
// (lost races, retries). The default is slog.Default(); nil silences logging. A
// consumer.Consumer built on the queue logs here too, unless its Options.Logger names another
// logger, which then replaces this one for the queues the consumer works with: one setting
// covers both.
func (q *DynamoDBQueue) UseLogger(l *slog.Logger) *DynamoDBQueue {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return q.use("UseLogger", nil, 0, func(s *settings) { s.logger = l })
}

// UseLongPollInterval bounds how often a long poll asks DynamoDB again while the queue is
// empty: it waits first, doubling up to limit. Pushes from this process wake pollers at once;
// pushes from other processes are seen within limit. Defaults: 5 ms and 50 ms. The limit
// trades latency for cost: an idle consumer sends up to 1/limit queries per second per shard
// (20 at 50 ms, each billed 0.5 read units), and sees another process's push after limit/2 on
// average. Values without 0 < first <= limit <= MaxWaitTime are rejected at once (see Err).
func (q *DynamoDBQueue) UseLongPollInterval(first, limit time.Duration) *DynamoDBQueue {
	return q.use("UseLongPollInterval", checkLongPoll("UseLongPollInterval", first, limit), 0, func(s *settings) { s.pollMin, s.pollMax = first, limit })
}

// UseExpiredDeletionMargin sets how long past its TTL a message must be before this process
// deletes it (default DefaultExpiredDeletionMargin, 5 minutes). A message past its TTL is never
// delivered or counted; it is deleted only once it is expired by more than d, so that a clock
// error smaller than d (one this process could not correct, see ClockOffset) can never delete a
// message that is still live. Until then it is stepped over (a group's next message is offered
// behind it). DynamoDB's own TTL sweeper deletes expired items by its own clock whatever d is.
// 0 deletes as soon as this process's clock says a message has expired. A negative d is
// rejected at once (see Err): operations fail with ErrInvalidArgument until a valid call.
func (q *DynamoDBQueue) UseExpiredDeletionMargin(d time.Duration) *DynamoDBQueue {
	var err error
	if d < 0 {
		err = argError("UseExpiredDeletionMargin", "expired deletion margin %v, must not be negative", d)
	}
	return q.use("UseExpiredDeletionMargin", err, 0, func(s *settings) { s.expiredMargin = d })
}

// ExpiredDeletionMargin returns the margin set with UseExpiredDeletionMargin.
func (q *DynamoDBQueue) ExpiredDeletionMargin() time.Duration { return q.snapshot().expiredMargin }

// Table returns the table name.
func (q *DynamoDBQueue) Table() string { return q.snapshot().table }

// QueueName returns the queue name.
func (q *DynamoDBQueue) QueueName() string { return q.snapshot().queue }

// ClientID returns the client ID.
func (q *DynamoDBQueue) ClientID() string { return q.snapshot().client }

// Order returns the order of delivery.
func (q *DynamoDBQueue) Order() Order { return q.snapshot().order }

// VisibilityTimeout returns the default visibility timeout set on this handle (or the
// default); a queue definition's value applies when none was set.
func (q *DynamoDBQueue) VisibilityTimeout() time.Duration { return q.snapshot().visibilityTimeout }

// TTL returns the default retention of pushed messages set on this handle (or the default); a
// queue definition's value applies when none was set.
func (q *DynamoDBQueue) TTL() time.Duration { return q.snapshot().ttl }

// Delay returns the delivery delay set on this handle (0 unless set); a queue definition's
// value applies when none was set.
func (q *DynamoDBQueue) Delay() time.Duration { return q.snapshot().delay }

// Shards returns the shard count set on this handle (UseShards; 1 unless set). The count a
// queue definition stores is in its QueueDefinition.
func (q *DynamoDBQueue) Shards() int { return q.snapshot().shards }

// Logger returns the logger set with UseLogger (slog.Default() unless set).
func (q *DynamoDBQueue) Logger() *slog.Logger { return q.snapshot().logger }

// DeadLetterQueue returns the dead-letter configuration, or nil.
func (q *DynamoDBQueue) DeadLetterQueue() *DeadLetterConfig {
	if d := q.snapshot().dlq; d != nil {
		c := *d
		return &c
	}
	return nil
}

// PartitionKey returns the partition key of the first shard of the current (queue, client).
func (q *DynamoDBQueue) PartitionKey() string {
	s := q.snapshot()
	return keys.PartitionKey(s.queue, s.client, 0)
}

// API returns the DynamoDB client the queue uses, as given to NewFromClient.
func (q *DynamoDBQueue) API() API { return q.core.callerAPI }

// checkTable validates the settings that table-level operations need.
func (s *settings) checkTable() error {
	if err := s.useErr(); err != nil {
		return err
	}
	if s.table == "" {
		return ErrTableNotSet
	}
	return validateTableName(s.table)
}

// checkQueue validates the settings that queue-level operations need.
func (s *settings) checkQueue() error {
	if err := s.checkTable(); err != nil {
		return err
	}
	if s.queue == "" {
		return ErrQueueNameNotSet
	}
	if s.client == "" {
		return ErrClientIDNotSet
	}
	if err := keys.ValidateName("queue name", s.queue); err != nil {
		return err
	}
	if err := keys.ValidateName("client ID", s.client); err != nil {
		return err
	}
	if s.defErr != nil {
		return s.defErr
	}
	if s.shards < 1 || s.shards > MaxShards {
		return argError("UseShards", "shard count %d, must be 1..%d", s.shards, MaxShards)
	}
	if s.ttl <= 0 {
		return argError("UseTTL", "default TTL %v, must be positive", s.ttl)
	}
	if s.delay < 0 || s.delay > MaxDelay {
		return argError("UseDelay", "queue delay %v, must be 0..%v", s.delay, MaxDelay)
	}
	if s.maxMessageSize < 1 || s.maxMessageSize > maxStoredMessage {
		return argError("UseMaxMessageSize", "max message size %d, must be 1..%d", s.maxMessageSize, maxStoredMessage)
	}
	if s.pollMin <= 0 || s.pollMax < s.pollMin {
		return argError("UseLongPollInterval", "long poll interval %v..%v, need 0 < min <= max", s.pollMin, s.pollMax)
	}
	if s.expiredMargin < 0 {
		return argError("UseExpiredDeletionMargin", "expired deletion margin %v, must not be negative", s.expiredMargin)
	}
	if d := s.dlq; d != nil {
		if d.MaxReceiveCount < 1 || d.MaxReceiveCount > 1000 {
			return argError("MaxReceiveCount", "dead-letter MaxReceiveCount %d, must be 1..1000", d.MaxReceiveCount)
		}
		t, qn, c := s.dlqTarget()
		if err := validateTableName(t); err != nil {
			return err
		}
		if err := keys.ValidateName("dead-letter queue name", qn); err != nil {
			return err
		}
		if err := keys.ValidateName("dead-letter client ID", c); err != nil {
			return err
		}
		if t == s.table && qn == s.queue && c == s.client {
			return argError("DeadLetterQueue", "dead-letter queue is the queue itself")
		}
	}
	return nil
}

// dlqTarget resolves the defaults of the dead-letter configuration.
func (s *settings) dlqTarget() (table, queue, client string) {
	d := s.dlq
	table, queue, client = d.Table, d.QueueName, d.ClientID
	if table == "" {
		table = s.table
	}
	if queue == "" {
		queue = s.queue + "-dlq"
	}
	if client == "" {
		client = s.client
	}
	return table, queue, client
}

// writeShards is the number of shards producers spread messages over (see pushShards).
func (s *settings) writeShards() int {
	if s.pushShards > 0 {
		return min(s.pushShards, s.shards)
	}
	return s.shards
}

// pk returns the partition key of a shard of the current pair.
func (s *settings) pk(shard int) string { return keys.PartitionKey(s.queue, s.client, shard) }

// partitions yields the partition key of every shard a read must cover, in shard order: all of
// [0, shards), which includes the shards above a lowered count (see QueueDefinition.MaxShards).
// It is the one per-shard loop of the reads and of Purge.
func (s *settings) partitions() iter.Seq[string] {
	return func(yield func(string) bool) {
		for shard := range s.shards {
			if !yield(s.pk(shard)) {
				return
			}
		}
	}
}

// validateTableName applies DynamoDB's table naming rules so a bad name fails before a request.
func validateTableName(t string) error {
	if len(t) < 3 || len(t) > 255 {
		return fmt.Errorf("%w: table name %q must be 3..255 characters", ErrInvalidName, t)
	}
	if bad := keys.FirstInvalid(t, keys.NameChar); bad != "" {
		return fmt.Errorf("%w: table name %q has %s; allowed are A-Z a-z 0-9, underscore, hyphen and period", ErrInvalidName, t, bad)
	}
	return nil
}
