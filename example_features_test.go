package dynamodbqueue_test

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// exampleQueue creates a fresh table for one example and returns a queue on it plus a
// function that drops the table.
func exampleQueue(ctx context.Context) (*dynamodbqueue.DynamoDBQueue, func()) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		panic(err)
	}
	q := dynamodbqueue.NewDynamoDBQueue(ctx, cfg, 0).
		UseTable(dynamodbqueue.RandomPostfix("example")).
		UseLogger(nil)
	if _, err := q.CreateQueueTable(ctx); err != nil {
		panic(err)
	}
	return q, func() { _ = q.DropQueueTable(ctx) }
}

// Two tenants share one queue name and one table, yet each only ever sees its own messages.
func Example_tenants() {
	ctx := context.Background()
	q, drop := exampleQueue(ctx)
	defer drop()

	acme := q.Clone().UseQueueName("invoices").UseClientID("acme")
	globex := q.Clone().UseQueueName("invoices").UseClientID("globex")
	acme.PushMessages(ctx, 0, events.SQSMessage{Body: "acme #1"}, events.SQSMessage{Body: "acme #2"})
	globex.PushMessages(ctx, 0, events.SQSMessage{Body: "globex #1"})

	msgs, _ := globex.ReceiveMessages(ctx, dynamodbqueue.ReceiveOptions{MaxMessages: 10})
	for _, m := range msgs {
		fmt.Println("globex got:", m.Body)
	}
	globex.DeleteMessages(ctx, dynamodbqueue.ToReceiptHandles(msgs)...)
	n, _ := acme.Count(ctx)
	fmt.Println("acme still has:", n)
	// Output:
	// globex got: globex #1
	// acme still has: 2
}

// A long poll returns as soon as a message arrives, here pushed by another goroutine.
func ExampleDynamoDBQueue_ReceiveMessages() {
	ctx := context.Background()
	q, drop := exampleQueue(ctx)
	defer drop()
	q.UseQueueName("jobs").UseClientID("worker-pool")

	go q.PushMessages(ctx, 0, events.SQSMessage{Body: "resize image 42"})
	msgs, err := q.ReceiveMessages(ctx, dynamodbqueue.ReceiveOptions{
		MaxMessages:       10,
		WaitTime:          20 * time.Second, // returns early: MinMessages defaults to 1
		VisibilityTimeout: time.Minute,
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(msgs[0].Body, "- receive count", msgs[0].Attributes["ApproximateReceiveCount"])
	// Output: resize image 42 - receive count 1
}

// Messages of one FIFO group come out strictly in push order, one at a time; other groups
// proceed in parallel.
func Example_messageGroups() {
	ctx := context.Background()
	q, drop := exampleQueue(ctx)
	defer drop()
	q.UseQueueName("orders").UseClientID("shop")

	var msgs []events.SQSMessage
	for _, step := range []string{"created", "paid", "shipped"} {
		for _, order := range []string{"order-1", "order-2"} {
			msgs = append(msgs, events.SQSMessage{
				Body:       order + " " + step,
				Attributes: map[string]string{dynamodbqueue.AttributeMessageGroupID: order},
			})
		}
	}
	q.PushMessages(ctx, 0, msgs...)
	for round := 1; round <= 3; round++ {
		batch, _ := q.ReceiveMessages(ctx, dynamodbqueue.ReceiveOptions{MaxMessages: 10})
		fmt.Println("round", round, ":", sortedBodies(batch))
		q.DeleteMessages(ctx, dynamodbqueue.ToReceiptHandles(batch)...)
	}
	// Output:
	// round 1 : [order-1 created order-2 created]
	// round 2 : [order-1 paid order-2 paid]
	// round 3 : [order-1 shipped order-2 shipped]
}

// A message that keeps failing moves to the dead-letter queue after MaxReceiveCount receives;
// a redrive brings it back once the bug is fixed.
func Example_deadLetterQueue() {
	ctx := context.Background()
	q, drop := exampleQueue(ctx)
	defer drop()
	q.UseQueueName("emails").UseClientID("tenant-1").
		UseDeadLetterQueue(&dynamodbqueue.DeadLetterConfig{MaxReceiveCount: 2})

	q.PushMessages(ctx, 0, events.SQSMessage{Body: "to: nobody@invalid"})
	for i := 0; i < 3; i++ {
		msgs, _ := q.ReceiveMessages(ctx, dynamodbqueue.ReceiveOptions{})
		if len(msgs) == 1 {
			// Processing fails: release the message at once instead of waiting for the timeout.
			q.ReleaseMessages(ctx, msgs[0].ReceiptHandle)
		}
	}
	st, _ := q.Stats(ctx)
	fmt.Println("in queue:", st.Total(), "dead-lettered:", st.DeadLettered)

	moved, _ := q.RedriveDeadLetters(ctx, 0)
	st, _ = q.Stats(ctx)
	fmt.Println("redriven:", moved, "in queue:", st.Total(), "dead-lettered:", st.DeadLettered)
	// Output:
	// in queue: 0 dead-lettered: 1
	// redriven: 1 in queue: 1 dead-lettered: 0
}

// Deduplication IDs make a retried push a no-op that still reports success.
func Example_deduplication() {
	ctx := context.Background()
	q, drop := exampleQueue(ctx)
	defer drop()
	q.UseQueueName("payments").UseClientID("bank")

	pay := events.SQSMessage{
		Body:       `{"amount": 100}`,
		Attributes: map[string]string{dynamodbqueue.AttributeMessageDeduplicationID: "payment-7781"},
	}
	first, _ := q.PushWithOptions(ctx, dynamodbqueue.PushOptions{}, pay)
	retry, _ := q.PushWithOptions(ctx, dynamodbqueue.PushOptions{}, pay) // e.g. after a timeout
	n, _ := q.Count(ctx)
	fmt.Println("duplicates:", retry.Duplicates, "same id:", first.Pushed[0].MessageId == retry.Pushed[0].MessageId, "stored:", n)
	// Output: duplicates: 1 same id: true stored: 1
}

// IAMPolicy confines a tenant's credentials to its own partition keys, here with its
// dead-letter queue (default name "<queue>-dlq"), so that receives may move messages there.
func ExampleIAMPolicy() {
	policy, err := dynamodbqueue.IAMPolicy(dynamodbqueue.PolicyOptions{
		TableARN:        "arn:aws:dynamodb:eu-west-1:123456789012:table/queues",
		QueueName:       "invoices",
		ClientID:        "acme",
		DeadLetterQueue: &dynamodbqueue.DeadLetterConfig{MaxReceiveCount: 5}, // as in UseDeadLetterQueue
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(policy)
	// Output:
	// {
	//   "Version": "2012-10-17",
	//   "Statement": [
	//     {
	//       "Sid": "TenantItems",
	//       "Effect": "Allow",
	//       "Action": [
	//         "dynamodb:GetItem",
	//         "dynamodb:BatchGetItem",
	//         "dynamodb:Query",
	//         "dynamodb:DescribeTable",
	//         "dynamodb:PutItem",
	//         "dynamodb:UpdateItem",
	//         "dynamodb:DeleteItem",
	//         "dynamodb:BatchWriteItem"
	//       ],
	//       "Resource": [
	//         "arn:aws:dynamodb:eu-west-1:123456789012:table/queues",
	//         "arn:aws:dynamodb:eu-west-1:123456789012:table/queues/index/vis"
	//       ],
	//       "Condition": {
	//         "ForAllValues:StringLike": {
	//           "dynamodb:LeadingKeys": [
	//             "invoices|acme|*",
	//             "invoices-dlq|acme|*"
	//           ]
	//         }
	//       }
	//     },
	//     {
	//       "Sid": "QueueDefinition",
	//       "Effect": "Allow",
	//       "Action": [
	//         "dynamodb:GetItem",
	//         "dynamodb:BatchGetItem"
	//       ],
	//       "Resource": [
	//         "arn:aws:dynamodb:eu-west-1:123456789012:table/queues"
	//       ],
	//       "Condition": {
	//         "ForAllValues:StringLike": {
	//           "dynamodb:LeadingKeys": [
	//             "@def|invoices",
	//             "@def|invoices-dlq"
	//           ]
	//         }
	//       }
	//     },
	//     {
	//       "Sid": "ActivityHints",
	//       "Effect": "Allow",
	//       "Action": [
	//         "dynamodb:UpdateItem",
	//         "dynamodb:BatchWriteItem"
	//       ],
	//       "Resource": [
	//         "arn:aws:dynamodb:eu-west-1:123456789012:table/queues"
	//       ],
	//       "Condition": {
	//         "ForAllValues:StringLike": {
	//           "dynamodb:LeadingKeys": [
	//             "@act|invoices|*",
	//             "@act|invoices-dlq|*"
	//           ]
	//         }
	//       }
	//     },
	//     {
	//       "Sid": "PushesWithHints",
	//       "Effect": "Allow",
	//       "Action": [
	//         "dynamodb:BatchWriteItem"
	//       ],
	//       "Resource": [
	//         "arn:aws:dynamodb:eu-west-1:123456789012:table/queues"
	//       ],
	//       "Condition": {
	//         "ForAllValues:StringLike": {
	//           "dynamodb:LeadingKeys": [
	//             "invoices|acme|*",
	//             "invoices-dlq|acme|*",
	//             "@act|invoices|*",
	//             "@act|invoices-dlq|*"
	//           ]
	//         }
	//       }
	//     }
	//   ]
	// }
}
