package dynamodbqueue

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dynamodbqueue/dynamodbqueue/internal/clock"
	"github.com/dynamodbqueue/dynamodbqueue/internal/keys"
)

// Clocks.
//
// Visibility, delay, TTL and deduplication windows are instants written by one process and
// compared by another, so every process must agree on the time. Each process (each
// NewFromClient, shared by its clones) therefore keeps its own clock corrected by an estimate of
// its offset from DynamoDB's clock. Every DynamoDB response carries a Date header (whole
// seconds): a response dated D to a request sent at local time s and answered at r bounds the
// offset to [D − r, D + 1 s − s]. The estimate intersects those bounds (restarting when a clock
// steps, see internal/clock) and applies the offset in them closest to 0, so a correct clock is
// left alone and a wrong one is corrected to within about a second. See docs/RELIABILITY.md.

// DefaultClockSkewThreshold is the offset from DynamoDB's clock at which a process warns (see
// UseClockSkewThreshold).
const DefaultClockSkewThreshold = 2 * time.Second

// clockSyncTimeout bounds the one request a process makes to learn the time before its first
// time-dependent write (see syncClock).
const clockSyncTimeout = 5 * time.Second

// clockSources are the two clocks of a process: its own, and the reference it is corrected
// towards. A nil ref means DynamoDB's, read from the Date header of its responses; tests set a
// simulated one (export_test.go).
type clockSources struct {
	local func() time.Time
	ref   func() time.Time
}

// clockState is a process's view of time, shared by every clone of a queue through its core.
type clockState struct {
	src       atomic.Pointer[clockSources]
	offset    atomic.Int64 // the applied correction, in nanoseconds
	sampled   atomic.Bool  // the estimate has at least one sample
	threshold atomic.Int64
	logger    func() *slog.Logger // where warnings go: the logger of the queue NewFromClient returned

	mu       sync.Mutex
	est      clock.Estimator
	alarm    clock.Alarm
	subs     map[int]func(time.Duration)
	nextSub  int
	syncDone chan struct{} // closed when the first-use sync is over; nil before it starts
}

func newClockState(logger func() *slog.Logger) *clockState {
	c := &clockState{logger: logger, subs: map[int]func(time.Duration){}}
	c.src.Store(&clockSources{local: time.Now})
	c.threshold.Store(int64(DefaultClockSkewThreshold))
	return c
}

// now returns the corrected time: the local clock plus the estimated offset.
func (c *clockState) now() time.Time {
	return c.src.Load().local().Add(time.Duration(c.offset.Load()))
}

// use replaces the clocks and forgets everything learnt with the old ones.
func (c *clockState) use(local, ref func() time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.src.Store(&clockSources{local: local, ref: ref})
	c.est, c.alarm, c.syncDone = clock.Estimator{}, clock.Alarm{}, nil
	c.offset.Store(0)
	c.sampled.Store(false)
}

// add feeds one reading of the reference clock to the estimate, applies the new offset, and
// warns when the alarm says so.
func (c *clockState) add(ctx context.Context, s clock.Sample) {
	c.mu.Lock()
	c.est.Add(s)
	off := c.est.Offset()
	c.offset.Store(int64(off))
	c.sampled.Store(true)
	threshold := time.Duration(c.threshold.Load())
	report, raised := c.alarm.Update(off, threshold)
	var subs []func(time.Duration)
	if report {
		for _, fn := range c.subs {
			subs = append(subs, fn)
		}
	}
	c.mu.Unlock()
	if !report {
		return
	}
	if raised {
		c.logger().WarnContext(ctx, "dynamodbqueue: this process's clock differs from DynamoDB's; correcting it",
			"offset", off, "threshold", threshold)
	} else {
		c.logger().InfoContext(ctx, "dynamodbqueue: this process's clock agrees with DynamoDB's again",
			"offset", off, "threshold", threshold)
	}
	for _, fn := range subs {
		fn(off)
	}
}

// await makes sure the estimate has a sample before a time-dependent operation goes on: the
// first caller runs probe (one request, whose response is the sample); others wait for it or
// for their ctx. It happens once per process (and after a test swaps the clocks); if the probe
// yields nothing, operations go on uncorrected.
func (c *clockState) await(ctx context.Context, probe func(context.Context)) {
	if c.sampled.Load() {
		return
	}
	c.mu.Lock()
	done, first := c.syncDone, c.syncDone == nil
	if first {
		done = make(chan struct{})
		c.syncDone = done
	}
	c.mu.Unlock()
	if first {
		probe(ctx)
		close(done)
		return
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// unsampled reports whether the estimate has no sample yet.
func (c *clockState) unsampled() bool { return !c.sampled.Load() }

// scratch returns a queue with its own sequencer, for checking input before this process's
// clock is corrected: the sequencer never hands out a time below one it handed out before, so a
// sequence number taken on the uncorrected clock would carry that clock's error into later
// messages.
func (q *DynamoDBQueue) scratch() *DynamoDBQueue {
	return &DynamoDBQueue{core: &core{seq: keys.NewSequencer(q.core.now), clock: q.core.clock}}
}

// syncClock learns the time from DynamoDB before this process's first time-dependent operation,
// so that even its first push or claim is corrected. The probe is a DescribeTable: it reads no items, costs no capacity, and the generated
// IAM policies allow it.
func (q *DynamoDBQueue) syncClock(ctx context.Context, s *settings) {
	q.core.clock.await(ctx, func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, clockSyncTimeout)
		defer cancel()
		_, err := q.core.api.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(s.table)})
		if err != nil {
			s.logger.DebugContext(ctx, "dynamodbqueue: could not read DynamoDB's clock", "error", err)
		}
	})
}

// ClockOffset returns the correction this process applies to its clock: DynamoDB's clock minus
// the local clock, as estimated from DynamoDB's responses so far (0 before the first response,
// and with an API that is not an AWS SDK client). The value is the smallest correction
// consistent with every response, so a clock that agrees with DynamoDB's to within the Date
// header's one-second precision gets exactly 0. It is shared by every clone of the queue.
func (q *DynamoDBQueue) ClockOffset() time.Duration {
	return time.Duration(q.core.clock.offset.Load())
}

// UseClockSkewThreshold sets the offset from DynamoDB's clock at which this process warns: when
// the estimated offset reaches d, when it moves by d or more after that, and when it falls back
// under d, the queue logs it (a warning through the logger of the queue NewFromClient returned,
// or an info record when it is fine again) and calls the OnClockSkew subscribers. The offset is
// corrected either way; the warning says that a clock needs fixing. d <= 0 restores
// DefaultClockSkewThreshold (2 s). Like the clock, it is shared by every clone of the queue.
func (q *DynamoDBQueue) UseClockSkewThreshold(d time.Duration) *DynamoDBQueue {
	if d <= 0 {
		d = DefaultClockSkewThreshold
	}
	q.core.clock.threshold.Store(int64(d))
	return q
}

// ClockSkewThreshold returns the threshold set with UseClockSkewThreshold.
func (q *DynamoDBQueue) ClockSkewThreshold() time.Duration {
	return time.Duration(q.core.clock.threshold.Load())
}

// OnClockSkew calls fn with the estimated offset (see ClockOffset) whenever the process warns
// about it (see UseClockSkewThreshold), until stop is called. fn runs synchronously on the
// goroutine of the DynamoDB request that changed the estimate, so it must be quick; it may run
// concurrently with itself. Package consumer uses it for its ClockSkewHooks.
func (q *DynamoDBQueue) OnClockSkew(fn func(offset time.Duration)) (stop func()) {
	c := q.core.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	id := c.nextSub
	c.nextSub++
	c.subs[id] = fn
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.subs, id)
	}
}
