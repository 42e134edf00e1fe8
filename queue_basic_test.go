package dynamodbqueue_test

import (
	"slices"
	"testing"
	"time"
)

func TestPushPollDeleteRoundTrip(t *testing.T) {
	t.Parallel()
	q := newQueue(t, "orders", "tenant-a")
	push(t, q, bodies(30, "m")...)
	n, err := q.Count(ctxT(t))
	if err != nil || n != 30 {
		t.Fatalf("Count = %d, %v; want 30", n, err)
	}
	got := mustPoll(t, q, time.Minute, 30)
	if want := bodyList(bodies(30, "m")); !slices.Equal(bodyList(got), want) {
		t.Fatalf("FIFO poll returned %v, want %v", bodyList(got), want)
	}
	if again := mustPoll(t, q, time.Minute, 10); len(again) != 0 {
		t.Fatalf("claimed messages were delivered again: %v", bodyList(again))
	}
	failed, err := q.DeleteMessages(ctxT(t), toHandles(got)...)
	if err != nil || len(failed) != 0 {
		t.Fatalf("DeleteMessages: %d failed, %v", len(failed), err)
	}
	if n, err := q.Count(ctxT(t)); err != nil || n != 0 {
		t.Fatalf("Count after delete = %d, %v; want 0", n, err)
	}
}
