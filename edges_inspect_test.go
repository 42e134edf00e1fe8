package dynamodbqueue_test

import (
	"slices"
	"testing"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// TestListShowsPairAgainAfterPurgeAll is issue 9, bug 10: after PurgeAll, List never showed a
// pair again while the same process kept pushing to it, because the process remembered having
// registered the pair.
func TestListShowsPairAgainAfterPurgeAll(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	q := newQueue(t, "listed", "c")
	push(t, q, bodies(1, "before")...)
	if err := q.PurgeAll(ctx); err != nil {
		t.Fatal(err)
	}
	if pairs, err := q.List(ctx); err != nil || len(pairs) != 0 {
		t.Fatalf("List after PurgeAll = %v, %v; want nothing", pairs, err)
	}
	push(t, q, bodies(1, "after")...)
	pairs, err := q.List(ctx)
	if want := []dynamodbqueue.QueueAndClientID{{QueueName: "listed", ClientID: "c"}}; err != nil || !slices.Equal(pairs, want) {
		t.Fatalf("List after a push that followed PurgeAll = %v, %v; want %v", pairs, err, want)
	}
}
