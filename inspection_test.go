package dynamodbqueue_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// readOnlyInspector returns an inspector of q's pair (with q's shards and dead-letter queue)
// whose every write fails, and the count of writes it attempted.
func readOnlyInspector(t *testing.T, q *dynamodbqueue.DynamoDBQueue) (*dynamodbqueue.Inspector, *atomic.Int64) {
	ro, api := hookedQueue(t, q.Table(), q.QueueName(), q.ClientID(), nil)
	ro.UseShards(q.Shards()).UseDeadLetterQueue(q.DeadLetterQueue())
	var writes atomic.Int64
	api.set(refuseWrites(&writes))
	return ro.Inspector(), &writes
}

// listAll pages through the listing with the given page size and returns the bodies.
func listAll(t *testing.T, ins *dynamodbqueue.Inspector, opts dynamodbqueue.ListOptions) []string {
	t.Helper()
	var got []string
	for pages := 0; ; pages++ {
		page, err := ins.ListMessages(ctxT(t), opts)
		if err != nil {
			t.Fatalf("ListMessages page %d: %v", pages, err)
		}
		if len(page.Messages) > opts.Limit {
			t.Fatalf("page %d has %d messages, limit %d", pages, len(page.Messages), opts.Limit)
		}
		for _, m := range page.Messages {
			got = append(got, m.Message.Body)
		}
		if page.NextCursor == "" {
			return got
		}
		opts.Cursor = page.NextCursor
	}
}

// TestListMessagesPagesAcrossShardsExactlyOnce lists 75 messages spread over 4 shards (and two
// message groups on shard 0) in pages of 7: every message exactly once, in push order (groups
// after the others, group by group), and newest first is the exact reverse. No write is sent.
func TestListMessagesPagesAcrossShardsExactlyOnce(t *testing.T) {
	t.Parallel()
	q := newQueue(t, "paged", "c").UseShards(4)
	want := bodyList(bodies(65, "m"))
	push(t, q, bodies(65, "m")...)
	push(t, q, grouped("ga", 5)...)
	push(t, q, grouped("gb", 5)...)
	want = append(want, bodyList(grouped("ga", 5))...)
	want = append(want, bodyList(grouped("gb", 5))...)

	ins, writes := readOnlyInspector(t, q)
	got := listAll(t, ins, dynamodbqueue.ListOptions{Limit: 7})
	if !slices.Equal(got, want) {
		t.Errorf("oldest first:\n got %v\nwant %v", got, want)
	}
	got = listAll(t, ins, dynamodbqueue.ListOptions{Limit: 7, NewestFirst: true})
	slices.Reverse(want)
	if !slices.Equal(got, want) {
		t.Errorf("newest first:\n got %v\nwant %v", got, want)
	}
	if got := listAll(t, ins, dynamodbqueue.ListOptions{Limit: 75}); len(got) != 75 {
		t.Errorf("one page of 75 listed %d", len(got))
	}
	if n := writes.Load(); n > 0 {
		t.Errorf("listing attempted %d writes", n)
	}
}

// TestListMessagesByState puts one message in each state and checks what an operator sees of
// it; the listing claims nothing (every write refused), so the in-flight message is still held.
func TestListMessagesByState(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	q := newQueue(t, "states", "c").UseDeadLetterQueue(&dynamodbqueue.DeadLetterConfig{MaxReceiveCount: 1})
	push(t, q, events.SQSMessage{Body: "dead"})
	deadLetterOne(t, q)
	push(t, q, events.SQSMessage{Body: "held", Attributes: map[string]string{dynamodbqueue.AttributeMessageDeduplicationID: "d-1"}})
	held := mustPoll(t, q, time.Hour, 1)
	if len(held) != 1 {
		t.Fatalf("setup: receive held")
	}
	if _, err := q.PushWithOptions(ctx, dynamodbqueue.PushOptions{Delay: 10 * time.Minute}, events.SQSMessage{Body: "delayed"}); err != nil {
		t.Fatal(err)
	}
	push(t, q, events.SQSMessage{Body: "visible"}, grouped("g", 1)[0])

	ins, writes := readOnlyInspector(t, q)
	states := map[dynamodbqueue.MessageState][]string{
		dynamodbqueue.StateAny:          {"held", "delayed", "visible", "g-000"},
		dynamodbqueue.StateVisible:      {"visible", "g-000"},
		dynamodbqueue.StateInFlight:     {"held"},
		dynamodbqueue.StateDelayed:      {"delayed"},
		dynamodbqueue.StateDeadLettered: {"dead"},
	}
	for st, want := range states {
		page, err := ins.ListMessages(ctx, dynamodbqueue.ListOptions{State: st})
		if err != nil {
			t.Fatalf("%s: %v", st, err)
		}
		var got []string
		for _, m := range page.Messages {
			got = append(got, m.Message.Body)
			if st != dynamodbqueue.StateAny && m.State != st {
				t.Errorf("%s lists %s in state %s", st, m.Message.Body, m.State)
			}
			if m.Message.MessageId == "" || m.Message.ReceiptHandle != "" || m.Sent.IsZero() {
				t.Errorf("%s: %s lacks its ID or sent time, or has a handle: %+v", st, m.Message.Body, m)
			}
		}
		if !slices.Equal(got, want) || page.NextCursor != "" {
			t.Errorf("%s = %v (cursor %q), want %v", st, got, page.NextCursor, want)
		}
		for _, m := range page.Messages {
			checkInfo(t, m, held[0].MessageId)
		}
	}
	if n := writes.Load(); n > 0 {
		t.Errorf("listing attempted %d writes", n)
	}
	if failed, err := q.DeleteMessages(ctx, held[0].ReceiptHandle); err != nil || len(failed) > 0 {
		t.Errorf("the holder's delete after the listing: %v", err)
	}
}

// deadLetterOne receives the oldest message of q (MaxReceiveCount 1), releases it and receives
// again, which moves it to the dead-letter queue.
func deadLetterOne(t *testing.T, q *dynamodbqueue.DynamoDBQueue) {
	t.Helper()
	first := mustPoll(t, q, time.Hour, 1)
	if _, err := q.ReleaseMessages(ctxT(t), toHandles(first)...); err != nil || len(first) != 1 {
		t.Fatalf("setup: release %v: %v", bodyList(first), err)
	}
	if again := mustPoll(t, q, time.Hour, 1); len(again) != 0 && again[0].Body == first[0].Body {
		t.Fatalf("setup: %s was delivered past MaxReceiveCount", first[0].Body)
	}
}

// checkInfo checks the per-state details of a message of TestListMessagesByState.
func checkInfo(t *testing.T, m dynamodbqueue.MessageInfo, heldID string) {
	t.Helper()
	soon := time.Now().Add(time.Minute)
	switch m.Message.Body {
	case "held":
		if m.Message.MessageId != heldID || m.ReceiveCount != 1 || m.FirstReceived.IsZero() || !m.VisibleAt.After(soon) || m.DeduplicationID != "d-1" {
			t.Errorf("held: %+v", m)
		}
	case "delayed":
		if m.ReceiveCount != 0 || !m.FirstReceived.IsZero() || !m.VisibleAt.After(soon) {
			t.Errorf("delayed: %+v", m)
		}
	case "g-000":
		if m.GroupID != "g" || m.State != dynamodbqueue.StateVisible || m.VisibleAt.After(soon) {
			t.Errorf("grouped: %+v", m)
		}
	case "dead":
		// Two receives: the one released and the one that moved it.
		if m.ReceiveCount != 2 || m.Message.Attributes[dynamodbqueue.AttributeDeadLetterSource] != "states|c|0" {
			t.Errorf("dead letter: %+v", m)
		}
	}
}

// TestListMessagesRejectsBadInput: malformed cursors, cursors of another pair, state or order,
// bad limits and states, and dead letters without a dead-letter queue fail before any read.
func TestListMessagesRejectsBadInput(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	q := newQueue(t, "cursors", "c")
	push(t, q, bodies(3, "m")...)
	page, err := q.Inspector().ListMessages(ctx, dynamodbqueue.ListOptions{Limit: 1})
	if err != nil || page.NextCursor == "" {
		t.Fatalf("first page: %v, %v", page, err)
	}
	other := q.Clone().UseClientID("other").Inspector()
	cases := []struct {
		name string
		ins  *dynamodbqueue.Inspector
		opts dynamodbqueue.ListOptions
		want error
	}{
		{"garbage", q.Inspector(), dynamodbqueue.ListOptions{Cursor: "not a cursor"}, dynamodbqueue.ErrInvalidCursor},
		{"json", q.Inspector(), dynamodbqueue.ListOptions{Cursor: "eyJ2IjoxfQ"}, dynamodbqueue.ErrInvalidCursor},
		{"tampered", q.Inspector(), dynamodbqueue.ListOptions{Cursor: page.NextCursor[:len(page.NextCursor)-3]}, dynamodbqueue.ErrInvalidCursor},
		{"other client", other, dynamodbqueue.ListOptions{Limit: 1, Cursor: page.NextCursor}, dynamodbqueue.ErrInvalidCursor},
		{"other state", q.Inspector(), dynamodbqueue.ListOptions{Limit: 1, Cursor: page.NextCursor, State: dynamodbqueue.StateVisible}, dynamodbqueue.ErrInvalidCursor},
		{"other order", q.Inspector(), dynamodbqueue.ListOptions{Limit: 1, Cursor: page.NextCursor, NewestFirst: true}, dynamodbqueue.ErrInvalidCursor},
		{"limit", q.Inspector(), dynamodbqueue.ListOptions{Limit: dynamodbqueue.MaxListMessages + 1}, dynamodbqueue.ErrInvalidArgument},
		{"state", q.Inspector(), dynamodbqueue.ListOptions{State: 9}, dynamodbqueue.ErrInvalidArgument},
		{"no dead-letter queue", q.Inspector(), dynamodbqueue.ListOptions{State: dynamodbqueue.StateDeadLettered}, dynamodbqueue.ErrNoDeadLetterQueue},
	}
	for _, c := range cases {
		_, err := c.ins.ListMessages(ctx, c.opts)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
		if errors.Is(c.want, dynamodbqueue.ErrInvalidCursor) && !errors.Is(err, dynamodbqueue.ErrInvalidArgument) {
			t.Errorf("%s: %v does not wrap ErrInvalidArgument", c.name, err)
		}
	}
	if _, err := dynamodbqueue.ParseMessageState("stuck"); !errors.Is(err, dynamodbqueue.ErrInvalidArgument) || !strings.Contains(err.Error(), `"stuck"`) {
		t.Errorf("ParseMessageState(stuck) = %v", err)
	}
	// The real cursor resumes after the first message.
	page, err = q.Inspector().ListMessages(ctx, dynamodbqueue.ListOptions{Limit: 5, Cursor: page.NextCursor})
	if err != nil || len(page.Messages) != 2 || page.Messages[0].Message.Body != "m-001" {
		t.Errorf("second page = %+v, %v", page, err)
	}
}

// TestInspectLargeBody: a page leaves a large body out unless asked; GetMessage reads it whole.
func TestInspectLargeBody(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	q := newQueue(t, "large", "c")
	big := strings.Repeat("x", 400_000)
	push(t, q, events.SQSMessage{Body: big})
	page, err := q.Inspector().ListMessages(ctx, dynamodbqueue.ListOptions{})
	if err != nil || len(page.Messages) != 1 {
		t.Fatalf("list: %v, %v", page, err)
	}
	m := page.Messages[0]
	if !m.BodyOmitted || m.BodyChunks != 2 || m.Message.Body != "" || m.Message.MessageId == "" {
		t.Errorf("large body listed as %+v", m)
	}
	page, err = q.Inspector().ListMessages(ctx, dynamodbqueue.ListOptions{LargeBodies: true})
	if err != nil || page.Messages[0].Message.Body != big || page.Messages[0].BodyOmitted {
		t.Errorf("LargeBodies did not read the body: %v", err)
	}
	got, err := q.Inspector().GetMessage(ctx, m.Message.MessageId)
	if err != nil || got.Message.Body != big {
		t.Errorf("GetMessage of a large message: %v", err)
	}
}

// TestGetAndDeleteMessageByID: get and delete visible, delayed and dead-lettered messages by
// ID; a message in flight is refused and stays with its holder; unknown and bad IDs fail.
func TestGetAndDeleteMessageByID(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	q := newQueue(t, "byid", "c").UseShards(3).UseDeadLetterQueue(&dynamodbqueue.DeadLetterConfig{MaxReceiveCount: 1})
	res, err := q.PushWithOptions(ctx, dynamodbqueue.PushOptions{}, events.SQSMessage{Body: "dead"})
	if err != nil {
		t.Fatal(err)
	}
	deadID := res.Pushed[0].MessageId
	deadLetterOne(t, q)
	push(t, q, events.SQSMessage{Body: "held"})
	held := mustPoll(t, q, time.Hour, 1)
	res, err = q.PushWithOptions(ctx, dynamodbqueue.PushOptions{Delay: 10 * time.Minute}, events.SQSMessage{Body: "delayed"})
	if err != nil || len(held) != 1 {
		t.Fatal(err)
	}
	gres, err := q.PushWithOptions(ctx, dynamodbqueue.PushOptions{}, grouped("g", 2)...)
	if err != nil {
		t.Fatal(err)
	}
	res.Pushed = append(res.Pushed, gres.Pushed...) // delayed, g-000, g-001
	ins := q.Inspector()

	for _, id := range []string{res.Pushed[0].MessageId, res.Pushed[1].MessageId, deadID} {
		m, err := ins.GetMessage(ctx, id)
		if err != nil || m.Message.MessageId != id {
			t.Fatalf("GetMessage(%s) = %+v, %v", id, m, err)
		}
		if id == deadID && m.State != dynamodbqueue.StateDeadLettered {
			t.Errorf("dead letter found in state %s", m.State)
		}
		if err := ins.DeleteMessage(ctx, id); err != nil {
			t.Fatalf("DeleteMessage(%s %s): %v", m.State, m.Message.Body, err)
		}
		if _, err := ins.GetMessage(ctx, id); !errors.Is(err, dynamodbqueue.ErrMessageNotFound) {
			t.Errorf("GetMessage after delete: %v", err)
		}
		if err := ins.DeleteMessage(ctx, id); !errors.Is(err, dynamodbqueue.ErrMessageNotFound) {
			t.Errorf("second DeleteMessage: %v", err)
		}
	}
	if err := ins.DeleteMessage(ctx, held[0].MessageId); !errors.Is(err, dynamodbqueue.ErrMessageInFlight) {
		t.Errorf("DeleteMessage of a held message: %v", err)
	}
	if failed, err := q.DeleteMessages(ctx, held[0].ReceiptHandle); err != nil || len(failed) > 0 {
		t.Errorf("the holder could not delete its message: %v", err)
	}
	// g-001 is the group's head now (g-000 was deleted by ID) and is delivered.
	if got := bodyList(mustPoll(t, q, time.Hour, 10)); !slices.Equal(got, []string{"g-001"}) {
		t.Errorf("after deleting g-000 by ID received %v, want g-001", got)
	}
	for _, id := range []string{"", strings.Repeat("x", 101)} {
		if _, err := ins.GetMessage(ctx, id); !errors.Is(err, dynamodbqueue.ErrInvalidArgument) {
			t.Errorf("GetMessage(%q): %v", id, err)
		}
	}
}

// deleteByIDHook runs fn once, right before DeleteMessage's conditional delete is sent.
func deleteByIDHook(once *atomic.Bool, fn func()) hookFunc {
	return func(op string, in any) error {
		if d, ok := in.(*dynamodb.DeleteItemInput); ok && op == "DeleteItem" && strings.Contains(*d.ConditionExpression, "#mid") && once.CompareAndSwap(false, true) {
			fn()
		}
		return nil
	}
}

// TestDeleteByIDRaces: a consumer claiming the message between DeleteMessage's read and its
// write keeps it (ErrMessageInFlight, its delete works); a purge or an earlier attempt of the
// same delete (an SDK retry after a lost response) in that gap is success, not an error.
func TestDeleteByIDRaces(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	base, table := newTable(t)
	for _, race := range []string{"claim", "purge", "retry"} {
		q := base.Clone().UseQueueName("race-" + race).UseClientID("c")
		res, err := q.PushWithOptions(ctx, dynamodbqueue.PushOptions{}, events.SQSMessage{Body: race})
		if err != nil {
			t.Fatal(err)
		}
		hq, api := hookedQueue(t, table, q.QueueName(), "c", nil)
		var claimed []events.SQSMessage
		var fired atomic.Bool
		api.set(deleteByIDHook(&fired, func() {
			switch race {
			case "claim":
				claimed = mustPoll(t, q, time.Hour, 1)
			case "purge":
				if err := q.Purge(ctx); err != nil {
					t.Error(err)
				}
			case "retry":
				if err := q.Inspector().DeleteMessage(ctx, res.Pushed[0].MessageId); err != nil {
					t.Error(err)
				}
			}
		}))
		err = hq.Inspector().DeleteMessage(ctx, res.Pushed[0].MessageId)
		if !fired.Load() {
			t.Fatalf("%s: the race was not run", race)
		}
		switch race {
		case "claim":
			if !errors.Is(err, dynamodbqueue.ErrMessageInFlight) || len(claimed) != 1 {
				t.Fatalf("delete racing a claim: %v (claimed %d)", err, len(claimed))
			}
			if failed, err := q.DeleteMessages(ctx, claimed[0].ReceiptHandle); err != nil || len(failed) > 0 {
				t.Errorf("holder's delete after the race: %v", err)
			}
		default:
			if err != nil {
				t.Errorf("delete racing a %s: %v", race, err)
			}
		}
		if n, err := q.Count(ctx); err != nil || n != 0 {
			t.Errorf("%s: %d messages left, %v", race, n, err)
		}
	}
}

// TestInspectionStats: stats of one queue's clients, of every pair of the table (dead letters
// counted for their source), and of a dead-letter queue's sources, without a write.
func TestInspectionStats(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	base, _ := newTable(t)
	dlq := &dynamodbqueue.DeadLetterConfig{MaxReceiveCount: 1, QueueName: "shared-dlq", ClientID: "ops"}
	for i, client := range []string{"acme", "globex"} {
		q := base.Clone().UseQueueName("orders").UseClientID(client).UseDeadLetterQueue(dlq)
		push(t, q, events.SQSMessage{Body: client + "-dead"})
		deadLetterOne(t, q) // one message of each goes to shared-dlq/ops
		push(t, q, bodies(i, client)...)
	}
	push(t, base.Clone().UseQueueName("emails").UseClientID("acme"), bodies(2, "e")...)

	q := base.Clone().UseQueueName("orders").UseClientID("acme").UseDeadLetterQueue(dlq)
	ins, writes := readOnlyInspector(t, q)
	qs, err := ins.QueueStats(ctx)
	if err != nil || fmt.Sprint(countsOnly(qs)) != "[{{orders acme} {0 0 0 2 0}} {{orders globex} {1 0 0 2 0}}]" {
		t.Errorf("QueueStats = %v, %v", qs, err)
	}
	ts, err := ins.TableStats(ctx)
	want := "[{{emails acme} {2 0 0 0 0}} {{orders acme} {0 0 0 1 0}} {{orders globex} {1 0 0 1 0}} {{shared-dlq ops} {2 0 0 0 0}}]"
	if err != nil || fmt.Sprint(countsOnly(ts)) != want {
		t.Errorf("TableStats = %v, %v\nwant %s", ts, err, want)
	}
	dins, dwrites := readOnlyInspector(t, base.Clone().UseQueueName("shared-dlq").UseClientID("ops"))
	src, err := dins.DeadLetterSources(ctx)
	if err != nil || fmt.Sprint(src) != "[{{orders acme} 1 {0 0 0 0 0}} {{orders globex} 1 {1 0 0 0 0}}]" {
		t.Errorf("DeadLetterSources = %v, %v", src, err)
	}
	if target, ok := q.DeadLetterTarget(ctxT(t)); !ok || target != (dynamodbqueue.DeadLetterTarget{Table: q.Table(), QueueName: "shared-dlq", ClientID: "ops"}) {
		t.Errorf("DeadLetterTarget = %+v, %v", target, ok)
	}
	if target, ok := base.Clone().UseQueueName("x").UseDeadLetterQueue(&dynamodbqueue.DeadLetterConfig{MaxReceiveCount: 3}).DeadLetterTarget(ctxT(t)); !ok || target.QueueName != "x-dlq" {
		t.Errorf("default DeadLetterTarget = %+v", target)
	}
	if n := writes.Load() + dwrites.Load(); n > 0 {
		t.Errorf("stats attempted %d writes", n)
	}
}

// TestMessageInfoLastReceived: GetMessage reports when a message was last received beside when
// it was first received, both from the receiving process's clock.
func TestMessageInfoLastReceived(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	clock := &dynamodbqueue.Clock{}
	q := dynamodbqueue.WithClock(newQueue(t, "last-received", "c"), clock)
	push(t, q, bodies(1, "m")...)
	first := mustPoll(t, q, time.Hour, 1)
	if len(first) != 1 {
		t.Fatalf("setup: received %v", bodyList(first))
	}
	firstAt := clock.Now()
	ins := q.Inspector()
	m, err := ins.GetMessage(ctx, first[0].MessageId)
	if err != nil || m.LastReceived.IsZero() || !m.LastReceived.Equal(m.FirstReceived) {
		t.Fatalf("after one receive: first %v, last %v, %v", m.FirstReceived, m.LastReceived, err)
	}
	if _, err := q.ReleaseMessages(ctx, toHandles(first)...); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	again := mustPoll(t, q, time.Hour, 1)
	if len(again) != 1 {
		t.Fatalf("second receive: %v", bodyList(again))
	}
	m, err = ins.GetMessage(ctx, first[0].MessageId)
	if err != nil || m.ReceiveCount != 2 || m.FirstReceived.After(firstAt) || m.LastReceived.Sub(m.FirstReceived) < time.Hour {
		t.Fatalf("after a second receive an hour later: count %d, first %v, last %v, %v", m.ReceiveCount, m.FirstReceived, m.LastReceived, err)
	}
}
