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

// defCache holds the definitions a process read recently, per (table, queue, client): the
// queue's definition and the client's override, each possibly absent. An entry is used while it
// is younger than staleness (counted from before the read was sent), so a change made anywhere
// reaches every process within that bound; concurrent misses share one read.
type defCache struct {
	staleness time.Duration
	flight    singleflight.Group
	mu        sync.Mutex
	entries   map[string]defEntry
}

// defEntry is one cached read. def and ovr are nil when not stored.
type defEntry struct {
	def *QueueDefinition
	ovr *ClientOverride
	at  time.Time
}

func defCacheKey(table, queue, client string) string {
	return table + "\x00" + queue + "\x00" + client
}

// lookup returns a fresh entry.
func (c *defCache) lookup(k string) (defEntry, bool) {
	if c.staleness < 0 {
		return defEntry{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	return e, ok && time.Since(e.at) < c.staleness
}

func (c *defCache) store(k string, e defEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]defEntry{}
	}
	if len(c.entries) >= maxCachedDefs {
		for key, old := range c.entries {
			if time.Since(old.at) >= c.staleness {
				delete(c.entries, key)
			}
		}
	}
	c.entries[k] = e
}

// invalidate drops every entry of a queue: this process changed its definition, so its own
// next operation must see the change at once.
func (c *defCache) invalidate(table, queue string) {
	prefix := defCacheKey(table, queue, "")
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.entries {
		if strings.HasPrefix(k, prefix) {
			delete(c.entries, k)
		}
	}
}

// definitionFor returns the definition and override of s's pair, from the cache or read.
func (q *DynamoDBQueue) definitionFor(ctx context.Context, s *settings) (defEntry, error) {
	k := defCacheKey(s.table, s.queue, s.client)
	if e, ok := q.core.defs.lookup(k); ok {
		return e, nil
	}
	// Concurrent misses share one read; it runs detached from the first caller's context
	// (bounded by defLoadTimeout), so that caller's cancellation does not fail the others.
	v, err, _ := q.core.defs.flight.Do(k, func() (any, error) {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), defLoadTimeout)
		defer cancel()
		at := time.Now()
		e, err := q.readDefinition(lctx, s)
		if err != nil {
			return nil, err
		}
		e.at = at
		q.core.defs.store(k, e)
		return e, nil
	})
	if err != nil {
		return defEntry{}, err
	}
	return v.(defEntry), nil
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
	if _, ok := q.core.defs.lookup(defCacheKey(s.table, s.queue, s.client)); !ok {
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
