package consumer

import (
	"testing"

	"pgregory.net/rapid"
)

// TestSchedulerBacklogKeepsItsShare: a tenant with a backlog (every poll comes back full, so it
// stays ready) next to a pool of quiet tenants that are woken again and again, as often as
// every poll, still gets its weighted share of the messages. Stride scheduling charges every
// tenant for what it claimed, also across its idle spells, so the backlog's charge per weight
// never falls more than one batch behind that of any quiet tenant:
// charged(busy)/weight(busy) >= charged(q)/weight(q) - maxBatch, for each quiet q (an empty
// poll is charged as one message). Before, a tenant woken from idle started at the virtual
// time whatever it had been charged, and since polling it did not move that time, a stream of
// wake-ups kept the backlog from being polled at all.
func TestSchedulerBacklogKeepsItsShare(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		quiet := rapid.IntRange(1, 8).Draw(t, "quiet")
		// Weights that divide strideScale, so that charges are exact.
		weights := rapid.SliceOfN(rapid.IntRange(1, 16), quiet+1, quiet+1).Draw(t, "weights")
		limits := make([]tenantLimits, quiet+1)
		for i, w := range weights {
			limits[i] = tenantLimits{weight: w}
		}
		const busy = 0
		s := newScheduler(limits)
		now := epoch
		s.wake(busy, now)
		maxBatch := rapid.IntRange(1, 10).Draw(t, "maxBatch")
		charged := make([]int, quiet+1)
		for range rapid.IntRange(50, 400).Draw(t, "picks") {
			// Wake-ups of quiet tenants between two polls: usually at least one, so that without
			// fairness the woken would always be ahead.
			for range rapid.IntRange(0, 3).Draw(t, "wakes") {
				s.wake(1+rapid.IntRange(0, quiet-1).Draw(t, "woken"), now)
			}
			i, n, ok, _ := s.next(now, rapid.IntRange(1, maxBatch).Draw(t, "capacity"))
			if !ok {
				t.Fatalf("nothing eligible, but tenant %d has a backlog", busy)
			}
			got := n // the backlog fills every batch
			if i != busy {
				got = rapid.IntRange(0, n).Draw(t, "quietGot") // a quiet tenant has a few messages
			}
			charged[i] += max(got, 1)
			s.done(i, got, i == busy, now)
			for range got {
				s.finished(i, now)
			}
		}
		share := float64(charged[busy]) / float64(weights[busy])
		for q := 1; q <= quiet; q++ {
			if other := float64(charged[q]) / float64(weights[q]); share < other-float64(maxBatch) {
				t.Fatalf("the backlogged tenant was charged %.2f per weight, quiet tenant %d %.2f: more than one batch (%d) behind; weights %v charged %v",
					share, q, other, maxBatch, weights, charged)
			}
		}
	})
}
