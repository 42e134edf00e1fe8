package dynamodbqueue_test

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
)

// Regression tests for the push, deduplication and group write paths (issue 9, bugs 1-5 and 8).
// Each forces its interleaving with a hookAPI or steps the test clock; none sleeps.

// msgIn builds a message with an optional group and deduplication ID.
func msgIn(body, group, dedup string) events.SQSMessage {
	m := events.SQSMessage{Body: body, Attributes: map[string]string{}}
	if group != "" {
		m.Attributes[dynamodbqueue.AttributeMessageGroupID] = group
	}
	if dedup != "" {
		m.Attributes[dynamodbqueue.AttributeMessageDeduplicationID] = dedup
	}
	return m
}

func pushWith(t testing.TB, q *dynamodbqueue.DynamoDBQueue, opts dynamodbqueue.PushOptions, msgs ...events.SQSMessage) dynamodbqueue.PushResult {
	t.Helper()
	res, err := q.PushWithOptions(ctxT(t), opts, msgs...)
	if err != nil || len(res.Failed) > 0 {
		t.Fatalf("PushWithOptions: %d failed, %v", len(res.Failed), err)
	}
	return res
}

// onceBefore is a hook that runs fn right before the first request that match accepts, and
// never again; fn's error fails that request unsent.
func onceBefore(match func(op string, in any) bool, fn func() error) hookFunc {
	var fired atomic.Bool
	return func(op string, in any) error {
		if match(op, in) && fired.CompareAndSwap(false, true) {
			return fn()
		}
		return nil
	}
}

// isMessagePut matches the PutItem that stores a message item (as opposed to a dedup record).
func isMessagePut(op string, in any) bool {
	p, ok := in.(*dynamodb.PutItemInput)
	if op != "PutItem" || !ok {
		return false
	}
	sk := attrString(p.Item["SK"])
	return strings.HasPrefix(sk, "m#") || strings.HasPrefix(sk, "g#")
}

func attrString(v types.AttributeValue) string {
	if s, ok := v.(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

// plainQueue is a second process on the same table, talking to DynamoDB directly.
func plainQueue(t testing.TB, table, queue, client string) *dynamodbqueue.DynamoDBQueue {
	return dynamodbqueue.NewFromClient(testenv.Client(t), 0).UseTable(table).UseQueueName(queue).UseClientID(client).UseLogger(nil)
}

// expectDelivery receives one message at a time (deleting each) until the queue is empty and
// checks the bodies, in order.
func expectDelivery(t *testing.T, q *dynamodbqueue.DynamoDBQueue, want ...string) []events.SQSMessage {
	t.Helper()
	var all []events.SQSMessage
	for {
		got := mustPoll(t, q, time.Hour, 10)
		if len(got) == 0 {
			break
		}
		all = append(all, got...)
		if _, err := q.DeleteMessages(ctxT(t), toHandles(got)...); err != nil {
			t.Fatal(err)
		}
	}
	if b := bodyList(all); !slices.Equal(b, want) {
		t.Fatalf("delivered %q, want %q", b, want)
	}
	return all
}

func expectCount(t *testing.T, q *dynamodbqueue.DynamoDBQueue, want int) {
	t.Helper()
	if n, err := q.Count(ctxT(t)); err != nil || n != want {
		t.Fatalf("Count = %d, %v; want %d", n, err, want)
	}
}

// Bug 1: a push with a shorter TTL must not shorten the life of its group's lock item below
// that of the group's older messages.
func TestShorterTTLDoesNotStrandGroup(t *testing.T) {
	t.Parallel()
	q, clk := newClockedQueue(t, "ttl", "c")
	pushWith(t, q, dynamodbqueue.PushOptions{TTL: time.Hour}, msgIn("A", "g", ""))
	pushWith(t, q, dynamodbqueue.PushOptions{TTL: 2 * time.Second}, msgIn("B", "g", ""))
	clk.Advance(3500 * time.Millisecond) // B expired, A has an hour left
	expectCount(t, q, 1)
	expectDelivery(t, q, "A")
	expectCount(t, q, 0)
}

// Bug 1, redrive: moving a dead letter back into its group with a short queue TTL must not
// shorten the group's life either.
func TestRedriveWithShorterTTLDoesNotStrandGroup(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	q, clk := newClockedQueue(t, "redrive-ttl", "c")
	q.UseDeadLetterQueue(&dynamodbqueue.DeadLetterConfig{MaxReceiveCount: 1})
	pushWith(t, q, dynamodbqueue.PushOptions{TTL: time.Hour}, msgIn("D", "g", ""))
	if got := mustPoll(t, q, time.Second, 1); len(got) != 1 {
		t.Fatalf("first receive: %d messages", len(got))
	}
	clk.Advance(2 * time.Second)
	if got := mustPoll(t, q, time.Second, 1); len(got) != 0 {
		t.Fatalf("second receive delivered %q; want it dead-lettered", bodyList(got))
	}
	pushWith(t, q, dynamodbqueue.PushOptions{TTL: time.Hour}, msgIn("A", "g", ""))
	if moved, err := q.Clone().UseTTL(2*time.Second).RedriveDeadLetters(ctx, 0); err != nil || moved != 1 {
		t.Fatalf("RedriveDeadLetters = %d, %v", moved, err)
	}
	clk.Advance(3500 * time.Millisecond) // D (2 s) expired, A has an hour left
	expectCount(t, q, 1)
	expectDelivery(t, q, "A")
}

// Bug 2: a push into a group that lands between a purge's read and its deletes keeps its
// group, so the new message is delivered.
func TestPurgeRacingGroupPushDoesNotStrandMessage(t *testing.T) {
	t.Parallel()
	_, table := newTable(t)
	q, api := hookedQueue(t, table, "purge", "c", nil)
	other := plainQueue(t, table, "purge", "c")
	push(t, other, msgIn("old", "g", ""))
	api.set(onceBefore(func(op string, _ any) bool { return op == "BatchWriteItem" || op == "DeleteItem" }, func() error {
		push(t, other, msgIn("new", "g", ""))
		return nil
	}))
	if err := q.Purge(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	api.set(nil)
	expectCount(t, other, 1)
	expectDelivery(t, other, "new")
}

// Bug 3: a deduplicated push that failed after its first write, recovered by a push of the same
// ID into another group (or into none), is delivered, and under the first push's group.
func TestRecoveredDedupPushInOtherGroupIsDelivered(t *testing.T) {
	t.Parallel()
	for _, first := range []string{"g1", ""} {
		t.Run("first group "+cmp.Or(first, "none"), func(t *testing.T) {
			t.Parallel()
			_, table := newTable(t)
			q, api := hookedQueue(t, table, "recover", "c", nil)
			// A crash after the record: the push never gets a message write through.
			crash := errors.New("test: crashed after the dedup record")
			api.set(func(op string, in any) error {
				if isMessagePut(op, in) {
					return crash
				}
				return nil
			})
			if res, err := q.PushWithOptions(ctxT(t), dynamodbqueue.PushOptions{}, msgIn("first", first, "R")); !errors.Is(err, crash) || len(res.Failed) != 1 {
				t.Fatalf("first push = %+v, %v; want it failed with the injected error", res, err)
			}
			api.set(nil)
			res := pushWith(t, q, dynamodbqueue.PushOptions{}, msgIn("second", "g2", "R"))
			if res.Duplicates != 1 {
				t.Fatalf("second push: Duplicates = %d, want 1", res.Duplicates)
			}
			expectCount(t, q, 1)
			got := expectDelivery(t, q, "first")
			if got[0].MessageId != res.Pushed[0].MessageId {
				t.Fatalf("delivered MessageId %s, the duplicate was told %s", got[0].MessageId, res.Pushed[0].MessageId)
			}
			if g := got[0].Attributes[dynamodbqueue.AttributeMessageGroupID]; g != first {
				t.Fatalf("delivered in group %q, want the first push's %q", g, first)
			}
		})
	}
}

// Bug 4: a purge that lands inside a deduplicated push must not leave a record that blocks the
// ID forever.
func TestPurgeDuringDedupPushDoesNotBlockID(t *testing.T) {
	t.Parallel()
	_, table := newTable(t)
	clk := &dynamodbqueue.Clock{}
	q, api := hookedQueue(t, table, "dedup-purge", "c", clk)
	other := plainQueue(t, table, "dedup-purge", "c")
	isDedupUpdate := func(op string, in any) bool {
		u, ok := in.(*dynamodb.UpdateItemInput)
		return op == "UpdateItem" && ok && strings.HasPrefix(attrString(u.Key["SK"]), "d#")
	}
	api.set(onceBefore(isDedupUpdate, func() error { return other.Purge(ctxT(t)) }))
	pushWith(t, q, dynamodbqueue.PushOptions{}, msgIn("one", "", "R"))
	api.set(nil)
	clk.Advance(time.Hour)
	res := pushWith(t, q, dynamodbqueue.PushOptions{}, msgIn("two", "", "R"))
	if res.Duplicates != 0 || res.Pushed[0].MessageId == "" {
		t.Fatalf("push an hour after a purge: Duplicates = %d, MessageId %q; want a new message", res.Duplicates, res.Pushed[0].MessageId)
	}
	expectDelivery(t, q, "two")
}

// Bug 5: when a second push of a deduplication ID arrives while the first is between its
// writes, the message delivered is the first one (the one reported as the original), also when
// its body is stored in chunks; the second push's chunks are not left behind.
func TestConcurrentDedupPushDeliversOriginal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, group string
		size        int
	}{{"no group", "", 1}, {"group", "g", 1}, {"large body", "", 4000}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, table := newTable(t)
			q, api := hookedQueue(t, table, "dedup-race", "c", nil)
			other := plainQueue(t, table, "dedup-race", "c")
			bodyA, bodyB := strings.Repeat("A", tc.size), strings.Repeat("B", tc.size)
			var resB dynamodbqueue.PushResult
			api.set(onceBefore(isMessagePut, func() error {
				resB = pushWith(t, other, dynamodbqueue.PushOptions{}, msgIn(bodyB, tc.group, "R"))
				return nil
			}))
			resA := pushWith(t, q, dynamodbqueue.PushOptions{}, msgIn(bodyA, tc.group, "R"))
			api.set(nil)
			if resA.Duplicates != 0 || resB.Duplicates != 1 {
				t.Fatalf("Duplicates: A %d, B %d; want 0 and 1", resA.Duplicates, resB.Duplicates)
			}
			idA := resA.Pushed[0].MessageId
			if resB.Pushed[0].MessageId != idA {
				t.Fatalf("B told MessageId %s, A's is %s", resB.Pushed[0].MessageId, idA)
			}
			expectCount(t, q, 1)
			if got := expectDelivery(t, q, bodyA); got[0].MessageId != idA {
				t.Fatalf("delivered MessageId %s, want A's %s", got[0].MessageId, idA)
			}
			if n := itemCount(t, q); tc.group == "" && n != 2 {
				t.Fatalf("%d items left after the delivery, want 2 (registry, dedup record)", n)
			}
		})
	}
}

// Bug 8: raising the shard count keeps each group's order and one-in-flight rule, and a group
// pushed with one shard (the layout of tables written before) still delivers.
func TestRaisingShardsKeepsGroupOrder(t *testing.T) {
	t.Parallel()
	q := newQueue(t, "reshard", "c")
	const groups = 8
	for g := range groups {
		push(t, q, msgIn(fmt.Sprintf("g%d-1", g), fmt.Sprintf("g%d", g), ""), msgIn(fmt.Sprintf("g%d-2", g), fmt.Sprintf("g%d", g), ""))
	}
	q.UseShards(2)
	for g := range groups {
		push(t, q, msgIn(fmt.Sprintf("g%d-3", g), fmt.Sprintf("g%d", g), ""))
	}
	next := map[string]int{}
	for {
		got := mustPoll(t, q, time.Hour, 100)
		if len(got) == 0 {
			break
		}
		inFlight := map[string]bool{}
		for _, m := range got {
			g := m.Attributes[dynamodbqueue.AttributeMessageGroupID]
			if inFlight[g] {
				t.Fatalf("one receive returned two messages of group %s: %q", g, bodyList(got))
			}
			inFlight[g] = true
			next[g]++
			if want := fmt.Sprintf("%s-%d", g, next[g]); m.Body != want {
				t.Fatalf("group %s delivered %s, want %s", g, m.Body, want)
			}
		}
		if _, err := q.DeleteMessages(ctxT(t), toHandles(got)...); err != nil {
			t.Fatal(err)
		}
	}
	for g := range groups {
		if n := next[fmt.Sprintf("g%d", g)]; n != 3 {
			t.Fatalf("group g%d delivered %d of 3 messages", g, n)
		}
	}
}

// Bug 8: a deduplication ID stays deduplicated across a change of the shard count.
func TestRaisingShardsKeepsDedupWindow(t *testing.T) {
	t.Parallel()
	q := newQueue(t, "reshard-dedup", "c")
	const ids = 8
	for i := range ids {
		pushWith(t, q, dynamodbqueue.PushOptions{}, msgIn("first", "", fmt.Sprintf("id-%d", i)))
	}
	q.UseShards(8)
	for i := range ids {
		if res := pushWith(t, q, dynamodbqueue.PushOptions{}, msgIn("again", "", fmt.Sprintf("id-%d", i))); res.Duplicates != 1 {
			t.Fatalf("id-%d pushed again after UseShards(8): Duplicates = %d, want 1", i, res.Duplicates)
		}
	}
	expectCount(t, q, ids)
}

// Bug 8: the deduplication scope is the (queue, client) pair, whatever the shard count and the
// groups the pushes name.
func TestDedupScopeIndependentOfShardCount(t *testing.T) {
	t.Parallel()
	for _, shards := range []int{1, 4} {
		t.Run(fmt.Sprintf("%d shards", shards), func(t *testing.T) {
			t.Parallel()
			q := newQueue(t, "dedup-scope", "c").UseShards(shards)
			const ids = 8
			for i := range ids {
				id := fmt.Sprintf("x-%d", i)
				pushWith(t, q, dynamodbqueue.PushOptions{}, msgIn("a", "a-"+id, id))
				if res := pushWith(t, q, dynamodbqueue.PushOptions{}, msgIn("b", "b-"+id, id)); res.Duplicates != 1 {
					t.Fatalf("%s in a second group: Duplicates = %d, want 1", id, res.Duplicates)
				}
			}
			expectCount(t, q, ids)
		})
	}
}

// A poll that finds a group's lock expired must not delete it under a push that extended it
// meanwhile (the race of bug 2, with a poll's clean-up instead of a purge).
func TestExpiredGroupLockRacingPushDoesNotStrand(t *testing.T) {
	t.Parallel()
	_, table := newTable(t)
	clk := &dynamodbqueue.Clock{}
	q, api := hookedQueue(t, table, "expired-lock", "c", clk)
	other := plainQueue(t, table, "expired-lock", "c")
	pushWith(t, q, dynamodbqueue.PushOptions{TTL: 2 * time.Second}, msgIn("A", "g", ""))
	clk.Advance(3*time.Second + dynamodbqueue.DefaultExpiredDeletionMargin) // past the margin: the poll deletes A
	api.set(onceBefore(func(op string, _ any) bool { return op == "BatchWriteItem" || op == "DeleteItem" }, func() error {
		pushWith(t, other, dynamodbqueue.PushOptions{TTL: time.Hour}, msgIn("B", "g", ""))
		return nil
	}))
	got := mustPoll(t, q, time.Hour, 10) // may deliver B, pushed during the poll
	api.set(nil)
	if _, err := q.DeleteMessages(ctxT(t), toHandles(got)...); err != nil {
		t.Fatal(err)
	}
	got = append(got, expectDelivery(t, other)...)
	if b := bodyList(got); !slices.Equal(b, []string{"B"}) {
		t.Fatalf("delivered %q, want [B]", b)
	}
}
