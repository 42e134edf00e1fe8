package faulttest

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue/internal/faultproxy"
)

// envSoakDuration sets how long the soak test's producers run (a Go duration, default 20s).
const envSoakDuration = "SOAK_DURATION"

// TestSoak runs producers and consumers over several tenants through every kind of fault for
// SOAK_DURATION (default 20s), then drains the queues and checks the ledger: nothing lost, group
// order kept, nothing delivered after its delete or to another tenant. It logs one summary line
// and the command that reruns it. Tenants: plain messages with and without deduplication IDs
// on one shard; FIFO groups on three shards; a mix of both on one shard.
func TestSoak(t *testing.T) {
	t.Parallel()
	dur := 20 * time.Second
	if v := os.Getenv(envSoakDuration); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("%s=%q: want a positive duration such as 60s", envSoakDuration, v)
		}
		dur = d
	}
	seed := seedFor(t, 8008)
	e := newEnv(t, seed, 4, faults(1)...)
	l := newLedger()
	tenants := []tenant{
		{queue: "orders", client: "acme"},
		{queue: "orders", client: "globex", shards: 3},
		{queue: "events", client: "acme"},
	}
	r := run{produceFor: dur, drainWithin: 45 * time.Second}
	for i, tn := range tenants {
		if i != 1 {
			r.producers = append(r.producers, produceSpec{
				name: "plain", tn: tn, maxBatch: 10, dedup: 0.25, pause: 120 * time.Millisecond, maxBacklog: 40,
			})
		}
		if i != 0 {
			var groups []string
			for g := range 4 {
				groups = append(groups, fmt.Sprintf("g%d", g))
			}
			r.producers = append(r.producers, produceSpec{
				name: "groups", tn: tn, groups: groups, maxBatch: 3, pause: 60 * time.Millisecond, maxBacklog: 40,
			})
		}
		for c := range 2 {
			r.consumers = append(r.consumers, consumeSpec{name: fmt.Sprintf("%v#%d", tn, c), tn: tn, vt: 2 * time.Second, batch: 10})
		}
	}
	start := time.Now()
	s := e.exec(l, seed, r)
	st := e.proxy.Stats()
	var kinds []string
	for _, k := range faultproxy.Kinds() {
		kinds = append(kinds, fmt.Sprintf("%s=%d", k, st.Count(k)))
	}
	t.Logf("soak: duration=%v (total %v) seed=%d tenants=%d ops=%d faults=%d (%s) pushed=%d push_failed=%d delivered=%d "+
		"deliveries=%d duplicates=%d lost=%d deletes=%d delete_errors=%d receive_errors=%d",
		dur, time.Since(start).Round(time.Second), seed, len(tenants), st.TotalRequests(), st.TotalFaults(),
		strings.Join(kinds, " "), s.pushed, s.pushFailed, s.delivered, s.deliveries, s.duplicates, s.lost,
		s.deletesOK, s.deletesErr, s.receiveErrors)
	t.Logf("soak: faults by operation:\n%s", st.Detail())
	t.Logf("soak: reproduce with: %s=%v %s=%d go test -race -count=1 -timeout 10m -run '^TestSoak$' -v ./internal/faulttest/",
		envSoakDuration, dur, envSeed, seed)
	if s.lost != 0 {
		t.Fatalf("lost = %d", s.lost)
	}
	if s.pushed == 0 || st.TotalFaults() == 0 {
		t.Fatalf("the soak did nothing: %v; %v", s, st)
	}
	if s.dedupHits != 0 {
		t.Errorf("%d pushes with unique deduplication IDs were reported as duplicates", s.dedupHits)
	}
}
