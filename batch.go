package dynamodbqueue

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamodbqueue/dynamodbqueue/internal/store"
)

// errUnprocessed reports batch work DynamoDB kept leaving unprocessed (throttling) after all
// retries.
var errUnprocessed = store.ErrUnprocessed

// store returns the request layer for table, with errors wrapped as the package reports them.
func (q *DynamoDBQueue) store(table string) store.Store {
	return store.Store{API: q.core.api, Table: table, Wrap: wrapAPI}
}

// batchWrite writes reqs in batches of 25 (see store.Store.BatchWrite).
func (q *DynamoDBQueue) batchWrite(ctx context.Context, table string, reqs []types.WriteRequest) ([]types.WriteRequest, error) {
	return q.store(table).BatchWrite(ctx, reqs)
}

// batchGet reads items by key (see store.Store.BatchGet).
func (q *DynamoDBQueue) batchGet(ctx context.Context, table string, keyList []map[string]types.AttributeValue) (map[string]map[string]types.AttributeValue, error) {
	return q.store(table).BatchGet(ctx, keyList)
}

func putReq(item map[string]types.AttributeValue) types.WriteRequest { return store.PutReq(item) }
func deleteReq(pk, sk string) types.WriteRequest                     { return store.DeleteReq(pk, sk) }
func reqKey(r types.WriteRequest) string                             { return store.ReqKey(r) }
