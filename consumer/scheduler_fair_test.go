package consumer

import (
	"testing"

	"pgregory.net/rapid"
)

// TestSchedulerBacklogKeepsItsShare: a tenant with a backlog (every poll comes back full, so it
// stays ready) next to a pool of quiet tenants that are woken again and again, as often as
// every poll, still gets its weighted share of the polls. Stride scheduling charges every
// tenant per poll, also across its idle spells, so the backlog's polls per weight never fall
// more than one poll behind those of any quiet tenant:
// polls(busy)/weight(busy) >= polls(q)/weight(q) - 1, for each quiet q. Before 1aaace9, a
// tenant woken from idle started at the virtual time whatever it had been charged, and since
// polling it did not move that time, a stream of wake-ups kept the backlog from being polled
// at all.
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
		polled := make([]int, quiet+1)
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
			polled[i]++
			s.done(i, got, i == busy, now)
			for range got {
				s.finished(i, now)
			}
		}
		share := float64(polled[busy]) / float64(weights[busy])
		for q := 1; q <= quiet; q++ {
			if other := float64(polled[q]) / float64(weights[q]); share < other-1 {
				t.Fatalf("the backlogged tenant was polled %.2f times per weight, quiet tenant %d %.2f: more than one poll behind; weights %v polled %v",
					share, q, other, weights, polled)
			}
		}
	})
}

// noisyNeighbour drives the scheduler through the fairness bench's traffic in picks rather
// than in time: tenant 0 has a backlog (every poll comes back full), tenants 1..quiet each
// get one message per "second" of perSecond picks, woken at evenly spread picks, and one pick
// is one poll. It returns the polls of each tenant and, for each quiet message, how many
// times the backlog was polled between its wake-up and its poll.
func noisyNeighbour(t *testing.T, quiet, perSecond, seconds int) (polls []int, backlogAhead []int) {
	t.Helper()
	const capacity = 10
	s := newScheduler(make([]tenantLimits, quiet+1))
	now := epoch
	s.wake(0, now)
	polls = make([]int, quiet+1)
	waiting := make([]int, quiet+1) // backlog polls since the wake-up; -1: not woken
	for i := range waiting {
		waiting[i] = -1
	}
	for pick := range perSecond * seconds {
		// Quiet tenant q is woken at picks q·perSecond/quiet + k·perSecond.
		for q := 1; q <= quiet; q++ {
			if (q-1)*perSecond/quiet == pick%perSecond {
				if waiting[q] < 0 { // else its earlier message still waits: the count goes on
					waiting[q] = 0
				}
				s.wake(q, now)
			}
		}
		i, n, ok, _ := s.next(now, capacity)
		if !ok {
			t.Fatalf("pick %d: nothing eligible, but tenant 0 has a backlog", pick)
		}
		polls[i]++
		got := n // the backlog fills every batch
		if i != 0 {
			got = 1
			backlogAhead = append(backlogAhead, waiting[i])
			waiting[i] = -1
		} else {
			for q := range waiting {
				if q > 0 && waiting[q] >= 0 {
					waiting[q]++
				}
			}
		}
		s.done(i, got, i == 0, now)
		for range got {
			s.finished(i, now)
		}
	}
	return polls, backlogAhead
}

// TestSchedulerNoisyNeighbour: the fairness bench's case (issue 11), without timing. With 99
// quiet tenants and a consumer that polls faster than they wake (200 polls per second of 99
// messages), every quiet message costs one poll and waits for at most one poll of the
// backlog (the backlog, just polled, is charged one stride, so the woken tenant is at or
// below it), and the backlog gets every other poll: all the capacity the quiet tenants do not
// need. When the quiet tenants wake faster than the consumer polls (80 polls per second), the
// backlog still gets a share of the polls equal to each quiet tenant's (one in 100), and each
// of its polls claims a full batch: about 10 messages in 109. Charged per message, as before,
// it got one poll in about 1,000.
func TestSchedulerNoisyNeighbour(t *testing.T) {
	const quiet, seconds = 99, 20
	t.Run("capacity to spare", func(t *testing.T) {
		const perSecond = 200
		polls, ahead := noisyNeighbour(t, quiet, perSecond, seconds)
		quietPolls := 0
		for q := 1; q <= quiet; q++ {
			quietPolls += polls[q]
			if polls[q] != seconds {
				t.Errorf("quiet tenant %d polled %d times for its %d messages", q, polls[q], seconds)
			}
		}
		if want := perSecond*seconds - quietPolls; polls[0] != want {
			t.Errorf("the backlog was polled %d times, want every poll the quiet tenants did not need: %d", polls[0], want)
		}
		for k, a := range ahead {
			if a > 1 {
				t.Fatalf("quiet message %d waited for %d polls of the backlog, want at most 1", k, a)
			}
		}
	})
	t.Run("saturated", func(t *testing.T) {
		const perSecond = 80
		polls, ahead := noisyNeighbour(t, quiet, perSecond, seconds)
		for q := 1; q <= quiet; q++ {
			// Stride scheduling, per poll, equal weights: the backlog's polls stay within one
			// of every ready tenant's.
			if polls[0] < polls[q]-1 {
				t.Errorf("the backlog was polled %d times, quiet tenant %d %d times: more than one poll behind", polls[0], q, polls[q])
			}
		}
		if min := perSecond * seconds / (quiet + 1); polls[0] < min {
			t.Errorf("the backlog was polled %d times in %d, want at least its 1/%d share: %d", polls[0], perSecond*seconds, quiet+1, min)
		}
		for k, a := range ahead {
			if a > 2 {
				t.Fatalf("quiet message %d waited for %d polls of the backlog, want at most 2", k, a)
			}
		}
	})
}
