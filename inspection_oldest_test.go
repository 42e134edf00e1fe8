package dynamodbqueue_test

import (
	"testing"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// pairCounts is a PairStats without OldestVisible, for comparing counts as text.
type pairCounts struct {
	dynamodbqueue.QueueAndClientID
	dynamodbqueue.Stats
}

func countsOnly(ps []dynamodbqueue.PairStats) []pairCounts {
	out := make([]pairCounts, len(ps))
	for i, p := range ps {
		out[i] = pairCounts{p.QueueAndClientID, p.Stats}
	}
	return out
}

// OldestVisible is the send time of the oldest visible message, grouped or not: older messages
// in flight or delayed do not count, and a pair with nothing visible reports zero.
func TestStatsOldestVisible(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	base, _ := newTable(t)
	clock := &dynamodbqueue.Clock{}
	dynamodbqueue.WithClock(base, clock) // every clone shares the clock: sends 1 s apart
	acme := base.Clone().UseQueueName("orders").UseClientID("acme")
	globex := base.Clone().UseQueueName("orders").UseClientID("globex")
	held := base.Clone().UseQueueName("orders").UseClientID("held")

	push(t, acme, msgIn("acme-held", "", ""))
	push(t, held, msgIn("held-only", "", ""))
	pushWith(t, acme, dynamodbqueue.PushOptions{Delay: time.Minute}, msgIn("acme-delayed", "", ""))
	clock.Advance(time.Second)
	push(t, acme, msgIn("acme-visible", "", ""))
	push(t, globex, msgIn("globex-grouped", "g1", ""))
	clock.Advance(time.Second)
	push(t, acme, msgIn("acme-newer", "", ""))
	if got := mustPoll(t, acme, time.Hour, 1); len(got) != 1 || got[0].Body != "acme-held" {
		t.Fatalf("poll = %v; want acme-held", bodyList(got))
	}
	if got := mustPoll(t, held, time.Hour, 1); len(got) != 1 {
		t.Fatalf("poll held = %v", bodyList(got))
	}
	sent := map[string]time.Time{}
	for _, q := range []*dynamodbqueue.DynamoDBQueue{acme, globex} {
		page, err := q.Inspector().ListMessages(ctx, dynamodbqueue.ListOptions{State: dynamodbqueue.StateVisible})
		if err != nil {
			t.Fatalf("ListMessages: %v", err)
		}
		for _, m := range page.Messages {
			sent[m.Message.Body] = m.Sent
		}
	}
	if !sent["acme-visible"].Before(sent["acme-newer"]) {
		t.Fatalf("send times %v: want acme-visible before acme-newer", sent)
	}
	want := map[string]time.Time{"acme": sent["acme-visible"], "globex": sent["globex-grouped"], "held": {}}

	qs, err := acme.Inspector().QueueStats(ctx)
	if err != nil || len(qs) != 3 {
		t.Fatalf("QueueStats = %v, %v", qs, err)
	}
	ts, err := acme.Inspector().TableStats(ctx)
	if err != nil || len(ts) != 3 {
		t.Fatalf("TableStats = %v, %v", ts, err)
	}
	for _, p := range append(qs, ts...) {
		if w := want[p.ClientID]; !p.OldestVisible.Equal(w) {
			t.Errorf("%s: OldestVisible = %v; want %v", p.ClientID, p.OldestVisible, w)
		}
	}
}
