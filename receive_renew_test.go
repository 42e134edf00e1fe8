package dynamodbqueue_test

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// TestLongPollRenewsBeforeEachShard is the regression test of a TestModel report (seed
// 6969837045628520464: "received p0-m9 of group g2 before p0-m8"). A long poll holds a grouped
// message, on shard 0, while it waits for more. If time passes within a pass, after the pass
// began (here the clock jumps past the claim while shard 1 is read), the held claim must be
// renewed before shard 0 is read: otherwise that read finds the group visible, claims its head
// again and counts one more receive, which with a dead-letter policy sends the message to the
// dead-letter queue and lets the next message of the group out of order.
func TestLongPollRenewsBeforeEachShard(t *testing.T) {
	t.Parallel()
	const vt = 10 * time.Second
	_, table := newTable(t)
	clk := &dynamodbqueue.Clock{}
	q, api := hookedQueue(t, table, "renew", "c", clk)
	q = q.UseShards(2).UseLongPollInterval(time.Millisecond, 5*time.Millisecond)
	push(t, q, events.SQSMessage{Body: "head", Attributes: map[string]string{dynamodbqueue.AttributeMessageGroupID: "g"}})
	var claimed atomic.Bool // claims run concurrently
	api.set(func(op string, in any) error {
		switch in := in.(type) {
		case *dynamodb.UpdateItemInput:
			claimed.Store(true)
		case *dynamodb.QueryInput:
			// Every read of shard 1 after the first claim takes longer than the claim.
			pk := attrString(in.ExpressionAttributeValues[":pk"])
			if op == "Query" && in.IndexName != nil && claimed.Load() && strings.HasSuffix(pk, "1") { // shard 1: PK ends in the shard number
				clk.Advance(vt + time.Second)
			}
		}
		return nil
	})
	got, err := q.ReceiveMessages(ctxT(t), dynamodbqueue.ReceiveOptions{MinMessages: 2, MaxMessages: 2, WaitTime: time.Second, VisibilityTimeout: vt})
	api.set(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Body != "head" {
		t.Fatalf("one message in the queue, the long poll returned %v", bodyList(got))
	}
	if rc := got[0].Attributes[dynamodbqueue.AttributeApproximateReceiveCount]; rc != "1" {
		t.Errorf("receive count %s after one receive, want 1: the held claim lapsed and was claimed again", rc)
	}
}
