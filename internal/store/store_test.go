package store

import (
	"bytes"
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamodbqueue/dynamodbqueue/internal/keys"
	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
)

// TestChunkPutsAssembleRoundTrip: a large event split by ChunkPuts comes back whole from its
// chunk items, and DeleteRequests names the item and every chunk.
func TestChunkPutsAssembleRoundTrip(t *testing.T) {
	event := bytes.Repeat([]byte("0123456789"), (2*ChunkSize+5)/10+1)
	puts := ChunkPuts("q|c|0", "m#1", event, 99)
	if len(puts) != 3 {
		t.Fatalf("%d bytes in %d chunks, want 3", len(event), len(puts))
	}
	found := map[string]map[string]types.AttributeValue{}
	for _, p := range puts {
		found[ReqKey(p)] = p.PutRequest.Item
	}
	r := Record{PK: "q|c|0", SK: "m#1", Chunks: len(puts)}
	got, err := Assemble(r, found)
	if err != nil || !bytes.Equal(got, event) {
		t.Fatalf("Assemble: %d bytes, %v; want the %d bytes split", len(got), err, len(event))
	}
	delete(found, ReqKey(puts[1]))
	if _, err := Assemble(r, found); err == nil {
		t.Fatal("Assemble with a chunk missing succeeded")
	}
	if n := len(DeleteRequests(r)); n != 4 {
		t.Fatalf("DeleteRequests: %d requests, want the item and 3 chunks", n)
	}
}

// TestParallelBoundsConcurrency: Parallel runs every index once, never more than limit at once.
func TestParallelBoundsConcurrency(t *testing.T) {
	var running, most, calls atomic.Int32
	Parallel(50, 4, func(int) {
		calls.Add(1)
		n := running.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		runtime.Gosched() // let other calls start while this one runs
		running.Add(-1)
	})
	if calls.Load() != 50 || most.Load() > 4 {
		t.Fatalf("%d calls, at most %d at once; want 50, at most 4", calls.Load(), most.Load())
	}
}

// TestParallelRunsEachIndexOnceOnReusedWorkers: every index runs exactly once, limit calls do
// run at once (each waits for the others), and a second Parallel reuses the idle workers of the
// first rather than starting goroutines whose stacks grow again.
func TestParallelRunsEachIndexOnceOnReusedWorkers(t *testing.T) {
	const n, limit = 12, 4
	run := func() {
		var seen [n]atomic.Int32
		var arrived atomic.Int32
		all := make(chan struct{})
		Parallel(n, limit, func(i int) {
			seen[i].Add(1)
			if arrived.Add(1) == limit {
				close(all)
			}
			select { // the first limit calls meet here: they run at once
			case <-all:
			case <-time.After(10 * time.Second): // bounded: a serialised Parallel fails below
			}
		})
		for i := range seen {
			if c := seen[i].Load(); c != 1 {
				t.Fatalf("index %d ran %d times, want once", i, c)
			}
		}
		select {
		case <-all:
		default:
			t.Fatalf("fewer than %d calls ran at once", limit)
		}
	}
	run()
	// The first run's workers report done just before they wait for the next task: let them
	// get there (bounded; they exit only after workerIdle).
	for deadline := time.Now().Add(time.Second); workersIdle.Load() < limit-1 && time.Now().Before(deadline); {
		runtime.Gosched()
	}
	before := workersStarted.Load()
	run() // its limit-1 workers are idle and take the tasks
	if started := workersStarted.Load() - before; started != 0 {
		t.Fatalf("second Parallel started %d workers, want the first one's reused", started)
	}
}

// TestReadyPageAndTokenWrites on a real server: the ready index yields only items visible now
// (keys-only when asked), a claim wins once and returns the old item, and token-checked writes
// apply only with the current token.
func TestReadyPageAndTokenWrites(t *testing.T) {
	ctx := context.Background()
	api := testenv.Client(t)
	table := testenv.TableName(t)
	_, err := api.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   aws.String(table),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(AttrPK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(AttrSK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(AttrVis), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(AttrPK), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(AttrSK), KeyType: types.KeyTypeRange},
		},
		LocalSecondaryIndexes: []types.LocalSecondaryIndex{{
			IndexName: aws.String(VisIndex),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(AttrPK), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(AttrVis), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = api.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	})
	s := Store{API: api, Table: table}
	now := time.Now()
	pk := "q|c|0"
	seqs := keys.NewSequencer(nil)
	seq1 := seqs.Next()
	visible, later := keys.Vis(now.Add(-time.Second), seq1), keys.Vis(now.Add(time.Hour), seqs.Next())
	for sk, vis := range map[string]string{"m#1": visible, "m#2": later} {
		item := Key(pk, sk)
		item[AttrVis], item[AttrEvent] = S(vis), B([]byte("stored message"))
		if _, err := s.BatchWrite(ctx, []types.WriteRequest{PutReq(item)}); err != nil {
			t.Fatal(err)
		}
	}
	recs, next, err := s.ReadyPage(ctx, Ready{PK: pk, Now: now, Forward: true, KeysOnly: true})
	if err != nil || next != nil || len(recs) != 1 || recs[0].SK != "m#1" || recs[0].Event != nil {
		t.Fatalf("ReadyPage = %+v, next %v, %v; want m#1 alone, without its event", recs, next, err)
	}
	claim := func(tok string) (bool, map[string]types.AttributeValue, error) {
		return s.ClaimItem(ctx, pk, "m#1", tok, "vis = :old", ClaimMessage,
			CounterValues(now, map[string]types.AttributeValue{":old": S(visible), ":vis": S(keys.Vis(now.Add(time.Minute), seq1))}))
	}
	tok := "t1"
	won, old, err := claim(tok)
	if err != nil || !won || string(DecodeRecord(old).Event) != "stored message" {
		t.Fatalf("first claim: won %v, old %v, %v", won, old, err)
	}
	if won, _, err := claim("t2"); err != nil || won {
		t.Fatalf("second claim of the same vis: won %v, %v; want a lost race", won, err)
	}
	if err := s.UpdateIfToken(ctx, "op", pk, "m#1", "t2", "", "SET vis = :vis", map[string]types.AttributeValue{":vis": S(visible)}); !IsConditionFailed(err) {
		t.Fatalf("update with a foreign token: %v, want a failed condition", err)
	}
	if _, err := s.DeleteIfToken(ctx, pk, "m#1", "t2", false); !IsConditionFailed(err) {
		t.Fatalf("delete with a foreign token: %v, want a failed condition", err)
	}
	if old, err := s.DeleteIfToken(ctx, pk, "m#1", tok, false); err != nil || old != nil {
		t.Fatalf("delete with the claim's token: %v, %v; want deleted, nothing read back", old, err)
	}
	if item, err := s.GetItem(ctx, Key(pk, "m#1")); err != nil || item != nil {
		t.Fatalf("after the delete: %v, %v", item, err)
	}
}
