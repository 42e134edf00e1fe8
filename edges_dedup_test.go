package dynamodbqueue_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// isDedupRecordUpdate matches the update that marks a deduplication record done.
func isDedupRecordUpdate(op string, in any) bool {
	u, ok := in.(*dynamodb.UpdateItemInput)
	return op == "UpdateItem" && ok && strings.HasPrefix(attrString(u.Key["SK"]), "d#")
}

// pushCrashingBeforeDoneMark pushes m with every update of a deduplication record failing, as a
// process that crashes after storing the message and before marking the record done: the push
// reports m failed, and the record stays pending.
func pushCrashingBeforeDoneMark(t *testing.T, q *dynamodbqueue.DynamoDBQueue, api *hookAPI, m events.SQSMessage) {
	t.Helper()
	crash := errors.New("test: crashed before the done mark")
	api.set(func(op string, in any) error {
		if isDedupRecordUpdate(op, in) {
			return crash
		}
		return nil
	})
	defer api.set(nil)
	if res, err := q.PushWithOptions(ctxT(t), dynamodbqueue.PushOptions{}, m); !errors.Is(err, crash) || len(res.Failed) != 1 {
		t.Fatalf("push = %+v, %v; want it failed with the injected error", res, err)
	}
}

// A push that stored its message but crashed before marking its deduplication record done, and
// is retried with the same ID after a consumer received and deleted the message, must not store
// the message again: the retry is the duplicate the ID exists to catch. (Found in review: the
// retry completed the pending record's write, and the message was delivered twice.)
func TestDedupRetryAfterConsumedMessageIsNotDeliveredAgain(t *testing.T) {
	t.Parallel()
	for _, group := range []string{"", "g"} {
		t.Run("group "+group, func(t *testing.T) {
			t.Parallel()
			_, table := newTable(t)
			q, api := hookedQueue(t, table, "dedup-consumed", "c", nil)
			pushCrashingBeforeDoneMark(t, q, api, msgIn("once", group, "R"))
			got := expectDelivery(t, q, "once") // received and deleted
			res := pushWith(t, q, dynamodbqueue.PushOptions{}, msgIn("once", group, "R"))
			if res.Duplicates != 1 || res.Pushed[0].MessageId != got[0].MessageId {
				t.Fatalf("retried push: Duplicates = %d, MessageId %q; want 1 duplicate of %q", res.Duplicates, res.Pushed[0].MessageId, got[0].MessageId)
			}
			expectCount(t, q, 0)
			expectDelivery(t, q)
		})
	}
}

// The same holds when the message leaves by the inspection API's delete by message ID, or by a
// move to the dead-letter queue.
func TestDedupRetryAfterMessageDeletedByIDOrDeadLettered(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"by ID", "dead-lettered"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			_, table := newTable(t)
			clk := &dynamodbqueue.Clock{}
			q, api := hookedQueue(t, table, "dedup-gone", "c", clk)
			q.UseDeadLetterQueue(&dynamodbqueue.DeadLetterConfig{MaxReceiveCount: 1})
			pushCrashingBeforeDoneMark(t, q, api, msgIn("once", "", "R"))
			switch how {
			case "by ID":
				peeked, err := q.Peek(ctxT(t), 1)
				if err != nil || len(peeked) != 1 {
					t.Fatalf("Peek = %v, %v", peeked, err)
				}
				if err := q.Inspector().DeleteMessage(ctxT(t), peeked[0].MessageId); err != nil {
					t.Fatalf("DeleteMessage: %v", err)
				}
			case "dead-lettered":
				if got := mustPoll(t, q, time.Second, 1); len(got) != 1 {
					t.Fatalf("first receive got %d messages", len(got))
				}
				clk.Advance(2 * time.Second) // the claim lapses
				if got := mustPoll(t, q, time.Second, 1); len(got) != 0 {
					t.Fatalf("second receive got %d messages; want the message moved to the dead-letter queue", len(got))
				}
				if st, err := q.Stats(ctxT(t)); err != nil || st.DeadLettered != 1 {
					t.Fatalf("Stats = %+v, %v; want 1 dead-lettered", st, err)
				}
			}
			retry := pushWith(t, q, dynamodbqueue.PushOptions{}, msgIn("once", "", "R"))
			if retry.Duplicates != 1 {
				t.Fatalf("retried push: Duplicates = %d, want 1", retry.Duplicates)
			}
			expectCount(t, q, 0)
		})
	}
}

// A later push of the ID that completes the pending write while a consumer receives and deletes
// the message (between the later push's read of the record and its message put) takes its new
// copy back: the message is delivered once.
func TestDedupCompletionRacingConsumerTakesCopyBack(t *testing.T) {
	t.Parallel()
	_, table := newTable(t)
	q, api := hookedQueue(t, table, "dedup-race", "c", nil)
	consumer := plainQueue(t, table, "dedup-race", "c")
	pushCrashingBeforeDoneMark(t, q, api, msgIn("once", "", "R"))
	api.set(onceBefore(isMessagePut, func() error {
		got := mustPoll(t, consumer, time.Hour, 10)
		if len(got) != 1 {
			t.Errorf("consumer received %d messages, want 1", len(got))
		}
		_, err := consumer.DeleteMessages(ctxT(t), toHandles(got)...)
		return err
	}))
	retry := pushWith(t, q, dynamodbqueue.PushOptions{}, msgIn("once", "", "R"))
	api.set(nil)
	if retry.Duplicates != 1 {
		t.Fatalf("retried push: Duplicates = %d, want 1", retry.Duplicates)
	}
	expectCount(t, q, 0)
}

// The consumed mark lives on the home shard whatever the shard count: a push crashed with one
// shard, whose message is consumed after the count was raised, is still recognised when retried.
func TestDedupConsumedMarkSurvivesShardRaise(t *testing.T) {
	t.Parallel()
	_, table := newTable(t)
	q, api := hookedQueue(t, table, "dedup-shards", "c", nil)
	pushCrashingBeforeDoneMark(t, q, api, msgIn("once", "", "R"))
	q.UseShards(4)
	expectDelivery(t, q, "once")
	if retry := pushWith(t, q, dynamodbqueue.PushOptions{}, msgIn("once", "", "R")); retry.Duplicates != 1 {
		t.Fatalf("retried push after the shard raise: Duplicates = %d, want 1", retry.Duplicates)
	}
	expectCount(t, q, 0)
}

// A purge between a delete and its consumed mark removes the record, and the mark then writes
// nothing (its condition needs a pending record): the ID is forgotten, as after any purge, and
// no bare record is left to block it.
func TestPurgeBeforeConsumedMarkLeavesNoRecord(t *testing.T) {
	t.Parallel()
	_, table := newTable(t)
	q, api := hookedQueue(t, table, "dedup-purge-mark", "c", nil)
	other := plainQueue(t, table, "dedup-purge-mark", "c")
	pushCrashingBeforeDoneMark(t, q, api, msgIn("once", "", "R"))
	got := mustPoll(t, q, time.Hour, 1)
	if len(got) != 1 {
		t.Fatalf("received %d messages, want 1", len(got))
	}
	api.set(onceBefore(isDedupRecordUpdate, func() error { return other.Purge(ctxT(t)) }))
	if _, err := q.DeleteMessages(ctxT(t), toHandles(got)...); err != nil {
		t.Fatalf("DeleteMessages: %v", err)
	}
	api.set(nil)
	res := pushWith(t, q, dynamodbqueue.PushOptions{}, msgIn("again", "", "R"))
	if res.Duplicates != 0 {
		t.Fatalf("push after the purge: Duplicates = %d, want a new message", res.Duplicates)
	}
	expectDelivery(t, q, "again")
}
