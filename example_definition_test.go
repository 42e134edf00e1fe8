package dynamodbqueue_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// A client built once per process from validated Options, and a queue handle from it.
func ExampleNew() {
	ctx := context.Background()
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		panic(err)
	}
	client, err := dynamodbqueue.New(dynamodbqueue.Options{
		API:                 dynamodb.NewFromConfig(cfg),
		Table:               dynamodbqueue.RandomPostfix("example"),
		SigningKey:          []byte("a secret shared by every process of the table"),
		LongPollMaxInterval: 100 * time.Millisecond,
		DefinitionStaleness: 2 * time.Second,
	})
	if err != nil {
		panic(err)
	}
	q, err := client.Queue("invoices", "acme")
	if err != nil {
		panic(err)
	}
	if _, err := q.CreateQueueTable(ctx); err != nil {
		panic(err)
	}
	defer q.DropQueueTable(ctx)
	q.PushMessages(ctx, 0, events.SQSMessage{Body: "hello"})
	msgs, _ := q.ReceiveMessages(ctx, dynamodbqueue.ReceiveOptions{MaxMessages: 10})
	fmt.Println(len(msgs), msgs[0].Body)

	_, err = dynamodbqueue.New(dynamodbqueue.Options{API: client.API(), LongPollInterval: -time.Second})
	fmt.Println(errors.Is(err, dynamodbqueue.ErrInvalidArgument))
	// Output:
	// 1 hello
	// true
}

// A queue defined in the table: every process's handles take its settings, UpdateQueue
// reaches them within the staleness bound, and DeleteQueue removes its messages.
func Example_queueDefinitions() {
	ctx := context.Background()
	q, drop := exampleQueue(ctx)
	defer drop()
	client := q.Client()

	def, err := client.CreateQueue(ctx, "emails", dynamodbqueue.QueueAttributes{
		VisibilityTimeout: 5 * time.Minute,
		Shards:            4,
		RedrivePolicy:     &dynamodbqueue.RedrivePolicy{DeadLetterQueue: "emails-dlq", MaxReceiveCount: 5},
		Tags:              map[string]string{"team": "growth"},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("created version", def.Version, "with", def.Shards, "shards")

	// Idempotent with the same attributes; a difference is named.
	_, err = client.CreateQueue(ctx, "emails", dynamodbqueue.QueueAttributes{Shards: 8})
	fmt.Println(errors.Is(err, dynamodbqueue.ErrQueueAttributesMismatch))

	// Fewer shards: consumers keep draining the 4 until they are empty.
	def.Shards = 2
	def, err = client.UpdateQueue(ctx, "emails", def.QueueAttributes, def.Version)
	if err != nil {
		panic(err)
	}
	fmt.Println("version", def.Version, "shards", def.Shards, "max", def.MaxShards)

	acme, _ := client.Queue("emails", "acme")
	acme.PushMessages(ctx, 0, events.SQSMessage{Body: "welcome"})
	page, _ := client.ListQueues(ctx, dynamodbqueue.ListQueuesOptions{Prefix: "em"})
	sources, _ := client.ListDeadLetterSourceQueues(ctx, "emails-dlq")
	fmt.Println(len(page.Queues), "queue;", sources, "redrive to emails-dlq")

	if err := client.DeleteQueue(ctx, "emails"); err != nil {
		panic(err)
	}
	n, _ := acme.Count(ctx)
	fmt.Println("after DeleteQueue:", n)
	// Output:
	// created version 1 with 4 shards
	// true
	// version 2 shards 2 max 4
	// 1 queue; [emails] redrive to emails-dlq
	// after DeleteQueue: 0
}
