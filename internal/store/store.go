package store

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// API is the part of the DynamoDB client the store calls; the root package's API satisfies it.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

// Store sends the queue's requests to one table. It is a small value: build one per call.
type Store struct {
	// API is the DynamoDB client.
	API API
	// Table is the table every request goes to.
	Table string
	// Wrap turns an error of operation op (e.g. "Query (peek)") into the caller's error type;
	// nil returns it unchanged.
	Wrap func(op, table string, err error) error
}

// wrap applies s.Wrap to a non-nil error.
func (s Store) wrap(op string, err error) error {
	if err == nil || s.Wrap == nil {
		return err
	}
	return s.Wrap(op, s.Table, err)
}
