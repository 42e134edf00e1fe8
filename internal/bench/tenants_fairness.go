package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/consumer"
	"github.com/dynamodbqueue/dynamodbqueue/internal/wait"
)

// warmUpPause is how long a fairness consumer runs before its measured window opens: its
// first polls (and the quiet tenants' seed messages) are start-up, not steady state.
const warmUpPause = time.Second

// runFairness: the noisy-neighbour run. Tenant 0 gets a backlog of Many.Backlog messages.
// First the consumer's capacity: one process serving only that tenant, over a third of
// Many.Window. Then one process serves it and Many.Quiet quiet tenants, each of which pushes
// one message per second from another process for Many.Window: the quiet tenants'
// push-to-handle latency, and the noisy tenant's drain rate as a fraction of the capacity.
func (e *env) runFairness(ctx context.Context) ([]*Result, error) {
	m := e.cfg.Many
	name := e.queueName("fair")
	ids := tenantIDs(m.Quiet + 1)
	papi, pmeter := e.client(QueueIndex)
	prods := make([]*dynamodbqueue.DynamoDBQueue, len(ids))
	for i, id := range ids {
		prods[i] = e.queue(papi, name, id)
	}
	defer e.purge(prods...)
	perTenant := int(m.Window/time.Second) + 2 // quiet messages one tenant can push in the window
	b, q := m.Backlog, m.Quiet
	d := newDeliveries(b + q + q*perTenant)

	// The backlog and one seed message per quiet tenant (registering the pair), pushed before
	// any consumer runs.
	fill := e.bar(b, "fairness: backlog")
	var g errgroup.Group
	g.SetLimit(8)
	for _, batch := range chunks(seq(0, b), 10) {
		g.Go(func() error {
			if failed, err := prods[0].PushMessages(ctx, 0, messages(ids[0], batch, e.cfg.BodySize)...); err != nil {
				return fmt.Errorf("backlog push: %d failed: %w", len(failed), err)
			}
			_ = fill.Add(len(batch))
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	_ = fill.Finish()
	if err := seedTenants(ctx, prods[1:], b, e.cfg.BodySize); err != nil {
		return nil, err
	}

	// Capacity: the noisy tenant alone.
	capWindow := m.Window / 3
	capacity, capRes, err := e.fairnessCapacity(ctx, name, ids[0], d, capWindow)
	if err != nil {
		return nil, err
	}
	out := []*Result{capRes}

	// The noisy tenant next to the quiet ones.
	p, err := e.startProcess(ctx, name, ids, m.Interval, d)
	if err != nil {
		return out, err
	}
	procs := []*tenantProcess{p}
	defer func() { _ = stopAll(procs) }()
	if err := wait.Sleep(ctx, warmUpPause); err != nil {
		return out, err
	}
	bar := e.bar(int(m.Window/time.Second), "fairness: quiet tenants (s)")
	before, pbefore := p.meter.Snapshot(), pmeter.Snapshot()
	noisy0 := d.handledOf(ids[0])
	noisyPolls0, quietPolls0 := d.polls.totals(ids[:1]), d.polls.totals(ids[1:])
	start := time.Now()
	var pushers errgroup.Group
	var mu sync.Mutex
	pushed := 0
	for ti := 1; ti <= q; ti++ {
		rng := rand.New(rand.NewPCG(uint64(ti), 11))
		pushers.Go(func() error {
			// A random phase, so the quiet tenants' pushes spread over each second.
			next := start.Add(time.Duration(rng.Int64N(int64(time.Second))))
			for k := 0; k < perTenant; k++ {
				if !next.Before(start.Add(m.Window)) {
					return nil
				}
				if err := wait.Sleep(ctx, time.Until(next)); err != nil {
					return err
				}
				id := b + q + (ti-1)*perTenant + k
				d.pushedAt[id].Store(time.Now().UnixNano())
				if failed, err := prods[ti].PushMessages(ctx, 0, messages(ids[ti], []int{id}, e.cfg.BodySize)...); err != nil {
					return fmt.Errorf("quiet push: %d failed: %w", len(failed), err)
				}
				mu.Lock()
				pushed++
				mu.Unlock()
				next = next.Add(time.Second)
			}
			return nil
		})
	}
	// The progress bar counts seconds of the window.
	secs := time.NewTicker(time.Second)
	pdone := make(chan error, 1)
	go func() { pdone <- pushers.Wait() }()
	var perr error
wait:
	for {
		select {
		case perr = <-pdone:
			break wait
		case <-secs.C:
			_ = bar.Add(1)
		}
	}
	secs.Stop()
	_ = bar.Finish()
	elapsed := time.Since(start)
	noisy := d.handledOf(ids[0]) - noisy0
	used := p.meter.Snapshot().Sub(before)
	pushes := pmeter.Snapshot().Sub(pbefore)
	noisyPolls, quietPolls := d.polls.totals(ids[:1]).sub(noisyPolls0), d.polls.totals(ids[1:]).sub(quietPolls0)
	// The quiet messages pushed last still need handling; the noisy tenant's figure is taken.
	quietHandled := func() int64 {
		var n int64
		for _, id := range ids[1:] {
			n += d.handledOf(id)
		}
		return n
	}
	deadline := time.Now().Add(m.Drain)
	for quietHandled() < int64(q+pushed) && time.Now().Before(deadline) && perr == nil {
		if err := wait.Sleep(ctx, 10*time.Millisecond); err != nil {
			break
		}
	}
	procs = nil
	if err := errors.Join(perr, p.stop()); err != nil {
		return out, err
	}

	lat, at := d.latencies()
	unhandled := pushed - len(lat)
	sum := latencySummary(lat, unhandled, m.Drain)
	rate := float64(noisy) / elapsed.Seconds()
	r := &Result{
		Workload: WorkloadFairness, Name: fmt.Sprintf("fairness (1 tenant with a backlog of %d, %d quiet tenants at 1 msg/s each)", b, q),
		Unit: "msg", Units: int(noisy) + len(lat), Messages: pushed, Producers: q, Consumers: 1, BodySize: e.cfg.BodySize,
		Seconds: elapsed.Seconds(), MsgsPerSec: rate, Lost: unhandled, Duplicates: int(d.led.dups.Load()),
		Latency: &sum,
	}
	r.setUsage(used)
	r.figure("tenants", float64(q+1))
	r.figure("noisy_msgs_per_sec", rate)
	r.figure("capacity_msgs_per_sec", capacity)
	r.figure("drain_fraction", ratio(rate, capacity))
	r.figure("quiet_messages", float64(pushed))
	r.figure("quiet_msgs_per_sec", float64(len(lat))/elapsed.Seconds())
	r.figure("isolation_failures", float64(d.crossTalk.Load()))
	// Where the window's polls went (requests: each poll is one Query, plus one write per
	// message it claims).
	noisyFigures(r, noisyPolls, used, elapsed)
	r.figure("quiet_polls", float64(quietPolls.polls))
	r.figure("quiet_empty_polls", float64(quietPolls.empty))
	r.figure("quiet_wakes", float64(quietPolls.wakes))
	r.figure("quiet_polls_per_msg", ratio(float64(quietPolls.polls), float64(quietPolls.received)))
	// What the table served in the window: the consumer process's requests (noisyFigures) and
	// the quiet tenants' pushes, against the consumer's alone in the capacity phase: when the
	// sum is no more than that, the server had no capacity to spare.
	r.figure("push_requests_per_sec", float64(pushes.Total().Requests)/elapsed.Seconds())
	if left := int64(b) - d.handledOf(ids[0]); left <= 0 {
		r.Notes = append(r.Notes, "the backlog was drained before the window ended: the drain rate is a lower bound")
	}
	if unhandled > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d of %d quiet messages not handled within %v after the window: counted at %v in the percentiles, and as lost", unhandled, pushed, m.Drain, m.Drain))
	}
	if x := d.crossTalk.Load(); x > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d messages were delivered to the wrong tenant", x))
	}
	xs := make([]float64, len(at))
	for i, t := range at {
		xs[i] = t.Sub(start).Seconds()
	}
	r.Series = append(r.Series,
		Series{Name: SeriesLatency, Y: millis(lat)},
		Series{Name: SeriesLatencyOverTime, X: xs, Y: millis(lat)})
	return append(out, r), nil
}

// fairnessCapacity measures how many messages per second one consumer process handles from
// the backlog of tenant noisy alone, over window after a warm-up.
func (e *env) fairnessCapacity(ctx context.Context, name, noisy string, d *deliveries, window time.Duration) (float64, *Result, error) {
	p, err := e.startProcess(ctx, name, []string{noisy}, e.cfg.Many.Interval, d)
	if err != nil {
		return 0, nil, err
	}
	began := time.Now()
	werr := wait.Sleep(ctx, warmUpPause)
	before := p.meter.Snapshot()
	n0 := d.handledOf(noisy)
	polls0 := d.polls.totals([]string{noisy})
	start := time.Now()
	if werr == nil {
		werr = wait.Sleep(ctx, window)
	}
	n := d.handledOf(noisy) - n0
	elapsed := time.Since(start)
	used := p.meter.Snapshot().Sub(before)
	polls := d.polls.totals([]string{noisy}).sub(polls0)
	drainedInWarmUp := n == 0 && n0 > 0
	if drainedInWarmUp { // a small backlog: measure from the process's start (a lower bound)
		n, elapsed = n0, time.Since(began)
	}
	if err := errors.Join(werr, p.stop()); err != nil {
		return 0, nil, err
	}
	rate := float64(n) / elapsed.Seconds()
	r := &Result{
		Workload: WorkloadFairness, Name: "fairness: consumer capacity (the backlogged tenant alone)",
		Unit: "msg", Units: int(n), Messages: int(n), Consumers: 1, BodySize: e.cfg.BodySize,
		Seconds: elapsed.Seconds(), MsgsPerSec: rate, Duplicates: int(d.led.dups.Load()),
	}
	r.setUsage(used)
	r.figure("capacity_msgs_per_sec", rate)
	r.figure("concurrency", float64(e.cfg.Many.Concurrency))
	noisyFigures(r, polls, used, elapsed)
	if drainedInWarmUp {
		r.Notes = append(r.Notes, "the backlog was drained during the warm-up: measured from the consumer's start")
	}
	if int(d.handledOf(noisy)) >= e.cfg.Many.Backlog {
		r.Notes = append(r.Notes, "the backlog was drained within the window: the capacity is a lower bound")
	}
	return rate, r, nil
}

// seq returns lo..hi-1.
func seq(lo, hi int) []int {
	out := make([]int, 0, max(hi-lo, 0))
	for i := lo; i < hi; i++ {
		out = append(out, i)
	}
	return out
}

// pollStats counts a consumer's polls (receive requests) by tenant, through the consumer's
// TenantHooks: where the fairness run's requests go, backlog against quiet tenants.
type pollStats struct {
	m sync.Map // tenant -> *tenantPolls
}

// tenantPolls are the polls of one tenant.
type tenantPolls struct {
	polls, empty, received, wakes atomic.Int64
}

func (s *pollStats) of(tenant string) *tenantPolls {
	c, _ := s.m.LoadOrStore(tenant, new(tenantPolls))
	return c.(*tenantPolls)
}

// pollTotals are the summed counters of some tenants.
type pollTotals struct{ polls, empty, received, wakes int64 }

func (s *pollStats) totals(tenants []string) pollTotals {
	var t pollTotals
	for _, id := range tenants {
		c := s.of(id)
		t.polls += c.polls.Load()
		t.empty += c.empty.Load()
		t.received += c.received.Load()
		t.wakes += c.wakes.Load()
	}
	return t
}

func (t pollTotals) sub(u pollTotals) pollTotals {
	return pollTotals{t.polls - u.polls, t.empty - u.empty, t.received - u.received, t.wakes - u.wakes}
}

// OnPoll counts a poll of src.
func (h isolationHooks) OnPoll(_ context.Context, src consumer.Source, received int) {
	c := h.d.polls.of(src.ClientID)
	c.polls.Add(1)
	c.received.Add(int64(received))
	if received == 0 {
		c.empty.Add(1)
	}
}

// OnWake counts a wake-up of src.
func (h isolationHooks) OnWake(_ context.Context, src consumer.Source) {
	h.d.polls.of(src.ClientID).wakes.Add(1)
}

// noisyFigures records, in both phases of the fairness workload, the backlogged tenant's polls
// and the consumer process's requests per second (used, over elapsed).
func noisyFigures(r *Result, noisy pollTotals, used Usage, elapsed time.Duration) {
	r.figure("noisy_polls", float64(noisy.polls))
	r.figure("noisy_msgs_per_poll", ratio(float64(noisy.received), float64(noisy.polls)))
	r.figure("consumer_requests_per_sec", float64(used.Total().Requests)/elapsed.Seconds())
}
