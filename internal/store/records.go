package store

import (
	"context"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Bookkeeping records of the SQS-shaped API (purge marks, message move tasks) live in a
// queue's definition partition, next to its definition: never a message partition, so no
// listing, statistic or purge reads them.

// WriteIf sets every attribute of item except its key (PK, SK) with one UpdateItem, creating
// the item when it does not exist. With a non-empty cond (a condition expression over the
// values in vals, which are added to the update's) the write applies only when cond holds. It
// reports whether the write applied and, when it did, the item as written (ALL_NEW). A failed
// condition is no error.
func (s Store) WriteIf(ctx context.Context, op string, item map[string]types.AttributeValue, cond string, vals map[string]types.AttributeValue) (map[string]types.AttributeValue, bool, error) {
	names := map[string]string{}
	values := map[string]types.AttributeValue{}
	var attrs []string
	for k := range item {
		if k != AttrPK && k != AttrSK {
			attrs = append(attrs, k)
		}
	}
	sort.Strings(attrs) // the same request every time, for readable logs
	expr := ""
	for i, k := range attrs {
		n, v := fmt.Sprintf("#w%d", i), fmt.Sprintf(":w%d", i)
		names[n], values[v] = k, item[k]
		if expr != "" {
			expr += ", "
		}
		expr += n + " = " + v
	}
	for k, v := range vals {
		values[k] = v
	}
	in := &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.Table),
		Key:                      Key(Str(item[AttrPK]), Str(item[AttrSK])),
		ExpressionAttributeNames: names,
		ReturnValues:             types.ReturnValueAllNew,
	}
	if expr != "" {
		in.UpdateExpression = aws.String("SET " + expr)
	}
	if cond != "" {
		in.ConditionExpression = aws.String(cond)
	}
	if len(values) > 0 {
		in.ExpressionAttributeValues = values
	}
	if len(names) == 0 {
		in.ExpressionAttributeNames = nil
	}
	return s.updateItem(ctx, op, in)
}

// QueryPrefix returns up to limit items (0: all) of partition pk whose sort key begins with
// prefix, read strongly consistent, in descending sort-key order when descending is set.
func (s Store) QueryPrefix(ctx context.Context, op, pk, prefix string, limit int, descending bool) ([]map[string]types.AttributeValue, error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.Table),
		KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": S(pk), ":p": S(prefix)},
		ConsistentRead:            aws.Bool(true),
		ScanIndexForward:          aws.Bool(!descending),
	}
	if limit > 0 {
		in.Limit = aws.Int32(int32(limit))
	}
	var items []map[string]types.AttributeValue
	p := dynamodb.NewQueryPaginator(s.API, in)
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, s.wrap(op, err)
		}
		items = append(items, out.Items...)
		if limit > 0 && len(items) >= limit {
			return items[:limit], nil
		}
	}
	return items, nil
}
