package bench

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
)

// indexedTable creates a table with the queue's "vis" index for one test and drops it after.
func indexedTable(t *testing.T) (context.Context, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	table := testenv.TableName(t)
	setup := testenv.Client(t)
	if err := createPlainTable(ctx, setup, table, true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dropPlainTable(setup, table) })
	return ctx, table
}

// TestServerDifference_IndexCapacity names how the two servers answer
// ReturnConsumedCapacity=INDEXES for the queue's index: DynamoDB Local (like AWS) reports the
// index's write units in ConsumedCapacity.LocalSecondaryIndexes; dynalite reports the table's
// write units only, although it does report index read units for a query on the index. This
// is why the Meter computes index write units where none are reported.
func TestServerDifference_IndexCapacity(t *testing.T) {
	ctx, table := indexedTable(t)
	api := testenv.Client(t)
	server := testenv.Server(t)

	put, err := api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:              aws.String(table),
		Item:                   map[string]types.AttributeValue{"PK": s("p"), "SK": s("m#1"), "vis": s("0001")},
		ReturnConsumedCapacity: types.ReturnConsumedCapacityIndexes,
	})
	if err != nil {
		t.Fatal(err)
	}
	cc := put.ConsumedCapacity
	if cc == nil || cc.Table == nil || aws.ToFloat64(cc.Table.CapacityUnits) != 1 {
		t.Fatalf("%s: put into the index: table capacity %+v, want 1 unit", server, cc)
	}
	lsi, reported := cc.LocalSecondaryIndexes["vis"]
	switch server {
	case testenv.ServerDynamoDBLocal:
		if !reported || aws.ToFloat64(lsi.CapacityUnits) != 1 || aws.ToFloat64(cc.CapacityUnits) != 2 {
			t.Errorf("dynamodb-local: put into the index: LSI %+v (reported %v), total %v; want 1 index unit, 2 in total",
				lsi, reported, aws.ToFloat64(cc.CapacityUnits))
		}
	case testenv.ServerDynalite:
		if reported || len(cc.LocalSecondaryIndexes) != 0 || aws.ToFloat64(cc.CapacityUnits) != 1 {
			t.Errorf("dynalite: put into the index: LSI %+v, total %v; want no index capacity, 1 in total",
				cc.LocalSecondaryIndexes, aws.ToFloat64(cc.CapacityUnits))
		}
	}

	// Both report the read units of a query on the index.
	q, err := api.Query(ctx, &dynamodb.QueryInput{
		TableName: aws.String(table), IndexName: aws.String("vis"),
		KeyConditionExpression:    aws.String("PK = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": s("p")},
		ReturnConsumedCapacity:    types.ReturnConsumedCapacityIndexes,
	})
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := q.ConsumedCapacity.LocalSecondaryIndexes["vis"]; !ok || aws.ToFloat64(r.CapacityUnits) != 0.5 {
		t.Errorf("%s: query on the index: LSI capacity %+v, want 0.5 read units reported", server, q.ConsumedCapacity.LocalSecondaryIndexes)
	}
}

// TestMeterTakesAbsentIndexCapacityAsZero: once a server has reported index capacity, a write
// it reports none for touched no index, whatever the model would compute. A delete without
// ALL_OLD of a key that does not exist is such a write: the model, which cannot see the item,
// counts 1 index unit; DynamoDB Local reports none, and the Meter then counts none. On dynalite
// the model's unit stands, marked as estimated.
func TestMeterTakesAbsentIndexCapacityAsZero(t *testing.T) {
	ctx, table := indexedTable(t)
	m := NewMeter(QueueIndex)
	api := dynamodb.NewFromConfig(testenv.AWSConfig(t), m.Options)
	if _, err := api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(table), Item: map[string]types.AttributeValue{"PK": s("p"), "SK": s("m#1"), "vis": s("0001")},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(table), Key: map[string]types.AttributeValue{"PK": s("p"), "SK": s("m#missing")},
	}); err != nil {
		t.Fatal(err)
	}
	put, del := m.Snapshot()["PutItem"], m.Snapshot()["DeleteItem"]
	want := OpStats{Op: "DeleteItem", Requests: 1, Attempts: 1, Items: 1, WCU: 1}
	if testenv.Server(t) == testenv.ServerDynalite {
		want.IndexWCU, want.EstIndexWCU = 1, 1
	}
	if put.IndexWCU != 1 || del != want {
		t.Errorf("%s: put index units %v; delete of a missing key:\n got %+v\nwant %+v", testenv.Server(t), put.IndexWCU, del, want)
	}
}

// TestWithIndexCapacity: the meter asks for INDEXES on a copy of the input, so the caller's
// input is unchanged, and leaves alone inputs without the field.
func TestWithIndexCapacity(t *testing.T) {
	in := &dynamodb.GetItemInput{TableName: aws.String("t"), ReturnConsumedCapacity: types.ReturnConsumedCapacityTotal}
	out, ok := withIndexCapacity(in).(*dynamodb.GetItemInput)
	if !ok || out == in || out.ReturnConsumedCapacity != types.ReturnConsumedCapacityIndexes || aws.ToString(out.TableName) != "t" {
		t.Errorf("GetItem: got %+v, want a copy asking for INDEXES", out)
	}
	if in.ReturnConsumedCapacity != types.ReturnConsumedCapacityTotal {
		t.Errorf("the caller's input was changed to %q", in.ReturnConsumedCapacity)
	}
	asked := &dynamodb.QueryInput{ReturnConsumedCapacity: types.ReturnConsumedCapacityIndexes}
	if withIndexCapacity(asked) != any(asked) {
		t.Error("an input that already asks for INDEXES was copied")
	}
	describe := &dynamodb.DescribeTableInput{TableName: aws.String("t")}
	if withIndexCapacity(describe) != any(describe) {
		t.Error("an input without ReturnConsumedCapacity was copied")
	}
}
