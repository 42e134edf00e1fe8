package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/consumer"
)

// runTenantsConsumer: the producers and skewed traffic of the tenants workload (Tenants pairs
// over tenantQueues queue names), served by one consumer process (Consumers x ReceiveBatch
// workers) over every pair, which polls only the pairs its table watcher says have work.
// Requests per delivered message count the producers' and the consumer's requests, as the
// tenants workload does.
func (e *env) runTenantsConsumer(ctx context.Context) ([]*Result, error) {
	c := e.cfg
	api, meter := e.client(QueueIndex)
	name := func(i int) string { return e.queueName("tcq" + strconv.Itoa(i%tenantQueues)) }
	tenant := func(i int) string { return fmt.Sprintf("tenant-%04d", i) }
	prods := make([]*dynamodbqueue.DynamoDBQueue, c.Tenants)
	for i := range prods {
		prods[i] = e.queue(api, name(i), tenant(i)).UseShards(c.Shards)
	}
	defer e.purge(prods...)
	// Register every pair before measuring, as the tenants workload does.
	for _, q := range prods {
		if err := warmUp(ctx, q); err != nil {
			return nil, err
		}
	}
	first, err := e.processQueue(api, name(0), tenant(0), c.Many.Interval)
	if err != nil {
		return nil, err
	}
	first.UseShards(c.Shards)
	var sources []*dynamodbqueue.DynamoDBQueue
	for i := 1; i < c.Tenants; i++ {
		sources = append(sources, first.Clone().UseQueueName(name(i)).UseClientID(tenant(i)))
	}
	n := c.Messages
	d := newDeliveries(n)
	cons, err := consumer.New(first, d, consumer.Options{
		Concurrency: c.Consumers * c.ReceiveBatch,
		MaxMessages: c.ReceiveBatch,
		Sources:     sources,
		Hooks:       isolationHooks{d: d},
		Logger:      slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return nil, err
	}
	bar := e.bar(n, "tenants (consumer)")
	before := meter.Snapshot()
	start := time.Now()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- cons.Run(rctx) }()

	var prod errgroup.Group
	for pi, ids := range split(n, c.Producers) {
		rng := tenantsRand(pi)
		prod.Go(func() error {
			for _, batch := range chunks(ids, c.BatchSize) {
				t := skewedTenant(rng, c.Tenants)
				if failed, err := prods[t].PushMessages(ctx, 0, messages(tenant(t), batch, c.BodySize)...); err != nil {
					return fmt.Errorf("push: %d failed: %w", len(failed), err)
				}
			}
			return nil
		})
	}
	perr := prod.Wait()
	all := awaitHandled(ctx, d, int64(n), drainWait)
	// The end is the last message handled (its delete may still be batched: counted up to Run's
	// return, as its cost).
	elapsed := time.Since(start)
	cancel()
	if err := errors.Join(perr, <-done); err != nil {
		return nil, err
	}
	_ = bar.Add(int(d.led.unique.Load()))
	_ = bar.Finish()
	u := meter.Snapshot().Sub(before)
	r := &Result{
		Workload: WorkloadTenantsConsumer, Name: fmt.Sprintf("tenants (%d queue/client pairs, skewed traffic) with one multi-tenant consumer", c.Tenants),
		Unit: "msg", Units: n, Messages: n, Producers: c.Producers, Consumers: 1, BodySize: c.BodySize,
		Seconds: elapsed.Seconds(), MsgsPerSec: float64(d.led.unique.Load()) / elapsed.Seconds(),
		Lost: d.led.lost(), Duplicates: int(d.led.dups.Load()),
	}
	r.setUsage(u)
	r.figure("tenants", float64(c.Tenants))
	r.figure("requests_per_msg", float64(u.Total().Requests)/float64(n))
	r.figure("isolation_failures", float64(d.crossTalk.Load()))
	if !all {
		r.Notes = append(r.Notes, fmt.Sprintf("%d messages not handled within %v of the last push", r.Lost, drainWait))
	}
	return []*Result{r}, nil
}
