package dynamodbqueue_test

import (
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// TestRedriveMessageByID dead-letters two messages and redrives one of them by ID: that one is
// back in the queue, receivable, with its receive count reset; the other stays dead-lettered.
// Redriving it again, an unknown ID, or without a dead-letter queue is refused with the named
// errors, and nothing else moves.
func TestRedriveMessageByID(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	q := newQueue(t, "redrive-one", "c")
	q.UseDeadLetterQueue(&dynamodbqueue.DeadLetterConfig{MaxReceiveCount: 1})
	push(t, q, bodies(2, "m")...)
	first := mustPoll(t, q, time.Hour, 10)
	if _, err := q.ReleaseMessages(ctx, toHandles(first)...); err != nil || len(first) != 2 {
		t.Fatalf("setup: release %v: %v", bodyList(first), err)
	}
	if again := mustPoll(t, q, time.Hour, 10); len(again) != 0 { // the second receive dead-letters both
		t.Fatalf("setup: %v delivered past MaxReceiveCount", bodyList(again))
	}
	ins := q.Inspector()
	dead, err := ins.ListMessages(ctx, dynamodbqueue.ListOptions{State: dynamodbqueue.StateDeadLettered})
	if err != nil || len(dead.Messages) != 2 {
		t.Fatalf("setup: dead letters %+v, %v", dead.Messages, err)
	}
	id := dead.Messages[0].Message.MessageId
	if err := ins.RedriveMessage(ctx, id); err != nil {
		t.Fatalf("RedriveMessage: %v", err)
	}
	st, err := q.Stats(ctx)
	if err != nil || st.Visible != 1 || st.DeadLettered != 1 {
		t.Errorf("after redriving one: %+v, %v", st, err)
	}
	got, err := ins.GetMessage(ctx, id)
	if err != nil || got.State != dynamodbqueue.StateVisible || got.ReceiveCount != 0 || got.Message.Body != dead.Messages[0].Message.Body {
		t.Errorf("redriven message: %+v, %v", got, err)
	}
	if err := ins.RedriveMessage(ctx, id); !errors.Is(err, dynamodbqueue.ErrMessageNotFound) {
		t.Errorf("redriving it again: %v, want ErrMessageNotFound", err)
	}
	if err := ins.RedriveMessage(ctx, "no-such-id"); !errors.Is(err, dynamodbqueue.ErrMessageNotFound) {
		t.Errorf("unknown ID: %v, want ErrMessageNotFound", err)
	}
	if err := ins.RedriveMessage(ctx, ""); !errors.Is(err, dynamodbqueue.ErrInvalidArgument) {
		t.Errorf("empty ID: %v, want ErrInvalidArgument", err)
	}
	noDLQ := q.Clone().UseDeadLetterQueue(nil).Inspector()
	if err := noDLQ.RedriveMessage(ctx, dead.Messages[1].Message.MessageId); !errors.Is(err, dynamodbqueue.ErrNoDeadLetterQueue) {
		t.Errorf("without a dead-letter queue: %v, want ErrNoDeadLetterQueue", err)
	}
	if st, _ := q.Stats(ctx); st.Visible != 1 || st.DeadLettered != 1 {
		t.Errorf("refusals moved messages: %+v", st)
	}
	msgs := mustPoll(t, q, time.Hour, 10)
	if len(msgs) != 1 || msgs[0].MessageId != id {
		t.Errorf("received %v, want the redriven message %s", bodyList(msgs), id)
	}
}

// TestChangeVisibilityByID releases a held message by ID (it is visible at once and the
// next receive gets it), extends another (still held), and refuses a message
// nobody holds, for messages inside and outside a group.
func TestChangeVisibilityByID(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	q := newQueue(t, "visibility", "c")
	push(t, q, events.SQSMessage{Body: "plain"})
	if _, err := q.PushWithOptions(ctx, dynamodbqueue.PushOptions{}, events.SQSMessage{Body: "grouped",
		Attributes: map[string]string{dynamodbqueue.AttributeMessageGroupID: "g"}}); err != nil {
		t.Fatalf("push grouped: %v", err)
	}
	held := mustPoll(t, q, time.Hour, 10)
	if len(held) != 2 {
		t.Fatalf("setup: received %v", bodyList(held))
	}
	ins := q.Inspector()
	for _, m := range held {
		if err := ins.ChangeVisibility(ctx, m.MessageId, 0); err != nil {
			t.Fatalf("release %s: %v", m.Body, err)
		}
		got, err := ins.GetMessage(ctx, m.MessageId)
		if err != nil || got.State != dynamodbqueue.StateVisible {
			t.Errorf("%s after release: %v, %v", m.Body, got.State, err)
		}
		if err := ins.ChangeVisibility(ctx, m.MessageId, time.Minute); !errors.Is(err, dynamodbqueue.ErrMessageNotInFlight) {
			t.Errorf("%s not held: %v, want ErrMessageNotInFlight", m.Body, err)
		}
	}
	again := mustPoll(t, q, time.Minute, 10)
	if len(again) != 2 {
		t.Fatalf("released messages received again: %v", bodyList(again))
	}
	if failed, err := q.DeleteMessages(ctx, toHandles(held)...); err == nil && len(failed) == 0 {
		t.Errorf("the first holder's handles still delete after the messages were received again")
	}
	if err := ins.ChangeVisibility(ctx, again[0].MessageId, 2*time.Hour); err != nil {
		t.Fatalf("extend: %v", err)
	}
	got, err := ins.GetMessage(ctx, again[0].MessageId)
	if err != nil || got.State != dynamodbqueue.StateInFlight || got.VisibleAt.Before(time.Now().Add(time.Hour)) {
		t.Errorf("after extending: %v until %v, %v", got.State, got.VisibleAt, err)
	}
	if err := ins.ChangeVisibility(ctx, again[0].MessageId, -time.Second); !errors.Is(err, dynamodbqueue.ErrInvalidArgument) {
		t.Errorf("negative: %v, want ErrInvalidArgument", err)
	}
}

// TestOperatorActionsWakeOtherProcesses: redriving one dead letter and releasing a held message
// by ID write activity hints, so a watcher in another process wakes the pair at once, not after
// its fallback sweep (set here to one check per 1,000 s, so only a hint can wake it in time).
func TestOperatorActionsWakeOtherProcesses(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	_, table := newTable(t)
	operator := newWatchClient(t, nil, table, dynamodbqueue.Options{})
	watching := newWatchClient(t, nil, table, dynamodbqueue.Options{WatchFallbackRate: 0.001})
	q := mustHandle(t, operator, "ops", "c")
	q.UseDeadLetterQueue(&dynamodbqueue.DeadLetterConfig{MaxReceiveCount: 1})
	push(t, q, bodies(2, "m")...)
	first := mustPoll(t, q, time.Hour, 10)
	if _, err := q.ReleaseMessages(ctx, toHandles(first)...); err != nil || len(first) != 2 {
		t.Fatalf("setup: release %v: %v", bodyList(first), err)
	}
	if again := mustPoll(t, q, time.Hour, 10); len(again) != 0 { // dead-letters both
		t.Fatalf("setup: %v delivered past MaxReceiveCount", bodyList(again))
	}
	ins := q.Inspector()
	dead, err := ins.ListMessages(ctx, dynamodbqueue.ListOptions{State: dynamodbqueue.StateDeadLettered})
	if err != nil || len(dead.Messages) != 2 {
		t.Fatalf("setup: dead letters %+v, %v", dead.Messages, err)
	}

	sub := mustWatch(t, watching, "ops", "c")
	awaitTicks(t, watching, 3) // the watcher has read the hints of the pushes above
	for woken(sub) {           // drain wake-ups of the setup's pushes and releases
		awaitTicks(t, watching, 10)
	}
	if err := ins.RedriveMessage(ctx, dead.Messages[0].Message.MessageId); err != nil {
		t.Fatalf("RedriveMessage: %v", err)
	}
	awaitReady(t, sub, "redrive of one dead letter by another process")

	held := mustPoll(t, q, time.Hour, 10)
	if len(held) != 1 {
		t.Fatalf("received %v, want the redriven message", bodyList(held))
	}
	awaitTicks(t, watching, 10)
	for woken(sub) {
		awaitTicks(t, watching, 10)
	}
	if err := ins.ChangeVisibility(ctx, held[0].MessageId, 0); err != nil {
		t.Fatalf("ChangeVisibility(0): %v", err)
	}
	awaitReady(t, sub, "release by ID by another process")
}
