package bench

import (
	"bytes"
	"context"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func TestItemSize(t *testing.T) {
	item := map[string]types.AttributeValue{
		"PK": s("abc"),                                              // 2 + 3
		"b":  &types.AttributeValueMemberB{Value: make([]byte, 10)}, // 1 + 10
		"n":  &types.AttributeValueMemberN{Value: "12345"},          // 1 + 4
		"ok": &types.AttributeValueMemberBOOL{Value: true},          // 2 + 1
	}
	if got := ItemSize(item); got != 5+11+5+3 {
		t.Fatalf("ItemSize = %d, want 24", got)
	}
	// Sign, point and leading zeros are not digits: "-0.0120" sizes as "120" (2 + 1 bytes).
	for v, want := range map[string]int{"-0.0120": 3, "0": 1, "1000000": 5, "": 1} {
		if got := valueSize(&types.AttributeValueMemberN{Value: v}); got != want {
			t.Fatalf("valueSize(N %q) = %d, want %d", v, got, want)
		}
	}
	if writeUnits(0) != 1 || writeUnits(1024) != 1 || writeUnits(1025) != 2 {
		t.Fatal("writeUnits rounding")
	}
}

func TestUpdateIndexUnits(t *testing.T) {
	m := NewMeter(QueueIndex)
	upd := func(sk, expr string, names map[string]string) float64 {
		return m.updateIndexUnits(&dynamodb.UpdateItemInput{
			Key:                      map[string]types.AttributeValue{"PK": s("p"), "SK": s(sk)},
			UpdateExpression:         aws.String(expr),
			ExpressionAttributeNames: names,
		}, 1)
	}
	for _, tc := range []struct {
		sk, expr string
		names    map[string]string
		want     float64
	}{
		{"m#1", "SET vis = :vis, tok = :tok, rc = if_not_exists(rc, :zero) + :one", nil, 2}, // claim: key changes
		{"m#1", "SET tok = :tok", nil, 1},                                // projected attribute only
		{"G#g", "SET vis = if_not_exists(vis, :vis), lp = :lp", nil, 1},  // key kept
		{"m#1", "SET #v = :vis", map[string]string{"#v": "vis"}, 2},      // through a name alias
		{"g#x#1", "SET tok = :tok, rc = :one", nil, 0},                   // grouped message: not indexed
		{"d#h", "SET #st = :done", map[string]string{"#st": "state"}, 0}, // dedup record
	} {
		if got := upd(tc.sk, tc.expr, tc.names); got != tc.want {
			t.Errorf("%s %q: index units %v, want %v", tc.sk, tc.expr, got, tc.want)
		}
	}
	if NewMeter(nil).updateIndexUnits(&dynamodb.UpdateItemInput{Key: map[string]types.AttributeValue{"SK": s("m#1")}, UpdateExpression: aws.String("SET vis = :v")}, 1) != 0 {
		t.Error("meter without index counted index units")
	}
}

// TestMeterCountsCapacity sends each kind of request through a metered client, on a table with
// the queue's "vis" index, and checks the counts and the capacity: the same figures on every
// server, the index units reported where the server reports them (DynamoDB Local) and computed
// where it does not (dynalite).
func TestMeterCountsCapacity(t *testing.T) {
	ctx, table := indexedTable(t)
	m := NewMeter(QueueIndex)
	api := dynamodb.NewFromConfig(testenv.AWSConfig(t), m.Options)
	computed := testenv.Server(t) == testenv.ServerDynalite // dynalite reports no index writes

	item := func(sk string, withVis bool) map[string]types.AttributeValue {
		it := map[string]types.AttributeValue{"PK": s("p"), "SK": s(sk), "body": s("hello")}
		if withVis {
			it["vis"] = s("0001")
		}
		return it
	}
	// BatchWriteItem: 3 puts, 2 with vis: 3 WCU, 2 index units.
	if _, err := api.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: {
		{PutRequest: &types.PutRequest{Item: item("m#1", true)}},
		{PutRequest: &types.PutRequest{Item: item("m#2", true)}},
		{PutRequest: &types.PutRequest{Item: item("c#0", false)}},
	}}}); err != nil {
		t.Fatal(err)
	}
	// A claim that wins (index key changes: 2 units) and one that loses its condition.
	claim := func() error {
		_, err := api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(table),
			Key:                       map[string]types.AttributeValue{"PK": s("p"), "SK": s("m#1")},
			ConditionExpression:       aws.String("vis = :old"),
			UpdateExpression:          aws.String("SET vis = :vis, tok = :tok"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":old": s("0001"), ":vis": s("0002"), ":tok": s("t")},
		})
		return err
	}
	if err := claim(); err != nil {
		t.Fatal(err)
	}
	var ccf *types.ConditionalCheckFailedException
	if err := claim(); !errors.As(err, &ccf) {
		t.Fatalf("second claim: %v, want a failed condition", err)
	}
	// Query: both items with PK p, eventually consistent.
	out, err := api.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(table),
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s("p")},
	})
	if err != nil || len(out.Items) != 3 {
		t.Fatalf("Query: %d items, %v", len(out.Items), err)
	}
	// Delete with ALL_OLD: the item had vis, so 1 index unit.
	del, err := api.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(table), Key: map[string]types.AttributeValue{"PK": s("p"), "SK": s("m#1")},
		ReturnValues: types.ReturnValueAllOld,
	})
	if err != nil {
		t.Fatal(err)
	}
	// ReadBytes: the items the query returned and the old item the delete returned.
	queried := 0
	for _, it := range out.Items {
		queried += ItemSize(it)
	}
	// A strongly consistent read of a missing item: both servers report 1 RCU, as AWS charges.
	if _, err := api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(table), Key: map[string]types.AttributeValue{"PK": s("p"), "SK": s("none")}, ConsistentRead: aws.Bool(true),
	}); err != nil {
		t.Fatal(err)
	}

	u := m.Snapshot()
	check := func(op string, want OpStats) {
		t.Helper()
		got := u[op]
		want.Op = op
		if computed {
			want.EstIndexWCU = want.IndexWCU
		}
		if got != want {
			t.Errorf("%s:\n got %+v\nwant %+v", op, got, want)
		}
	}
	check("BatchWriteItem", OpStats{Requests: 1, Attempts: 1, Items: 3, WCU: 3, IndexWCU: 2})
	check("UpdateItem", OpStats{Requests: 2, Attempts: 2, ConditionFailed: 1, Items: 1, WCU: 1, IndexWCU: 2, EstWCU: 1})
	check("Query", OpStats{Requests: 1, Attempts: 1, Items: 3, RCU: 0.5, ReadBytes: int64(queried)})
	check("DeleteItem", OpStats{Requests: 1, Attempts: 1, Items: 1, WCU: 1, IndexWCU: 1, ReadBytes: int64(ItemSize(del.Attributes))})
	check("GetItem", OpStats{Requests: 1, Attempts: 1, RCU: 1})
	tot := u.Total()
	if tot.Requests != 6 || tot.TotalWCU() != 3+2+1+2+1+1+1 || tot.TotalRCU() != 1.5 {
		t.Errorf("total %+v: WCU %v RCU %v", tot, tot.TotalWCU(), tot.TotalRCU())
	}
	if tot.IndexEstimated() != computed {
		t.Errorf("index units estimated = %v on %s, want %v", tot.IndexEstimated(), testenv.Server(t), computed)
	}
	// Sub: the difference of two snapshots holds only what happened in between.
	before := m.Snapshot()
	if _, err := api.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}); err != nil {
		t.Fatal(err)
	}
	diff := m.Snapshot().Sub(before)
	if len(diff) != 1 || diff["DescribeTable"].Requests != 1 {
		t.Errorf("Sub = %+v, want one DescribeTable", diff)
	}
}

// TestRunSmoke runs every workload with a handful of messages against the test endpoint.
func TestRunSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg := Config{
		Endpoint:        testenv.Endpoint(t),
		Table:           testenv.TableName(t),
		Producers:       2,
		Consumers:       2,
		Messages:        40,
		Rounds:          1,
		InFlight:        []int{0, 30},
		Polls:           3,
		LatencyMessages: 3,
		LatencyGap:      5 * time.Millisecond,
		Tenants:         3,
		BodySizes:       []int{256, 4096},
		SizeMessages:    3,
		Progress:        &bytes.Buffer{},
		Timeout:         time.Minute,
	}
	var out bytes.Buffer
	rep, err := Run(ctx, cfg, &out)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	names := map[string]int{}
	for _, r := range rep.Results {
		names[r.Workload]++
		if r.Lost != 0 || r.Duplicates != 0 {
			t.Errorf("%s: lost %d, duplicates %d", r.Name, r.Lost, r.Duplicates)
		}
		if r.Total.Requests == 0 {
			t.Errorf("%s: no requests counted", r.Name)
		}
	}
	want := map[string]int{WorkloadFloor: 1, WorkloadThroughput: 1, WorkloadHeadOfLine: 2, WorkloadLatency: 2, WorkloadTenants: 1, WorkloadSizes: 2}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("results per workload = %v, want %v", names, want)
	}
	if len(rep.Targets) == 0 || !strings.Contains(out.String(), "TARGETS") {
		t.Errorf("no targets in the report:\n%s", out.String())
	}
	if want := wantIndexCapacity(t); rep.IndexCapacity != want {
		t.Errorf("index capacity %q on %s, want %q", rep.IndexCapacity, testenv.Server(t), want)
	}
	// The life cycle of a 256-byte message with batches: 0.1 push + 0.1 query + 1 claim + 1 delete
	// per message when nothing competes; the 3 messages of one batch give 1/3 + 1/3 + 2.
	for _, r := range rep.Results {
		if r.Workload == WorkloadSizes && r.BodySize == 256 {
			if got := r.Op("UpdateItem").Requests; got != 3 {
				t.Errorf("life cycle: %d claims for 3 messages", got)
			}
			if got := r.Figures["claim_wcu_per_msg"]; got != 3 {
				t.Errorf("claim WCU per message %v, want 3 (1 table + 2 index)", got)
			}
		}
	}
}

// TestFloorWithIndex runs only the floor, on a table with the queue's index: the meter must
// then count the index units of the put, the key-changing claim and the delete (1 + 2 + 1),
// once: reported by DynamoDB Local, computed on dynalite.
func TestFloorWithIndex(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := Run(ctx, Config{
		Endpoint: testenv.Endpoint(t), Table: testenv.TableName(t), Workloads: []string{WorkloadFloor},
		FloorIndex: true, Messages: 20, Rounds: 1, Producers: 1, Consumers: 2, Progress: io.Discard,
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 1 || rep.Results[0].Workload != WorkloadFloor {
		t.Fatalf("results: %+v", rep.Results)
	}
	r := rep.Results[0]
	if r.Lost != 0 || r.Per(r.Total.IndexWCU) != 4 || r.Per(r.Total.WCU) != 3 {
		t.Fatalf("floor with index: lost %d, index WCU/msg %v, table WCU/msg %v", r.Lost, r.Per(r.Total.IndexWCU), r.Per(r.Total.WCU))
	}
	if want := wantIndexCapacity(t); rep.IndexCapacity != want {
		t.Errorf("index capacity %q on %s, want %q (estimated index WCU/msg %v)", rep.IndexCapacity, testenv.Server(t), want, r.Per(r.Total.EstIndexWCU))
	}
}

// wantIndexCapacity is where a bench run's index write units come from on the test server:
// computed on dynalite, which reports none, and reported by DynamoDB Local.
func wantIndexCapacity(t *testing.T) string {
	if testenv.Server(t) == testenv.ServerDynalite {
		return IndexEstimated
	}
	return IndexReported
}
