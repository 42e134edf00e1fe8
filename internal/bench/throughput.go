package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/handle"
	"github.com/dynamodbqueue/dynamodbqueue/internal/wait"
)

// drainWait is how long consumers keep polling after the producers finished and nothing
// arrives, before the messages still missing are counted as lost.
const drainWait = 10 * time.Second

// runThroughput: P producers push N messages in batches, C consumers receive and delete.
func (e *env) runThroughput(ctx context.Context) (*Result, error) {
	c := e.cfg
	api, meter := e.client(QueueIndex)
	name := e.queueName("tp")
	q := e.queue(api, name, "bench").UseShards(c.Shards)
	defer e.purge(q)
	if err := warmUp(ctx, q); err != nil {
		return nil, err
	}

	n := c.Messages
	led := newLedger(n)
	bar := e.bar(n, "throughput (queue)")
	before := meter.Snapshot()
	cpu := e.cpuStart()
	start := time.Now()
	var done completion
	var producersDone atomic.Bool
	st := newStopper()
	defer st.stop()

	var prod errgroup.Group
	for _, ids := range split(n, c.Producers) {
		prod.Go(func() error {
			for _, batch := range chunks(ids, c.BatchSize) {
				failed, err := q.PushMessages(ctx, 0, messages("tp", batch, c.BodySize)...)
				if err != nil {
					return fmt.Errorf("push: %d failed: %w", len(failed), err)
				}
			}
			return nil
		})
	}
	var cons errgroup.Group
	for range c.Consumers {
		q := q
		if c.ConsumerProcesses {
			q = e.queue(api, name, "bench").UseShards(c.Shards) // a client of its own
		}
		cons.Go(func() error {
			idleSince := time.Time{}
			for !st.stopped() {
				msgs, err := q.ReceiveMessages(ctx, dynamodbqueue.ReceiveOptions{
					MaxMessages: c.ReceiveBatch, WaitTime: 250 * time.Millisecond, VisibilityTimeout: 5 * time.Minute,
				})
				if err != nil {
					return fmt.Errorf("receive: %w", err)
				}
				if len(msgs) == 0 {
					if producersDone.Load() {
						if idleSince.IsZero() {
							idleSince = time.Now()
						} else if time.Since(idleSince) > drainWait {
							return nil
						}
					}
					continue
				}
				idleSince = time.Time{}
				if failed, err := q.DeleteMessages(ctx, dynamodbqueue.ToReceiptHandles(msgs)...); err != nil {
					return fmt.Errorf("delete: %d failed: %w", len(failed), err)
				}
				fresh := 0
				for _, m := range msgs {
					if _, id, ok := ParseBody(m.Body); ok && led.mark(id) {
						fresh++
					} else if !ok {
						led.bad.Add(1)
					}
				}
				_ = bar.Add(fresh)
				if led.unique.Load() == int64(n) {
					done.mark(meter, st)
				}
			}
			return nil
		})
	}
	if err := awaitWorkers(&prod, &cons, &producersDone, st, bar); err != nil {
		return nil, err
	}
	end, usage := done.result(meter)
	r := &Result{
		Workload: WorkloadThroughput, Name: "throughput (queue)", Unit: "msg", Units: n,
		Messages: n, Producers: c.Producers, Consumers: c.Consumers, BodySize: c.BodySize,
		Seconds: end.Sub(start).Seconds(), Lost: led.lost(), Duplicates: int(led.dups.Load()),
	}
	r.MsgsPerSec = float64(int(led.unique.Load())) / r.Seconds
	r.setUsage(usage.Sub(before))
	cpu.stop(r)
	r.figure("shards", float64(c.Shards))
	if c.ConsumerProcesses {
		r.Name = "throughput (queue, a client per consumer)"
	}
	if b := led.bad.Load(); b > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d received bodies did not parse", b))
	}
	return r, nil
}

// warmUp sends one message through q, so that the one-time registry write and connection
// set-up are not measured.
func warmUp(ctx context.Context, q *dynamodbqueue.DynamoDBQueue) error {
	if failed, err := q.PushMessages(ctx, 0, messages("warm", []int{0}, 16)...); err != nil {
		return fmt.Errorf("warm-up push: %d failed: %w", len(failed), err)
	}
	msgs, err := q.ReceiveMessages(ctx, dynamodbqueue.ReceiveOptions{MaxMessages: 10, WaitTime: 5 * time.Second})
	if err != nil {
		return fmt.Errorf("warm-up receive: %w", err)
	}
	if _, err := q.DeleteMessages(ctx, dynamodbqueue.ToReceiptHandles(msgs)...); err != nil {
		return fmt.Errorf("warm-up delete: %w", err)
	}
	return nil
}

// runFloor issues the bare request mix of the throughput workload directly with the SDK, on
// a plain table (key PK/SK, no index), with the same producers, consumers, messages and body
// size: per batch of messages one BatchWriteItem; per receive one Query, then one conditional
// UpdateItem (the claim) and one conditional DeleteItem per message, with the claims and then
// the deletes of one receive sent concurrently as the queue does. Each consumer reads its own
// partition (producers deal their batches out round robin), so the floor has no contention
// between consumers: it is the best this request mix can do on the endpoint.
func (e *env) runFloor(ctx context.Context) (*Result, error) {
	c := e.cfg
	var index *IndexModel
	table := e.table + "-floor"
	if c.FloorIndex {
		index, table = QueueIndex, e.table+"-floorlsi"
	}
	api, meter := e.client(index)
	setup := e.plainClient()
	if err := createPlainTable(ctx, setup, table, c.FloorIndex); err != nil {
		return nil, fmt.Errorf("create floor table: %w", err)
	}
	defer dropPlainTable(setup, table)
	if _, err := api.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}); err != nil {
		return nil, err // warms the connection
	}

	n := c.Messages
	led := newLedger(n)
	bar := e.bar(n, "throughput (floor)")
	pk := func(i int) string { return fmt.Sprintf("floor|%d", i) }
	var batchNo atomic.Int64
	var done completion
	var producersDone atomic.Bool
	st := newStopper()
	defer st.stop()
	before := meter.Snapshot()
	cpu := e.cpuStart()
	start := time.Now()

	var prod errgroup.Group
	for _, ids := range split(n, c.Producers) {
		prod.Go(func() error {
			for _, batch := range chunks(ids, c.BatchSize) {
				part := pk(int(batchNo.Add(1)-1) % c.Consumers)
				reqs := make([]types.WriteRequest, len(batch))
				for i, id := range batch {
					reqs[i] = types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{
						"PK":   &types.AttributeValueMemberS{Value: part},
						"SK":   &types.AttributeValueMemberS{Value: fmt.Sprintf("m#%016x%08d", time.Now().UnixNano(), id)},
						"body": &types.AttributeValueMemberS{Value: Body("fl", id, c.BodySize)},
					}}}
					if c.FloorIndex {
						reqs[i].PutRequest.Item["vis"] = &types.AttributeValueMemberS{Value: fmt.Sprintf("%016x", time.Now().UnixNano())}
					}
				}
				if err := floorBatchWrite(ctx, api, table, reqs); err != nil {
					return err
				}
			}
			return nil
		})
	}
	var cons errgroup.Group
	for ci := range c.Consumers {
		cons.Go(func() error {
			idle := 5 * time.Millisecond
			var idleSince time.Time
			for !st.stopped() {
				out, err := api.Query(ctx, &dynamodb.QueryInput{
					TableName:                 aws.String(table),
					KeyConditionExpression:    aws.String("PK = :pk"),
					ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk(ci)}},
					Limit:                     aws.Int32(int32(c.ReceiveBatch)),
				})
				if err != nil {
					return fmt.Errorf("floor query: %w", err)
				}
				if len(out.Items) == 0 {
					if producersDone.Load() {
						if idleSince.IsZero() {
							idleSince = time.Now()
						} else if time.Since(idleSince) > drainWait {
							return nil
						}
					}
					if !st.sleep(ctx, idle) {
						return ctx.Err()
					}
					idle = min(idle*2, 100*time.Millisecond)
					continue
				}
				idle, idleSince = 5*time.Millisecond, time.Time{}
				if err := floorClaimDelete(ctx, api, table, out.Items, c.FloorIndex, led, bar); err != nil {
					return err
				}
				if led.unique.Load() == int64(n) {
					done.mark(meter, st)
				}
			}
			return nil
		})
	}
	if err := awaitWorkers(&prod, &cons, &producersDone, st, bar); err != nil {
		return nil, err
	}
	end, usage := done.result(meter)
	name := "throughput (floor: bare SDK request mix, no index)"
	if c.FloorIndex {
		name = "throughput (floor with the queue's LSI: put, key-changing claim, delete)"
	}
	r := &Result{
		Workload: WorkloadFloor, Name: name, Unit: "msg", Units: n,
		Messages: n, Producers: c.Producers, Consumers: c.Consumers, BodySize: c.BodySize,
		Seconds: end.Sub(start).Seconds(), Lost: led.lost(), Duplicates: int(led.dups.Load()),
	}
	r.MsgsPerSec = float64(int(led.unique.Load())) / r.Seconds
	r.setUsage(usage.Sub(before))
	cpu.stop(r)
	return r, nil
}

func floorBatchWrite(ctx context.Context, api *dynamodb.Client, table string, reqs []types.WriteRequest) error {
	for attempt := 0; len(reqs) > 0; attempt++ {
		out, err := api.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
			RequestItems: map[string][]types.WriteRequest{table: reqs},
		})
		if err != nil {
			return fmt.Errorf("floor batch write: %w", err)
		}
		reqs = out.UnprocessedItems[table]
		if attempt > 20 {
			return fmt.Errorf("floor batch write: %d items left unprocessed", len(reqs))
		}
		if len(reqs) > 0 {
			if err := wait.Sleep(ctx, time.Duration(attempt+1)*25*time.Millisecond); err != nil {
				return err
			}
		}
	}
	return nil
}

// floorClaimDelete claims each item with a conditional UpdateItem and then deletes it with a
// conditional DeleteItem on the claim token: 16 requests in flight at most, as the queue.
func floorClaimDelete(ctx context.Context, api *dynamodb.Client, table string, items []map[string]types.AttributeValue, moveIndex bool, led *ledger, bar interface{ Add(int) error }) error {
	toks := make([]string, len(items))
	claimed := make([]bool, len(items))
	var g errgroup.Group
	g.SetLimit(16)
	for i, it := range items {
		g.Go(func() error {
			toks[i] = handle.NewToken()
			in := &dynamodb.UpdateItemInput{
				TableName:                 aws.String(table),
				Key:                       map[string]types.AttributeValue{"PK": it["PK"], "SK": it["SK"]},
				ConditionExpression:       aws.String("attribute_not_exists(tok)"),
				UpdateExpression:          aws.String("SET tok = :tok"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":tok": &types.AttributeValueMemberS{Value: toks[i]}},
			}
			if moveIndex { // hide the item as the queue's claim does: its index key changes
				in.UpdateExpression = aws.String("SET tok = :tok, vis = :vis")
				in.ExpressionAttributeValues[":vis"] = &types.AttributeValueMemberS{Value: "z" + toks[i]}
			}
			_, err := api.UpdateItem(ctx, in)
			var ccf *types.ConditionalCheckFailedException
			if errors.As(err, &ccf) {
				return nil
			}
			claimed[i] = err == nil
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("floor claim: %w", err)
	}
	var mu sync.Mutex
	fresh := 0
	for i, it := range items {
		if !claimed[i] {
			continue
		}
		g.Go(func() error {
			_, err := api.DeleteItem(ctx, &dynamodb.DeleteItemInput{
				TableName:                 aws.String(table),
				Key:                       map[string]types.AttributeValue{"PK": it["PK"], "SK": it["SK"]},
				ConditionExpression:       aws.String("tok = :tok"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":tok": &types.AttributeValueMemberS{Value: toks[i]}},
			})
			if err != nil {
				return err
			}
			if s, ok := it["body"].(*types.AttributeValueMemberS); ok {
				if _, id, ok := ParseBody(s.Value); ok && led.mark(id) {
					mu.Lock()
					fresh++
					mu.Unlock()
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("floor delete: %w", err)
	}
	_ = bar.Add(fresh)
	return nil
}
