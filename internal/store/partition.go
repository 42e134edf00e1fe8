package store

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// QueryBelow reads, strongly consistent, the items of partition pk whose sort key sorts before
// below, in pages of at most pageItems items, stopping after maxItems items. complete reports
// whether every such item was read: a caller that needs the whole set (a cache of a partition)
// falls back to reading single items when it is not, so one huge partition costs a bounded
// number of pages. op names the request in errors.
func (s Store) QueryBelow(ctx context.Context, op, pk, below string, pageItems, maxItems int) (items []map[string]types.AttributeValue, complete bool, err error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.Table),
		KeyConditionExpression:    aws.String("PK = :pk AND SK < :below"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": S(pk), ":below": S(below)},
		ConsistentRead:            aws.Bool(true),
		Limit:                     aws.Int32(int32(pageItems)),
	}
	p := dynamodb.NewQueryPaginator(s.API, in)
	for p.HasMorePages() {
		if len(items) >= maxItems {
			return items, false, nil
		}
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, false, s.wrap(op, err)
		}
		items = append(items, out.Items...)
	}
	return items, true, nil
}
