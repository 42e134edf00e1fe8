package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/wait"
)

// runLatency measures push-to-receive latency with an idle long-polling consumer, in two
// variants: producer and consumer in one process (one queue and its clones share the wake-up
// signal, so a push wakes the poll at once), and in different processes (modelled with two
// queues built separately on the same client: the consumer only sees a push at its next
// re-poll, at most UseLongPollInterval's max later; Config.LongPollMax sets that max).
func (e *env) runLatency(ctx context.Context) ([]*Result, error) {
	var out []*Result
	for _, shared := range []bool{true, false} {
		r, err := e.latency(ctx, shared)
		if r != nil {
			out = append(out, r)
		}
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

func (e *env) latency(ctx context.Context, shared bool) (*Result, error) {
	c := e.cfg
	api, meter := e.client(QueueIndex)
	variant, tag := "producer in another process: default re-poll interval", "lat-other"
	if shared {
		variant, tag = "producer in the same process: push wakes the poll", "lat-same"
	}
	name := e.queueName(tag)
	consumer := e.queue(api, name, "bench")
	if lp := c.LongPollMax; lp > 0 {
		consumer.UseLongPollInterval(5*time.Millisecond, lp)
		if !shared {
			variant = fmt.Sprintf("producer in another process: re-poll interval 5..%v", lp)
		}
	}
	producer := e.queue(api, name, "bench")
	if shared {
		producer = consumer.Clone()
	}
	defer e.purge(consumer)
	if err := warmUp(ctx, producer); err != nil {
		return nil, err
	}

	n := c.LatencyMessages
	pushedAt := make([]atomic.Int64, n)
	led := newLedger(n)
	var lat recorder
	bar := e.bar(n, "latency ("+tag+")")
	st := newStopper()
	defer st.stop()
	before := meter.Snapshot()
	start := time.Now()

	consErr := make(chan error, 1)
	go func() {
		consErr <- func() error {
			for led.unique.Load() < int64(n) && !st.stopped() {
				// A long poll of 1 s at a time, so that the end of the run never has to cancel a
				// request in flight (see stopper).
				msgs, err := consumer.ReceiveMessages(ctx, dynamodbqueue.ReceiveOptions{
					MaxMessages: 1, WaitTime: time.Second, VisibilityTimeout: time.Minute,
				})
				now := time.Now()
				if err != nil {
					return fmt.Errorf("receive: %w", err)
				}
				for _, m := range msgs {
					if _, id, ok := ParseBody(m.Body); ok && led.mark(id) {
						lat.add(now.Sub(time.Unix(0, pushedAt[id].Load())))
						_ = bar.Add(1)
					}
				}
				if _, err := consumer.DeleteMessages(ctx, dynamodbqueue.ToReceiptHandles(msgs)...); err != nil {
					return fmt.Errorf("delete: %w", err)
				}
			}
			return nil
		}()
	}()

	var perr error
	for i := range n {
		gap := time.Duration(float64(c.LatencyGap) * (0.5 + rand.Float64()))
		if err := wait.Sleep(ctx, gap); err != nil {
			perr = err
			break
		}
		pushedAt[i].Store(time.Now().UnixNano())
		if failed, err := producer.PushMessages(ctx, 0, messages("lat", []int{i}, c.BodySize)...); err != nil {
			perr = fmt.Errorf("push: %d failed: %w", len(failed), err)
			break
		}
	}
	// Let the last message arrive, then stop the consumer.
	deadline := time.Now().Add(drainWait)
	for led.unique.Load() < int64(n) && time.Now().Before(deadline) && perr == nil {
		time.Sleep(10 * time.Millisecond)
	}
	st.stop()
	cerr := <-consErr
	_ = bar.Finish()
	if err := errors.Join(perr, cerr); err != nil {
		return nil, err
	}
	elapsed := time.Since(start)
	sum := lat.summary()
	r := &Result{
		Workload: WorkloadLatency, Name: "latency (" + variant + ")", Unit: "msg", Units: n,
		Messages: n, Producers: 1, Consumers: 1, BodySize: c.BodySize, Seconds: elapsed.Seconds(),
		Lost: led.lost(), Duplicates: int(led.dups.Load()), Latency: &sum,
	}
	u := meter.Snapshot().Sub(before)
	r.setUsage(u)
	r.figure("queries_per_sec", float64(u["Query"].Requests)/elapsed.Seconds())
	r.figure("mean_gap_ms", ms(c.LatencyGap))
	return r, nil
}
