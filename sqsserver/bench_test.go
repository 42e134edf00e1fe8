package sqsserver

import (
	"fmt"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// BenchmarkBatchCycle measures one life cycle of ten messages (send a batch of 10, receive
// them, delete the batch) through the endpoint in each protocol, and through the library
// directly, on one connection: the protocol's cost is the difference. Run it with
// bash scripts/with-servers.sh go test -run '^$' -bench BatchCycle -benchtime 200x ./sqsserver/
func BenchmarkBatchCycle(b *testing.B) {
	c := newTable(b)
	e := newEndpoint(b, c)
	b.Run("library", func(b *testing.B) {
		q, _ := c.Queue("bench-lib", "tenant-a")
		msgs := make([]events.SQSMessage, 10)
		for i := range msgs {
			msgs[i] = events.SQSMessage{Body: fmt.Sprintf("message %d", i)}
		}
		ctx := ctxT(b)
		for b.Loop() {
			if _, err := q.SendMessages(ctx, dynamodbqueue.PushOptions{}, msgs...); err != nil {
				b.Fatal(err)
			}
			got := 0
			for got < 10 {
				rec, err := q.PollMessages(ctx, 0, 0, 10-got)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := q.DeleteEntries(ctx, dynamodbqueue.ToReceiptHandles(rec)...); err != nil && len(rec) > 0 {
					b.Fatal(err)
				}
				got += len(rec)
			}
		}
	})
	for _, proto := range protocols {
		b.Run(proto, func(b *testing.B) {
			qurl := e.call(b, proto, "key-a", "CreateQueue", map[string]any{"QueueName": "bench-" + proto}).ok(b, "CreateQueue").value("QueueUrl", "QueueUrl")
			var entries []any
			for i := 0; i < 10; i++ {
				entries = append(entries, map[string]any{"Id": fmt.Sprint("m", i), "MessageBody": fmt.Sprintf("message %d", i)})
			}
			send := map[string]any{"QueueUrl": qurl, "_entries": "SendMessageBatchRequestEntry", "Entries": entries}
			for b.Loop() {
				e.call(b, proto, "key-a", "SendMessageBatch", send).ok(b, "SendMessageBatch")
				got := 0
				for got < 10 {
					handles := e.call(b, proto, "key-a", "ReceiveMessage", map[string]any{"QueueUrl": qurl, "MaxNumberOfMessages": 10 - got}).ok(b, "ReceiveMessage").values("ReceiptHandle", "ReceiptHandle")
					if len(handles) == 0 {
						continue
					}
					var del []any
					for i, h := range handles {
						del = append(del, map[string]any{"Id": fmt.Sprint("d", i), "ReceiptHandle": h})
					}
					e.call(b, proto, "key-a", "DeleteMessageBatch", map[string]any{"QueueUrl": qurl, "_entries": "DeleteMessageBatchRequestEntry", "Entries": del}).ok(b, "DeleteMessageBatch")
					got += len(handles)
				}
			}
		})
	}
}
