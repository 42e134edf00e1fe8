package sqsserver

import (
	"log/slog"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// Tests of the state servers share through the table: purge marks, move tasks and redrive
// allow policies, each seen by a second Server on the same table.

// newEndpointWith is newEndpoint with the caller's options (Client, Auth and Logger filled in).
func newEndpointWith(t testing.TB, c *dynamodbqueue.Client, opts Options) *endpoint {
	t.Helper()
	opts.Client, opts.Auth, opts.Logger = c, keys, slog.New(slog.DiscardHandler)
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return &endpoint{srv: srv, url: hs.URL}
}

// testClock is a clock that tests move forward: real time plus an offset.
type testClock struct{ offset atomic.Int64 }

func (c *testClock) Now() time.Time           { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *testClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// TestPurgeQueueInProgress: a second PurgeQueue within 60 seconds is refused with
// PurgeQueueInProgress by another server on the table, and deletes nothing; after the window
// it purges. Each client of a queue name has its own window.
func TestPurgeQueueInProgress(t *testing.T) {
	c := newTable(t)
	var clk testClock
	e1 := newEndpointWith(t, c, Options{Now: clk.Now})
	e2 := newEndpointWith(t, c, Options{Now: clk.Now})
	for _, proto := range protocols {
		t.Run(proto, func(t *testing.T) {
			name := "purged-" + proto
			qurl := e1.call(t, proto, "key-a", "CreateQueue", map[string]any{"QueueName": name}).ok(t, "CreateQueue").value("QueueUrl", "QueueUrl")
			q := map[string]any{"QueueUrl": qurl}
			send := func(e *endpoint) {
				e.call(t, proto, "key-a", "SendMessage", map[string]any{"QueueUrl": qurl, "MessageBody": "m"}).ok(t, "SendMessage")
			}
			count := func() string {
				return e1.call(t, proto, "key-a", "GetQueueAttributes", map[string]any{"QueueUrl": qurl,
					"AttributeNames": []string{"ApproximateNumberOfMessages"}}).ok(t, "GetQueueAttributes").value("ApproximateNumberOfMessages", "Value")
			}
			send(e1)
			e1.call(t, proto, "key-a", "PurgeQueue", q).ok(t, "first PurgeQueue")
			if n := count(); n != "0" {
				t.Fatalf("after the first purge: %s messages, want 0", n)
			}
			send(e2)
			clk.Advance(59 * time.Second)
			r := e2.call(t, proto, "key-a", "PurgeQueue", q)
			r.wantCode(t, "PurgeQueue within 60 s, other server", CodePurgeQueueInProgress)
			if proto == "json" && r.header.Get("x-amzn-query-error") != CodePurgeQueueInProgress+";Sender" {
				t.Errorf("x-amzn-query-error = %q", r.header.Get("x-amzn-query-error"))
			}
			if n := count(); n != "1" {
				t.Fatalf("a refused purge deleted messages: %s left, want 1", n)
			}
			// Another client of the name has its own window.
			burl := e1.call(t, proto, "key-b", "CreateQueue", map[string]any{"QueueName": name}).ok(t, "CreateQueue b").value("QueueUrl", "QueueUrl")
			e2.call(t, proto, "key-b", "PurgeQueue", map[string]any{"QueueUrl": burl}).ok(t, "PurgeQueue of another client")

			clk.Advance(2 * time.Second)
			e2.call(t, proto, "key-a", "PurgeQueue", q).ok(t, "PurgeQueue after 61 s")
			if n := count(); n != "0" {
				t.Fatalf("after the purge past the window: %s messages, want 0", n)
			}
			e1.call(t, proto, "key-a", "PurgeQueue", q).wantCode(t, "PurgeQueue right after", CodePurgeQueueInProgress)
		})
	}
}
