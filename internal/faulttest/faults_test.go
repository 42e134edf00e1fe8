package faulttest

import (
	"fmt"
	"testing"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue/internal/faultproxy"
)

// TestNoMessageLostUnderFaults runs producers and consumers of two tenants through every kind
// of fault, with the SDK's default of 3 attempts per request, so that some requests fail for
// good, among them writes DynamoDB applied: pushes reported as failed, claims whose responses
// never arrived, deletes that may or may not have happened. Every successful push must still be
// delivered, nothing may be delivered to the wrong tenant or after a successful delete, and
// the queues must end empty.
func TestNoMessageLostUnderFaults(t *testing.T) {
	t.Parallel()
	seed := seedFor(t, 1001)
	e := newEnv(t, seed, 3, faults(1.5)...)
	l := newLedger()
	a := tenant{queue: "orders", client: "tenant-a"}
	b := tenant{queue: "orders", client: "tenant-b", shards: 3}
	r := run{drainWithin: 40 * time.Second}
	for i, tn := range []tenant{a, b} {
		for p := range 2 {
			r.producers = append(r.producers, produceSpec{
				name: fmt.Sprintf("p%d", p), tn: tn, count: 70, maxBatch: 8, dedup: 0.2 * float64(i),
				pause: 20 * time.Millisecond, maxBacklog: 40,
			})
		}
		for c := range 2 {
			r.consumers = append(r.consumers, consumeSpec{name: fmt.Sprintf("%v#c%d", tn, c), tn: tn, vt: 2 * time.Second, batch: 10})
		}
	}
	s := e.exec(l, seed, r)
	st := e.proxy.Stats()
	t.Logf("%v\n%v\n%s", s, st, st.Detail())
	if s.pushed == 0 || st.Count(faultproxy.DropResponse) == 0 {
		t.Fatalf("the run exercised nothing: %v; %v", s, st)
	}
	if s.dedupHits != 0 {
		t.Errorf("%d pushes with unique deduplication IDs were reported as duplicates", s.dedupHits)
	}
}

// TestFIFOGroupsUnderFaults pushes FIFO groups, each from one producer in order, and consumes
// them with several consumers through every kind of fault (3 attempts per request). Per group,
// first deliveries must follow push order and no message may be delivered while an earlier one
// of its group is undeleted; nothing may be lost.
func TestFIFOGroupsUnderFaults(t *testing.T) {
	t.Parallel()
	seed := seedFor(t, 2002)
	e := newEnv(t, seed, 3, faults(1.5)...)
	l := newLedger()
	tn := tenant{queue: "fifo", client: "tenant-g", shards: 2}
	r := run{drainWithin: 40 * time.Second}
	for p := range 3 {
		var groups []string
		for g := range 3 {
			groups = append(groups, fmt.Sprintf("g%d-%d", p, g))
		}
		r.producers = append(r.producers, produceSpec{
			name: fmt.Sprintf("p%d", p), tn: tn, groups: groups, count: 60, maxBatch: 4, pause: 20 * time.Millisecond, maxBacklog: 30,
		})
	}
	for c := range 3 {
		r.consumers = append(r.consumers, consumeSpec{name: fmt.Sprintf("c%d", c), tn: tn, vt: 2 * time.Second, batch: 5})
	}
	s := e.exec(l, seed, r)
	st := e.proxy.Stats()
	t.Logf("%v\n%v\n%s", s, st, st.Detail())
	if s.pushed == 0 || st.Count(faultproxy.DropResponse) == 0 {
		t.Fatalf("the run exercised nothing: %v; %v", s, st)
	}
}
