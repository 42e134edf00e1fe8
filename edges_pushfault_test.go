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

// Regression tests for pushes that fail half-way: a request of the push fails, either before
// DynamoDB sees it or after DynamoDB applied it (the response is lost). Whatever request fails,
// the message must end up delivered (a push reported as failed may still deliver: at least
// once) or gone, never stored but not offered, and never delivered twice.

// failNth is a hook that fails the n-th request (1-based, every operation counts) it sees,
// after applying it to DynamoDB when applied is set, and reports through fired whether it did.
func failNth(h *hookAPI, n int, applied bool, fired *atomic.Bool) hookFunc {
	var count atomic.Int64
	return func(op string, in any) error {
		if count.Add(1) != int64(n) {
			return nil
		}
		fired.Store(true)
		if applied {
			applyRequest(h.API, in)
		}
		return errInjected
	}
}

// pushFaultCases runs fn for a failure of each of the first requests of a push, before and
// after DynamoDB applied it.
func pushFaultCases(t *testing.T, requests int, fn func(t *testing.T, n int, applied bool)) {
	for n := 1; n <= requests; n++ {
		for _, applied := range []bool{false, true} {
			t.Run(fmt.Sprintf("request %d applied %v", n, applied), func(t *testing.T) {
				t.Parallel()
				fn(t, n, applied)
			})
		}
	}
}

// drainBodies receives and deletes until the queue is empty, and returns the bodies delivered.
func drainBodies(t *testing.T, q *dynamodbqueue.DynamoDBQueue) []string {
	t.Helper()
	var all []events.SQSMessage
	for {
		got := mustPoll(t, q, time.Hour, 10)
		if len(got) == 0 {
			return bodyList(all)
		}
		all = append(all, got...)
		if _, err := q.DeleteMessages(ctxT(t), toHandles(got)...); err != nil {
			t.Fatal(err)
		}
	}
}

// checkDeliveredOrGone checks what a drain after a push of one message body returned: exactly
// once when the push succeeded, at most once when it failed, and nothing left stored.
func checkDeliveredOrGone(t *testing.T, q *dynamodbqueue.DynamoDBQueue, body string, pushed bool) {
	t.Helper()
	got := drainBodies(t, q)
	switch {
	case pushed && !slices.Equal(got, []string{body}):
		t.Fatalf("push succeeded; delivered %q, want exactly [%s]", got, body)
	case !pushed && len(got) > 1:
		t.Fatalf("push failed; delivered %q, want %s at most once", got, body)
	}
	expectCount(t, q, 0) // stored but never offered is a loss
}

// The shrunk case of TestModel seed 5804851606052524606: a push of one message with a group and
// a deduplication ID, a TTL and a delay, whose message write (its 3rd request, after the
// registry and the deduplication record) failed after DynamoDB applied it, left the message
// stored with no group lock: counted, never delivered. Every request of that push is failed
// here, before and after it is applied.
func TestFailedDedupGroupPushIsDeliveredOrGone(t *testing.T) {
	t.Parallel()
	pushFaultCases(t, 5, func(t *testing.T, n int, applied bool) {
		q, clk, err := faultedPush(t, n, applied, dynamodbqueue.PushOptions{TTL: 3 * time.Minute, Delay: time.Minute}, msgIn("A", "g1", "d2"))
		clk.Advance(time.Minute + time.Second)
		checkDeliveredOrGone(t, q, "A", err == nil)
	})
}

// A push that failed half-way and is then repeated with the same deduplication ID (a producer
// retrying) delivers the message exactly once, whichever request of the first push failed.
func TestRetriedDedupGroupPushDeliversOnce(t *testing.T) {
	t.Parallel()
	pushFaultCases(t, 5, func(t *testing.T, n int, applied bool) {
		opts := dynamodbqueue.PushOptions{TTL: 3 * time.Minute, Delay: time.Minute}
		q, clk, _ := faultedPush(t, n, applied, opts, msgIn("A", "g1", "d2")) // may fail: retried
		pushWith(t, q, opts, msgIn("A", "g1", "d2"))
		clk.Advance(time.Minute + time.Second)
		checkDeliveredOrGone(t, q, "A", true)
	})
}

// faultedPush pushes msg on a fresh table through a queue whose n-th request fails, and checks
// that the failure hit the push and that its result is consistent.
func faultedPush(t *testing.T, n int, applied bool, opts dynamodbqueue.PushOptions, msg events.SQSMessage) (*dynamodbqueue.DynamoDBQueue, *dynamodbqueue.Clock, error) {
	t.Helper()
	_, table := newTable(t)
	clk := &dynamodbqueue.Clock{}
	q, api := hookedQueue(t, table, "push-fault", "c", clk)
	var fired atomic.Bool
	api.set(failNth(api, n, applied, &fired))
	res, err := q.PushWithOptions(ctxT(t), opts, msg)
	api.set(nil)
	if !fired.Load() {
		t.Fatalf("the push made fewer than %d requests", n)
	}
	if (err != nil) != (len(res.Failed) == 1) {
		t.Fatalf("push = %+v, %v: error and Failed disagree", res, err)
	}
	return q, clk, err
}

// A batched push of a group whose message write failed after DynamoDB applied it leaves no
// message stored without its group offered.
func TestFailedGroupBatchPushIsDeliveredOrGone(t *testing.T) {
	t.Parallel()
	pushFaultCases(t, 3, func(t *testing.T, n int, applied bool) {
		q, _, err := faultedPush(t, n, applied, dynamodbqueue.PushOptions{}, msgIn("A", "g1", ""))
		checkDeliveredOrGone(t, q, "A", err == nil)
	})
}
