package bench

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// tenantQueues is how many queue names the tenants workload spreads its pairs over.
const tenantQueues = 4

// runTenants: Tenants (queue, client) pairs in one table. Producers push batches to tenants
// drawn from a skewed distribution (a few tenants get most of the traffic, as in a real
// multi-tenant system). The consumers are one process (one Client, so one table watcher):
// each owns the tenants t with t % Consumers equal to its index, looks at each once, then
// polls only the tenants the watcher wakes (Client.Watch), with a one-pass receive, again at
// once until a receive drained the tenant (ReceiveResult.Drained), and deletes what it gets;
// a poll never visits a tenant nothing announced. Each body names its tenant, so a message received through
// another tenant's queue is counted as an isolation failure.
func (e *env) runTenants(ctx context.Context) (*Result, error) {
	c := e.cfg
	api, meter := e.client(QueueIndex)
	qs := make([]*dynamodbqueue.DynamoDBQueue, c.Tenants)
	for i := range qs {
		qs[i] = e.queue(api, e.queueName("tq"+strconv.Itoa(i%tenantQueues)), fmt.Sprintf("tenant-%04d", i)).UseShards(c.Shards)
	}
	defer e.purge(qs...)
	// Register every pair before measuring: a process registers a pair once (a PutItem).
	for _, q := range qs {
		if err := warmUp(ctx, q); err != nil {
			return nil, err
		}
	}

	// The consumers are one process: handles of their own Client, whose one table watcher
	// wakes the tenants that may have work (the producers' handles stand for other processes).
	first, err := e.processQueue(api, qs[0].QueueName(), qs[0].ClientID(), c.Many.Interval)
	if err != nil {
		return nil, err
	}
	cl := first.Client()
	cqs := make([]*dynamodbqueue.DynamoDBQueue, c.Tenants)
	for i, q := range qs {
		cqs[i] = first.Clone().UseQueueName(q.QueueName()).UseClientID(q.ClientID()).UseShards(c.Shards)
	}

	n := c.Messages
	led := newLedger(n)
	var crossTalk, emptyPolls, polls atomic.Int64
	bar := e.bar(n, "tenants")
	st := newStopper()
	defer st.stop()
	var producersDone atomic.Bool
	var done completion
	before := meter.Snapshot()
	cpu := e.cpuStart()
	start := time.Now()

	var prod errgroup.Group
	for pi, ids := range split(n, c.Producers) {
		rng := tenantsRand(pi)
		prod.Go(func() error {
			for _, batch := range chunks(ids, c.BatchSize) {
				t := skewedTenant(rng, c.Tenants)
				if failed, err := qs[t].PushMessages(ctx, 0, messages("t"+strconv.Itoa(t), batch, c.BodySize)...); err != nil {
					return fmt.Errorf("push: %d failed: %w", len(failed), err)
				}
			}
			return nil
		})
	}
	var cons errgroup.Group
	for ci := range c.Consumers {
		var mine []int
		for t := ci; t < c.Tenants; t += c.Consumers {
			mine = append(mine, t)
		}
		cons.Go(func() error {
			return serveWoken(ctx, st, &producersDone, cl, cqs, mine, func(t int) (int, bool, error) {
				q := cqs[t]
				res, err := q.ReceiveWithResult(ctx, dynamodbqueue.ReceiveOptions{
					MaxMessages: c.ReceiveBatch, VisibilityTimeout: 5 * time.Minute,
				})
				msgs := res.Messages
				if err != nil {
					return 0, false, fmt.Errorf("receive %s: %w", q.ClientID(), err)
				}
				polls.Add(1)
				if len(msgs) == 0 {
					emptyPolls.Add(1)
					return 0, res.Drained, nil
				}
				if failed, err := q.DeleteMessages(ctx, dynamodbqueue.ToReceiptHandles(msgs)...); err != nil {
					return 0, false, fmt.Errorf("delete: %d failed: %w", len(failed), err)
				}
				fresh := 0
				for _, m := range msgs {
					tag, id, ok := ParseBody(m.Body)
					if !ok || tag != "t"+strconv.Itoa(t) {
						crossTalk.Add(1)
					}
					if ok && led.mark(id) {
						fresh++
					}
				}
				_ = bar.Add(fresh)
				if led.unique.Load() == int64(n) {
					done.mark(meter, st)
				}
				return len(msgs), res.Drained, nil
			})
		})
	}
	if err := awaitWorkers(&prod, &cons, &producersDone, st, bar); err != nil {
		return nil, err
	}
	end, usage := done.result(meter)
	r := &Result{
		Workload: WorkloadTenants, Name: fmt.Sprintf("tenants (%d queue/client pairs, skewed traffic)", c.Tenants),
		Unit: "msg", Units: n, Messages: n, Producers: c.Producers, Consumers: c.Consumers, BodySize: c.BodySize,
		Seconds: end.Sub(start).Seconds(), Lost: led.lost(), Duplicates: int(led.dups.Load()),
	}
	r.MsgsPerSec = float64(led.unique.Load()) / r.Seconds
	r.setUsage(usage.Sub(before))
	cpu.stop(r)
	r.figure("tenants", float64(c.Tenants))
	r.figure("polls", float64(polls.Load()))
	r.figure("empty_polls", float64(emptyPolls.Load()))
	r.figure("isolation_failures", float64(crossTalk.Load()))
	if x := crossTalk.Load(); x > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d messages were delivered to the wrong tenant", x))
	}
	return r, nil
}
