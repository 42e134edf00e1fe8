//lint:file-ignore ST1019 the seed's example uses the package both qualified and, for ToReceiptHandles, unqualified

package dynamodbqueue_test

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/dynamodbqueue/dynamodbqueue"
	. "github.com/dynamodbqueue/dynamodbqueue"
)

// The two examples of the original description, as written there (with its typo config/cfg
// fixed). The AWS environment points LoadDefaultConfig at the local DynamoDB during tests.
func Example_seed() {
	ctx := context.Background()
	cfg, _ := awsconfig.LoadDefaultConfig(ctx)
	created, _ := dynamodbqueue.NewDynamoDBQueue(ctx, cfg, 0).
		UseTable("queue-table").
		CreateQueueTable(ctx)
	fmt.Println("created:", created)

	queue := dynamodbqueue.NewDynamoDBQueue(ctx, cfg, 0).
		UseTable("queue-table"). // the seed's second snippet assumes the table is set
		UseQueueName("testQueue").
		UseClientID("testClientId")
	msgs, _ := queue.PushMessages(ctx, 0 /*defaultTTL*/, events.SQSMessage{
		MessageAttributes: map[string]events.SQSMessageAttribute{
			"test2": {DataType: "String", StringValue: aws.String("test2")},
		},
		Body: "test body",
	})
	fmt.Println("not pushed:", len(msgs))
	// Check the number of messages in the queue
	count, _ := queue.Count(ctx)
	fmt.Println("count:", count)
	// Poll max 10 messages (return as fast as possible)
	msgs, _ = queue.PollMessages(
		ctx,
		0,              /*noTimeout*/
		time.Minute*14, /*visibilityTimeout*/
		10,             /*maxMessages*/
	)
	fmt.Println("polled:", len(msgs), msgs[0].Body, *msgs[0].MessageAttributes["test2"].StringValue)
	// Use the messages and then delete them
	queue.DeleteMessages(ctx, ToReceiptHandles(msgs)...)
	count, _ = queue.Count(ctx)
	fmt.Println("count after delete:", count)

	_ = queue.DropQueueTable(ctx)
	// Output:
	// created: true
	// not pushed: 0
	// count: 1
	// polled: 1 test body test2
	// count after delete: 0
}
