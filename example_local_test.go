package dynamodbqueue_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// LocalConfig points a queue at a local DynamoDB (dynalite, DynamoDB Local) without AWS
// credentials, region or profile. The endpoint is e.g. http://127.0.0.1:8000, as printed by
// `make dynalite`; during tests it is the tests' own server.
func ExampleLocalConfig() {
	ctx := context.Background()
	cfg, err := dynamodbqueue.LocalConfig(os.Getenv("AWS_ENDPOINT_URL_DYNAMODB"))
	if err != nil {
		log.Fatal(err)
	}
	q := dynamodbqueue.NewDynamoDBQueue(ctx, cfg, 0).
		UseTable(dynamodbqueue.RandomPostfix("local")).
		UseQueueName("jobs").
		UseClientID("acme")
	if _, err := q.CreateQueueTable(ctx); err != nil {
		log.Fatal(err)
	}
	defer q.DropQueueTable(ctx)

	if _, err := q.PushMessages(ctx, 0, events.SQSMessage{Body: "hello"}); err != nil {
		log.Fatal(err)
	}
	msgs, err := q.ReceiveMessages(ctx, dynamodbqueue.ReceiveOptions{MaxMessages: 10})
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range msgs {
		fmt.Println(m.Body)
	}
	// Output: hello
}
