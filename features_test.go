package dynamodbqueue_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/dynamodbqueue/dynamodbqueue"
)

func grouped(group string, n int) []events.SQSMessage {
	msgs := make([]events.SQSMessage, n)
	for i := range msgs {
		msgs[i] = events.SQSMessage{
			Body:       fmt.Sprintf("%s-%03d", group, i),
			Attributes: map[string]string{dynamodbqueue.AttributeMessageGroupID: group},
		}
	}
	return msgs
}

func TestChangeVisibilityExtendAndRelease(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	q, clock := newClockedQueue(t, "vischange", "c")
	push(t, q, bodies(2, "v")...)
	held := mustPoll(t, q, 10*time.Second, 2)
	if len(held) != 2 {
		t.Fatalf("got %d", len(held))
	}
	// Extend the first to a minute, release the second at once.
	if failed, err := q.ChangeVisibility(ctx, time.Minute, held[0].ReceiptHandle); err != nil || len(failed) > 0 {
		t.Fatal(err)
	}
	if failed, err := q.ReleaseMessages(ctx, held[1].ReceiptHandle); err != nil || len(failed) > 0 {
		t.Fatal(err)
	}
	if got := bodyList(mustPoll(t, q, time.Hour, 2)); !slices.Equal(got, []string{"v-001"}) {
		t.Fatalf("after release got %v, want only the released message", got)
	}
	clock.Advance(30 * time.Second) // past the original 10 s, within the extended minute
	if got := mustPoll(t, q, 10*time.Second, 2); len(got) != 0 {
		t.Fatalf("extended message was delivered again: %v", bodyList(got))
	}
	// The handle is still the one to delete with.
	if failed, err := q.DeleteMessages(ctx, held[0].ReceiptHandle); err != nil || len(failed) > 0 {
		t.Fatalf("delete with extended handle: %v", err)
	}
	if _, err := q.ChangeVisibility(ctx, -time.Second, held[0].ReceiptHandle); !errors.Is(err, dynamodbqueue.ErrInvalidArgument) {
		t.Fatalf("negative visibility: %v", err)
	}
	if _, err := q.ChangeVisibility(ctx, 13*time.Hour, held[0].ReceiptHandle); !errors.Is(err, dynamodbqueue.ErrInvalidArgument) {
		t.Fatalf("13h visibility: %v", err)
	}
}

func TestDeadLetterAfterMaxReceivesAndRedrive(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	q, clock := newClockedQueue(t, "work", "c")
	q.UseDeadLetterQueue(&dynamodbqueue.DeadLetterConfig{MaxReceiveCount: 2})
	push(t, q, events.SQSMessage{Body: "poison", MessageAttributes: map[string]events.SQSMessageAttribute{
		"k": {DataType: "String", StringValue: aws.String("v")},
	}})
	for i := 1; i <= 2; i++ {
		got := mustPoll(t, q, time.Second, 1)
		if len(got) != 1 {
			t.Fatalf("receive %d got nothing", i)
		}
		clock.Advance(2 * time.Second)
	}
	if got := mustPoll(t, q, time.Second, 1); len(got) != 0 {
		t.Fatalf("third receive delivered %v; want it dead-lettered", bodyList(got))
	}
	st, err := q.Stats(ctx)
	if err != nil || st.DeadLettered != 1 || st.Total() != 0 {
		t.Fatalf("Stats = %+v, %v; want 1 dead letter and an empty queue", st, err)
	}
	dlq := q.Clone().UseQueueName("work-dlq").UseDeadLetterQueue(nil)
	dead := mustPoll(t, dlq, time.Second, 1)
	if len(dead) != 1 || dead[0].Body != "poison" || aws.ToString(dead[0].MessageAttributes["k"].StringValue) != "v" {
		t.Fatalf("dead letter = %+v", dead)
	}
	if dead[0].Attributes[dynamodbqueue.AttributeDeadLetterSource] == "" {
		t.Fatalf("dead letter has no source attribute: %v", dead[0].Attributes)
	}
	if _, err := dlq.ReleaseMessages(ctx, dead[0].ReceiptHandle); err != nil {
		t.Fatal(err)
	}
	moved, err := q.RedriveDeadLetters(ctx, 0)
	if err != nil || moved != 1 {
		t.Fatalf("RedriveDeadLetters = %d, %v", moved, err)
	}
	back := mustPoll(t, q, time.Second, 1)
	if len(back) != 1 || back[0].Body != "poison" || back[0].Attributes[dynamodbqueue.AttributeApproximateReceiveCount] != "1" {
		t.Fatalf("after redrive got %+v; want the message with a fresh receive count", back)
	}
	if n, _ := dlq.Count(ctx); n != 0 {
		t.Fatalf("dead-letter queue still has %d messages", n)
	}
	if _, err := q.Clone().UseDeadLetterQueue(nil).RedriveDeadLetters(ctx, 0); !errors.Is(err, dynamodbqueue.ErrNoDeadLetterQueue) {
		t.Fatalf("redrive without DLQ: %v", err)
	}
}

func TestRedriveInBatches(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	q, clock := newClockedQueue(t, "batchy", "c")
	q.UseDeadLetterQueue(&dynamodbqueue.DeadLetterConfig{MaxReceiveCount: 1, QueueName: "graveyard"})
	push(t, q, bodies(5, "d")...)
	mustPoll(t, q, time.Second, 5)
	clock.Advance(2 * time.Second)
	if got := mustPoll(t, q, time.Second, 5); len(got) != 0 {
		t.Fatalf("got %d, want all dead-lettered", len(got))
	}
	if n, err := q.RedriveDeadLetters(ctx, 2); err != nil || n != 2 {
		t.Fatalf("redrive 2 = %d, %v", n, err)
	}
	st, _ := q.Stats(ctx)
	if st.DeadLettered != 3 || st.Visible != 2 {
		t.Fatalf("Stats = %+v; want 3 dead letters and 2 visible", st)
	}
}

func TestDelayPerMessageAndPerQueue(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	q, clock := newClockedQueue(t, "delay", "c")
	q.UseDelay(time.Minute)
	push(t, q, events.SQSMessage{Body: "queue-delay"})
	push(t, q, events.SQSMessage{Body: "msg-delay", Attributes: map[string]string{dynamodbqueue.AttributeDelaySeconds: "5"}})
	if _, err := q.PushWithOptions(ctx, dynamodbqueue.PushOptions{Delay: 10 * time.Second}, events.SQSMessage{Body: "call-delay"}); err != nil {
		t.Fatal(err)
	}
	st, _ := q.Stats(ctx)
	if st.Delayed != 3 || st.Visible != 0 {
		t.Fatalf("Stats = %+v; want 3 delayed", st)
	}
	if got := mustPoll(t, q, time.Hour, 10); len(got) != 0 {
		t.Fatalf("delayed messages delivered early: %v", bodyList(got))
	}
	clock.Advance(6 * time.Second)
	if got := bodyList(mustPoll(t, q, time.Hour, 10)); !slices.Equal(got, []string{"msg-delay"}) {
		t.Fatalf("after 6s got %v", got)
	}
	clock.Advance(5 * time.Second)
	if got := bodyList(mustPoll(t, q, time.Hour, 10)); !slices.Equal(got, []string{"call-delay"}) {
		t.Fatalf("after 11s got %v", got)
	}
	clock.Advance(time.Minute)
	if got := bodyList(mustPoll(t, q, time.Hour, 10)); !slices.Equal(got, []string{"queue-delay"}) {
		t.Fatalf("after 71s got %v", got)
	}
	bad := events.SQSMessage{Body: "x", Attributes: map[string]string{dynamodbqueue.AttributeDelaySeconds: "901"}}
	if _, err := q.PushMessages(ctx, 0, bad); !errors.Is(err, dynamodbqueue.ErrInvalidArgument) {
		t.Fatalf("901 s delay: %v", err)
	}
}

func TestMessageGroupsStrictOrderOneInFlight(t *testing.T) {
	t.Parallel()
	for _, shards := range []int{1, 3} {
		t.Run(fmt.Sprintf("shards=%d", shards), func(t *testing.T) {
			t.Parallel()
			testGroupsStrictOrder(t, newQueue(t, "groups", "c").UseShards(shards))
		})
	}
}

func testGroupsStrictOrder(t *testing.T, q *dynamodbqueue.DynamoDBQueue) {
	ctx := ctxT(t)
	const perGroup = 6
	groups := []string{"g1", "g2", "g3"}
	for _, g := range groups {
		push(t, q, grouped(g, perGroup)...)
	}
	// A poll hands out at most one message per group, the oldest.
	first := mustPoll(t, q, time.Hour, 10)
	if got := sortedBodies(first); !slices.Equal(got, []string{"g1-000", "g2-000", "g3-000"}) {
		t.Fatalf("first poll = %v; want the head of each group", got)
	}
	if again := mustPoll(t, q, time.Hour, 10); len(again) != 0 {
		t.Fatalf("a group with a message in flight delivered another: %v", bodyList(again))
	}
	// Many consumers drain the groups; each group's messages come strictly in push order.
	if _, err := q.DeleteMessages(ctx, toHandles(first)...); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	order := map[string][]string{"g1": {"g1-000"}, "g2": {"g2-000"}, "g3": {"g3-000"}}
	drain(t, q, 4, 2, func(_ *dynamodbqueue.DynamoDBQueue, msgs []events.SQSMessage) {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			g := m.Attributes[dynamodbqueue.AttributeMessageGroupID]
			order[g] = append(order[g], m.Body)
		}
	})
	for _, g := range groups {
		if want := bodyList(grouped(g, perGroup)); !slices.Equal(order[g], want) {
			t.Fatalf("group %s delivered %v, want %v", g, order[g], want)
		}
	}
	if n, _ := q.Count(ctx); n != 0 {
		t.Fatalf("%d messages left", n)
	}
}

func TestStuckGroupDoesNotBlockOthersAndDeadLetters(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	q, clock := newClockedQueue(t, "stuck", "c")
	q.UseDeadLetterQueue(&dynamodbqueue.DeadLetterConfig{MaxReceiveCount: 2})
	push(t, q, grouped("slow", 2)...)
	push(t, q, grouped("fast", 3)...)
	// The consumer of "slow" never deletes; "fast" keeps flowing meanwhile.
	var fast []string
	for i := 0; i < 3; i++ {
		msgs := mustPoll(t, q, 10*time.Second, 10)
		for _, m := range msgs {
			if m.Attributes[dynamodbqueue.AttributeMessageGroupID] == "fast" {
				fast = append(fast, m.Body)
				if _, err := q.DeleteMessages(ctx, m.ReceiptHandle); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if !slices.Equal(fast, bodyList(grouped("fast", 3))) {
		t.Fatalf("fast group delivered %v while slow group was held", fast)
	}
	// slow-000 was received once; one more timeout and receive, then it is dead-lettered and
	// slow-001 comes out.
	clock.Advance(11 * time.Second)
	if got := bodyList(mustPoll(t, q, 10*time.Second, 10)); !slices.Equal(got, []string{"slow-000"}) {
		t.Fatalf("second receive of slow = %v", got)
	}
	clock.Advance(11 * time.Second)
	if got := bodyList(mustPoll(t, q, 10*time.Second, 10)); !slices.Equal(got, []string{"slow-001"}) {
		t.Fatalf("after dead-lettering the head got %v, want slow-001", got)
	}
	if st, _ := q.Stats(ctx); st.DeadLettered != 1 {
		t.Fatalf("Stats = %+v; want 1 dead letter", st)
	}
}

func TestDeduplicationWindow(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	q, clock := newClockedQueue(t, "dedup", "c")
	msg := events.SQSMessage{Body: "once", Attributes: map[string]string{dynamodbqueue.AttributeMessageDeduplicationID: "id-1"}}
	r1, err := q.PushWithOptions(ctx, dynamodbqueue.PushOptions{}, msg)
	if err != nil || r1.Duplicates != 0 {
		t.Fatal(r1, err)
	}
	r2, err := q.PushWithOptions(ctx, dynamodbqueue.PushOptions{}, msg)
	if err != nil || r2.Duplicates != 1 || len(r2.Failed) != 0 || r2.Pushed[0].MessageId != r1.Pushed[0].MessageId {
		t.Fatalf("repeat push = %+v, %v; want a successful duplicate with the original ID", r2, err)
	}
	if n, _ := q.Count(ctx); n != 1 {
		t.Fatalf("Count = %d after a duplicate push, want 1", n)
	}
	// Still deduplicated after the message is consumed, within the window.
	got := mustPoll(t, q, time.Minute, 10)
	if _, err := q.DeleteMessages(ctx, toHandles(got)...); err != nil {
		t.Fatal(err)
	}
	clock.Advance(4 * time.Minute)
	push(t, q, msg)
	if n, _ := q.Count(ctx); n != 0 {
		t.Fatalf("repeat within the window was stored")
	}
	clock.Advance(2 * time.Minute)
	push(t, q, msg)
	if n, _ := q.Count(ctx); n != 1 {
		t.Fatalf("push after the window was not stored")
	}
	// Content-based deduplication.
	cb := q.Clone().UseQueueName("dedup-content").UseContentBasedDeduplication(true)
	push(t, cb, events.SQSMessage{Body: "same"}, events.SQSMessage{Body: "same"}, events.SQSMessage{Body: "other"})
	if n, _ := cb.Count(ctx); n != 2 {
		t.Fatalf("content-based dedup stored %d messages, want 2", n)
	}
}

func TestPeekAndStats(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	q := newQueue(t, "peek", "c")
	push(t, q, bodies(3, "p")...)
	push(t, q, grouped("g", 2)...)
	if _, err := q.PushWithOptions(ctx, dynamodbqueue.PushOptions{Delay: time.Minute}, events.SQSMessage{Body: "later"}); err != nil {
		t.Fatal(err)
	}
	peeked, err := q.Peek(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got := bodyList(peeked); !slices.Equal(got, []string{"p-000", "p-001", "p-002", "g-000"}) {
		t.Fatalf("Peek = %v", got)
	}
	if peeked[0].ReceiptHandle != "" {
		t.Fatalf("peeked message has a receipt handle")
	}
	mustPoll(t, q, time.Hour, 2) // p-000, p-001 in flight
	st, err := q.Stats(ctx)
	want := dynamodbqueue.Stats{Visible: 3, InFlight: 2, Delayed: 1, Groups: 1}
	if err != nil || st != want {
		t.Fatalf("Stats = %+v, %v; want %+v", st, err, want)
	}
	if n, _ := q.Count(ctx); n != 6 {
		t.Fatalf("Count = %d, want 6", n)
	}
}

func TestLargeBodiesRoundTripAndCleanUp(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	q := newQueue(t, "large", "c")
	sizes := []int{700, 4 << 10, 64 << 10, 256 << 10, 1<<20 - 64}
	var msgs []events.SQSMessage
	for _, n := range sizes {
		msgs = append(msgs, events.SQSMessage{Body: strings.Repeat(string(rune('a'+n%26)), n)})
	}
	push(t, q, msgs...)
	got := mustPoll(t, q, time.Hour, 10)
	if len(got) != len(sizes) {
		t.Fatalf("got %d messages", len(got))
	}
	for i, m := range got {
		if m.Body != msgs[i].Body {
			t.Fatalf("message %d: body of %d bytes came back as %d bytes", i, len(msgs[i].Body), len(m.Body))
		}
	}
	if _, err := q.DeleteMessages(ctx, toHandles(got)...); err != nil {
		t.Fatal(err)
	}
	if n := itemCount(t, q); n != 1 { // only the registry item is left
		t.Fatalf("%d items left in the table after deleting every message, want 1 (registry)", n)
	}
	tooBig := events.SQSMessage{Body: strings.Repeat("x", 1<<20+1)}
	if failed, err := q.PushMessages(ctx, 0, tooBig); len(failed) != 1 || !errors.Is(err, dynamodbqueue.ErrMessageTooLarge) {
		t.Fatalf("oversize push: %v", err)
	}
	small := q.Clone().UseMaxMessageSize(256 << 10)
	if _, err := small.PushMessages(ctx, 0, msgs[4]); !errors.Is(err, dynamodbqueue.ErrMessageTooLarge) {
		t.Fatalf("push over the configured 256 KiB limit: %v", err)
	}
}

func TestShardedQueueNoLossNoDuplicateOrderPerShard(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	q := newQueue(t, "sharded", "c").UseShards(4)
	const n = 120
	push(t, q, bodies(n, "s")...)
	if c, err := q.Count(ctx); err != nil || c != n {
		t.Fatalf("Count = %d, %v", c, err)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	drain(t, q, 4, 10, func(c *dynamodbqueue.DynamoDBQueue, msgs []events.SQSMessage) {
		// Within one poll, messages from one shard arrive in push order.
		last := map[string]string{}
		for _, m := range msgs {
			shard := shardOf(t, c, m)
			if prev, ok := last[shard]; ok && prev > m.Body {
				t.Errorf("shard %s: %s delivered after %s", shard, m.Body, prev)
			}
			last[shard] = m.Body
		}
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			seen[m.Body]++
		}
	})
	if len(seen) != n {
		t.Fatalf("received %d distinct messages, want %d", len(seen), n)
	}
	for b, k := range seen {
		if k != 1 {
			t.Fatalf("%s received %d times", b, k)
		}
	}
}

func TestProducersCannotFakeDeliveryAttributes(t *testing.T) {
	t.Parallel()
	q := newQueue(t, "spoof", "c")
	push(t, q, events.SQSMessage{Body: "x", Attributes: map[string]string{
		dynamodbqueue.AttributeApproximateReceiveCount:          "7",
		dynamodbqueue.AttributeApproximateFirstReceiveTimestamp: "1",
		dynamodbqueue.AttributeDeadLetterSource:                 "other|tenant|0",
	}})
	peeked, err := q.Peek(ctxT(t), 1)
	if err != nil || len(peeked) != 1 {
		t.Fatal(err)
	}
	for _, k := range []string{dynamodbqueue.AttributeApproximateReceiveCount, dynamodbqueue.AttributeDeadLetterSource} {
		if v, ok := peeked[0].Attributes[k]; ok {
			t.Fatalf("peeked message carries producer-supplied %s=%q", k, v)
		}
	}
	got := mustPoll(t, q, time.Minute, 1)
	if rc := got[0].Attributes[dynamodbqueue.AttributeApproximateReceiveCount]; rc != "1" {
		t.Fatalf("receive count %q, want 1", rc)
	}
	if _, ok := got[0].Attributes[dynamodbqueue.AttributeDeadLetterSource]; ok {
		t.Fatal("fake dead-letter source delivered")
	}
}

func TestDeadLetterQueueInAnotherTable(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	q, clock := newClockedQueue(t, "work", "c")
	dlqTable, _ := newTable(t)
	dynamodbqueue.WithClock(dlqTable, clock) // dead letters become visible at the test clock's now
	q.UseDeadLetterQueue(&dynamodbqueue.DeadLetterConfig{MaxReceiveCount: 1, Table: dlqTable.Table(), QueueName: "dead", ClientID: "ops"})
	push(t, q, events.SQSMessage{Body: strings.Repeat("big ", 1000)}) // chunked body moves too
	mustPoll(t, q, time.Second, 1)
	clock.Advance(2 * time.Second)
	if got := mustPoll(t, q, time.Second, 1); len(got) != 0 {
		t.Fatalf("second receive delivered the message; want it dead-lettered")
	}
	dead := mustPoll(t, dlqTable.Clone().UseQueueName("dead").UseClientID("ops"), time.Minute, 1)
	if len(dead) != 1 || dead[0].Body != strings.Repeat("big ", 1000) {
		t.Fatalf("dead-letter table holds %d messages", len(dead))
	}
	if _, err := dlqTable.Clone().UseQueueName("dead").UseClientID("ops").ReleaseMessages(ctx, dead[0].ReceiptHandle); err != nil {
		t.Fatal(err)
	}
	if moved, err := q.RedriveDeadLetters(ctx, 0); err != nil || moved != 1 {
		t.Fatalf("redrive from the other table = %d, %v", moved, err)
	}
	if got := mustPoll(t, q, time.Minute, 1); len(got) != 1 || got[0].Body != strings.Repeat("big ", 1000) {
		t.Fatalf("redriven message = %v", bodyList(got))
	}
	if n := itemCount(t, dlqTable); n != 1 { // only the registry entry of the dead-letter pair
		t.Fatalf("dead-letter table has %d items left after the redrive, want 1", n)
	}
}
