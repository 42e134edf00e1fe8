package dynamodbqueue_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// TestExpiredDeletionMarginKeepsMessagesUnderAWrongClock: a process whose clock is 60 s ahead and
// cannot be corrected (its reference is as wrong as its clock, as if the correction were off)
// sees unexpired messages as expired. It must not deliver them, but it must not delete them
// either: they are expired by less than the margin. A correct process then gets both. With a
// margin shorter than its error (10 s), the same process does delete them: the margin is what
// protects.
func TestExpiredDeletionMarginKeepsMessagesUnderAWrongClock(t *testing.T) {
	t.Parallel()
	_, table := newTable(t)
	world := &dynamodbqueue.Clock{}
	wrongWorld := &dynamodbqueue.Clock{}
	wrongWorld.Advance(60 * time.Second)
	for _, tc := range []struct {
		margin time.Duration
		kept   int
	}{{dynamodbqueue.DefaultExpiredDeletionMargin, 2}, {10 * time.Second, 0}} {
		client := "margin-" + tc.margin.String()
		producer := dynamodbqueue.WithClock(newProcess(t, table, "skew", client), world)
		wrong := dynamodbqueue.WithClock(newProcess(t, table, "skew", client), wrongWorld).UseExpiredDeletionMargin(tc.margin)
		pushWith(t, producer, dynamodbqueue.PushOptions{TTL: 30 * time.Second}, plainAndGrouped()...)
		if got := receiveBodies(t, wrong, time.Minute); len(got) > 0 {
			t.Fatalf("margin %v: a process 60 s ahead received %v, expired by its clock", tc.margin, got)
		}
		if n := liveCount(t, producer); n != tc.kept {
			t.Fatalf("margin %v: after a poll by a process whose clock is 60 s ahead, %d of 2 messages with a 30 s TTL are left; want %d",
				tc.margin, n, tc.kept)
		}
		if tc.kept > 0 {
			if got := receiveBodies(t, producer, time.Minute); !slices.Equal(got, bothBodies) {
				t.Fatalf("margin %v: the correct process then received %v, want %v", tc.margin, got, bothBodies)
			}
		}
	}
}

// TestExpiredDeletionMargin follows expired messages with correct clocks: within the margin
// they are neither delivered nor deleted (a group's live message behind an expired head is
// delivered, and a group of only expired messages keeps its lock); past the margin they are
// deleted, and so is the group they leave empty.
func TestExpiredDeletionMargin(t *testing.T) {
	t.Parallel()
	q, clk := newClockedQueue(t, "margin", "c")
	grouped := func(body, group string) events.SQSMessage {
		return events.SQSMessage{Body: body, Attributes: map[string]string{dynamodbqueue.AttributeMessageGroupID: group}}
	}
	short := dynamodbqueue.PushOptions{TTL: 30 * time.Second}
	pushWith(t, q, short, events.SQSMessage{Body: "plain"}, grouped("g-expired", "g"), grouped("h-expired", "h"))
	pushWith(t, q, dynamodbqueue.PushOptions{TTL: time.Hour}, grouped("g-live", "g"))
	items := itemCount(t, q)

	clk.Advance(32 * time.Second)
	if got := receiveBodies(t, q, time.Minute); !slices.Equal(got, []string{"g-live"}) {
		t.Fatalf("within the margin received %v, want only g-live (behind its group's expired head)", got)
	}
	if n := itemCount(t, q); n != items {
		t.Fatalf("within the margin the table went from %d to %d items; nothing may be deleted", items, n)
	}
	if n := liveCount(t, q); n != 1 {
		t.Fatalf("Count within the margin = %d, want 1 (expired messages are not counted)", n)
	}

	clk.Advance(dynamodbqueue.DefaultExpiredDeletionMargin + time.Second)
	// g-live's 1 min visibility timeout has run out too, so it comes again.
	if got := receiveBodies(t, q, time.Minute); !slices.Equal(got, []string{"g-live"}) {
		t.Fatalf("past the margin received %v, want g-live again", got)
	}
	// Gone: the plain message, the two expired group messages, and group h's lock.
	if n := itemCount(t, q); n != items-4 {
		t.Fatalf("past the margin the table went from %d to %d items; want the 3 expired messages and the empty group deleted", items, n)
	}
}

// TestExpiredDeletionMarginRejectsNegative: a negative margin fails the next operation with
// ErrInvalidArgument, before anything is written.
func TestExpiredDeletionMarginRejectsNegative(t *testing.T) {
	t.Parallel()
	q := newQueue(t, "margin", "c")
	items := itemCount(t, q)
	q.UseExpiredDeletionMargin(-time.Second)
	if _, err := q.PushMessages(ctxT(t), 0, events.SQSMessage{Body: "x"}); !errors.Is(err, dynamodbqueue.ErrInvalidArgument) {
		t.Fatalf("push with a negative margin: %v, want ErrInvalidArgument", err)
	}
	if _, err := q.ReceiveMessages(ctxT(t), dynamodbqueue.ReceiveOptions{}); !errors.Is(err, dynamodbqueue.ErrInvalidArgument) {
		t.Fatalf("receive with a negative margin: %v, want ErrInvalidArgument", err)
	}
	if n := itemCount(t, q); n != items {
		t.Fatalf("the table went from %d to %d items", items, n)
	}
	if got := q.UseExpiredDeletionMargin(0).ExpiredDeletionMargin(); got != 0 {
		t.Fatalf("ExpiredDeletionMargin() = %v after setting 0", got)
	}
}
