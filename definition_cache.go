package dynamodbqueue

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/singleflight"
)

// defLoadTimeout bounds one read of a definition. The read runs detached from the caller's
// context because concurrent callers share it.
const defLoadTimeout = 10 * time.Second

// maxCachedDefs is the size past which storing an entry first drops the stale ones.
const maxCachedDefs = 10_000

// A queue's definitions are read whole, with one paged Query of its "@def|<queue>" partition,
// when it has at most maxWholeDefItems items (definition and overrides), in pages of
// defPageItems; so a refresh costs one read per queue and staleness period however many
// clients of the queue this process serves. A queue is read whole only once this process has
// used two of its clients: a tenant's principal, serving one client, may not query the
// partition (IAMPolicy grants it item reads only, so that it cannot list the other clients),
// and reads its pair's two items as before. A queue with more overrides, or a principal that
// is refused the Query, falls back to those item reads too.
const (
	defPageItems     = 1000
	maxWholeDefItems = 4000
)

// defCache holds the definitions a process read recently: per (table, queue) every item of
// the queue's definition partition when it was read whole, otherwise per (table, queue,
// client) the queue's definition and the client's override, each possibly absent. An entry is
// used while it is younger than staleness (counted from before the read was sent), so a change
// made anywhere reaches every process within that bound; concurrent misses share one read.
type defCache struct {
	staleness time.Duration
	flight    singleflight.Group
	mu        sync.Mutex
	entries   map[string]defEntry  // per pair, for queues not read whole
	queues    map[string]queueDefs // per queue
	first     map[string]string    // per queue, the first client whose definition it read
}

// defEntry is one cached read. def and ovr are nil when not stored.
type defEntry struct {
	def *QueueDefinition
	ovr *ClientOverride
	at  time.Time
}

// queueDefs is one read of a queue's definition partition. When whole is false the read did
// not cover every override (too many, or not allowed) and the pair's items are read instead.
type queueDefs struct {
	def   *QueueDefinition
	ovrs  map[string]*ClientOverride
	whole bool
	at    time.Time
}

// entry is the pair entry of client, taken from the whole queue's read.
func (d queueDefs) entry(client string) defEntry {
	return defEntry{def: d.def, ovr: d.ovrs[client], at: d.at}
}

func defCacheKey(table, queue, client string) string {
	return table + "\x00" + queue + "\x00" + client
}

// lookup returns a fresh entry of the pair.
func (c *defCache) lookup(table, queue, client string) (defEntry, bool) {
	if c.staleness < 0 {
		return defEntry{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.queues[defCacheKey(table, queue, "")]; ok && d.whole && time.Since(d.at) < c.staleness {
		return d.entry(client), true
	}
	e, ok := c.entries[defCacheKey(table, queue, client)]
	return e, ok && time.Since(e.at) < c.staleness
}

// readWhole reports whether a miss of the pair should read the queue whole: the process used
// another client of the queue before (or is reading its definition now) and no fresh read
// found that the queue cannot be read whole.
func (c *defCache) readWhole(table, queue, client string) bool {
	if c.staleness < 0 {
		return false
	}
	qk := defCacheKey(table, queue, "")
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.queues[qk]; ok && time.Since(d.at) < c.staleness {
		return d.whole
	}
	first, ok := c.first[qk]
	if !ok {
		if c.first == nil || len(c.first) >= maxCachedDefs {
			c.first = map[string]string{} // forgetting costs one per-pair read per queue
		}
		c.first[qk] = client
	}
	return ok && first != client
}

func (c *defCache) store(k string, e defEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries = putFresh(c.entries, k, e, c.staleness, func(e defEntry) time.Time { return e.at })
}

func (c *defCache) storeQueue(k string, d queueDefs) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.queues = putFresh(c.queues, k, d, c.staleness, func(d queueDefs) time.Time { return d.at })
}

// putFresh sets m[k] = v (making m if nil) and returns m. When m holds maxCachedDefs entries
// already, it first drops those read at least staleness ago, so the cache stays bounded.
func putFresh[V any](m map[string]V, k string, v V, staleness time.Duration, at func(V) time.Time) map[string]V {
	if m == nil {
		m = map[string]V{}
	}
	if len(m) >= maxCachedDefs {
		for key, old := range m {
			if time.Since(at(old)) >= staleness {
				delete(m, key)
			}
		}
	}
	m[k] = v
	return m
}

// invalidate drops every entry of a queue: this process changed its definition, so its own
// next operation must see the change at once.
func (c *defCache) invalidate(table, queue string) {
	prefix := defCacheKey(table, queue, "")
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.queues, prefix)
	for k := range c.entries {
		if strings.HasPrefix(k, prefix) {
			delete(c.entries, k)
		}
	}
}

// definitionFor returns the definition and override of s's pair, from the cache or read.
func (q *DynamoDBQueue) definitionFor(ctx context.Context, s *settings) (defEntry, error) {
	c := &q.core.defs
	if e, ok := c.lookup(s.table, s.queue, s.client); ok {
		return e, nil
	}
	if c.readWhole(s.table, s.queue, s.client) {
		qk := defCacheKey(s.table, s.queue, "")
		d, err := sharedRead(ctx, c, "q\x00"+qk, func(lctx context.Context, at time.Time) (queueDefs, error) {
			d, err := q.readQueueDefinitions(lctx, s)
			if err == nil {
				d.at = at
				c.storeQueue(qk, d)
			}
			return d, err
		})
		if err != nil || d.whole {
			return d.entry(s.client), err
		}
	}
	k := defCacheKey(s.table, s.queue, s.client)
	return sharedRead(ctx, c, k, func(lctx context.Context, at time.Time) (defEntry, error) {
		e, err := q.readDefinition(lctx, s)
		if err == nil {
			e.at = at
			c.store(k, e)
		}
		return e, err
	})
}

// sharedRead runs read once for concurrent callers of the same key, with the time before the
// read was sent. It runs detached from the first caller's context (bounded by
// defLoadTimeout), so that caller's cancellation does not fail the others.
func sharedRead[T any](ctx context.Context, c *defCache, k string, read func(context.Context, time.Time) (T, error)) (T, error) {
	v, err, _ := c.flight.Do(k, func() (any, error) {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), defLoadTimeout)
		defer cancel()
		return read(lctx, time.Now())
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return v.(T), nil
}

// readQueueDefinitions reads the definition and every override of s's queue with one paged,
// strongly consistent Query (sort keys before the reverse links "src|..."). The result is not
// whole when the partition has more than maxWholeDefItems such items or the principal may not
// query it.
func (q *DynamoDBQueue) readQueueDefinitions(ctx context.Context, s *settings) (queueDefs, error) {
	items, complete, err := q.store(s.table).QueryBelow(ctx, "Query (definitions)", defPK(s.queue), defSourceSK, defPageItems, maxWholeDefItems)
	if err != nil {
		if isAccessDenied(err) {
			s.logger.DebugContext(ctx, "dynamodbqueue: not allowed to query the queue's definitions; reading the pair's items", "queue", s.queue, "error", err)
			return queueDefs{}, nil
		}
		return queueDefs{}, err
	}
	if !complete {
		return queueDefs{}, nil
	}
	d := queueDefs{whole: true, ovrs: map[string]*ClientOverride{}}
	for _, item := range items {
		switch sk := str(item[attrSK]); {
		case sk == defSK:
			if str(item[attrDefState]) != defDeleting {
				def := decodeDefinition(item)
				d.def = &def
			}
		case strings.HasPrefix(sk, defClientSK):
			o := decodeOverride(item)
			d.ovrs[strings.TrimPrefix(sk, defClientSK)] = &o
		}
	}
	return d, nil
}

// readDefinition reads a pair's definition and override with one strongly consistent batch
// read. A principal that may not read definitions (an IAM policy from before they existed)
// gets neither, logged at debug level, and works with today's defaults.
func (q *DynamoDBQueue) readDefinition(ctx context.Context, s *settings) (defEntry, error) {
	pk := defPK(s.queue)
	found := map[string]map[string]types.AttributeValue{}
	err := q.store(s.table).BatchGetInto(ctx, []map[string]types.AttributeValue{key(pk, defSK), key(pk, defClientSK+s.client)}, true, found)
	if err != nil {
		if isAccessDenied(err) {
			s.logger.DebugContext(ctx, "dynamodbqueue: not allowed to read the queue definition; using the handle's settings", "queue", s.queue, "error", err)
			return defEntry{}, nil
		}
		return defEntry{}, err
	}
	var e defEntry
	if item, ok := found[pk+"\x00"+defSK]; ok && str(item[attrDefState]) != defDeleting {
		d := decodeDefinition(item)
		e.def = &d
	}
	if item, ok := found[pk+"\x00"+defClientSK+s.client]; ok {
		o := decodeOverride(item)
		e.ovr = &o
	}
	return e, nil
}

// resolved returns the settings of one operation: the handle's snapshot with the stored
// definition applied under the handle's explicit Use* values. When the definition cannot be
// read, the returned settings carry the error and checkQueue reports it. Invalid handle
// settings are returned as they are: the operation rejects them without a request.
func (q *DynamoDBQueue) resolved(ctx context.Context) *settings {
	s := q.snapshot()
	if s.checkQueue() != nil {
		return s
	}
	e, err := q.definitionFor(ctx, s)
	if err != nil {
		c := *s
		c.defErr = err
		return &c
	}
	return s.apply(e)
}

// pushSettings is resolved for a push of msgs: input that a push would reject whatever the
// definition says (checked against the loosest limits) is rejected without reading the
// definition, so invalid input sends no request at all.
func (q *DynamoDBQueue) pushSettings(ctx context.Context, msgs []events.SQSMessage) *settings {
	s := q.snapshot()
	if s.checkQueue() != nil {
		return s
	}
	if _, ok := q.core.defs.lookup(s.table, s.queue, s.client); !ok {
		loose := *s
		if loose.explicit&useMaxSize == 0 {
			loose.maxMessageSize = maxStoredMessage
		}
		scratch, now := q.scratch(), q.core.now()
		for i := range msgs {
			if _, err := scratch.prepare(&loose, &msgs[i], now, loose.ttl, 0); err != nil {
				return s
			}
		}
	}
	return q.resolved(ctx)
}

// apply returns s with the definition's values for every setting the handle did not set
// explicitly, a client's override taking precedence over the queue's value.
func (s *settings) apply(e defEntry) *settings {
	d := e.def
	if d == nil {
		return s
	}
	c := *s
	o := ClientOverride{}
	if e.ovr != nil {
		o = *e.ovr
	}
	pick := func(bit explicitSet, cur *time.Duration, def, ovr time.Duration) {
		if c.explicit&bit == 0 {
			*cur = def
			if ovr != 0 {
				*cur = ovr
			}
		}
	}
	pick(useVisibility, &c.visibilityTimeout, d.VisibilityTimeout, o.VisibilityTimeout)
	pick(useDelay, &c.delay, d.Delay, o.Delay)
	pick(useTTL, &c.ttl, d.Retention, o.Retention)
	pick(useWait, &c.receiveWait, d.ReceiveWaitTime, o.ReceiveWaitTime)
	if c.explicit&useMaxSize == 0 {
		c.maxMessageSize = d.MaxMessageSize
	}
	if c.explicit&useContentDedup == 0 {
		c.contentDedup = d.ContentBasedDeduplication
	}
	// Read every shard the definition ever had, whatever this handle writes to.
	write := d.Shards
	if c.explicit&useShards != 0 {
		write = s.shards
	}
	c.shards, c.pushShards = max(write, d.Shards, d.MaxShards), write
	if c.explicit&useDLQ == 0 {
		c.dlq = nil
		if rp := d.RedrivePolicy; rp != nil {
			c.dlq = &DeadLetterConfig{MaxReceiveCount: rp.MaxReceiveCount, QueueName: rp.DeadLetterQueue}
			if o.MaxReceiveCount != 0 {
				c.dlq.MaxReceiveCount = o.MaxReceiveCount
			}
		}
	}
	return &c
}
