package store

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamodbqueue/dynamodbqueue/internal/keys"
)

// Ready is one page's request of the ready index: the items of partition PK that are
// deliverable at Now (key condition vis < VisBound(Now)), so the cost does not depend on how
// many messages are in flight or delayed.
type Ready struct {
	PK  string
	Now time.Time
	// Forward reads oldest first (FIFO); false reads newest first.
	Forward bool
	// Limit bounds the items of the page (0: DynamoDB's own page size).
	Limit int
	// Start continues after the previous page (its Next); nil starts at the beginning.
	Start map[string]types.AttributeValue
	// Op names the request in errors, e.g. "Query (peek)".
	Op string
	// KeysOnly reads only what choosing and claiming a candidate needs (keys, vis, lp, nc and
	// TTL), not the stored message: for a consumer that reads more candidates than it will
	// claim, whose claims then return the items they win (ClaimItem).
	KeysOnly bool
}

// ReadyPage reads one page of the ready index. next is nil after the last page.
func (s Store) ReadyPage(ctx context.Context, r Ready) (recs []Record, next map[string]types.AttributeValue, err error) {
	in := &dynamodb.QueryInput{
		TableName:              aws.String(s.Table),
		IndexName:              aws.String(VisIndex),
		KeyConditionExpression: aws.String("PK = :pk AND vis < :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": S(r.PK), ":now": S(keys.VisBound(r.Now)),
		},
		ScanIndexForward:  aws.Bool(r.Forward),
		ExclusiveStartKey: r.Start,
	}
	if r.Limit > 0 {
		in.Limit = aws.Int32(int32(r.Limit))
	}
	if r.KeysOnly {
		in.ProjectionExpression = aws.String("PK, SK, vis, lp, nc, #ttl") // TTL is a reserved word
		in.ExpressionAttributeNames = map[string]string{"#ttl": AttrTTL}
	}
	out, err := s.API.Query(ctx, in)
	if err != nil {
		return nil, nil, s.wrap(r.Op, err)
	}
	recs = make([]Record, len(out.Items))
	for i, item := range out.Items {
		recs[i] = DecodeRecord(item)
	}
	return recs, out.LastEvaluatedKey, nil
}

// EachPage sends the query in (its TableName set to the store's table) and calls fn with every
// page until the last one or until fn returns false. op names the request in errors.
func (s Store) EachPage(ctx context.Context, op string, in *dynamodb.QueryInput, fn func(*dynamodb.QueryOutput) bool) error {
	in.TableName = aws.String(s.Table)
	p := dynamodb.NewQueryPaginator(s.API, in)
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return s.wrap(op, err)
		}
		if !fn(out) {
			return nil
		}
	}
	return nil
}

// EachRecord is EachPage calling fn with every item, decoded, until fn returns false.
func (s Store) EachRecord(ctx context.Context, op string, in *dynamodb.QueryInput, fn func(Record) bool) error {
	return s.EachPage(ctx, op, in, func(out *dynamodb.QueryOutput) bool {
		for _, item := range out.Items {
			if !fn(DecodeRecord(item)) {
				return false
			}
		}
		return true
	})
}

// IndexKey is the key of r in the ready index, in the form of a LastEvaluatedKey: a query's
// ExclusiveStartKey that continues after r.
func IndexKey(r Record) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrPK: S(r.PK), AttrSK: S(r.SK), AttrVis: S(r.Vis)}
}
