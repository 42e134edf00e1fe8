package dynamodbqueue_test

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// An operator pages through a queue by state, looks at one message by its ID and deletes it,
// without claiming anything.
func ExampleInspector_ListMessages() {
	ctx := context.Background()
	q, drop := exampleQueue(ctx)
	defer drop()
	q.UseQueueName("orders").UseClientID("acme")
	for i := 1; i <= 5; i++ {
		q.PushMessages(ctx, 0, events.SQSMessage{Body: fmt.Sprintf("order %d", i)})
	}
	q.ReceiveMessages(ctx, dynamodbqueue.ReceiveOptions{MaxMessages: 1, VisibilityTimeout: time.Hour}) // order 1

	ins := q.Inspector()
	opts := dynamodbqueue.ListOptions{State: dynamodbqueue.StateVisible, Limit: 2}
	var last dynamodbqueue.MessageInfo
	for page := 1; ; page++ {
		res, err := ins.ListMessages(ctx, opts)
		if err != nil {
			panic(err)
		}
		for _, m := range res.Messages {
			fmt.Println("page", page, m.State, m.Message.Body)
			last = m
		}
		if res.NextCursor == "" {
			break
		}
		opts.Cursor = res.NextCursor
	}
	got, _ := ins.GetMessage(ctx, last.Message.MessageId)
	fmt.Println("by ID:", got.Message.Body)
	fmt.Println("delete:", ins.DeleteMessage(ctx, last.Message.MessageId))
	st, _ := q.Stats(ctx)
	fmt.Printf("%+v\n", st)
	// Output:
	// page 1 visible order 2
	// page 1 visible order 3
	// page 2 visible order 4
	// page 2 visible order 5
	// by ID: order 5
	// delete: <nil>
	// {Visible:3 InFlight:1 Delayed:0 DeadLettered:0 Groups:0}
}
