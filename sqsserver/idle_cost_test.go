package sqsserver

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
)

// readyQueryCounter is the test endpoint's DynamoDB client, counting the Queries of the ready
// index ("vis") that read a pair's partitions: a receive's pass, or an idle probe. The
// watcher's reads of activity hints (partitions "@act|...") are not counted.
type readyQueryCounter struct {
	dynamodbqueue.API
	n atomic.Int64
}

func (c *readyQueryCounter) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	pk, _ := in.ExpressionAttributeValues[":pk"].(*types.AttributeValueMemberS)
	if in.IndexName != nil && *in.IndexName == "vis" && pk != nil && !strings.HasPrefix(pk.Value, "@") {
		c.n.Add(1)
	}
	return c.API.Query(ctx, in, o...)
}

// TestIdleLongPollsCostNoQueries: N tenants each long-poll their own queue through one server.
// After the first round (each pair's first poll looks, and marks the pair checked empty before
// it waits), rounds of new ReceiveMessage calls send no ready-index Query at all; a message
// sent afterwards still reaches its tenant's long poll. The fallback budget is too small to
// spend in the test.
func TestIdleLongPollsCostNoQueries(t *testing.T) {
	const n = 20
	api := &readyQueryCounter{API: testenv.Client(t)}
	c := newTableWith(t, dynamodbqueue.Options{API: api, WatchFallbackRate: 0.001})
	tenants := testKeys{}
	for i := range n {
		id := fmt.Sprintf("tenant-%02d", i)
		tenants["key-"+id] = Principal{AccessKeyID: "key-" + id, ClientIDs: []string{id}}
	}
	srv, err := New(Options{Client: c, Auth: tenants, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	e := &endpoint{srv: srv, url: hs.URL}

	for _, proto := range protocols {
		urls := map[string]string{}
		for key := range tenants {
			urls[key] = e.call(t, proto, key, "CreateQueue", map[string]any{"QueueName": "idle-" + proto}).ok(t, "CreateQueue").value("QueueUrl", "QueueUrl")
		}
		round := func() int64 {
			before := api.n.Load()
			var wg sync.WaitGroup
			var mu sync.Mutex
			got := map[string]resp{}
			for key, u := range urls {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := e.call(t, proto, key, "ReceiveMessage", map[string]any{"QueueUrl": u, "WaitTimeSeconds": 1})
					mu.Lock()
					got[key] = r
					mu.Unlock()
				}()
			}
			wg.Wait()
			for key, r := range got {
				if m := r.ok(t, "ReceiveMessage").values("ReceiptHandle", "ReceiptHandle"); len(m) != 0 {
					t.Fatalf("%s: idle tenant %s received %d messages", proto, key, len(m))
				}
			}
			return api.n.Load() - before
		}
		if got := round(); got == 0 {
			t.Fatalf("%s: the first round of %d long polls sent no ready-index query", proto, n)
		}
		// A poll whose first pass outlasted its wait (a slow first request) marked nothing:
		// its pair's next round looks once more.
		settled := false
		for range 5 {
			if round() == 0 {
				settled = true
				break
			}
		}
		if !settled {
			t.Fatalf("%s: 5 more rounds of idle long polls each sent ready-index queries", proto)
		}
		if got := round(); got != 0 {
			t.Fatalf("%s: the second round of %d idle long polls sent %d ready-index queries; want 0", proto, n, got)
		}
		key := "key-tenant-00"
		done := make(chan resp, 1)
		go func() {
			done <- e.call(t, proto, key, "ReceiveMessage", map[string]any{"QueueUrl": urls[key], "WaitTimeSeconds": 20})
		}()
		// Sent while that poll waits, or before it starts: either way it must be returned.
		e.call(t, proto, key, "SendMessage", map[string]any{"QueueUrl": urls[key], "MessageBody": "wake"}).ok(t, "SendMessage")
		if r := (<-done).ok(t, "ReceiveMessage"); !strings.Contains(r.body, "wake") {
			t.Fatalf("%s: the marked tenant's long poll returned %s", proto, r.body)
		}
	}
}
