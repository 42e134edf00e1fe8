package bench

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// runHeadOfLine: for each K, K messages are pushed and received (held in flight with a long
// visibility timeout), then Polls × ReceiveBatch more are pushed, and Polls receives of
// ReceiveBatch messages each are timed and metered. With the ready index a poll should not
// read the held messages at all, so its latency and read units should not grow with K.
func (e *env) runHeadOfLine(ctx context.Context) ([]*Result, error) {
	var out []*Result
	for _, k := range e.cfg.InFlight {
		r, err := e.headOfLine(ctx, k)
		if r != nil {
			out = append(out, r)
		}
		if err != nil {
			return out, fmt.Errorf("in flight %d: %w", k, err)
		}
	}
	return out, nil
}

func (e *env) headOfLine(ctx context.Context, k int) (*Result, error) {
	c := e.cfg
	api, meter := e.client(QueueIndex)
	setupAPI := e.plainClient()
	name := e.queueName(fmt.Sprintf("hol%d", k))
	q := e.queue(api, name, "bench")
	setup := e.queue(setupAPI, name, "bench")
	defer e.purge(q)

	// Set-up (unmetered): push K messages and hold them.
	if k > 0 {
		bar := e.bar(2*k, fmt.Sprintf("head-of-line K=%d set-up", k))
		var g errgroup.Group
		for _, ids := range split(k, 4) {
			g.Go(func() error {
				for _, batch := range chunks(ids, 25) {
					if failed, err := setup.PushMessages(ctx, 0, messages("held", batch, c.BodySize)...); err != nil {
						return fmt.Errorf("push held: %d failed: %w", len(failed), err)
					}
					_ = bar.Add(len(batch))
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
		var held atomic.Int64
		var g2 errgroup.Group
		for range 4 {
			g2.Go(func() error {
				for held.Load() < int64(k) {
					msgs, err := setup.ReceiveMessages(ctx, dynamodbqueue.ReceiveOptions{
						MaxMessages: 100, WaitTime: 2 * time.Second, VisibilityTimeout: time.Hour,
					})
					if err != nil {
						return fmt.Errorf("hold: %w", err)
					}
					if len(msgs) == 0 {
						return nil
					}
					held.Add(int64(len(msgs)))
					_ = bar.Add(len(msgs))
				}
				return nil
			})
		}
		if err := g2.Wait(); err != nil {
			return nil, err
		}
		_ = bar.Finish()
		if h := held.Load(); h != int64(k) {
			return nil, fmt.Errorf("held %d messages, want %d", h, k)
		}
	}
	probes := c.Polls * c.ReceiveBatch
	ids := make([]int, probes)
	for i := range ids {
		ids[i] = i
	}
	for _, batch := range chunks(ids, 25) {
		if failed, err := setup.PushMessages(ctx, 0, messages("probe", batch, c.BodySize)...); err != nil {
			return nil, fmt.Errorf("push probes: %d failed: %w", len(failed), err)
		}
	}
	// Warm the metered client's connection with a request outside the measurement.
	if _, err := q.Stats(ctx); err != nil {
		return nil, err
	}

	led := newLedger(probes)
	var lat recorder
	bar := e.bar(c.Polls, fmt.Sprintf("head-of-line K=%d polls", k))
	var usage Usage
	for range c.Polls {
		before := meter.Snapshot()
		t0 := time.Now()
		msgs, err := q.ReceiveMessages(ctx, dynamodbqueue.ReceiveOptions{
			MaxMessages: c.ReceiveBatch, VisibilityTimeout: 5 * time.Minute,
		})
		d := time.Since(t0)
		usage = usage.Add(meter.Snapshot().Sub(before))
		if err != nil {
			return nil, fmt.Errorf("poll: %w", err)
		}
		lat.add(d)
		for _, m := range msgs {
			if tag, id, ok := ParseBody(m.Body); ok && tag == "probe" {
				led.mark(id)
			} else {
				led.bad.Add(1)
			}
		}
		if _, err := setup.DeleteMessages(ctx, dynamodbqueue.ToReceiptHandles(msgs)...); err != nil {
			return nil, fmt.Errorf("delete: %w", err)
		}
		_ = bar.Add(1)
	}
	_ = bar.Finish()
	sum := lat.summary()
	r := &Result{
		Workload: WorkloadHeadOfLine, Name: fmt.Sprintf("head-of-line K=%d in flight", k),
		Unit: "poll", Units: c.Polls, Messages: int(led.unique.Load()), BodySize: c.BodySize,
		Seconds: sum.Mean * float64(sum.N) / 1000, Lost: led.lost(), Duplicates: int(led.dups.Load()),
		Latency: &sum,
	}
	r.setUsage(usage)
	r.figure("in_flight", float64(k))
	r.figure("msgs_per_poll", float64(led.unique.Load())/float64(c.Polls))
	if b := led.bad.Load(); b > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d held (or unparsable) messages were delivered by a poll: the visibility timeout did not hold", b))
	}
	return r, nil
}
