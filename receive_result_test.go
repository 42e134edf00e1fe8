package dynamodbqueue_test

import (
	"testing"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// TestReceiveDrained: ReceiveWithResult says Drained exactly when its pass read every shard
// of the pair to the end: a batch that takes all there was (even a full one), an empty pair,
// and a sharded pair taken whole; not when it leaves a visible message behind.
func TestReceiveDrained(t *testing.T) {
	t.Parallel()
	for _, shards := range []int{1, 3} {
		q := newQueue(t, "jobs", "a").UseShards(shards)
		recv := func(max int) dynamodbqueue.ReceiveResult {
			t.Helper()
			res, err := q.ReceiveWithResult(ctxT(t), dynamodbqueue.ReceiveOptions{MaxMessages: max, VisibilityTimeout: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		check := func(what string, res dynamodbqueue.ReceiveResult, n int, drained bool) {
			t.Helper()
			if len(res.Messages) != n || res.Drained != drained {
				t.Errorf("shards %d, %s: %d messages, drained %v; want %d, %v", shards, what, len(res.Messages), res.Drained, n, drained)
			}
		}
		check("empty pair", recv(10), 0, true)
		push(t, q, bodies(10, "full")...)
		check("a full batch of all there was", recv(10), 10, true)
		push(t, q, bodies(11, "more")...)
		// With shards, a pass that fills its batch may leave shards unread: not drained either.
		check("a full batch with one left", recv(10), 10, false)
		check("the one left", recv(10), 1, true)
		push(t, q, bodies(4, "short")...)
		check("a short batch", recv(10), 4, true)
		check("empty again", recv(10), 0, true)
	}
}
