package dynamodbqueue_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
	"github.com/dynamodbqueue/dynamodbqueue/internal/wait"
)

// newDefClient returns a Client on a fresh table (dropped afterwards) with the given definition
// staleness bound.
func newDefClient(t *testing.T, api dynamodbqueue.API, staleness time.Duration) (*dynamodbqueue.Client, string) {
	t.Helper()
	_, table := newTable(t)
	if api == nil {
		api = testenv.Client(t)
	}
	c, err := dynamodbqueue.New(dynamodbqueue.Options{API: api, Table: table, Logger: slog.New(slog.DiscardHandler), DefinitionStaleness: staleness})
	if err != nil {
		t.Fatal(err)
	}
	return c, table
}

func mustQueue(t *testing.T, c *dynamodbqueue.Client, queue, client string) *dynamodbqueue.DynamoDBQueue {
	t.Helper()
	q, err := c.Queue(queue, client)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// TestCreateQueueIsIdempotentAndNamesDifferences: creating a queue twice with the same
// attributes returns the stored definition; with other attributes it fails with a
// *QueueAttributesMismatchError naming each difference, and the stored definition is unchanged.
func TestCreateQueueIsIdempotentAndNamesDifferences(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c, _ := newDefClient(t, nil, 0)
	attrs := dynamodbqueue.QueueAttributes{VisibilityTimeout: time.Minute, Shards: 3, Tags: map[string]string{"team": "billing"},
		RedrivePolicy: &dynamodbqueue.RedrivePolicy{DeadLetterQueue: "orders-dlq", MaxReceiveCount: 4}}
	first, err := c.CreateQueue(ctx, "orders", attrs)
	if err != nil {
		t.Fatal(err)
	}
	if first.Version != 1 || first.MaxShards != 3 || first.Retention != dynamodbqueue.DefaultTTL || first.Created.IsZero() || !first.Created.Equal(first.Modified) {
		t.Fatalf("created %+v: want version 1, MaxShards 3, default retention, created = modified", first)
	}
	again, err := c.CreateQueue(ctx, "orders", attrs)
	if err != nil || again.Version != 1 || !again.Created.Equal(first.Created) {
		t.Fatalf("second CreateQueue with the same attributes = %+v, %v; want the stored definition", again, err)
	}
	other := attrs
	other.VisibilityTimeout, other.Shards = 2*time.Minute, 3
	other.Tags = map[string]string{"team": "sales"}
	_, err = c.CreateQueue(ctx, "orders", other)
	var mm *dynamodbqueue.QueueAttributesMismatchError
	if !errors.Is(err, dynamodbqueue.ErrQueueAttributesMismatch) || !errors.As(err, &mm) || len(mm.Fields) != 2 ||
		!strings.Contains(err.Error(), "VisibilityTimeout: stored 1m0s, requested 2m0s") || !strings.Contains(err.Error(), "Tags") {
		t.Fatalf("CreateQueue with other attributes = %v; want a mismatch naming VisibilityTimeout and Tags", err)
	}
	got, err := c.GetQueue(ctx, "orders")
	if err != nil || got.VisibilityTimeout != time.Minute || got.Version != 1 || got.Tags["team"] != "billing" {
		t.Fatalf("GetQueue after the refused create = %+v, %v; want it unchanged", got, err)
	}
	if _, err := c.GetQueue(ctx, "nothing"); !errors.Is(err, dynamodbqueue.ErrQueueDoesNotExist) {
		t.Fatalf("GetQueue of an undefined queue = %v, want ErrQueueDoesNotExist", err)
	}
}

// TestCreateQueueRejectsBadAttributes: every invalid attribute fails with the sentinel that
// names it, and nothing is written.
func TestCreateQueueRejectsBadAttributes(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c, table := newDefClient(t, nil, 0)
	for name, a := range map[string]dynamodbqueue.QueueAttributes{
		"VisibilityTimeout": {VisibilityTimeout: 13 * time.Hour},
		"Delay":             {Delay: -time.Second},
		"Retention":         {Retention: time.Millisecond},
		"ReceiveWaitTime":   {ReceiveWaitTime: 2 * time.Hour},
		"MaxMessageSize":    {MaxMessageSize: -1},
		"Shards":            {Shards: dynamodbqueue.MaxShards + 1},
		"MaxReceiveCount":   {RedrivePolicy: &dynamodbqueue.RedrivePolicy{DeadLetterQueue: "dlq", MaxReceiveCount: 0}},
		"RedrivePolicy":     {RedrivePolicy: &dynamodbqueue.RedrivePolicy{DeadLetterQueue: "q", MaxReceiveCount: 3}},
		"Tags":              {Tags: map[string]string{"": "empty key"}},
	} {
		_, err := c.CreateQueue(ctx, "q", a)
		var ia *dynamodbqueue.InvalidArgumentError
		if !errors.As(err, &ia) || ia.Name != name {
			t.Errorf("%s: %v; want an InvalidArgumentError named %s", name, err, name)
		}
	}
	if _, err := c.CreateQueue(ctx, "bad|name", dynamodbqueue.QueueAttributes{}); !errors.Is(err, dynamodbqueue.ErrInvalidName) {
		t.Errorf("bad name: %v", err)
	}
	if n := itemCount(t, dynamodbqueue.NewFromClient(c.API(), 0).UseTable(table)); n != 0 {
		t.Fatalf("invalid definitions wrote %d items", n)
	}
}

// TestUpdateQueueIsConditionalOnVersion: an update with the stored version applies and bumps
// it; one with an older version fails with a *VersionConflictError and changes nothing; with
// version 0 the last writer wins. MaxShards remembers the highest count.
func TestUpdateQueueIsConditionalOnVersion(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c, _ := newDefClient(t, nil, 0)
	d, err := c.CreateQueue(ctx, "orders", dynamodbqueue.QueueAttributes{Shards: 4})
	if err != nil {
		t.Fatal(err)
	}
	a := d.QueueAttributes
	a.Shards, a.Delay = 2, time.Second
	up, err := c.UpdateQueue(ctx, "orders", a, d.Version)
	if err != nil || up.Version != 2 || up.Shards != 2 || up.MaxShards != 4 || up.Modified.Before(d.Modified) || !up.Created.Equal(d.Created) {
		t.Fatalf("UpdateQueue = %+v, %v; want version 2, 2 shards of max 4", up, err)
	}
	a.Delay = 2 * time.Second
	_, err = c.UpdateQueue(ctx, "orders", a, d.Version)
	var vc *dynamodbqueue.VersionConflictError
	if !errors.Is(err, dynamodbqueue.ErrVersionConflict) || !errors.As(err, &vc) || vc.Expected != 1 || vc.Actual != 2 {
		t.Fatalf("UpdateQueue on version 1 after 2 = %v; want a version conflict 1 vs 2", err)
	}
	if got, _ := c.GetQueue(ctx, "orders"); got.Delay != time.Second {
		t.Fatalf("the refused update changed the delay to %v", got.Delay)
	}
	lw, err := c.UpdateQueue(ctx, "orders", a, 0)
	if err != nil || lw.Version != 3 || lw.Delay != 2*time.Second {
		t.Fatalf("last-writer-wins update = %+v, %v", lw, err)
	}
	if _, err := c.UpdateQueue(ctx, "missing", a, 0); !errors.Is(err, dynamodbqueue.ErrQueueDoesNotExist) {
		t.Fatalf("UpdateQueue of an undefined queue = %v", err)
	}
}

// TestDefinitionWritesRecogniseTheirOwnRetry: a CreateQueue or UpdateQueue whose conditional
// write was applied and then retried (the retry fails its condition) reports success, not a
// mismatch or a conflict, and writes one version.
func TestDefinitionWritesRecogniseTheirOwnRetry(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	api := &replayingAPI{Client: testenv.Client(t)} // retry_test.go: every applied write is sent twice
	c, _ := newDefClient(t, api, 0)
	d, err := c.CreateQueue(ctx, "orders", dynamodbqueue.QueueAttributes{Shards: 2})
	if err != nil || d.Version != 1 {
		t.Fatalf("CreateQueue with a replayed write = %+v, %v", d, err)
	}
	a := d.QueueAttributes
	a.Shards = 5
	up, err := c.UpdateQueue(ctx, "orders", a, d.Version)
	if err != nil || up.Version != 2 {
		t.Fatalf("UpdateQueue with a replayed write = %+v, %v; want version 2", up, err)
	}
	if got, err := c.GetQueue(ctx, "orders"); err != nil || got.Version != 2 || got.Shards != 5 {
		t.Fatalf("stored %+v, %v", got, err)
	}
	if api.replays.Load() == 0 {
		t.Fatal("no write was replayed")
	}
}

// TestOperationsUseTheStoredDefinition: a handle without explicit settings takes visibility
// timeout, delay, maximum size, content-based deduplication, receive wait time and redrive
// policy from the definition; a client override wins over the queue's value; an explicit Use*
// wins over both.
func TestOperationsUseTheStoredDefinition(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c, _ := newDefClient(t, nil, 0)
	_, err := c.CreateQueue(ctx, "jobs", dynamodbqueue.QueueAttributes{
		VisibilityTimeout: time.Hour, MaxMessageSize: 100, ContentBasedDeduplication: true,
		RedrivePolicy: &dynamodbqueue.RedrivePolicy{DeadLetterQueue: "jobs-dead", MaxReceiveCount: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	q := mustQueue(t, c, "jobs", "acme")
	if _, err := q.PushMessages(ctx, 0, events.SQSMessage{Body: strings.Repeat("x", 101)}); !errors.Is(err, dynamodbqueue.ErrMessageTooLarge) {
		t.Errorf("push over the definition's 100 bytes: %v", err)
	}
	res, err := q.PushWithOptions(ctx, dynamodbqueue.PushOptions{}, events.SQSMessage{Body: "same"}, events.SQSMessage{Body: "same"})
	if err != nil || res.Duplicates != 1 {
		t.Fatalf("content-based deduplication from the definition: %+v, %v", res, err)
	}
	got, err := q.ReceiveMessages(ctx, dynamodbqueue.ReceiveOptions{MaxMessages: 10})
	if err != nil || len(got) != 1 {
		t.Fatalf("receive = %d, %v", len(got), err)
	}
	if again, _ := q.ReceiveMessages(ctx, dynamodbqueue.ReceiveOptions{}); len(again) != 0 {
		t.Fatal("the definition's 1 h visibility timeout did not hide the message")
	}
	// The second receive (after a release) exceeds MaxReceiveCount 1: it goes to jobs-dead.
	if _, err := q.ReleaseMessages(ctx, got[0].ReceiptHandle); err != nil {
		t.Fatal(err)
	}
	if again, _ := q.ReceiveMessages(ctx, dynamodbqueue.ReceiveOptions{}); len(again) != 0 {
		t.Fatal("a message past the definition's MaxReceiveCount was delivered")
	}
	dead := mustQueue(t, c, "jobs-dead", "acme")
	if n, err := dead.Count(ctx); err != nil || n != 1 {
		t.Fatalf("dead letters = %d, %v; want 1", n, err)
	}

	// A client override: globex waits (receive wait time) and delays.
	if err := c.SetClientOverride(ctx, "jobs", "globex", &dynamodbqueue.ClientOverride{Delay: 10 * time.Minute, VisibilityTimeout: time.Second}); err != nil {
		t.Fatal(err)
	}
	if o, err := c.ClientOverride(ctx, "jobs", "globex"); err != nil || o == nil || o.Delay != 10*time.Minute {
		t.Fatalf("ClientOverride = %+v, %v", o, err)
	}
	globex := mustQueue(t, c, "jobs", "globex")
	push(t, globex, events.SQSMessage{Body: "later"})
	if st, err := globex.Stats(ctx); err != nil || st.Delayed != 1 {
		t.Fatalf("globex's override delay: %+v, %v; want 1 delayed", st, err)
	}
	// An explicit setter wins over the override.
	explicit := globex.Clone().UseDelay(0)
	push(t, explicit, events.SQSMessage{Body: "now"})
	if st, _ := explicit.Stats(ctx); st.Visible != 1 {
		t.Fatalf("explicit UseDelay(0) over the override: %+v; want 1 visible", st)
	}
	if err := c.SetClientOverride(ctx, "jobs", "globex", nil); err != nil {
		t.Fatal(err)
	}
	if o, err := c.ClientOverride(ctx, "jobs", "globex"); err != nil || o != nil {
		t.Fatalf("after removing it: %+v, %v", o, err)
	}
	if err := c.SetClientOverride(ctx, "nope", "globex", &dynamodbqueue.ClientOverride{}); !errors.Is(err, dynamodbqueue.ErrQueueDoesNotExist) {
		t.Fatalf("override of an undefined queue: %v", err)
	}
}

// TestReceiveWaitTimeFromDefinition: ReceiveMessages with WaitTime 0 long-polls for the
// definition's receive wait time (it asks DynamoDB again while the queue is empty), and
// PollMessages' timeout 0 stays one pass (one query).
func TestReceiveWaitTimeFromDefinition(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	api := &countingAPI{Client: testenv.Client(t)}
	c, _ := newDefClient(t, api, 0)
	if _, err := c.CreateQueue(ctx, "waits", dynamodbqueue.QueueAttributes{ReceiveWaitTime: 300 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	q := mustQueue(t, c, "waits", "c")
	api.reset()
	if got := mustPoll(t, q, time.Minute, 1); len(got) != 0 || api.queries.Load() != 1 {
		t.Fatalf("PollMessages(timeout 0) on an empty queue: %d messages, %d queries; want one pass", len(got), api.queries.Load())
	}
	api.reset()
	msgs, err := q.ReceiveMessages(ctx, dynamodbqueue.ReceiveOptions{})
	if err != nil || len(msgs) != 0 {
		t.Fatalf("ReceiveMessages on an empty queue: %d, %v", len(msgs), err)
	}
	// The long poll waits on the watcher, which asks again for it (reading the hints).
	if n := api.queries.Load() + api.hintQueries.Load(); n < 2 {
		t.Fatalf("ReceiveMessages with the definition's wait time made %d queries; a long poll asks again", n)
	}
	explicit := q.Clone().UseReceiveWaitTime(0)
	api.reset()
	if _, err := explicit.ReceiveMessages(ctx, dynamodbqueue.ReceiveOptions{}); err != nil || api.queries.Load() != 1 {
		t.Fatalf("UseReceiveWaitTime(0) over the definition: %d queries, %v; want one pass", api.queries.Load(), err)
	}
}

// TestUpdateQueueReachesOtherProcessesWithinTheBound: a process that cached the definition
// uses the new one once its staleness bound has passed since the update.
func TestUpdateQueueReachesOtherProcessesWithinTheBound(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	admin, table := newDefClient(t, nil, 0)
	if _, err := admin.CreateQueue(ctx, "q", dynamodbqueue.QueueAttributes{}); err != nil {
		t.Fatal(err)
	}
	const bound = 200 * time.Millisecond
	other, err := dynamodbqueue.New(dynamodbqueue.Options{API: testenv.Client(t), Table: table, DefinitionStaleness: bound})
	if err != nil {
		t.Fatal(err)
	}
	q := mustQueue(t, other, "q", "c")
	push(t, q, events.SQSMessage{Body: "before"}) // caches the definition: no delay
	if _, err := admin.UpdateQueue(ctx, "q", dynamodbqueue.QueueAttributes{Delay: 10 * time.Minute}, 0); err != nil {
		t.Fatal(err)
	}
	// The documented bound: once it has passed since the update, the other process's cached
	// copy is too old to use.
	if err := wait.Sleep(ctx, bound); err != nil {
		t.Fatal(err)
	}
	push(t, q, events.SQSMessage{Body: "after"})
	if st, err := q.Stats(ctx); err != nil || st.Visible != 1 || st.Delayed != 1 {
		t.Fatalf("stats %+v, %v; want the push after the bound delayed by the new definition", st, err)
	}
}

// TestListQueuesPagesByPrefix: ListQueues returns the defined queues in name order, a page at a
// time with a cursor, filtered by prefix; a bad cursor is ErrInvalidCursor.
func TestListQueuesPagesByPrefix(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c, _ := newDefClient(t, nil, 0)
	var want []string
	for i := range 7 {
		name := fmt.Sprintf("billing-%02d", i)
		want = append(want, name)
		if _, err := c.CreateQueue(ctx, name, dynamodbqueue.QueueAttributes{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.CreateQueue(ctx, "other", dynamodbqueue.QueueAttributes{}); err != nil {
		t.Fatal(err)
	}
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		page, err := c.ListQueues(ctx, dynamodbqueue.ListQueuesOptions{Prefix: "billing-", Limit: 3, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range page.Queues {
			got = append(got, d.Name)
		}
		if cursor = page.Cursor; cursor == "" {
			break
		}
		if pages > 5 {
			t.Fatal("paging does not end")
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("listed %v, want %v", got, want)
	}
	all, err := c.ListQueues(ctx, dynamodbqueue.ListQueuesOptions{})
	if err != nil || len(all.Queues) != 8 || all.Cursor != "" {
		t.Fatalf("unfiltered list: %d queues, cursor %q, %v", len(all.Queues), all.Cursor, err)
	}
	if _, err := c.ListQueues(ctx, dynamodbqueue.ListQueuesOptions{Cursor: "!!"}); !errors.Is(err, dynamodbqueue.ErrInvalidCursor) {
		t.Fatalf("bad cursor: %v", err)
	}
}

// TestListDeadLetterSourceQueuesFollowsUpdates: the reverse links follow creates, retargeting
// updates and deletes; a link whose source no longer points there is not reported.
func TestListDeadLetterSourceQueuesFollowsUpdates(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c, _ := newDefClient(t, nil, 0)
	rp := func(dlq string) dynamodbqueue.QueueAttributes {
		return dynamodbqueue.QueueAttributes{RedrivePolicy: &dynamodbqueue.RedrivePolicy{DeadLetterQueue: dlq, MaxReceiveCount: 3}}
	}
	for _, src := range []string{"a", "b", "c"} {
		if _, err := c.CreateQueue(ctx, src, rp("dead")); err != nil {
			t.Fatal(err)
		}
	}
	sources := func(dlq string) []string {
		t.Helper()
		s, err := c.ListDeadLetterSourceQueues(ctx, dlq)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if got := sources("dead"); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("sources of dead = %v", got)
	}
	if _, err := c.UpdateQueue(ctx, "b", rp("grave"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateQueue(ctx, "c", dynamodbqueue.QueueAttributes{}, 0); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteQueue(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if got := sources("dead"); len(got) != 0 {
		t.Fatalf("sources of dead after retargeting and deleting = %v, want none", got)
	}
	if got := sources("grave"); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("sources of grave = %v, want [b]", got)
	}
}

// failAfterAPI fails every BatchWriteItem after the first n, as a process that dies half-way.
type failAfterAPI struct {
	dynamodbqueue.API
	left atomic.Int32
}

func (f *failAfterAPI) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	if f.left.Add(-1) < 0 {
		return nil, errInjected
	}
	return f.API.BatchWriteItem(ctx, in, o...)
}

// TestDeleteQueueIsResumable: DeleteQueue stopped half-way leaves the queue undefined and
// running it again deletes every message of every client (sharded, grouped, large,
// deduplicated), the overrides, the definition and its list entry, and nothing of other queues.
func TestDeleteQueueIsResumable(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c, table := newDefClient(t, nil, 0)
	if _, err := c.CreateQueue(ctx, "doomed", dynamodbqueue.QueueAttributes{Shards: 3}); err != nil {
		t.Fatal(err)
	}
	if err := c.SetClientOverride(ctx, "doomed", "t1", &dynamodbqueue.ClientOverride{Delay: time.Second}); err != nil {
		t.Fatal(err)
	}
	for _, client := range []string{"t1", "t2", "t3"} {
		q := mustQueue(t, c, "doomed", client)
		push(t, q, bodies(60, client)...)
		push(t, q, events.SQSMessage{Body: strings.Repeat("L", 2_000)},
			events.SQSMessage{Body: "g", Attributes: map[string]string{dynamodbqueue.AttributeMessageGroupID: "g1", dynamodbqueue.AttributeMessageDeduplicationID: "d1"}})
	}
	keep := mustQueue(t, c, "doomed-not", "t1")
	push(t, keep, bodies(5, "keep")...)
	scan := dynamodbqueue.NewFromClient(testenv.Client(t), 0).UseTable(table)
	before := itemCount(t, scan)

	broken := &failAfterAPI{API: testenv.Client(t)}
	broken.left.Store(2)
	bc, err := dynamodbqueue.New(dynamodbqueue.Options{API: broken, Table: table})
	if err != nil {
		t.Fatal(err)
	}
	if err := bc.DeleteQueue(ctx, "doomed"); !errors.Is(err, errInjected) {
		t.Fatalf("interrupted DeleteQueue = %v, want the injected failure", err)
	}
	mid := itemCount(t, scan)
	if mid >= before || mid <= 5 {
		t.Fatalf("after the interrupted delete %d of %d items are left; want some deleted, some not", mid, before)
	}
	if _, err := c.GetQueue(ctx, "doomed"); !errors.Is(err, dynamodbqueue.ErrQueueDoesNotExist) {
		t.Fatalf("a queue being deleted: GetQueue = %v, want ErrQueueDoesNotExist", err)
	}
	if _, err := c.CreateQueue(ctx, "doomed", dynamodbqueue.QueueAttributes{}); !errors.Is(err, dynamodbqueue.ErrVersionConflict) {
		t.Fatalf("CreateQueue of a queue being deleted = %v, want a conflict", err)
	}
	if err := c.DeleteQueue(ctx, "doomed"); err != nil {
		t.Fatalf("resumed DeleteQueue: %v", err)
	}
	if n := itemCount(t, scan); n != 5+1 { // the other queue's messages and its registry entry
		t.Fatalf("after the resumed delete %d items are left, want 6", n)
	}
	if err := c.DeleteQueue(ctx, "doomed"); !errors.Is(err, dynamodbqueue.ErrQueueDoesNotExist) {
		t.Fatalf("DeleteQueue of a deleted queue = %v", err)
	}
	if n, err := keep.Count(ctx); err != nil || n != 5 {
		t.Fatalf("the other queue has %d messages, %v", n, err)
	}
}
