package dynamodbqueue_test

import (
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// SendMessages reports each message at its input position: a new ID, a deduplicated repeat
// with the original's ID, and the stored form of the message.
func TestSendMessagesResultsAlignedWithInput(t *testing.T) {
	q := newQueue(t, "results", "send")
	ctx := ctxT(t)
	dedup := func(body, id string) events.SQSMessage {
		return events.SQSMessage{Body: body, Attributes: map[string]string{dynamodbqueue.AttributeMessageDeduplicationID: id}}
	}
	res, err := q.SendMessages(ctx, dynamodbqueue.PushOptions{}, events.SQSMessage{Body: "plain"}, dedup("first", "d-1"), dedup("repeat", "d-1"))
	if err != nil {
		t.Fatalf("SendMessages: %v", err)
	}
	if len(res) != 3 {
		t.Fatalf("got %d results for 3 messages", len(res))
	}
	for i, r := range res {
		if r.Err != nil || r.MessageID == "" || r.MessageID != r.Message.MessageId || r.Message.Md5OfBody == "" {
			t.Errorf("result %d = %+v, want stored with an ID and digest", i, r)
		}
	}
	if res[0].Duplicate || res[1].Duplicate || !res[2].Duplicate {
		t.Errorf("Duplicate flags = %v %v %v, want false false true", res[0].Duplicate, res[1].Duplicate, res[2].Duplicate)
	}
	if res[2].MessageID != res[1].MessageID {
		t.Errorf("repeat reports ID %q, want the original's %q", res[2].MessageID, res[1].MessageID)
	}
	if res[0].Message.Body != "plain" || res[0].Message.Attributes[dynamodbqueue.AttributeSentTimestamp] == "" {
		t.Errorf("result 0 message = %+v, want the stored form of \"plain\"", res[0].Message)
	}
	if n, err := q.Count(ctx); err != nil || n != 2 {
		t.Errorf("Count = %d, %v; want 2 (the repeat is not stored)", n, err)
	}
}

// One invalid message fails the call before anything is written: it carries its own error,
// the valid ones ErrNotAttempted (sending them again alone works).
func TestSendMessagesInvalidEntryWritesNothing(t *testing.T) {
	q := newQueue(t, "results", "invalid")
	ctx := ctxT(t)
	msgs := []events.SQSMessage{{Body: "ok 1"}, {Body: ""}, {Body: "ok 2"}}
	res, err := q.SendMessages(ctx, dynamodbqueue.PushOptions{}, msgs...)
	if !errors.Is(err, dynamodbqueue.ErrInvalidMessage) {
		t.Fatalf("SendMessages error = %v, want ErrInvalidMessage", err)
	}
	if len(res) != 3 || !errors.Is(res[1].Err, dynamodbqueue.ErrInvalidMessage) ||
		!errors.Is(res[0].Err, dynamodbqueue.ErrNotAttempted) || !errors.Is(res[2].Err, dynamodbqueue.ErrNotAttempted) {
		t.Fatalf("results = %+v, want [ErrNotAttempted, ErrInvalidMessage, ErrNotAttempted]", res)
	}
	if n, err := q.Count(ctx); err != nil || n != 0 {
		t.Fatalf("Count = %d, %v; want 0: nothing may be written", n, err)
	}
	var retry []events.SQSMessage
	for i, r := range res {
		if errors.Is(r.Err, dynamodbqueue.ErrNotAttempted) {
			retry = append(retry, msgs[i])
		}
	}
	if res, err := q.SendMessages(ctx, dynamodbqueue.PushOptions{}, retry...); err != nil || len(res) != 2 {
		t.Fatalf("resending the valid ones: %d results, %v", len(res), err)
	}
}

// An error of the whole call (no queue set, bad options) is every entry's error too.
func TestSendMessagesCallErrorInEveryResult(t *testing.T) {
	q, _ := newTable(t)
	ctx := ctxT(t)
	res, err := q.SendMessages(ctx, dynamodbqueue.PushOptions{}, events.SQSMessage{Body: "a"}, events.SQSMessage{Body: "b"})
	var partial *dynamodbqueue.PartialError
	if !errors.Is(err, dynamodbqueue.ErrQueueNameNotSet) || errors.As(err, &partial) || len(res) != 2 ||
		!errors.Is(res[0].Err, dynamodbqueue.ErrQueueNameNotSet) || !errors.Is(res[1].Err, dynamodbqueue.ErrQueueNameNotSet) {
		t.Fatalf("no queue: results %+v, error %v; want ErrQueueNameNotSet everywhere", res, err)
	}
	q.UseQueueName("results").UseClientID("opts")
	res, err = q.SendMessages(ctx, dynamodbqueue.PushOptions{Delay: -time.Second}, events.SQSMessage{Body: "a"})
	var ia *dynamodbqueue.InvalidArgumentError
	if !errors.As(err, &ia) || ia.Name != "Delay" || len(res) != 1 || !errors.Is(res[0].Err, dynamodbqueue.ErrInvalidArgument) {
		t.Fatalf("negative delay: results %+v, error %v; want an InvalidArgumentError named Delay", res, err)
	}
}

// DeleteEntries gives each handle its own outcome: deleted, malformed (with the reason),
// foreign, stale, or already gone (which succeeds, as in SQS).
func TestDeleteEntriesPerHandle(t *testing.T) {
	q, msgs := held(t, "delete", 3)
	ctx := ctxT(t)
	// msgs[1]'s claim ends and another receive takes it: its first handle is stale.
	if _, err := q.ReleaseMessages(ctx, msgs[1].ReceiptHandle); err != nil {
		t.Fatal(err)
	}
	again := mustPoll(t, q, time.Minute, 1)
	if len(again) != 1 {
		t.Fatal("the released message was not received again")
	}
	other := q.Clone().UseClientID("someone-else")
	push(t, other, events.SQSMessage{Body: "foreign"})
	foreign := mustPoll(t, other, time.Minute, 1)

	handles := []string{msgs[0].ReceiptHandle, "not a handle", msgs[1].ReceiptHandle, foreign[0].ReceiptHandle, msgs[0].ReceiptHandle}
	res, err := q.DeleteEntries(ctx, handles...)
	if len(res) != len(handles) {
		t.Fatalf("%d results for %d handles", len(res), len(handles))
	}
	for i, r := range res {
		if r.ReceiptHandle != handles[i] {
			t.Errorf("result %d is for handle %q, want %q", i, r.ReceiptHandle, handles[i])
		}
	}
	var bad *dynamodbqueue.InvalidReceiptHandleError
	switch {
	case res[0].Err != nil:
		t.Errorf("held handle: %v, want deleted", res[0].Err)
	case !errors.As(res[1].Err, &bad) || bad.Reason != "not base64url" || !errors.Is(res[1].Err, dynamodbqueue.ErrInvalidReceiptHandle):
		t.Errorf("malformed handle: %v, want an InvalidReceiptHandleError with reason \"not base64url\"", res[1].Err)
	case !errors.Is(res[2].Err, dynamodbqueue.ErrStaleReceiptHandle):
		t.Errorf("stale handle: %v, want ErrStaleReceiptHandle", res[2].Err)
	case !errors.Is(res[3].Err, dynamodbqueue.ErrForeignReceiptHandle):
		t.Errorf("other client's handle: %v, want ErrForeignReceiptHandle", res[3].Err)
	case res[4].Err != nil:
		t.Errorf("handle of a message deleted by this very call: %v, want success", res[4].Err)
	}
	var partial *dynamodbqueue.PartialError
	if !errors.As(err, &partial) || partial.Failed != 3 || partial.Total != 5 || !errors.Is(err, dynamodbqueue.ErrInvalidReceiptHandle) {
		t.Errorf("summary error = %v, want a PartialError: 3 of 5 failed, the first an invalid handle", err)
	}
	// The wrapper reports the same, in the older form.
	failed, err := q.DeleteMessages(ctx, again[0].ReceiptHandle, "not a handle")
	if len(failed) != 1 || failed[0] != "not a handle" || !errors.Is(err, dynamodbqueue.ErrInvalidReceiptHandle) {
		t.Errorf("DeleteMessages = %q, %v; want only the malformed handle", failed, err)
	}
	if res, err := q.DeleteEntries(ctx); err != nil || len(res) != 0 {
		t.Errorf("DeleteEntries() = %v, %v; want nothing", res, err)
	}
}

// ChangeVisibilityEntries and ReleaseEntries report per handle; an invalid timeout fails
// every entry with an error naming the argument, and changes nothing.
func TestChangeVisibilityEntriesPerHandle(t *testing.T) {
	q, msgs := held(t, "visibility", 2)
	ctx := ctxT(t)
	handles := append(toHandles(msgs), "")
	res, err := q.ChangeVisibilityEntries(ctx, -time.Second, handles...)
	var ia *dynamodbqueue.InvalidArgumentError
	if !errors.As(err, &ia) || ia.Name != "VisibilityTimeout" || len(res) != 3 {
		t.Fatalf("negative timeout: %+v, %v; want an InvalidArgumentError named VisibilityTimeout", res, err)
	}
	for i, r := range res {
		if !errors.Is(r.Err, dynamodbqueue.ErrInvalidArgument) {
			t.Errorf("result %d: %v, want ErrInvalidArgument", i, r.Err)
		}
	}
	res, err = q.ChangeVisibilityEntries(ctx, 2*time.Minute, handles...)
	var bad *dynamodbqueue.InvalidReceiptHandleError
	if res[0].Err != nil || res[1].Err != nil || !errors.As(res[2].Err, &bad) || bad.Reason != "empty" || err == nil {
		t.Fatalf("ChangeVisibilityEntries = %+v, %v; want two changed and the empty handle refused", res, err)
	}
	res, err = q.ReleaseEntries(ctx, msgs[0].ReceiptHandle)
	if err != nil || len(res) != 1 || res[0].Err != nil {
		t.Fatalf("ReleaseEntries = %+v, %v", res, err)
	}
	got := mustPoll(t, q, time.Minute, 2)
	if len(got) != 1 || got[0].MessageId != msgs[0].MessageId {
		t.Fatalf("after releasing one of two: received %v, want only the released one", bodyList(got))
	}
}

// held returns a queue of client on a fresh table, and n messages received from it (held for
// a minute).
func held(t *testing.T, client string, n int) (*dynamodbqueue.DynamoDBQueue, []events.SQSMessage) {
	t.Helper()
	q := newQueue(t, "results", client)
	push(t, q, bodies(n, client)...)
	msgs := mustPoll(t, q, time.Minute, n)
	if len(msgs) != n {
		t.Fatalf("received %d of %d", len(msgs), n)
	}
	return q, msgs
}
