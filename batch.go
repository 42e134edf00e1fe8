package dynamodbqueue

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DynamoDB's batch limits.
const (
	maxBatchWrite = 25
	maxBatchGet   = 100
)

// errUnprocessed reports batch work DynamoDB kept leaving unprocessed (throttling) after all
// retries.
var errUnprocessed = errors.New("items left unprocessed after retries (throttled)")

// batchWrite writes reqs in batches of 25, retrying what DynamoDB leaves unprocessed with
// backoff. It returns the requests that were not applied; err says why (the last failure).
// Batches are sent one after another: callers that need an order between items (bodies before
// the message that points at them) get it by calling batchWrite twice.
func (q *DynamoDBQueue) batchWrite(ctx context.Context, table string, reqs []types.WriteRequest) (failed []types.WriteRequest, err error) {
	for start := 0; start < len(reqs); start += maxBatchWrite {
		batch := reqs[start:min(start+maxBatchWrite, len(reqs))]
		left, berr := q.writeOneBatch(ctx, table, batch)
		if berr != nil {
			failed = append(failed, left...)
			err = berr
			if ctx.Err() != nil {
				return append(failed, reqs[start+len(batch):]...), err
			}
		}
	}
	return failed, err
}

func (q *DynamoDBQueue) writeOneBatch(ctx context.Context, table string, batch []types.WriteRequest) ([]types.WriteRequest, error) {
	pending := batch
	for attempt := 0; ; attempt++ {
		out, err := q.core.api.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
			RequestItems: map[string][]types.WriteRequest{table: pending},
		})
		if err != nil {
			return pending, wrapAPI("BatchWriteItem", table, err)
		}
		pending = out.UnprocessedItems[table]
		if len(pending) == 0 {
			return nil, nil
		}
		if attempt == maxUnprocessedRetries {
			return pending, fmt.Errorf("dynamodbqueue: BatchWriteItem on table %q: %d %w", table, len(pending), errUnprocessed)
		}
		if err := sleep(ctx, backoff(attempt)); err != nil {
			return pending, err
		}
	}
}

// batchGet reads items by key, 100 per request, retrying unprocessed keys with backoff. Missing
// items are simply absent from the result, which is keyed by PK+"\x00"+SK.
//
// It reads eventually consistent first (half the read units) and asks again with a strongly
// consistent read only for keys that did not come back: the items it reads (body chunks) are
// written before anything points at them, so a miss is rare and means a lagging replica.
func (q *DynamoDBQueue) batchGet(ctx context.Context, table string, keyList []map[string]types.AttributeValue) (map[string]map[string]types.AttributeValue, error) {
	found := make(map[string]map[string]types.AttributeValue, len(keyList))
	if err := q.batchGetInto(ctx, table, keyList, false, found); err != nil {
		return nil, err
	}
	if len(found) == len(keyList) {
		return found, nil
	}
	var missing []map[string]types.AttributeValue
	for _, k := range keyList {
		if _, ok := found[str(k[attrPK])+"\x00"+str(k[attrSK])]; !ok {
			missing = append(missing, k)
		}
	}
	if err := q.batchGetInto(ctx, table, missing, true, found); err != nil {
		return nil, err
	}
	return found, nil
}

func (q *DynamoDBQueue) batchGetInto(ctx context.Context, table string, keyList []map[string]types.AttributeValue, consistent bool, found map[string]map[string]types.AttributeValue) error {
	for start := 0; start < len(keyList); start += maxBatchGet {
		pending := keyList[start:min(start+maxBatchGet, len(keyList))]
		for attempt := 0; len(pending) > 0; {
			out, err := q.core.api.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{
				RequestItems: map[string]types.KeysAndAttributes{table: {Keys: pending, ConsistentRead: aws.Bool(consistent)}},
			})
			if err != nil {
				return wrapAPI("BatchGetItem", table, err)
			}
			for _, item := range out.Responses[table] {
				found[str(item[attrPK])+"\x00"+str(item[attrSK])] = item
			}
			pending = out.UnprocessedKeys[table].Keys
			if len(pending) == 0 {
				break
			}
			if len(out.Responses[table]) > 0 {
				// A response cut at its size limit (16 MB on AWS, less on some local
				// servers) made progress: ask for the rest at once, no backoff.
				continue
			}
			if attempt == maxUnprocessedRetries {
				return fmt.Errorf("dynamodbqueue: BatchGetItem on table %q: %d %w", table, len(pending), errUnprocessed)
			}
			if err := sleep(ctx, backoff(attempt)); err != nil {
				return err
			}
			attempt++
		}
	}
	return nil
}

func putReq(item map[string]types.AttributeValue) types.WriteRequest {
	return types.WriteRequest{PutRequest: &types.PutRequest{Item: item}}
}

func deleteReq(pk, sk string) types.WriteRequest {
	return types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: key(pk, sk)}}
}

// reqKey returns PK+"\x00"+SK of a write request.
func reqKey(r types.WriteRequest) string {
	var k map[string]types.AttributeValue
	if r.PutRequest != nil {
		k = r.PutRequest.Item
	} else {
		k = r.DeleteRequest.Key
	}
	return str(k[attrPK]) + "\x00" + str(k[attrSK])
}
