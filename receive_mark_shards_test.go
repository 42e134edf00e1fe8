package dynamodbqueue_test

import (
	"slices"
	"testing"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// TestIdleMarkAcrossShardCountChange: checked-empty marks and a shard-count change made by
// another process. Lowered: the messages another process holds on shards above the new count
// lapse with no hint; the probe that marks the pair covers every shard the queue had (drained
// ones included), so the marked pair's long polls receive them once they lapse. Raised: the
// other process's pushes to the new shards void the mark through their hints, and every
// message is received once.
func TestIdleMarkAcrossShardCountChange(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	// DefinitionStaleness < 0: the polling process reads the definition before every
	// operation, so it sees the other process's changes at once.
	r := newMarkRig(t, "reshard", "c", dynamodbqueue.Options{DefinitionStaleness: -1})
	setShards := func(n int) {
		t.Helper()
		if _, err := r.pushing.UpdateQueue(ctx, "reshard", dynamodbqueue.QueueAttributes{Shards: n}, 0); err != nil {
			t.Fatalf("UpdateQueue(shards %d): %v", n, err)
		}
	}
	if _, err := r.pushing.CreateQueue(ctx, "reshard", dynamodbqueue.QueueAttributes{Shards: 4}); err != nil {
		t.Fatal(err)
	}

	// Lowered: 4 messages over 4 shards, held by the other process, then 1 shard.
	push(t, r.other, bodies(4, "low")...)
	held := map[string]bool{}
	for len(held) < 4 {
		for _, m := range mustPoll(t, r.other, 30*time.Second, 4-len(held)) {
			held[m.Body] = true
		}
	}
	setShards(1)
	r.settle(t, "while the other process holds every message") // marked, nextVis = the claims' lapse
	r.clk.Advance(31 * time.Second)
	got := map[string]int{}
	for len(got) < 4 {
		msgs := longPoll(t, r.pq, 20*time.Second)
		if len(msgs) == 0 {
			t.Fatalf("a long poll after the claims lapsed returned nothing; received %v of 4", got)
		}
		for _, m := range msgs {
			got[m.Body]++
		}
		if _, err := r.pq.DeleteMessages(ctx, dynamodbqueue.ToReceiptHandles(msgs)...); err != nil {
			t.Fatal(err)
		}
	}
	for b, n := range got {
		if n != 1 || !held[b] {
			t.Fatalf("after the shard count was lowered: %q received %d times (held by the other process: %v)", b, n, held[b])
		}
	}

	// Raised: the pair is marked on 1 shard; the other process raises the count and pushes.
	r.settle(t, "an empty pair on 1 shard")
	setShards(4)
	push(t, r.other, bodies(8, "high")...)
	var bodiesGot []string
	for len(bodiesGot) < 8 {
		msgs := longPoll(t, r.pq, 20*time.Second)
		if len(msgs) == 0 {
			t.Fatalf("a long poll after the raise returned nothing; received %v of 8", bodiesGot)
		}
		for _, m := range msgs {
			bodiesGot = append(bodiesGot, m.Body)
		}
		if _, err := r.pq.DeleteMessages(ctx, dynamodbqueue.ToReceiptHandles(msgs)...); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(bodiesGot)
	if len(slices.Compact(slices.Clone(bodiesGot))) != 8 {
		t.Fatalf("after the shard count was raised: received %v; want 8 distinct messages, each once", bodiesGot)
	}
}
