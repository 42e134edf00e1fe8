package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamodbqueue/dynamodbqueue/internal/wait"
)

// DynamoDB's batch limits.
const (
	maxBatchWrite = 25
	maxBatchGet   = 100
)

// Backoff returns the wait before retry attempt n (0-based) of work DynamoDB left unprocessed:
// exponential from 25 ms, capped at 2 s, with full jitter so that competing callers spread out.
func Backoff(n int) time.Duration {
	d := 25 * time.Millisecond << min(n, 7)
	d = min(d, 2*time.Second)
	return d/2 + rand.N(d/2+1)
}

// MaxUnprocessedRetries bounds the retries of BatchWriteItem/BatchGetItem leftovers, so a
// persistently throttled table yields an error instead of an endless loop.
const MaxUnprocessedRetries = 10

// ErrUnprocessed reports batch work DynamoDB kept leaving unprocessed (throttling) after all
// retries.
var ErrUnprocessed = errors.New("items left unprocessed after retries (throttled)")

// BatchWrite writes reqs in batches of 25, retrying what DynamoDB leaves unprocessed with
// backoff. It returns the requests that were not applied; err says why (the last failure).
// Batches are sent one after another: callers that need an order between items (bodies before
// the message that points at them) get it by calling BatchWrite twice.
func (s Store) BatchWrite(ctx context.Context, reqs []types.WriteRequest) (failed []types.WriteRequest, err error) {
	for start := 0; start < len(reqs); start += maxBatchWrite {
		batch := reqs[start:min(start+maxBatchWrite, len(reqs))]
		left, berr := s.writeOneBatch(ctx, batch)
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

func (s Store) writeOneBatch(ctx context.Context, batch []types.WriteRequest) ([]types.WriteRequest, error) {
	pending := batch
	for attempt := 0; ; attempt++ {
		out, err := s.API.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
			RequestItems: map[string][]types.WriteRequest{s.Table: pending},
		})
		if err != nil {
			return pending, s.wrap("BatchWriteItem", err)
		}
		pending = out.UnprocessedItems[s.Table]
		if len(pending) == 0 {
			return nil, nil
		}
		if attempt == MaxUnprocessedRetries {
			return pending, fmt.Errorf("dynamodbqueue: BatchWriteItem on table %q: %d %w", s.Table, len(pending), ErrUnprocessed)
		}
		if err := wait.Sleep(ctx, Backoff(attempt)); err != nil {
			return pending, err
		}
	}
}

// BatchGet reads items by key, 100 per request, retrying unprocessed keys with backoff. Missing
// items are simply absent from the result, which is keyed by PK+"\x00"+SK.
//
// It reads eventually consistent first (half the read units) and asks again with a strongly
// consistent read only for keys that did not come back: the items it reads (body chunks) are
// written before anything points at them, so a miss is rare and means a lagging replica.
func (s Store) BatchGet(ctx context.Context, keyList []map[string]types.AttributeValue) (map[string]map[string]types.AttributeValue, error) {
	found := make(map[string]map[string]types.AttributeValue, len(keyList))
	if err := s.BatchGetInto(ctx, keyList, false, found); err != nil {
		return nil, err
	}
	if len(found) == len(keyList) {
		return found, nil
	}
	var missing []map[string]types.AttributeValue
	for _, k := range keyList {
		if _, ok := found[Str(k[AttrPK])+"\x00"+Str(k[AttrSK])]; !ok {
			missing = append(missing, k)
		}
	}
	if err := s.BatchGetInto(ctx, missing, true, found); err != nil {
		return nil, err
	}
	return found, nil
}

// BatchGetInto reads the items of keyList into found (keyed by PK+"\x00"+SK), 100 per request,
// eventually or strongly consistent, retrying unprocessed keys with backoff.
func (s Store) BatchGetInto(ctx context.Context, keyList []map[string]types.AttributeValue, consistent bool, found map[string]map[string]types.AttributeValue) error {
	for start := 0; start < len(keyList); start += maxBatchGet {
		pending := keyList[start:min(start+maxBatchGet, len(keyList))]
		for attempt := 0; len(pending) > 0; {
			out, err := s.API.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{
				RequestItems: map[string]types.KeysAndAttributes{s.Table: {Keys: pending, ConsistentRead: aws.Bool(consistent)}},
			})
			if err != nil {
				return s.wrap("BatchGetItem", err)
			}
			for _, item := range out.Responses[s.Table] {
				found[Str(item[AttrPK])+"\x00"+Str(item[AttrSK])] = item
			}
			pending = out.UnprocessedKeys[s.Table].Keys
			if len(pending) == 0 {
				break
			}
			if len(out.Responses[s.Table]) > 0 {
				// A response cut at its size limit (16 MB on AWS, less on some local
				// servers) made progress: ask for the rest at once, no backoff.
				continue
			}
			if attempt == MaxUnprocessedRetries {
				return fmt.Errorf("dynamodbqueue: BatchGetItem on table %q: %d %w", s.Table, len(pending), ErrUnprocessed)
			}
			if err := wait.Sleep(ctx, Backoff(attempt)); err != nil {
				return err
			}
			attempt++
		}
	}
	return nil
}

// PutReq is a batch put of item.
func PutReq(item map[string]types.AttributeValue) types.WriteRequest {
	return types.WriteRequest{PutRequest: &types.PutRequest{Item: item}}
}

// DeleteReq is a batch delete of the item pk, sk.
func DeleteReq(pk, sk string) types.WriteRequest {
	return types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: Key(pk, sk)}}
}

// ReqKey returns PK+"\x00"+SK of a write request.
func ReqKey(r types.WriteRequest) string {
	var k map[string]types.AttributeValue
	if r.PutRequest != nil {
		k = r.PutRequest.Item
	} else {
		k = r.DeleteRequest.Key
	}
	return Str(k[AttrPK]) + "\x00" + Str(k[AttrSK])
}
