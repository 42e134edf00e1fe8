package store

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// EarliestVis returns the smallest vis of partition pk's ready index ("" when the index holds
// nothing of pk): one keys-only Limit-1 Query, whatever the partition holds. Below now it
// means something is deliverable; above, it is when the first item in flight or delayed becomes
// visible (a claim that lapses, a delay that runs out). op names the request in errors.
func (s Store) EarliestVis(ctx context.Context, pk, op string) (string, error) {
	out, err := s.API.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.Table),
		IndexName:                 aws.String(VisIndex),
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": S(pk)},
		ScanIndexForward:          aws.Bool(true),
		Limit:                     aws.Int32(1),
		ProjectionExpression:      aws.String("PK, SK, vis"),
	})
	if err != nil {
		return "", s.wrap(op, err)
	}
	if len(out.Items) == 0 {
		return "", nil
	}
	return DecodeRecord(out.Items[0]).Vis, nil
}
