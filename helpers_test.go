package dynamodbqueue_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
)

func TestMain(m *testing.M) { testenv.MainWithAWSEnvironment(m) }

// newTable creates a fresh queue table for one test and drops it afterwards.
func newTable(t testing.TB) (*dynamodbqueue.DynamoDBQueue, string) {
	t.Helper()
	ctx := context.Background()
	table := testenv.TableName(t)
	q := dynamodbqueue.NewFromClient(testenv.Client(t), 0).UseTable(table).UseLogger(nil)
	created, err := q.CreateQueueTable(ctx)
	if err != nil || !created {
		t.Fatalf("CreateQueueTable(%s) = %v, %v", table, created, err)
	}
	t.Cleanup(func() { _ = q.DropQueueTable(context.Background()) })
	return q, table
}

// newQueue returns a queue on a fresh table with the given queue name and client ID.
func newQueue(t testing.TB, queue, client string) *dynamodbqueue.DynamoDBQueue {
	q, _ := newTable(t)
	return q.UseQueueName(queue).UseClientID(client)
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func bodies(n int, prefix string) []events.SQSMessage {
	msgs := make([]events.SQSMessage, n)
	for i := range msgs {
		msgs[i] = events.SQSMessage{Body: fmt.Sprintf("%s-%03d", prefix, i)}
	}
	return msgs
}

func push(t testing.TB, q *dynamodbqueue.DynamoDBQueue, msgs ...events.SQSMessage) {
	t.Helper()
	failed, err := q.PushMessages(ctxT(t), 0, msgs...)
	if err != nil || len(failed) > 0 {
		t.Fatalf("PushMessages: %d failed, %v", len(failed), err)
	}
}

func bodyList(msgs []events.SQSMessage) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.Body
	}
	return out
}

func sortedBodies(msgs []events.SQSMessage) []string {
	b := bodyList(msgs)
	sort.Strings(b)
	return b
}

func mustPoll(t testing.TB, q *dynamodbqueue.DynamoDBQueue, vt time.Duration, max int) []events.SQSMessage {
	t.Helper()
	msgs, err := q.PollMessages(ctxT(t), 0, vt, max)
	if err != nil {
		t.Fatalf("PollMessages: %v", err)
	}
	return msgs
}

func toHandles(msgs []events.SQSMessage) []string { return dynamodbqueue.ToReceiptHandles(msgs) }

func shardOf(t testing.TB, q *dynamodbqueue.DynamoDBQueue, m events.SQSMessage) string {
	pk, err := dynamodbqueue.HandlePK(q, m.ReceiptHandle)
	if err != nil {
		t.Errorf("handle: %v", err)
	}
	return pk
}

// itemCount scans the whole table and counts its items, except activity hints (partitions
// "@act|...", one item per pair and push, which expire by TTL after an hour: they are no
// messages, and tests count what the queue keeps of its messages).
func itemCount(t testing.TB, q *dynamodbqueue.DynamoDBQueue) int {
	t.Helper()
	out, err := testenv.Client(t).Scan(context.Background(), &dynamodb.ScanInput{
		TableName: aws.String(q.Table()), Select: types.SelectCount,
		FilterExpression:          aws.String("NOT begins_with(PK, :act)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":act": &types.AttributeValueMemberS{Value: "@act|"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return int(out.Count)
}

// drain runs `workers` consumers (clones of q) that receive up to max messages at a time with a
// long visibility timeout, hand each batch to got, and delete it, until each has seen three
// empty receives in a row.
func drain(t *testing.T, q *dynamodbqueue.DynamoDBQueue, workers, max int, got func(*dynamodbqueue.DynamoDBQueue, []events.SQSMessage)) {
	t.Helper()
	ctx := ctxT(t)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		c := q.Clone()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for empty := 0; empty < 3; {
				msgs, err := c.ReceiveMessages(ctx, dynamodbqueue.ReceiveOptions{MaxMessages: max, VisibilityTimeout: time.Hour, WaitTime: 100 * time.Millisecond})
				if err != nil {
					t.Error(err)
					return
				}
				if len(msgs) == 0 {
					empty++
					continue
				}
				got(c, msgs)
				if _, err := c.DeleteMessages(ctx, toHandles(msgs)...); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
