package dynamodbqueue_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
)

// hookAPI is the real DynamoDB client with a callback that runs right before every item
// request, so a test can force an interleaving (a purge, another push, a clock step) at an
// exact point of an operation, or refuse a request. It is dynalite underneath, never a fake.
type hookAPI struct {
	dynamodbqueue.API
	before atomic.Pointer[hookFunc]
}

// hookFunc sees the operation name ("Query", "UpdateItem", ...) and its input. A non-nil
// error fails the request without sending it.
type hookFunc func(op string, in any) error

// newHookAPI wraps the test endpoint's client.
func newHookAPI(t testing.TB) *hookAPI { return &hookAPI{API: testenv.Client(t)} }

// set installs fn (nil removes the hook).
func (h *hookAPI) set(fn hookFunc) {
	if fn == nil {
		h.before.Store(nil)
		return
	}
	h.before.Store(&fn)
}

func (h *hookAPI) run(op string, in any) error {
	if fn := h.before.Load(); fn != nil {
		return (*fn)(op, in)
	}
	return nil
}

// errWriteRefused is what refuseWrites returns for a write.
var errWriteRefused = errors.New("test: write refused")

// refuseWrites is a hook that fails every write and records that one was attempted.
func refuseWrites(attempted *atomic.Int64) hookFunc {
	return func(op string, _ any) error {
		switch op {
		case "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem":
			attempted.Add(1)
			return errWriteRefused
		}
		return nil
	}
}

func (h *hookAPI) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if err := h.run("GetItem", in); err != nil {
		return nil, err
	}
	return h.API.GetItem(ctx, in, o...)
}

func (h *hookAPI) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if err := h.run("PutItem", in); err != nil {
		return nil, err
	}
	return h.API.PutItem(ctx, in, o...)
}

func (h *hookAPI) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if err := h.run("UpdateItem", in); err != nil {
		return nil, err
	}
	return h.API.UpdateItem(ctx, in, o...)
}

func (h *hookAPI) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	if err := h.run("DeleteItem", in); err != nil {
		return nil, err
	}
	return h.API.DeleteItem(ctx, in, o...)
}

func (h *hookAPI) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	if err := h.run("Query", in); err != nil {
		return nil, err
	}
	return h.API.Query(ctx, in, o...)
}

func (h *hookAPI) Scan(ctx context.Context, in *dynamodb.ScanInput, o ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	if err := h.run("Scan", in); err != nil {
		return nil, err
	}
	return h.API.Scan(ctx, in, o...)
}

func (h *hookAPI) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	if err := h.run("BatchWriteItem", in); err != nil {
		return nil, err
	}
	return h.API.BatchWriteItem(ctx, in, o...)
}

func (h *hookAPI) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	if err := h.run("BatchGetItem", in); err != nil {
		return nil, err
	}
	return h.API.BatchGetItem(ctx, in, o...)
}

// hookedQueue returns a queue on table that talks through a new hookAPI, with the test clock.
// Its process has no watcher (its long polls re-poll on their own), so every request the hook
// sees is the operation's.
func hookedQueue(t testing.TB, table, queue, client string, clk *dynamodbqueue.Clock) (*dynamodbqueue.DynamoDBQueue, *hookAPI) {
	api := newHookAPI(t)
	q := dynamodbqueue.NewFromClient(api, 0).UseTable(table).UseQueueName(queue).UseClientID(client).UseLogger(nil)
	dynamodbqueue.WithoutWatcher(q)
	if clk != nil {
		dynamodbqueue.WithClock(q, clk)
	}
	return q, api
}

func (h *hookAPI) UpdateTimeToLive(ctx context.Context, in *dynamodb.UpdateTimeToLiveInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error) {
	if err := h.run("UpdateTimeToLive", in); err != nil {
		return nil, err
	}
	return h.API.UpdateTimeToLive(ctx, in, o...)
}
