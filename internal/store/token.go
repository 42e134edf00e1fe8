package store

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DeleteIfToken deletes the item (pk, sk) if it carries the claim token tok. With readBack the
// deleted item is returned (ReturnValues ALL_OLD); otherwise old is nil. A failed condition is
// returned as an error (IsConditionFailed) that carries the item as it is now, if it exists, so
// the caller can tell "gone" (deleted already, maybe by an earlier attempt of this request)
// from "claimed anew".
func (s Store) DeleteIfToken(ctx context.Context, pk, sk, tok string, readBack bool) (old map[string]types.AttributeValue, err error) {
	rv := types.ReturnValueNone
	if readBack {
		rv = types.ReturnValueAllOld
	}
	out, err := s.API.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                           aws.String(s.Table),
		Key:                                 Key(pk, sk),
		ConditionExpression:                 aws.String("tok = :tok"),
		ExpressionAttributeValues:           map[string]types.AttributeValue{":tok": S(tok)},
		ReturnValues:                        rv,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err != nil {
		return nil, s.wrap("DeleteItem", err)
	}
	return out.Attributes, nil
}

// UpdateIfToken applies update to the item (pk, sk) if it carries the claim token tok and,
// when cond is not empty, cond holds too. values gets :tok. op names the request in errors; a
// failed condition is an error that IsConditionFailed recognises.
func (s Store) UpdateIfToken(ctx context.Context, op, pk, sk, tok, cond, update string, values map[string]types.AttributeValue) error {
	values[":tok"] = S(tok)
	c := "tok = :tok"
	if cond != "" {
		c += " AND " + cond
	}
	_, err := s.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.Table),
		Key:                       Key(pk, sk),
		ConditionExpression:       aws.String(c),
		UpdateExpression:          aws.String(update),
		ExpressionAttributeValues: values,
	})
	return s.wrap(op, err)
}
