package dynamodbqueue_test

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// A process that serves many (queue, client) pairs itself subscribes to each with Client.Watch
// and polls a pair only when woken, so idle pairs cost nothing. A receive that drained its pair
// (ReceiveResult.Drained) needs no second look before the next wake-up, even when its batch
// came back full.
func ExampleClient_Watch() {
	ctx := context.Background()
	q, drop := exampleQueue(ctx)
	defer drop()
	client := q.Client()

	sub, err := client.Watch("jobs", "globex")
	if err != nil {
		panic(err)
	}
	defer sub.Close()
	globex, err := client.Queue("jobs", "globex")
	if err != nil {
		panic(err)
	}
	// A push from any process wakes the subscription: from another one through the table's
	// activity hints, from this one at once.
	globex.PushMessages(ctx, 0, events.SQSMessage{Body: "invoice 7"}, events.SQSMessage{Body: "invoice 8"})

	select {
	case <-sub.Ready():
	case <-time.After(time.Minute):
		panic("no wake-up")
	}
	for {
		res, err := globex.ReceiveWithResult(ctx, dynamodbqueue.ReceiveOptions{MaxMessages: 2})
		if err != nil {
			panic(err)
		}
		for _, m := range res.Messages {
			fmt.Println(m.Body)
		}
		globex.DeleteMessages(ctx, dynamodbqueue.ToReceiptHandles(res.Messages)...)
		if res.Drained {
			break // nothing more until the next wake-up
		}
	}
	// Output:
	// invoice 7
	// invoice 8
}
