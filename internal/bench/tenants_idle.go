package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/wait"
)

// runTenantsIdle runs tenants-idle for every T of Many.Counts at the configured interval,
// then the interval trade-off at Many.TradeoffTenants.
func (e *env) runTenantsIdle(ctx context.Context) ([]*Result, error) {
	m := e.cfg.Many
	var out []*Result
	run := 0
	for _, t := range m.Counts {
		r, err := e.tenantsIdle(ctx, run, t, m.Interval, m.Processes, m.Messages, false)
		run++
		if r != nil {
			out = append(out, r)
		}
		if err != nil {
			return out, err
		}
	}
	for _, iv := range m.Intervals {
		// Fewer messages per point: the points are compared with each other, not with a target.
		r, err := e.tenantsIdle(ctx, run, m.TradeoffTenants, iv, m.Processes, max(m.Messages/2, 1), true)
		run++
		if r != nil {
			out = append(out, r)
		}
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// tenantsIdle: processes consumer processes each serve the same t tenants of one queue.
// Phases: seed (one message per tenant, pushed before the consumers start, all must be
// handled: every tenant is served, none through another's queue); settle; the idle window
// (every process's DynamoDB requests counted over Many.IdleWindow); then a producer with its
// own client (another process) pushes Many.Messages single messages to random tenants about
// Many.Gap apart, and each message's push-to-handle latency is recorded.
func (e *env) tenantsIdle(ctx context.Context, run, t int, interval time.Duration, processes, n int, tradeoff bool) (*Result, error) {
	m := e.cfg.Many
	name := e.queueName(fmt.Sprintf("idle%d", run))
	ids := tenantIDs(t)
	papi, pmeter := e.client(QueueIndex)
	prods := make([]*dynamodbqueue.DynamoDBQueue, t)
	for i, id := range ids {
		prods[i] = e.queue(papi, name, id)
	}
	tick := "default tick"
	if interval > 0 {
		tick = "tick " + interval.String()
	}
	label := fmt.Sprintf("T=%d, %d process(es), %s", t, processes, tick)
	bar := e.bar(t+n, "tenants-idle "+fmt.Sprintf("T=%d", t))
	defer func() { _ = bar.Finish() }()

	d := newDeliveries(t + n)
	var procs []*tenantProcess
	defer func() { _ = stopAll(procs) }()
	for range processes {
		p, err := e.startProcess(ctx, name, ids, interval, d)
		if err != nil {
			return nil, err
		}
		procs = append(procs, p)
	}
	r := &Result{
		Workload: WorkloadTenantsIdle, Name: "tenants-idle (" + label + ")", Unit: "s",
		Messages: n, Producers: 1, Consumers: processes, BodySize: e.cfg.BodySize,
	}
	r.figure("tenants", float64(t))
	r.figure("processes", float64(processes))
	r.figure("tick_ms", ms(interval))
	if tradeoff {
		r.figure("tradeoff", 1)
	}

	// Seeds: pushed while the consumers run, as a tenant's first message arrives in a live
	// system; bounded by Drain plus 20 ms per tenant (a consumer that visits every tenant in
	// turn needs a few requests for each).
	seedStart := time.Now()
	if err := seedTenants(ctx, prods, 0, e.cfg.BodySize); err != nil {
		return r, err
	}
	seeded := awaitHandled(ctx, d, int64(t), m.Drain+time.Duration(t)*20*time.Millisecond)
	_ = bar.Add(int(d.led.unique.Load()))
	r.figure("seed_seconds", time.Since(seedStart).Seconds())
	r.figure("seeds_handled", float64(d.led.unique.Load()))
	if !seeded {
		r.Notes = append(r.Notes, fmt.Sprintf("only %d of %d seed messages (one per tenant) handled within %v", d.led.unique.Load(), t, m.Drain+time.Duration(t)*20*time.Millisecond))
	}
	if err := wait.Sleep(ctx, m.Settle); err != nil {
		return r, err
	}

	// The idle window.
	before := make([]Usage, len(procs))
	for i, p := range procs {
		before[i] = p.meter.Snapshot()
	}
	idleStart := time.Now()
	if err := wait.Sleep(ctx, m.IdleWindow); err != nil {
		return r, err
	}
	idleSecs := time.Since(idleStart).Seconds()
	var idle Usage
	var perProc []string
	worst := 0.0
	for i, p := range procs {
		u := p.meter.Snapshot().Sub(before[i])
		rate := float64(u.Total().Requests) / idleSecs
		worst = max(worst, rate)
		perProc = append(perProc, fmt.Sprintf("%.2f", rate))
		idle = idle.Add(u)
	}
	r.Units = max(int(idleSecs+0.5), 1)
	r.setUsage(idle)
	r.figure("idle_seconds", idleSecs)
	r.figure("idle_requests_per_sec", worst)
	r.figure("idle_requests_per_sec_all", float64(idle.Total().Requests)/idleSecs)
	r.figure("idle_rcu_per_sec", idle.Total().TotalRCU()/idleSecs)
	if processes > 1 {
		r.Notes = append(r.Notes, "idle requests/s of each process: "+strings.Join(perProc, ", "))
	}

	// Latency: single messages to random idle tenants from another process.
	cons := make([]Usage, len(procs))
	for i, p := range procs {
		cons[i] = p.meter.Snapshot()
	}
	pbefore := pmeter.Snapshot()
	rng := rand.New(rand.NewPCG(uint64(run), uint64(t)))
	latStart := time.Now()
	var perr error
	to := make([]int, n) // the tenant each timed message was pushed to
	for i := range n {
		if err := wait.Sleep(ctx, jitter(rng, m.Gap)); err != nil {
			perr = err
			break
		}
		id := t + i
		to[i] = rng.IntN(t)
		q := prods[to[i]]
		d.pushedAt[id].Store(time.Now().UnixNano())
		if failed, err := q.PushMessages(ctx, 0, messages(q.ClientID(), []int{id}, e.cfg.BodySize)...); err != nil {
			perr = fmt.Errorf("push: %d failed: %w", len(failed), err)
			break
		}
	}
	awaitHandled(ctx, d, int64(t+n), m.Drain)
	latSecs := time.Since(latStart).Seconds()
	_ = bar.Add(int(d.led.unique.Load()) - t)
	stopping := procs
	procs = nil
	serr := stopAll(stopping)
	if err := errors.Join(perr, serr); err != nil {
		return r, err
	}
	var used Usage
	for i, p := range stopping {
		used = used.Add(p.meter.Snapshot().Sub(cons[i]))
	}
	lat, _ := d.latencies()
	unhandled := n - len(lat)
	sum := latencySummary(lat, unhandled, m.Drain)
	r.Latency = &sum
	r.Seconds = idleSecs + latSecs
	r.Lost = d.led.lost()
	r.Duplicates = int(d.led.dups.Load())
	r.figure("unhandled", float64(unhandled))
	r.figure("latency_seconds", latSecs)
	r.figure("consumer_requests_per_msg", float64(used.Total().Requests)/float64(n))
	r.figure("push_requests_per_msg", float64(pmeter.Snapshot().Sub(pbefore).Total().Requests)/float64(n))
	r.figure("isolation_failures", float64(d.crossTalk.Load()))
	if unhandled > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d of %d timed messages not handled within %v of the last push: counted at %v in the percentiles, and as lost", unhandled, n, m.Drain, m.Drain))
	}
	if x := d.crossTalk.Load(); x > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d messages were delivered to the wrong tenant", x))
	}
	r.Series = append(r.Series, Series{Name: SeriesLatency, Y: millis(lat)})
	// What was not handled is left in the queue: remove it (only those tenants: a purge of
	// every tenant would cost more than the run).
	if r.Lost > 0 {
		left := map[int]bool{}
		for id := range t + n {
			if d.led.seen[id].Load() > 0 {
				continue
			}
			if id < t {
				left[id] = true
			} else {
				left[to[id-t]] = true
			}
		}
		var qs []*dynamodbqueue.DynamoDBQueue
		for i := range left {
			qs = append(qs, prods[i])
		}
		e.purge(qs...)
	}
	return r, nil
}

// millis converts durations to milliseconds.
func millis(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = ms(d)
	}
	return out
}
