package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/consumer"
)

// A consumer that sends e-mails for two tenants of one queue. The handler fails the first
// attempt for one address; the consumer retries it after the backoff. A real service would
// run until SIGTERM (signal.NotifyContext); this one stops once every message is handled.
func Example() {
	ctx := context.Background()
	// awsConfig points at a local DynamoDB here; a program would use config.LoadDefaultConfig.
	q := dynamodbqueue.NewDynamoDBQueue(ctx, awsConfig, 0).
		UseTable(dynamodbqueue.RandomPostfix("example")).
		UseQueueName("emails").
		UseClientID("tenant-a").
		UseLogger(nil)
	if _, err := q.CreateQueueTable(ctx); err != nil {
		log.Fatal(err)
	}
	defer q.DropQueueTable(ctx)

	tenantB := q.Clone().UseClientID("tenant-b")
	for _, m := range []struct {
		q  *dynamodbqueue.DynamoDBQueue
		to string
	}{{q, "ann@example.com"}, {q, "bob@example.com"}, {tenantB, "cy@example.com"}} {
		if _, err := m.q.PushMessages(ctx, 0, events.SQSMessage{Body: m.to}); err != nil {
			log.Fatal(err)
		}
	}

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var mu sync.Mutex
	var sent []string
	attempts := map[string]int{}
	send := consumer.HandlerFunc(func(ctx context.Context, msg events.SQSMessage) error {
		mu.Lock()
		defer mu.Unlock()
		attempts[msg.Body]++
		if msg.Body == "bob@example.com" && consumer.ReceiveCount(msg) == 1 {
			return errors.New("mail server busy") // retried after Backoff.Min
		}
		sent = append(sent, msg.Body)
		if len(sent) == 3 {
			stop() // shut down once all three are sent
		}
		return nil
	})

	c, err := consumer.New(q, send, consumer.Options{
		Concurrency: 4,
		ClientIDs:   []string{"tenant-b"}, // serve both tenants, fairly
		Backoff:     consumer.Backoff{Min: 100 * time.Millisecond, Max: time.Minute},
		Logger:      slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Run(runCtx); err != nil { // returns after a graceful shutdown
		log.Fatal(err)
	}

	slices.Sort(sent)
	for _, to := range sent {
		fmt.Printf("sent to %s after %d attempt(s)\n", to, attempts[to])
	}
	for _, tq := range []*dynamodbqueue.DynamoDBQueue{q, tenantB} {
		n, err := tq.Count(ctx)
		fmt.Println(tq.ClientID(), "messages left:", n, err)
	}
	// Output:
	// sent to ann@example.com after 1 attempt(s)
	// sent to bob@example.com after 2 attempt(s)
	// sent to cy@example.com after 1 attempt(s)
	// tenant-a messages left: 0 <nil>
	// tenant-b messages left: 0 <nil>
}

// The backoff doubles with each failed delivery, up to Max.
func ExampleBackoff_Delay() {
	b := consumer.Backoff{Min: time.Second, Max: 10 * time.Second}
	for rc := 1; rc <= 5; rc++ {
		fmt.Printf("after delivery %d: %v\n", rc, b.Delay(rc))
	}
	// Output:
	// after delivery 1: 1s
	// after delivery 2: 2s
	// after delivery 3: 4s
	// after delivery 4: 8s
	// after delivery 5: 10s
}

// A handler that cannot do its work yet asks for a retry at a time of its choosing.
func ExampleRetryAfter() {
	h := consumer.HandlerFunc(func(ctx context.Context, msg events.SQSMessage) error {
		if msg.Attributes["NotBefore"] > time.Now().UTC().Format(time.RFC3339) {
			return consumer.RetryAfter(time.Minute)
		}
		return nil // do the work
	})
	err := h.HandleMessage(context.Background(), events.SQSMessage{
		Attributes: map[string]string{"NotBefore": "9999-12-31T00:00:00Z"},
	})
	var ra *consumer.RetryAfterError
	fmt.Println(errors.As(err, &ra), ra.Delay)
	// Output: true 1m0s
}

// A consumer of many tenants of one queue, with per-tenant limits: each tenant has at most 4
// messages handled at once and 50 per second, and the paying tenant gets three times the
// share of the workers the others get while several have a backlog. The handler learns the
// tenant of each message with SourceOf. (Not run: it would serve until stopped.)
func ExampleTenantOptions() {
	client, err := dynamodbqueue.New(dynamodbqueue.Options{API: dynamodb.NewFromConfig(awsConfig), Table: "jobs-table"})
	if err != nil {
		log.Fatal(err)
	}
	tenants := []string{"acme", "globex", "initech"} // thousands are fine: idle ones cost nothing
	q, err := client.Queue("jobs", tenants[0])
	if err != nil {
		log.Fatal(err)
	}
	h := consumer.HandlerFunc(func(ctx context.Context, msg events.SQSMessage) error {
		src, _ := consumer.SourceOf(ctx)
		log.Printf("job %s of tenant %s", msg.MessageId, src.ClientID)
		return nil
	})
	c, err := consumer.New(q, h, consumer.Options{
		Concurrency: 32,
		ClientIDs:   tenants[1:],
		Tenants: func(src consumer.Source) consumer.TenantOptions {
			limits := consumer.TenantOptions{MaxConcurrency: 4, Rate: 50, Burst: 10}
			if src.ClientID == "acme" {
				limits.Weight = 3
			}
			return limits
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	_ = c.Run // c.Run(ctx) serves until ctx is done
}
