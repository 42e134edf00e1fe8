package dynamodbqueue_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
	"github.com/dynamodbqueue/dynamodbqueue/internal/wait"
)

// defReadAPI counts the reads of definition partitions ("@def|..."): queries and batch gets.
type defReadAPI struct {
	*dynamodb.Client
	reads atomic.Int64
}

func (a *defReadAPI) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	if v, ok := in.ExpressionAttributeValues[":pk"]; ok && strings.HasPrefix(attrString(v), "@def|") {
		a.reads.Add(1)
	}
	return a.Client.Query(ctx, in, o...)
}

func (a *defReadAPI) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	for _, ka := range in.RequestItems {
		if len(ka.Keys) > 0 && strings.HasPrefix(attrString(ka.Keys[0]["PK"]), "@def|") {
			a.reads.Add(1)
		}
	}
	return a.Client.BatchGetItem(ctx, in, o...)
}

// TestDefinitionCacheReadsAQueueOncePerPeriod: 200 clients of one queue served by one process
// cost a bounded number of definition reads per staleness period (the queue's partition is
// read whole), not one per client, and each client still gets its own override.
func TestDefinitionCacheReadsAQueueOncePerPeriod(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	const n, staleness = 200, 300 * time.Millisecond
	api := &defReadAPI{Client: testenv.Client(t)}
	c, _ := newDefClient(t, api, staleness)
	if _, err := c.CreateQueue(ctx, "shared", dynamodbqueue.QueueAttributes{VisibilityTimeout: 40 * time.Second}); err != nil {
		t.Fatal(err)
	}
	override := func(i int) time.Duration { return time.Duration(i+1) * time.Second }
	for i := 0; i < n; i += 50 {
		if err := c.SetClientOverride(ctx, "shared", fmt.Sprint("c", i), &dynamodbqueue.ClientOverride{VisibilityTimeout: override(i)}); err != nil {
			t.Fatal(err)
		}
	}
	qs := make([]*dynamodbqueue.DynamoDBQueue, n)
	for i := range qs {
		qs[i] = mustQueue(t, c, "shared", fmt.Sprint("c", i))
	}
	for round := 0; round < 3; round++ {
		// Let every cached read lapse, so each round starts with a miss.
		if err := wait.Sleep(ctx, staleness); err != nil {
			t.Fatal(err)
		}
		api.reads.Store(0)
		for i, q := range qs {
			def, ovr, err := q.Definition(ctx)
			if err != nil || def == nil || def.VisibilityTimeout != 40*time.Second {
				t.Fatalf("round %d, client %d: definition %+v, %v", round, i, def, err)
			}
			if want := i%50 == 0; (ovr != nil) != want || (want && ovr.VisibilityTimeout != override(i)) {
				t.Fatalf("round %d, client %d: override %+v, want one: %v", round, i, ovr, want)
			}
		}
		// One read per period; a few when the machine stalls for a period mid-round.
		if got := api.reads.Load(); got > 5 {
			t.Fatalf("round %d: %d definition reads for %d clients of one queue; want one per staleness period", round, got, n)
		}
	}
	// A change made by another process reaches the clients within the bound.
	other, err := dynamodbqueue.New(dynamodbqueue.Options{API: testenv.Client(t), Table: c.Table()})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.SetClientOverride(ctx, "shared", "c1", &dynamodbqueue.ClientOverride{VisibilityTimeout: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if err := other.SetClientOverride(ctx, "shared", "c0", nil); err != nil {
		t.Fatal(err)
	}
	if err := wait.Sleep(ctx, staleness); err != nil {
		t.Fatal(err)
	}
	if _, ovr, err := qs[1].Definition(ctx); err != nil || ovr == nil || ovr.VisibilityTimeout != time.Minute {
		t.Fatalf("client c1 after another process set its override: %+v, %v", ovr, err)
	}
	if _, ovr, err := qs[0].Definition(ctx); err != nil || ovr != nil {
		t.Fatalf("client c0 after another process removed its override: %+v, %v", ovr, err)
	}
}

// TestLongPollsOfManyClientsShareDefinitionReads: 200 clients of one queue in one process each
// start a long poll, in rounds after their cached definitions lapsed; the definition reads per
// round stay bounded (one per staleness period, not one per poll started), and a message pushed
// by another process to one of the pairs during a round is received by that pair's poll and by
// no other.
func TestLongPollsOfManyClientsShareDefinitionReads(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	const n, staleness = 200, 300 * time.Millisecond
	api := &defReadAPI{Client: testenv.Client(t)}
	c, table := newDefClient(t, api, staleness)
	if _, err := c.CreateQueue(ctx, "polls", dynamodbqueue.QueueAttributes{}); err != nil {
		t.Fatal(err)
	}
	other, err := dynamodbqueue.New(dynamodbqueue.Options{API: testenv.Client(t), Table: table})
	if err != nil {
		t.Fatal(err)
	}
	qs := make([]*dynamodbqueue.DynamoDBQueue, n)
	for i := range qs {
		qs[i] = mustQueue(t, c, "polls", fmt.Sprint("c", i))
	}
	const target = 7
	for round := 0; round < 2; round++ {
		if err := wait.Sleep(ctx, staleness); err != nil {
			t.Fatal(err)
		}
		api.reads.Store(0)
		got := make([][]events.SQSMessage, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i, q := range qs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// The target waits long enough for any wake-up to reach it on a loaded machine
				// (it returns as soon as it has the message); the others wait a little.
				w := time.Second
				if i == target {
					w = 30 * time.Second
				}
				got[i], errs[i] = q.ReceiveMessages(ctx, dynamodbqueue.ReceiveOptions{WaitTime: w})
			}()
		}
		body := fmt.Sprint("round-", round)
		push(t, mustQueue(t, other, "polls", fmt.Sprint("c", target)), events.SQSMessage{Body: body})
		wg.Wait()
		for i := range qs {
			want := 0
			if i == target {
				want = 1
			}
			if errs[i] != nil || len(got[i]) != want || (want == 1 && got[i][0].Body != body) {
				t.Fatalf("round %d, client %d: received %v, %v; want %d message(s)", round, i, bodyList(got[i]), errs[i], want)
			}
		}
		if reads := api.reads.Load(); reads > 5 {
			t.Fatalf("round %d: %d definition reads for %d long polls of one queue; want one per staleness period", round, reads, n)
		}
	}
}

// TestDefinitionCacheWithoutQueryGrant: a principal refused the Query of a definition
// partition (as IAMPolicy's grant is: item reads only) still gets each client's own override,
// read per pair, and does not ask again within the staleness period.
func TestDefinitionCacheWithoutQueryGrant(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	api := newHookAPI(t)
	var denied atomic.Int64
	api.set(func(op string, in any) error {
		if qi, ok := in.(*dynamodb.QueryInput); ok && op == "Query" && strings.HasPrefix(attrString(qi.ExpressionAttributeValues[":pk"]), "@def|") {
			denied.Add(1)
			return &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "test: no Query grant for @def"}
		}
		return nil
	})
	c, _ := newDefClient(t, api, time.Hour)
	if _, err := c.CreateQueue(ctx, "granted", dynamodbqueue.QueueAttributes{}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := c.SetClientOverride(ctx, "granted", fmt.Sprint("c", i), &dynamodbqueue.ClientOverride{Delay: time.Duration(i+1) * time.Second}); err != nil {
			t.Fatal(err)
		}
	}
	for round := range 2 {
		for i := range 3 {
			_, ovr, err := mustQueue(t, c, "granted", fmt.Sprint("c", i)).Definition(ctx)
			if err != nil || ovr == nil || ovr.Delay != time.Duration(i+1)*time.Second {
				t.Fatalf("round %d, client c%d: override %+v, %v", round, i, ovr, err)
			}
		}
	}
	if n := denied.Load(); n != 1 {
		t.Fatalf("%d definition queries refused; want one, then per-pair reads for the period", n)
	}
}
