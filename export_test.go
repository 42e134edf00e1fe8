package dynamodbqueue

import (
	"sync/atomic"
	"time"
)

// Clock is a test clock: real time plus an offset that tests advance, so visibility timeouts
// and TTLs can pass without sleeping.
type Clock struct{ offset atomic.Int64 }

// Now returns the clock's time.
func (c *Clock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// WithClock makes q's process (q and every clone sharing its core) read time from c, and take
// c as DynamoDB's clock too: the world's time, so the process's offset stays 0 however far the
// test advances c.
func WithClock(q *DynamoDBQueue, c *Clock) *DynamoDBQueue {
	q.core.clock.use(c.Now, c.Now)
	return q
}

// HandlePK returns the partition key a receipt handle points at.
func HandlePK(q *DynamoDBQueue, receiptHandle string) (string, error) {
	h, err := q.snapshot().signer.Parse(receiptHandle)
	return h.PK, err
}

// SkewedClock is the clock of a process whose clock is off: the world's clock plus a skew that a
// test can step, as NTP or a suspended VM would.
type SkewedClock struct {
	world *Clock
	skew  atomic.Int64
}

// Now returns the world's time plus the skew.
func (c *SkewedClock) Now() time.Time { return c.world.Now().Add(time.Duration(c.skew.Load())) }

// Step changes the skew by d.
func (c *SkewedClock) Step(d time.Duration) { c.skew.Add(int64(d)) }

// WithSkewedClock makes q's process (its core) a process whose clock runs skew ahead of world
// (behind when negative), while DynamoDB's clock is world.
func WithSkewedClock(q *DynamoDBQueue, world *Clock, skew time.Duration) *SkewedClock {
	c := &SkewedClock{world: world}
	c.skew.Store(int64(skew))
	q.core.clock.use(c.Now, world.Now)
	return c
}

// WithLocalClock makes q's process read its own time from local, and DynamoDB's time, as
// outside tests, from the Date header of its responses.
func WithLocalClock(q *DynamoDBQueue, local func() time.Time) *DynamoDBQueue {
	q.core.clock.use(local, nil)
	return q
}
