package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// runSizes runs one life cycle per body size, with one producer and one consumer so that no
// contention distorts the request count: push SizeMessages messages in batches of BatchSize,
// receive them in batches of ReceiveBatch, delete each batch. Bodies above the inline limit
// are stored in chunk items, so the claim (UpdateItem) should cost the same whatever the size.
func (e *env) runSizes(ctx context.Context) ([]*Result, error) {
	var out []*Result
	for _, size := range e.cfg.BodySizes {
		r, err := e.lifeCycle(ctx, size)
		if r != nil {
			out = append(out, r)
		}
		if err != nil {
			return out, fmt.Errorf("body %s: %w", FormatBytes(size), err)
		}
	}
	return out, nil
}

func (e *env) lifeCycle(ctx context.Context, size int) (*Result, error) {
	c := e.cfg
	api, meter := e.client(QueueIndex)
	q := e.queue(api, e.queueName(fmt.Sprintf("sz%d", size)), "bench")
	defer e.purge(q)
	if err := warmUp(ctx, q); err != nil {
		return nil, err
	}
	n := c.SizeMessages
	led := newLedger(n)
	ids := make([]int, n)
	for i := range ids {
		ids[i] = i
	}
	bar := e.bar(2*n, "life cycle "+FormatBytes(size))
	before := meter.Snapshot()
	start := time.Now()
	for _, batch := range chunks(ids, c.BatchSize) {
		if failed, err := q.PushMessages(ctx, 0, messages("sz", batch, size)...); err != nil {
			return nil, fmt.Errorf("push: %d failed: %w", len(failed), err)
		}
		_ = bar.Add(len(batch))
	}
	pushed := meter.Snapshot()
	corrupt := 0
	for empty := 0; led.unique.Load() < int64(n) && empty < 3; {
		msgs, err := q.ReceiveMessages(ctx, dynamodbqueue.ReceiveOptions{
			MaxMessages: c.ReceiveBatch, VisibilityTimeout: 5 * time.Minute,
		})
		if err != nil {
			return nil, fmt.Errorf("receive: %w", err)
		}
		if len(msgs) == 0 {
			empty++
			continue
		}
		for _, m := range msgs {
			_, id, ok := ParseBody(m.Body)
			if !ok || len(m.Body) != size || m.Body != Body("sz", id, size) {
				corrupt++
				continue
			}
			if led.mark(id) {
				_ = bar.Add(1)
			}
		}
		if failed, err := q.DeleteMessages(ctx, dynamodbqueue.ToReceiptHandles(msgs)...); err != nil {
			return nil, fmt.Errorf("delete: %d failed: %w", len(failed), err)
		}
	}
	elapsed := time.Since(start)
	_ = bar.Finish()
	end := meter.Snapshot()
	r := &Result{
		Workload: WorkloadSizes, Name: "life cycle, body " + FormatBytes(size), Unit: "msg", Units: n,
		Messages: n, Producers: 1, Consumers: 1, BodySize: size, Seconds: elapsed.Seconds(),
		Lost: led.lost(), Duplicates: int(led.dups.Load()),
	}
	r.MsgsPerSec = float64(led.unique.Load()) / elapsed.Seconds()
	u := end.Sub(before)
	r.setUsage(u)
	push := pushed.Sub(before).Total()
	claim := u["UpdateItem"]
	r.figure("push_wcu_per_msg", r.Per(push.TotalWCU()))
	r.figure("claim_wcu_per_msg", r.Per(claim.TotalWCU()))
	r.figure("receive_delete_wcu_per_msg", r.Per(end.Sub(pushed).Total().TotalWCU()))
	if corrupt > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d messages came back with a different body", corrupt))
		r.figure("corrupt", float64(corrupt))
	}
	return r, nil
}
