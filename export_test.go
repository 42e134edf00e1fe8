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

// WithClock makes q (and every clone sharing its core) read time from c.
func WithClock(q *DynamoDBQueue, c *Clock) *DynamoDBQueue {
	q.core.now = c.Now
	return q
}

// HandlePK returns the partition key a receipt handle points at.
func HandlePK(q *DynamoDBQueue, receiptHandle string) (string, error) {
	h, err := q.snapshot().signer.Parse(receiptHandle)
	return h.PK, err
}
