package store

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// UpdateIf applies the update expression to the item (pk, sk) if cond holds (cond "": always),
// and returns the item as written. It is WriteIf for updates WriteIf cannot spell, such as one
// entry of a map attribute (SET m.#e = :v) or if_not_exists. A failed condition returns
// applied false and no error.
func (s Store) UpdateIf(ctx context.Context, op, pk, sk, update, cond string, names map[string]string, values map[string]types.AttributeValue) (item map[string]types.AttributeValue, applied bool, err error) {
	in := &dynamodb.UpdateItemInput{
		TableName:        aws.String(s.Table),
		Key:              Key(pk, sk),
		UpdateExpression: aws.String(update),
		ReturnValues:     types.ReturnValueAllNew,
	}
	if cond != "" {
		in.ConditionExpression = aws.String(cond)
	}
	if len(names) > 0 {
		in.ExpressionAttributeNames = names
	}
	if len(values) > 0 {
		in.ExpressionAttributeValues = values
	}
	return s.updateItem(ctx, op, in)
}

// updateItem sends in (ReturnValues ALL_NEW) and returns the item as written; a failed
// condition returns applied false and no error.
func (s Store) updateItem(ctx context.Context, op string, in *dynamodb.UpdateItemInput) (map[string]types.AttributeValue, bool, error) {
	out, err := s.API.UpdateItem(ctx, in)
	if err != nil {
		if IsConditionFailed(err) {
			return nil, false, nil
		}
		return nil, false, s.wrap(op, err)
	}
	return out.Attributes, true, nil
}
