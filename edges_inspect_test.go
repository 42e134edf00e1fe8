package dynamodbqueue_test

import (
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// TestListShowsPairAgainAfterPurgeAll is issue 9, bug 10: after PurgeAll, List never showed a
// pair again while the same process kept pushing to it, because the process remembered having
// registered the pair.
func TestListShowsPairAgainAfterPurgeAll(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	q := newQueue(t, "listed", "c")
	push(t, q, bodies(1, "before")...)
	if err := q.PurgeAll(ctx); err != nil {
		t.Fatal(err)
	}
	if pairs, err := q.List(ctx); err != nil || len(pairs) != 0 {
		t.Fatalf("List after PurgeAll = %v, %v; want nothing", pairs, err)
	}
	push(t, q, bodies(1, "after")...)
	pairs, err := q.List(ctx)
	if want := []dynamodbqueue.QueueAndClientID{{QueueName: "listed", ClientID: "c"}}; err != nil || !slices.Equal(pairs, want) {
		t.Fatalf("List after a push that followed PurgeAll = %v, %v; want %v", pairs, err, want)
	}
}

// TestPeekStatsAndCountNeverWrite is issue 9, bug 11: Peek deleted expired group heads (and
// empty group locks) on the way, so it failed under the read-only IAM policy that the docs
// promise it works with. The queue here has an expired group head, an expired message and an
// empty group; every write is refused while Peek, Stats and Count run.
func TestPeekStatsAndCountNeverWrite(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	base, table := newTable(t)
	clk := &dynamodbqueue.Clock{}
	q := dynamodbqueue.WithClock(base.Clone().UseQueueName("readonly").UseClientID("c"), clk)
	push(t, q, grouped("e", 1)...) // received and deleted: its lock stays, empty
	e := mustPoll(t, q, time.Hour, 10)
	if failed, err := q.DeleteMessages(ctx, toHandles(e)...); err != nil || len(failed) > 0 || len(e) != 1 {
		t.Fatalf("setup: received %v, delete: %v", bodyList(e), err)
	}
	short := dynamodbqueue.PushOptions{TTL: time.Second}
	g := grouped("g", 2)
	for _, p := range []struct {
		opts dynamodbqueue.PushOptions
		msg  events.SQSMessage
	}{{short, g[0]}, {dynamodbqueue.PushOptions{}, g[1]}, {short, events.SQSMessage{Body: "expired"}}, {dynamodbqueue.PushOptions{}, events.SQSMessage{Body: "live"}}} {
		if res, err := q.PushWithOptions(ctx, p.opts, p.msg); err != nil || len(res.Failed) > 0 {
			t.Fatalf("push %s: %v", p.msg.Body, err)
		}
	}
	clk.Advance(2 * time.Second) // g-000 and "expired" are past their TTL

	ro, api := hookedQueue(t, table, "readonly", "c", clk)
	var writes atomic.Int64
	api.set(refuseWrites(&writes))
	peeked, err := ro.Peek(ctx, 10)
	if err != nil {
		t.Fatalf("Peek without write permission: %v", err)
	}
	if !slices.Equal(sortedBodies(peeked), []string{"g-001", "live"}) {
		t.Errorf("Peek = %v, want g-001 (behind its expired head) and live", sortedBodies(peeked))
	}
	st, err := ro.Stats(ctx)
	if err != nil || st.Visible != 2 || st.Total() != 2 || st.Groups != 1 {
		t.Errorf("Stats = %+v, %v; want 2 visible, 1 group", st, err)
	}
	if n, err := ro.Count(ctx); err != nil || n != 2 {
		t.Errorf("Count = %d, %v; want 2", n, err)
	}
	if n := writes.Load(); n > 0 {
		t.Fatalf("Peek, Stats and Count attempted %d writes", n)
	}
}

// TableStats counts each pair with its own queue's stored shard counts, not the inspecting
// handle's: messages on shard 3 of a queue defined with 4 shards are counted by a handle of
// another queue with the default single shard.
func TestTableStatsUsesEachQueueDefinition(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	base, table := newTable(t)
	if _, err := base.Client().CreateQueue(ctx, "wide", dynamodbqueue.QueueAttributes{Shards: 4}); err != nil {
		t.Fatalf("CreateQueue: %v", err)
	}
	wide := plainQueue(t, table, "wide", "c")
	for i := range 12 { // round-robin over the 4 shards
		pushWith(t, wide, dynamodbqueue.PushOptions{}, msgIn(fmt.Sprint(i), "", ""))
	}
	other := plainQueue(t, table, "narrow", "c")
	pushWith(t, other, dynamodbqueue.PushOptions{}, msgIn("n", "", ""))
	stats, err := other.Inspector().TableStats(ctx)
	if err != nil {
		t.Fatalf("TableStats: %v", err)
	}
	got := map[string]int{}
	for _, p := range stats {
		got[p.QueueName] = p.Visible
	}
	if got["wide"] != 12 || got["narrow"] != 1 {
		t.Fatalf("TableStats visible = %v; want wide 12, narrow 1", got)
	}
}
