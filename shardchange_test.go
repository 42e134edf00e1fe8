package dynamodbqueue_test

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
)

// TestShardCountChangesUnderLoadLoseNothing lowers and raises a queue's shard count with
// UpdateQueue (between 1, 4 and 2) while producer and consumer processes (separate Clients,
// each with its own definition cache) run, and checks that every message is received exactly
// once. It starts with messages spread over 4 shards and the count lowered to 1 before any
// consumer runs, so those on shards 1..3 are only reached by draining the shards above the
// current count. Claims hold throughout (1 h visibility timeout), so a second delivery would
// be a duplicate.
func TestShardCountChangesUnderLoadLoseNothing(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	admin, table := newDefClient(t, nil, 0)
	if _, err := admin.CreateQueue(ctx, "load", dynamodbqueue.QueueAttributes{Shards: 4}); err != nil {
		t.Fatal(err)
	}
	process := func(name string) *dynamodbqueue.DynamoDBQueue {
		c, err := dynamodbqueue.New(dynamodbqueue.Options{API: testenv.Client(t), Table: table,
			Logger: slog.New(slog.DiscardHandler), DefinitionStaleness: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return mustQueue(t, c, "load", name)
	}
	setShards := func(n int) {
		if _, err := admin.UpdateQueue(ctx, "load", dynamodbqueue.QueueAttributes{Shards: n}, 0); err != nil {
			t.Error(err)
		}
	}

	const producers, batches, consumers = 3, 25, 3
	var sent sync.Map // body -> struct{}
	pushBatch := func(q *dynamodbqueue.DynamoDBQueue, prefix string) {
		msgs := bodies(10, prefix)
		if failed, err := q.PushMessages(ctx, 0, msgs...); err != nil || len(failed) > 0 {
			t.Errorf("push %s: %d failed, %v", prefix, len(failed), err)
			return
		}
		for _, m := range msgs {
			sent.Store(m.Body, struct{}{})
		}
	}
	seed := process("tenant")
	for b := range 20 {
		pushBatch(seed, fmt.Sprintf("seed-%02d", b))
	}
	setShards(1)
	total := 20*10 + producers*batches*10

	var received sync.Map // body -> *atomic.Int32
	var got atomic.Int32
	var wg sync.WaitGroup
	for p := range producers {
		q := process("tenant")
		wg.Add(1)
		go func() {
			defer wg.Done()
			counts := []int{4, 2, 1, 4, 2}
			for b := range batches {
				pushBatch(q, fmt.Sprintf("p%d-%02d", p, b))
				if p == 0 && b%5 == 4 { // producer 0 also changes the count, under load
					setShards(counts[b/5])
				}
			}
		}()
	}
	for range consumers {
		q := process("tenant")
		wg.Add(1)
		go func() {
			defer wg.Done()
			for int(got.Load()) < total && ctx.Err() == nil {
				msgs, err := q.ReceiveMessages(ctx, dynamodbqueue.ReceiveOptions{MaxMessages: 10, WaitTime: 100 * time.Millisecond, VisibilityTimeout: time.Hour})
				if err != nil {
					t.Error(err)
					return
				}
				for _, m := range msgs {
					n, _ := received.LoadOrStore(m.Body, new(atomic.Int32))
					n.(*atomic.Int32).Add(1)
					got.Add(1)
				}
				if _, err := q.DeleteMessages(ctx, toHandles(msgs)...); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()

	lost, dups := 0, 0
	sent.Range(func(k, _ any) bool {
		n, ok := received.Load(k)
		switch {
		case !ok:
			lost++
		case n.(*atomic.Int32).Load() > 1:
			dups++
		}
		return true
	})
	if lost != 0 || dups != 0 || int(got.Load()) != total {
		t.Fatalf("%d sent, %d received: %d lost, %d duplicated", total, got.Load(), lost, dups)
	}
	if d, err := admin.GetQueue(ctx, "load"); err != nil || d.Shards != 2 || d.MaxShards != 4 {
		t.Fatalf("definition %+v, %v; want 2 shards of max 4", d, err)
	}
	if n, err := seed.Count(ctx); err != nil || n != 0 {
		t.Fatalf("left in the queue: %d, %v", n, err)
	}
}

// TestReadsCoverShardsAboveALoweredCount: after the shard count is lowered, Count, Stats, Peek,
// the inspector's listing and Purge still see the messages left on the shards above it.
func TestReadsCoverShardsAboveALoweredCount(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c, _ := newDefClient(t, nil, 0)
	if _, err := c.CreateQueue(ctx, "wide", dynamodbqueue.QueueAttributes{Shards: 4}); err != nil {
		t.Fatal(err)
	}
	q := mustQueue(t, c, "wide", "acme")
	push(t, q, bodies(40, "w")...)
	if _, err := c.UpdateQueue(ctx, "wide", dynamodbqueue.QueueAttributes{Shards: 1}, 0); err != nil {
		t.Fatal(err)
	}
	if n, err := q.Count(ctx); err != nil || n != 40 {
		t.Fatalf("Count = %d, %v; want 40", n, err)
	}
	if st, err := q.Stats(ctx); err != nil || st.Visible != 40 {
		t.Fatalf("Stats = %+v, %v; want 40 visible", st, err)
	}
	if msgs, err := q.Peek(ctx, 100); err != nil || len(msgs) != 40 {
		t.Fatalf("Peek = %d, %v; want 40", len(msgs), err)
	}
	page, err := q.Inspector().ListMessages(ctx, dynamodbqueue.ListOptions{State: dynamodbqueue.StateVisible, Limit: 100})
	if err != nil || len(page.Messages) != 40 {
		t.Fatalf("ListMessages = %d, %v; want 40", len(page.Messages), err)
	}
	if err := q.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := q.Count(ctx); err != nil || n != 0 {
		t.Fatalf("Count after Purge = %d, %v", n, err)
	}
}
