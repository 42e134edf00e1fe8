package dynamodbqueue_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
)

// countingAPI counts requests and the items DynamoDB read for queries (ScannedCount: what a
// query is billed for, before any filter).
type countingAPI struct {
	*dynamodb.Client
	queries, scanned, writes atomic.Int64
	hintQueries              atomic.Int64 // a watcher's reads of activity hints, not in queries
}

func (c *countingAPI) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	out, err := c.Client.Query(ctx, in, o...)
	if isHintQuery("Query", in) {
		c.hintQueries.Add(1)
		return out, err
	}
	c.queries.Add(1)
	if out != nil {
		c.scanned.Add(int64(out.ScannedCount))
	}
	return out, err
}

func (c *countingAPI) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.writes.Add(1)
	return c.Client.UpdateItem(ctx, in, o...)
}

func (c *countingAPI) reset() {
	c.queries.Store(0)
	c.scanned.Store(0)
	c.writes.Store(0)
	c.hintQueries.Store(0)
}

func countedQueue(t *testing.T, table, queue string) (*dynamodbqueue.DynamoDBQueue, *countingAPI) {
	api := &countingAPI{Client: testenv.Client(t)}
	return dynamodbqueue.NewFromClient(api, 0).UseTable(table).UseQueueName(queue).UseClientID("c").UseLogger(nil), api
}

// TestPollReadsOnlyDeliverableMessages holds 500 messages in flight at the head of the queue
// and checks that a poll for the next 10 reads 10 items, not the 500 in front of them.
func TestPollReadsOnlyDeliverableMessages(t *testing.T) {
	t.Parallel()
	_, table := newTable(t)
	q, api := countedQueue(t, table, "hol")
	push(t, q, bodies(510, "h")...)
	for held := 0; held < 500; {
		held += len(mustPoll(t, q, time.Hour, 100))
	}
	api.reset()
	got := mustPoll(t, q, time.Hour, 10)
	if len(got) != 10 || got[0].Body != "h-500" {
		t.Fatalf("poll got %d messages starting %v", len(got), bodyList(got))
	}
	if s := api.scanned.Load(); s != 10 {
		t.Fatalf("a poll for 10 messages behind 500 in flight read %d items, want 10", s)
	}
	if n := api.queries.Load(); n != 1 {
		t.Fatalf("poll made %d queries, want 1", n)
	}
}

// TestGroupPollCostIndependentOfQueueSize puts 40 groups of 10 messages in the queue, holds
// 39 groups in flight, and checks that a poll finding the last free group reads a handful of
// items, not the 400 messages or 40 groups.
func TestGroupPollCostIndependentOfQueueSize(t *testing.T) {
	t.Parallel()
	_, table := newTable(t)
	q, api := countedQueue(t, table, "grp")
	for g := 0; g < 40; g++ {
		push(t, q, grouped("grp"+string(rune('A'+g)), 10)...)
	}
	for held := 0; held < 39; {
		held += len(mustPoll(t, q, time.Hour, 39-held))
	}
	api.reset()
	got := mustPoll(t, q, time.Hour, 10)
	if len(got) != 1 {
		t.Fatalf("poll got %d messages, want the head of the one free group", len(got))
	}
	// One index query (reads the one free group item) and one head query (reads one message).
	if q, s := api.queries.Load(), api.scanned.Load(); q != 2 || s != 2 {
		t.Fatalf("poll made %d queries reading %d items; want 2 reading 2", q, s)
	}
	if w := api.writes.Load(); w != 2 {
		t.Fatalf("poll made %d writes; want 2 (group lock and message)", w)
	}
}
