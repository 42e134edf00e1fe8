package faulttest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/faultproxy"
)

// Regression tests for bugs these fault tests found in the root package, each fixed there.

// TestRegressionRetriedHeadClaimCountsTwice. The bug: claimGroup (groups.go) claimed the head
// message of a held group with the condition attribute_exists(PK) only (now it also requires
// a token other than its own). When the response of that claim is
// lost and the SDK retries it, the condition still holds, so the retry applies the update again
// and the stored receive count goes up twice for one receive. The next receive then reports
// ApproximateReceiveCount 3 instead of 2 and, with a dead-letter queue of MaxReceiveCount 2,
// moves the message to the dead-letter queue on its second receive instead of delivering it.
func TestRegressionRetriedHeadClaimCountsTwice(t *testing.T) {
	t.Parallel()
	for _, dlq := range []bool{false, true} {
		name := map[bool]string{false: "receive-count", true: "dead-letter"}[dlq]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, 1, 3)
			tn := tenant{queue: "heads", client: "c"}
			mustPush(t, e.direct(tn), grouped("g", "m1")...)
			inject(t, e, faultproxy.DropResponse, "UpdateItem", matchHeadClaim, 1)
			a := e.queue(tn)
			if dlq {
				a.UseDeadLetterQueue(&dynamodbqueue.DeadLetterConfig{MaxReceiveCount: 2})
			}
			got := receiveN(ctxFor(t, 20*time.Second), t, a, 1, time.Minute)
			expectFaults(t, e, faultproxy.DropResponse, "UpdateItem", 1)
			if rc := storedRC(t, e, tn, "m1"); rc != 1 {
				t.Errorf("after one receive the stored receive count is %d, want 1", rc)
			}
			if _, err := a.ReleaseMessages(ctxFor(t, 20*time.Second), got[0].ReceiptHandle); err != nil {
				t.Fatal(err)
			}
			// The second receive of a message that may be received twice.
			msgs, err := a.ReceiveMessages(ctxFor(t, 20*time.Second), dynamodbqueue.ReceiveOptions{VisibilityTimeout: time.Minute})
			if err != nil || len(msgs) != 1 {
				st, _ := a.Stats(ctxFor(t, 10*time.Second))
				t.Fatalf("second receive = %v, %v; want m1 (it was received once, MaxReceiveCount is 2); "+
					"queue stats now %+v", bodiesOf(msgs), err, st)
			}
			if rc := receiveCount(msgs[0]); rc != 2 {
				t.Fatalf("second receive reports ApproximateReceiveCount %d, want 2", rc)
			}
		})
	}
}

// TestRegressionMixedDedupPushBreaksGroupOrder. The bug (now such groups take the sequential
// path in call order): PushWithOptions (push.go) wrote the messages
// without a deduplication ID of one call first (writeBatched, which also offers their group),
// and only then the messages with one (writeDeduplicated, one by one). When one call pushes
// [a (with MessageDeduplicationId), b] into the same group, b is stored and its group offered
// while a is not stored yet, so a concurrent consumer receives b before a: FIFO order broken
// (a has the smaller sequence number, so it is delivered after b although pushed before it).
func TestRegressionMixedDedupPushBreaksGroupOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1, 3)
	tn := tenant{queue: "mixed", client: "c"}
	// Make the deduplication record of a slow, so a consumer has time to look in between.
	if err := e.proxy.Inject(faultproxy.Rule{Kind: faultproxy.Latency, Delay: 2 * time.Second,
		Operations: []string{"PutItem"}, Match: matchDedupRecord}, 1); err != nil {
		t.Fatal(err)
	}
	msgs := grouped("g", "a", "b")
	msgs[0].Attributes[dynamodbqueue.AttributeMessageDeduplicationID] = "dedup-a"
	pushed := make(chan error, 1)
	go func() {
		_, err := e.queue(tn).PushMessages(context.Background(), 0, msgs...)
		pushed <- err
	}()
	c := e.direct(tn)
	order := consumeWhilePushing(ctxFor(t, 30*time.Second), t, c, pushed, 2)
	if !slices.Equal(order, []string{"a", "b"}) {
		t.Fatalf("group delivered %v, want [a b] (push order)", order)
	}
}

// TestRegressionFailedGroupPushLeavesInvisibleMessage. The bug (now the push takes unclaimed
// messages back when the group update fails): writeBatched (push.go) stores a grouped
// message's item and then updates the group's lock item (touchGroup). When that update fails
// (here: HTTP 500 on every attempt, so DynamoDB certainly did not apply it), the push reports
// the message as failed, which PushMessages documents as "not stored", but the item stays. If
// the group had no lock item (a new or drained group), no poll ever offers the message: Count
// and Stats (as Visible) count it, Peek and ReceiveMessages never return it, until another push
// to the same group creates the lock, and then the message reported as not stored is delivered.
func TestRegressionFailedGroupPushLeavesInvisibleMessage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1, 3)
	tn := tenant{queue: "orphans", client: "c"}
	inject(t, e, faultproxy.InternalServerError, "UpdateItem", matchTouchGroup, 3) // every attempt
	failed, err := e.queue(tn).PushMessages(ctxFor(t, 20*time.Second), 0, grouped("g", "m1")...)
	if err == nil || len(failed) != 1 {
		t.Fatalf("push through a failing group update = %d failed, %v; want it reported as failed", len(failed), err)
	}
	d := e.direct(tn)
	n, _ := d.Count(ctxFor(t, 10*time.Second))
	st, _ := d.Stats(ctxFor(t, 10*time.Second))
	peek, _ := d.Peek(ctxFor(t, 10*time.Second), 10)
	got, _ := d.ReceiveMessages(ctxFor(t, 10*time.Second), dynamodbqueue.ReceiveOptions{VisibilityTimeout: time.Minute})
	t.Logf("after the failed push: Count=%d Stats=%+v Peek=%v Receive=%v", n, st, bodiesOf(peek), bodiesOf(got))
	if n != 0 {
		t.Errorf("the message reported as not stored is stored: Count = %d, want 0", n)
	}
	// A later push to the group brings it out.
	mustPush(t, d, grouped("g", "m2")...)
	var order []string
	for len(order) < 2 {
		msgs := receiveN(ctxFor(t, 20*time.Second), t, d, 1, time.Minute)
		order = append(order, msgs[0].Body)
		mustDelete(t, d, msgs...)
		if msgs[0].Body == "m2" {
			break
		}
	}
	if !slices.Equal(order, []string{"m2"}) {
		t.Errorf("after a later push the group delivered %v; want only [m2] (m1 was reported as not stored)", order)
	}
}

// TestRegressionPartialBatchBreaksGroupOrder. The bug (now a group's messages go out in
// waves, one per group per complete batch): writeBatched (push.go) wrote the messages of one
// push call with BatchWriteItem, 25 at a time, and retries what DynamoDB leaves unprocessed
// (batchWrite, batch.go). DynamoDB may process any part of a batch and return the rest as
// UnprocessedItems (it does under throttling), so a later message of a group can be stored
// before an earlier one. If the group is active (its lock item exists because earlier messages
// are in flight), a consumer that takes the group meanwhile reads the later message as the head
// and receives it first: FIFO order broken. Here m1 and m2 are pushed in one call to a group
// whose m0 is held; DynamoDB (the Unprocessed fault) stores m2 and leaves m1 for the retry; m0 is
// deleted; the next receive returns m2 before m1.
func TestRegressionPartialBatchBreaksGroupOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1, 3)
	tn := tenant{queue: "partial", client: "c"}
	d := e.direct(tn)
	mustPush(t, d, grouped("g", "m0")...)
	held := receiveN(ctxFor(t, 20*time.Second), t, d, 1, time.Minute)
	// The first batch of the push is half processed (m1 left over); its retry is slow.
	if err := e.proxy.Inject(faultproxy.Rule{Kind: faultproxy.Unprocessed, Operations: []string{"BatchWriteItem"}}, 1); err != nil {
		t.Fatal(err)
	}
	if err := e.proxy.Inject(faultproxy.Rule{Kind: faultproxy.Latency, Delay: 2 * time.Second, Operations: []string{"BatchWriteItem"}}, 1); err != nil {
		t.Fatal(err)
	}
	pushed := make(chan error, 1)
	go func() {
		_, err := e.queue(tn).PushMessages(context.Background(), 0, grouped("g", "m1", "m2")...)
		pushed <- err
	}()
	ctx := ctxFor(t, 30*time.Second)
	for e.proxy.Stats().Count(faultproxy.Unprocessed) == 0 {
		select {
		case <-ctx.Done():
			t.Fatal("the push never reached the proxy")
		case <-time.After(5 * time.Millisecond):
		}
	}
	mustDelete(t, d, held...) // the group moves on
	order := consumeWhilePushing(ctx, t, d, pushed, 2)
	if !slices.Equal(order, []string{"m1", "m2"}) {
		t.Fatalf("after m0 the group delivered %v, want [m1 m2] (push order)", order)
	}
}

// consumeWhilePushing receives and deletes messages one receive at a time until the push
// reported on pushed has returned and at least n messages came, and returns their bodies in
// delivery order.
func consumeWhilePushing(ctx context.Context, t *testing.T, q *dynamodbqueue.DynamoDBQueue, pushed <-chan error, n int) []string {
	t.Helper()
	var order []string
	for done := false; !done || len(order) < n; {
		select {
		case err := <-pushed:
			if err != nil {
				t.Fatal(err)
			}
			done = true
		default:
		}
		got, err := q.ReceiveMessages(ctx, dynamodbqueue.ReceiveOptions{WaitTime: 50 * time.Millisecond, VisibilityTimeout: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range got {
			order = append(order, m.Body)
			mustDelete(t, q, m)
		}
	}
	return order
}
