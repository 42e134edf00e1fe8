package prommetrics_test

import (
	"bufio"
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/consumer"
	"github.com/dynamodbqueue/dynamodbqueue/consumer/prommetrics"
)

// A consumer whose metrics are registered on a registry and served on /metrics. A service
// would call http.ListenAndServe; here an httptest server is scraped once the message is
// handled. (During tests the AWS environment points LoadDefaultConfig at a local DynamoDB.)
func Example() {
	ctx := context.Background()
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	q := dynamodbqueue.NewDynamoDBQueue(ctx, cfg, 0).
		UseTable(dynamodbqueue.RandomPostfix("example")).UseQueueName("jobs").UseClientID("acme")
	if _, err := q.CreateQueueTable(ctx); err != nil {
		log.Fatal(err)
	}
	defer q.DropQueueTable(ctx)
	if _, err := q.PushMessages(ctx, 0, events.SQSMessage{Body: "resize image 42"}); err != nil {
		log.Fatal(err)
	}

	reg := prometheus.NewRegistry() // or nil: prometheus.DefaultRegisterer
	metrics, err := prommetrics.Register(reg, prommetrics.Options{})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", prommetrics.Handler(reg))

	runCtx, stop := context.WithCancel(ctx)
	c, err := consumer.New(q, consumer.HandlerFunc(func(ctx context.Context, msg events.SQSMessage) error {
		stop() // one message is enough for this example
		return nil
	}), consumer.Options{Hooks: metrics})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Run(runCtx); err != nil {
		log.Fatal(err)
	}

	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	for lines.Scan() {
		if strings.HasPrefix(lines.Text(), "dynamodbqueue_consumer_succeeded_total") ||
			strings.HasPrefix(lines.Text(), "dynamodbqueue_consumer_deleted_total") {
			fmt.Println(lines.Text())
		}
	}
	// Output:
	// dynamodbqueue_consumer_deleted_total{client="acme",queue="jobs"} 1
	// dynamodbqueue_consumer_succeeded_total{client="acme",queue="jobs"} 1
}
