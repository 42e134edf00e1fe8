package dynamodbqueue_test

import (
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// TestLongPollNeverReturnsAMessageTwice is issue 9, bug 6: a long poll that waits for more
// messages than the queue has let the visibility of the one it held run out, claimed it again,
// and returned it several times (with stale handles and an inflated receive count). The test
// clock jumps 3 s before every query, so a 10 s visibility timeout runs out within the call's
// own waiting whatever the machine's speed; the call must keep its claim alive instead.
func TestLongPollNeverReturnsAMessageTwice(t *testing.T) {
	t.Parallel()
	const vt = 10 * time.Second
	for _, tc := range []struct {
		name    string
		receive func(q *dynamodbqueue.DynamoDBQueue) ([]events.SQSMessage, error)
	}{
		{"PollMessages", func(q *dynamodbqueue.DynamoDBQueue) ([]events.SQSMessage, error) {
			return q.PollMessages(ctxT(t), time.Second, vt, 3)
		}},
		{"ReceiveMessages", func(q *dynamodbqueue.DynamoDBQueue) ([]events.SQSMessage, error) {
			return q.ReceiveMessages(ctxT(t), dynamodbqueue.ReceiveOptions{MinMessages: 2, MaxMessages: 2, WaitTime: time.Second, VisibilityTimeout: vt})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := ctxT(t)
			base, table := newTable(t)
			clk := &dynamodbqueue.Clock{}
			q, api := hookedQueue(t, table, "longpoll", "c", clk)
			other := dynamodbqueue.WithClock(base.Clone().UseQueueName("longpoll").UseClientID("c"), clk)
			push(t, q, events.SQSMessage{Body: "only"})
			queries := 0
			api.set(func(op string, _ any) error {
				if op == "Query" {
					queries++ // the receive is the only caller while the hook is set
					clk.Advance(3 * time.Second)
				}
				return nil
			})
			got, err := tc.receive(q)
			api.set(nil)
			returned := clk.Now()
			if err != nil {
				t.Fatal(err)
			}
			if queries < 5 {
				t.Fatalf("the call made %d queries; the test needs at least 5 for the claim to lapse", queries)
			}
			if !slices.Equal(bodyList(got), []string{"only"}) {
				t.Fatalf("one message in the queue, the call returned %v", bodyList(got))
			}
			if rc := got[0].Attributes[dynamodbqueue.AttributeApproximateReceiveCount]; rc != "1" {
				t.Errorf("receive count %s after one receive, want 1", rc)
			}
			// The visibility timeout starts when the call returns: hidden until returned+vt.
			clk.Advance(returned.Add(vt - 2*time.Second).Sub(clk.Now()))
			if again := mustPoll(t, other, time.Minute, 10); len(again) != 0 {
				t.Fatalf("2 s before the end of its visibility timeout another consumer got %v", bodyList(again))
			}
			if failed, err := q.DeleteMessages(ctx, toHandles(got)...); err != nil || len(failed) > 0 {
				t.Fatalf("the returned handle is stale: %v", err)
			}
			if n, err := q.Count(ctx); err != nil || n != 0 {
				t.Fatalf("Count = %d, %v after deleting the message; want 0", n, err)
			}
		})
	}
}

// TestLongPollDropsHeldMessagePurgedWhileWaiting: a message purged while a long poll holds it
// and waits for more is not returned, since its handle would name nothing.
func TestLongPollDropsHeldMessagePurgedWhileWaiting(t *testing.T) {
	t.Parallel()
	base, table := newTable(t)
	clk := &dynamodbqueue.Clock{}
	q, api := hookedQueue(t, table, "purged", "c", clk)
	purger := base.Clone().UseQueueName("purged").UseClientID("c")
	push(t, q, events.SQSMessage{Body: "purged"})
	queries := 0
	api.set(func(op string, _ any) error {
		if op != "Query" {
			return nil
		}
		if queries++; queries == 2 { // the first pass claimed the message
			if err := purger.Purge(ctxT(t)); err != nil {
				t.Error(err)
			}
		}
		clk.Advance(3 * time.Second) // so that the held claim is due for renewal
		return nil
	})
	got, err := q.ReceiveMessages(ctxT(t), dynamodbqueue.ReceiveOptions{MinMessages: 2, MaxMessages: 2, WaitTime: time.Second, VisibilityTimeout: 10 * time.Second})
	if err != nil || len(got) != 0 || queries < 2 {
		t.Fatalf("long poll over a purge returned %v, %v after %d queries; want nothing", bodyList(got), err, queries)
	}
}

// TestShortVisibilityLongPollReturnsWhatItHolds: claims under a second are not kept alive, so a
// receive with such a visibility timeout returns once it holds a message, however long it
// may wait for MinMessages.
func TestShortVisibilityLongPollReturnsWhatItHolds(t *testing.T) {
	t.Parallel()
	_, table := newTable(t)
	q, api := hookedQueue(t, table, "short", "c", nil)
	push(t, q, events.SQSMessage{Body: "one"})
	var queries atomic.Int64
	api.set(func(op string, _ any) error {
		if op == "Query" {
			queries.Add(1)
		}
		return nil
	})
	got, err := q.ReceiveMessages(ctxT(t), dynamodbqueue.ReceiveOptions{MinMessages: 2, MaxMessages: 2, WaitTime: time.Minute, VisibilityTimeout: 500 * time.Millisecond})
	if err != nil || !slices.Equal(bodyList(got), []string{"one"}) || queries.Load() != 1 {
		t.Fatalf("got %v, %v after %d queries; want [one] after one pass", bodyList(got), err, queries.Load())
	}
}
