package dynamodbqueue_test

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
)

// replayingAPI applies every single-item write twice and returns the second answer: what the
// caller sees when the SDK retries a write whose first response was lost after DynamoDB applied
// it (PRIOR-ART §8). It is the real dynalite underneath, not a fake.
type replayingAPI struct {
	*dynamodb.Client
	replays atomic.Int64
}

func (r *replayingAPI) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if _, err := r.Client.UpdateItem(ctx, in, o...); err != nil {
		return nil, err
	}
	r.replays.Add(1)
	return r.Client.UpdateItem(ctx, in, o...)
}

func (r *replayingAPI) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	if _, err := r.Client.DeleteItem(ctx, in, o...); err != nil {
		return nil, err
	}
	r.replays.Add(1)
	return r.Client.DeleteItem(ctx, in, o...)
}

func (r *replayingAPI) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if _, err := r.Client.PutItem(ctx, in, o...); err != nil {
		return nil, err
	}
	r.replays.Add(1)
	return r.Client.PutItem(ctx, in, o...)
}

// TestRetriedWritesRecogniseOwnSuccess runs claims, visibility changes, deletes, group claims
// and deduplicated pushes through an API that replays each applied write: every operation must
// still report success, and nothing may be left hidden or duplicated.
func TestRetriedWritesRecogniseOwnSuccess(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	base, table := newTable(t)
	api := &replayingAPI{Client: testenv.Client(t)}
	q := dynamodbqueue.NewFromClient(api, 0).UseTable(table).UseQueueName("replay").UseClientID("c").UseLogger(nil)
	plain := q.Clone()
	push(t, plain, bodies(3, "p")...)
	push(t, plain, grouped("g", 2)...)
	dedup := events.SQSMessage{Body: "d", Attributes: map[string]string{dynamodbqueue.AttributeMessageDeduplicationID: "x"}}
	res, err := q.PushWithOptions(ctx, dynamodbqueue.PushOptions{}, dedup)
	if err != nil || res.Duplicates != 0 {
		t.Fatalf("deduplicated push through replays: %+v, %v; want stored, not a duplicate", res, err)
	}

	got := mustPoll(t, q, time.Hour, 10)
	if want := []string{"d", "g-000", "p-000", "p-001", "p-002"}; !slices.Equal(sortedBodies(got), want) {
		t.Fatalf("claims through replays returned %v, want %v", sortedBodies(got), want)
	}
	if failed, err := q.ChangeVisibility(ctx, 2*time.Hour, toHandles(got)...); err != nil || len(failed) > 0 {
		t.Fatalf("visibility change through replays: %v", err)
	}
	if failed, err := q.DeleteMessages(ctx, toHandles(got)...); err != nil || len(failed) > 0 {
		t.Fatalf("deletes through replays: %v", err)
	}
	// The group's next message is released by the delete of its head.
	next := mustPoll(t, q, time.Hour, 10)
	if !slices.Equal(bodyList(next), []string{"g-001"}) {
		t.Fatalf("after deleting the group head got %v, want g-001", bodyList(next))
	}
	if _, err := q.DeleteMessages(ctx, toHandles(next)...); err != nil {
		t.Fatal(err)
	}
	if n, err := base.Clone().UseQueueName("replay").UseClientID("c").Count(ctx); err != nil || n != 0 {
		t.Fatalf("Count = %d, %v; want 0", n, err)
	}
	if api.replays.Load() == 0 {
		t.Fatal("no write was replayed")
	}
}
