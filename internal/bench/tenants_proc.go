package bench

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"golang.org/x/sync/errgroup"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/consumer"
)

// tenantID names tenant i of the tenants-idle and fairness workloads.
func tenantID(i int) string { return fmt.Sprintf("t%05d", i) }

// tenantIDs returns the IDs of tenants 0..n-1.
func tenantIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = tenantID(i)
	}
	return ids
}

// deliveries is what the consumer processes of one run record: which message IDs were
// handled (once or more), the push-to-handle latency of each timed message, and messages
// handled through another tenant's queue.
type deliveries struct {
	led      *ledger
	pushedAt []atomic.Int64 // UnixNano of the push; 0 for messages that are not timed
	mu       sync.Mutex
	lat      []time.Duration
	at       []time.Time // when each latency was measured
	// perTag counts first deliveries by body tag (the tenant the message was pushed to).
	perTag    sync.Map // string -> *atomic.Int64
	crossTalk atomic.Int64
	polls     pollStats // the consumers' polls by tenant (tenants_fairness.go)
}

func newDeliveries(n int) *deliveries {
	return &deliveries{led: newLedger(n), pushedAt: make([]atomic.Int64, n)}
}

// HandleMessage is the consumers' handler: it records the message and returns at once, so
// that the consumer's own cost is what is measured.
func (d *deliveries) HandleMessage(_ context.Context, msg events.SQSMessage) error {
	now := time.Now()
	tag, id, ok := ParseBody(msg.Body)
	if !ok || !d.led.mark(id) {
		return nil
	}
	c, _ := d.perTag.LoadOrStore(tag, new(atomic.Int64))
	c.(*atomic.Int64).Add(1)
	if p := d.pushedAt[id].Load(); p > 0 {
		d.mu.Lock()
		d.lat = append(d.lat, now.Sub(time.Unix(0, p)))
		d.at = append(d.at, now)
		d.mu.Unlock()
	}
	return nil
}

// handledOf returns how many distinct messages tagged tag were handled.
func (d *deliveries) handledOf(tag string) int64 {
	if c, ok := d.perTag.Load(tag); ok {
		return c.(*atomic.Int64).Load()
	}
	return 0
}

// latencies returns the recorded latencies and the times they were measured at.
func (d *deliveries) latencies() ([]time.Duration, []time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]time.Duration(nil), d.lat...), append([]time.Time(nil), d.at...)
}

// isolationHooks counts messages whose body names another tenant than the source that
// delivered them.
type isolationHooks struct {
	consumer.NopHooks
	d *deliveries
}

// OnSuccess checks the tenant of msg against src.
func (h isolationHooks) OnSuccess(_ context.Context, src consumer.Source, msg events.SQSMessage, _ time.Duration) {
	if tag, _, ok := ParseBody(msg.Body); ok && tag != src.ClientID && tag != "warm" {
		h.d.crossTalk.Add(1)
	}
}

// tenantProcess is one consumer process serving tenants of one queue: its own DynamoDB
// client (with its own meter), queue instances and consumer.
type tenantProcess struct {
	meter  *Meter
	cancel context.CancelFunc
	done   chan error
}

// startProcess starts a consumer process serving tenants of queue name, with the watcher's
// tick interval set to interval (0: the library's default).
func (e *env) startProcess(ctx context.Context, name string, tenants []string, interval time.Duration, d *deliveries) (*tenantProcess, error) {
	api, meter := e.client(QueueIndex)
	q, err := e.processQueue(api, name, tenants[0], interval)
	if err != nil {
		return nil, err
	}
	c, err := consumer.New(q, d, consumer.Options{
		Concurrency: e.cfg.Many.Concurrency,
		ClientIDs:   tenants[1:],
		Hooks:       isolationHooks{d: d},
		Logger:      slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	p := &tenantProcess{meter: meter, cancel: cancel, done: make(chan error, 1)}
	go func() { p.done <- c.Run(rctx) }()
	return p, nil
}

// stop shuts the consumer down gracefully (a poll in progress finishes) and waits for it.
func (p *tenantProcess) stop() error {
	p.cancel()
	return <-p.done
}

// stopAll stops every process and returns their errors.
func stopAll(ps []*tenantProcess) error {
	var g errgroup.Group
	for _, p := range ps {
		g.Go(p.stop)
	}
	return g.Wait()
}

// awaitHandled waits until n distinct messages were handled, or bound passed, or ctx ended.
// It reports whether all were handled. The check every 10 ms is cheap (an atomic load).
func awaitHandled(ctx context.Context, d *deliveries, n int64, bound time.Duration) bool {
	deadline := time.Now().Add(bound)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for d.led.unique.Load() < n {
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
	return true
}

// seedTenants pushes one message (ids first..first+len(qs)-1, tagged with the tenant) to
// each of qs, 16 at a time, so that the first push of each (queue, client) pair, which also
// registers it, is outside the measured windows and the consumers have every tenant to serve.
func seedTenants(ctx context.Context, qs []*dynamodbqueue.DynamoDBQueue, first, bodySize int) error {
	var g errgroup.Group
	g.SetLimit(16)
	for i, q := range qs {
		g.Go(func() error {
			if failed, err := q.PushMessages(ctx, 0, messages(q.ClientID(), []int{first + i}, bodySize)...); err != nil {
				return fmt.Errorf("seed %s: %d failed: %w", q.ClientID(), len(failed), err)
			}
			return nil
		})
	}
	return g.Wait()
}

// jitter returns gap scaled by a factor drawn uniformly from 0.5 to 1.5.
func jitter(rng *rand.Rand, gap time.Duration) time.Duration {
	return time.Duration(float64(gap) * (0.5 + rng.Float64()))
}

// latencySummary summarises the recorded latencies, counting each of the unhandled timed
// messages at bound (a lower bound of its latency), so that the percentiles do not leave the
// slowest messages out.
func latencySummary(lat []time.Duration, unhandled int, bound time.Duration) Percentiles {
	all := append([]time.Duration(nil), lat...)
	for range unhandled {
		all = append(all, bound)
	}
	return Summarize(all)
}
