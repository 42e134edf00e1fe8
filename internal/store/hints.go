package store

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Hint is one activity hint: in partition PK, the item SK says that the (queue, client) pair
// it names has work visible from Vis (a visibility key, keys.Vis) on. TTL is its expiry.
type Hint struct {
	PK, SK, Vis string
	TTL         int64
}

// PutHints writes activity hints: one UpdateItem for one hint, else batch writes with the
// usual retries of unprocessed items. A hint carries the same key and vis in every attempt, so
// a write the SDK retries after DynamoDB applied it changes nothing.
func (s Store) PutHints(ctx context.Context, hints []Hint) error {
	if len(hints) == 1 {
		h := hints[0]
		_, err := s.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                aws.String(s.Table),
			Key:                      Key(h.PK, h.SK),
			UpdateExpression:         aws.String("SET vis = :v, #ttl = :t"),
			ExpressionAttributeNames: map[string]string{"#ttl": AttrTTL}, // TTL is a reserved word
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":v": S(h.Vis), ":t": N(h.TTL),
			},
		})
		return s.wrap("UpdateItem (activity hint)", err)
	}
	_, err := s.BatchWrite(ctx, HintPuts(hints))
	return err
}

// HintPuts returns the batch put requests that write hints, for a caller that sends them in
// the same BatchWriteItem as other items (a push's first batch, see the root package's push).
// A put replaces the whole hint, as the UpdateItem of PutHints sets all of its attributes.
func HintPuts(hints []Hint) []types.WriteRequest {
	reqs := make([]types.WriteRequest, 0, len(hints))
	for _, h := range hints {
		item := Key(h.PK, h.SK)
		item[AttrVis] = S(h.Vis)
		item[AttrTTL] = N(h.TTL)
		reqs = append(reqs, PutReq(item))
	}
	return reqs
}

// EachHint reads the hints of partition pk whose vis lies in [lo, hi] (strings compared as
// visibility keys), through the ready index. The reads are eventually consistent (half the
// price of strongly consistent ones, and the watcher pays one per tick): a hint a lagging
// replica misses is read by a later look, which reaches back past it (watchOverlap in the root
// package). It calls fn with each hint's SK and vis, and returns the number of requests sent
// (one per page).
func (s Store) EachHint(ctx context.Context, pk, lo, hi string, fn func(sk, vis string)) (int, error) {
	in := &dynamodb.QueryInput{
		TableName:              aws.String(s.Table),
		IndexName:              aws.String(VisIndex),
		KeyConditionExpression: aws.String("PK = :pk AND vis BETWEEN :lo AND :hi"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": S(pk), ":lo": S(lo), ":hi": S(hi),
		},
		ProjectionExpression: aws.String("SK, vis"),
	}
	p := dynamodb.NewQueryPaginator(s.API, in)
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		pages++
		if err != nil {
			return pages, s.wrap("Query (activity hints)", err)
		}
		for _, item := range out.Items {
			fn(Str(item[AttrSK]), Str(item[AttrVis]))
		}
	}
	return pages, nil
}
