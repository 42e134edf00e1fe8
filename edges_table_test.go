package dynamodbqueue_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
)

// TestCreateQueueTableRefusesOtherSchema is issue 9, bug 12: CreateQueueTable accepted an
// existing table with another schema (returning false, nil, and turning on TTL there where the
// endpoint can), and every later push failed with a bare ValidationException. It must say
// what does not match, with ErrTableSchemaMismatch, and change nothing.
func TestCreateQueueTableRefusesOtherSchema(t *testing.T) {
	t.Parallel()
	s := types.ScalarAttributeTypeS
	attr := func(name string, typ types.ScalarAttributeType) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(name), AttributeType: typ}
	}
	keyOf := func(hash, rng string) []types.KeySchemaElement {
		k := []types.KeySchemaElement{{AttributeName: aws.String(hash), KeyType: types.KeyTypeHash}}
		if rng != "" {
			k = append(k, types.KeySchemaElement{AttributeName: aws.String(rng), KeyType: types.KeyTypeRange})
		}
		return k
	}
	for _, tc := range []struct {
		name  string
		in    dynamodb.CreateTableInput
		names []string // what the error must mention
	}{
		{"keyed by id", dynamodb.CreateTableInput{
			AttributeDefinitions: []types.AttributeDefinition{attr("id", s)},
			KeySchema:            keyOf("id", ""),
		}, []string{`"id"`, `"vis"`}},
		{"PK and SK without the vis index", dynamodb.CreateTableInput{
			AttributeDefinitions: []types.AttributeDefinition{attr("PK", s), attr("SK", s)},
			KeySchema:            keyOf("PK", "SK"),
		}, []string{`index "vis"`}},
		{"numeric sort key", dynamodb.CreateTableInput{
			AttributeDefinitions: []types.AttributeDefinition{attr("PK", s), attr("SK", types.ScalarAttributeTypeN), attr("vis", s)},
			KeySchema:            keyOf("PK", "SK"),
			LocalSecondaryIndexes: []types.LocalSecondaryIndex{{
				IndexName: aws.String("vis"), KeySchema: keyOf("PK", "vis"),
				Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
			}},
		}, []string{`"SK"`, "type N"}},
		{"index keeping only keys", dynamodb.CreateTableInput{
			AttributeDefinitions: []types.AttributeDefinition{attr("PK", s), attr("SK", s), attr("vis", s)},
			KeySchema:            keyOf("PK", "SK"),
			LocalSecondaryIndexes: []types.LocalSecondaryIndex{{
				IndexName: aws.String("vis"), KeySchema: keyOf("PK", "vis"),
				Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
			}},
		}, []string{`index "vis"`, "KEYS_ONLY"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := ctxT(t)
			table := testenv.TableName(t)
			client := testenv.Client(t)
			in := tc.in
			in.TableName, in.BillingMode = aws.String(table), types.BillingModePayPerRequest
			if _, err := client.CreateTable(ctx, &in); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				_, _ = client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
			})
			q, api := hookedQueue(t, table, "q", "c", nil)
			var writes atomic.Int64
			api.set(func(op string, in any) error {
				if op == "UpdateTimeToLive" {
					writes.Add(1)
				}
				return nil
			})
			created, err := q.CreateQueueTable(ctx)
			if created || !errors.Is(err, dynamodbqueue.ErrTableSchemaMismatch) {
				t.Fatalf("CreateQueueTable on a table with another schema = %v, %v; want ErrTableSchemaMismatch", created, err)
			}
			for _, n := range tc.names {
				if !strings.Contains(err.Error(), n) {
					t.Errorf("error %q does not name %s", err, n)
				}
			}
			if writes.Load() > 0 {
				t.Error("CreateQueueTable changed the time to live of a table it refused")
			}
		})
	}
}
