package dynamodbqueue

import (
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The schema of a queue table, as CreateQueueTable creates it and as it requires an existing
// table to be: string keys PK (hash) and SK (range), and the local secondary index "vis" keyed
// by PK and the string vis, projecting all attributes (a poll reads whole messages from it).
var (
	tableKey = []types.KeySchemaElement{
		{AttributeName: aws.String(attrPK), KeyType: types.KeyTypeHash},
		{AttributeName: aws.String(attrSK), KeyType: types.KeyTypeRange},
	}
	visKey = []types.KeySchemaElement{
		{AttributeName: aws.String(attrPK), KeyType: types.KeyTypeHash},
		{AttributeName: aws.String(attrVis), KeyType: types.KeyTypeRange},
	}
)

// createTableInput is the CreateTable request of a queue table.
func createTableInput(table string) *dynamodb.CreateTableInput {
	var defs []types.AttributeDefinition
	for _, name := range []string{attrPK, attrSK, attrVis} {
		defs = append(defs, types.AttributeDefinition{AttributeName: aws.String(name), AttributeType: types.ScalarAttributeTypeS})
	}
	return &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: defs,
		KeySchema:            tableKey,
		LocalSecondaryIndexes: []types.LocalSecondaryIndex{{
			IndexName:  aws.String(visIndex),
			KeySchema:  visKey,
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}},
	}
}

// checkSchema compares an existing table with the queue schema and returns an error wrapping
// ErrTableSchemaMismatch that lists every difference, or nil.
func checkSchema(t *types.TableDescription) error {
	attrTypes := map[string]types.ScalarAttributeType{}
	for _, d := range t.AttributeDefinitions {
		attrTypes[aws.ToString(d.AttributeName)] = d.AttributeType
	}
	var problems []string
	if got := describeKey(t.KeySchema, attrTypes); got != describeKey(tableKey, nil) {
		problems = append(problems, fmt.Sprintf("key is %s, a queue table needs %s", got, describeKey(tableKey, nil)))
	}
	var vis *types.LocalSecondaryIndexDescription
	for i, ix := range t.LocalSecondaryIndexes {
		if aws.ToString(ix.IndexName) == visIndex {
			vis = &t.LocalSecondaryIndexes[i]
		}
	}
	switch {
	case vis == nil:
		problems = append(problems, fmt.Sprintf("it has no local secondary index %q (key %s, all attributes projected)", visIndex, describeKey(visKey, nil)))
	default:
		if got := describeKey(vis.KeySchema, attrTypes); got != describeKey(visKey, nil) {
			problems = append(problems, fmt.Sprintf("index %q is keyed by %s, needs %s", visIndex, got, describeKey(visKey, nil)))
		}
		if p := vis.Projection; p == nil || p.ProjectionType != types.ProjectionTypeAll {
			got := "nothing"
			if p != nil {
				got = string(p.ProjectionType)
			}
			problems = append(problems, fmt.Sprintf("index %q projects %s, needs ALL", visIndex, got))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%w: table %q: %s", ErrTableSchemaMismatch, aws.ToString(t.TableName), strings.Join(problems, "; "))
}

// describeKey renders a key schema as `"PK" (HASH, type S), "SK" (RANGE, type S)`; with nil
// types every attribute is taken as a string (the queue's own schema).
func describeKey(key []types.KeySchemaElement, attrTypes map[string]types.ScalarAttributeType) string {
	parts := make([]string, len(key))
	for i, k := range key {
		name := aws.ToString(k.AttributeName)
		typ := types.ScalarAttributeTypeS
		if attrTypes != nil {
			typ = attrTypes[name]
		}
		parts[i] = fmt.Sprintf("%q (%s, type %s)", name, k.KeyType, typ)
	}
	return strings.Join(parts, ", ")
}
