package consumer

import (
	"testing"
	"time"

	"pgregory.net/rapid"
)

// epoch is the fake clock's start: the scheduler takes its time as an argument.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// TestSchedulerWeightedShares: tenants that always have messages are served in proportion to
// their weights. Stride scheduling keeps every pass within one charge of every other, so
// served·stride of two tenants differ by at most the largest batch times the largest stride,
// however long it runs.
func TestSchedulerWeightedShares(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		weights := rapid.SliceOfN(rapid.IntRange(1, 20), 2, 8).Draw(t, "weights")
		limits := make([]tenantLimits, len(weights))
		for i, w := range weights {
			limits[i] = tenantLimits{weight: w}
		}
		s := newScheduler(limits)
		now := epoch
		for i := range weights {
			s.wake(i, now)
		}
		maxBatch := rapid.IntRange(1, 10).Draw(t, "maxBatch")
		served := make([]int, len(weights))
		for range rapid.IntRange(50, 400).Draw(t, "picks") {
			capacity := rapid.IntRange(1, maxBatch).Draw(t, "capacity")
			i, n, ok, _ := s.next(now, capacity)
			if !ok {
				t.Fatalf("no tenant eligible, but all have a backlog")
			}
			if n < 1 || n > capacity {
				t.Fatalf("next gave %d messages for capacity %d", n, capacity)
			}
			served[i] += n
			s.done(i, n, true, now)
			for range n {
				s.finished(i, now)
			}
		}
		var most, least float64
		for i, w := range weights {
			norm := float64(served[i]) / float64(w) // = pass / strideScale
			if i == 0 || norm > most {
				most = norm
			}
			if i == 0 || norm < least {
				least = norm
			}
		}
		if bound := float64(maxBatch); most-least > bound {
			t.Fatalf("served/weight ranges %.2f..%.2f, more than one batch (%v) apart; weights %v served %v",
				least, most, bound, weights, served)
		}
	})
}

// TestSchedulerWokenTenantGoesFirst: a tenant woken from idle is polled soon, whatever
// backlog the others have: a tenant that was already ready is polled at most once, plus as
// many more times as its stride fits in what the woken tenant was charged for its last poll
// (the woken tenant pays that off first; see scheduler.wake). So a quiet tenant whose last
// poll claimed one message comes before a backlog of the same or a lower weight is polled
// twice, and one tenant's backlog cannot starve a quiet one.
func TestSchedulerWokenTenantGoesFirst(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		busy := rapid.IntRange(1, 6).Draw(t, "busy")
		weights := rapid.SliceOfN(rapid.IntRange(1, MaxTenantWeight), busy+1, busy+1).Draw(t, "weights")
		limits := make([]tenantLimits, busy+1)
		for i, w := range weights {
			limits[i] = tenantLimits{weight: w}
		}
		quiet := busy // the last one
		s := newScheduler(limits)
		now := epoch
		for i := range busy {
			s.wake(i, now)
		}
		var lastCharge uint64 // of the quiet tenant's last poll, in messages
		serve := func() int {
			i, n, ok, _ := s.next(now, rapid.IntRange(1, 10).Draw(t, "capacity"))
			if !ok {
				t.Fatalf("nothing eligible")
			}
			s.done(i, n, i != quiet, now) // the quiet tenant has one batch, the others a backlog
			for range n {
				s.finished(i, now)
			}
			if i == quiet {
				lastCharge = uint64(n)
			}
			return i
		}
		quietReady := false
		for range rapid.IntRange(0, 200).Draw(t, "before") {
			if !quietReady && rapid.IntRange(0, 9).Draw(t, "quietWakes") == 0 {
				s.wake(quiet, now) // some earlier traffic of the quiet tenant
				quietReady = true
			}
			if i := serve(); i == quiet {
				if !quietReady {
					t.Fatalf("the quiet tenant was polled before it was woken")
				}
				quietReady = false // served its batch; idle again
			}
		}
		if quietReady {
			return // the quiet tenant's earlier batch is still waiting: not the case under test
		}
		s.wake(quiet, now)
		owed := lastCharge * s.tenants[quiet].stride
		picked := map[int]uint64{}
		for {
			i := serve()
			if i == quiet {
				break
			}
			// The k-th poll of i is at a pass at least (k-1) strides of i above the first, and
			// below the woken tenant's, which is at most owed above the virtual time.
			if picked[i] > 0 && picked[i]*s.tenants[i].stride >= owed {
				t.Fatalf("tenant %d polled %d times before the woken quiet tenant, whose last poll claimed %d (weights %v)",
					i, picked[i]+1, lastCharge, weights)
			}
			picked[i]++
		}
	})
}

// schedModel drives the scheduler with random wake-ups, polls, handler completions and clock
// steps, and checks after each step what it must never do: poll a tenant that was not woken
// (an idle tenant costs nothing), exceed a tenant's concurrency limit, claim more than the idle
// workers, or admit more messages than the rate limit's token bucket allows over any window.
type schedModel struct {
	limits   []tenantLimits
	s        *scheduler
	now      time.Time
	ready    []bool // woken (or drained with a full batch) since its last short poll
	inflight []int
	polling  int // tenant being polled, or -1
	pollN    int
	admits   [][]admit    // per tenant
	pending  []timerEntry // delayed wake-ups
}

type admit struct {
	at time.Time
	n  int
}

func (m *schedModel) init(t *rapid.T) {
	n := rapid.IntRange(1, 6).Draw(t, "tenants")
	m.limits = make([]tenantLimits, n)
	for i := range m.limits {
		l := tenantLimits{
			weight:  rapid.IntRange(1, 5).Draw(t, "weight"),
			maxConc: rapid.IntRange(0, 4).Draw(t, "maxConc"),
		}
		if rapid.Bool().Draw(t, "rateLimited") {
			l.rate = float64(rapid.IntRange(1, 50).Draw(t, "rate"))
			l.burst = rapid.IntRange(1, 10).Draw(t, "burst")
		}
		m.limits[i] = l
	}
	m.s = newScheduler(m.limits)
	m.now = epoch
	m.ready = make([]bool, n)
	m.inflight = make([]int, n)
	m.admits = make([][]admit, n)
	m.polling = -1
}

func (m *schedModel) check(t *rapid.T) {
	for i, l := range m.limits {
		if l.maxConc > 0 && m.inflight[i] > l.maxConc {
			t.Fatalf("tenant %d has %d messages in flight, limit %d", i, m.inflight[i], l.maxConc)
		}
		if l.rate == 0 {
			continue
		}
		as := m.admits[i]
		for a := range as {
			total := 0
			for b := a; b < len(as); b++ {
				total += as[b].n
				window := as[b].at.Sub(as[a].at).Seconds()
				if allowed := float64(l.burst) + l.rate*window; float64(total) > allowed+1e-9 {
					t.Fatalf("tenant %d admitted %d messages in %.3fs; rate %v burst %d allows %.2f",
						i, total, window, l.rate, l.burst, allowed)
				}
			}
		}
	}
}

// TestSchedulerLimits: see schedModel.
func TestSchedulerLimits(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := &schedModel{}
		m.init(t)
		tenant := rapid.IntRange(0, len(m.limits)-1)
		t.Repeat(map[string]func(*rapid.T){
			"": func(t *rapid.T) { m.check(t) },
			"wake": func(t *rapid.T) {
				i := tenant.Draw(t, "tenant")
				m.ready[i] = true
				m.s.wake(i, m.now)
			},
			"wakeLater": func(t *rapid.T) {
				i := tenant.Draw(t, "tenant")
				at := m.now.Add(time.Duration(rapid.IntRange(0, 2000).Draw(t, "ms")) * time.Millisecond)
				m.s.wakeAt(i, at, m.now)
				if !at.After(m.now) {
					m.ready[i] = true
				} else {
					m.pendingWake(at, i)
				}
			},
			"tick": func(t *rapid.T) {
				m.now = m.now.Add(time.Duration(rapid.IntRange(1, 500).Draw(t, "ms")) * time.Millisecond)
				m.firePending()
			},
			"poll": func(t *rapid.T) {
				if m.polling >= 0 {
					return // one poll at a time, as the run does
				}
				capacity := rapid.IntRange(1, 10).Draw(t, "capacity")
				i, n, ok, _ := m.s.next(m.now, capacity)
				if !ok {
					return
				}
				if !m.ready[i] {
					t.Fatalf("tenant %d polled although it was not woken", i)
				}
				if n < 1 || n > capacity {
					t.Fatalf("next gave %d for capacity %d", n, capacity)
				}
				if l := m.limits[i]; l.maxConc > 0 && m.inflight[i]+n > l.maxConc {
					t.Fatalf("tenant %d may claim %d with %d in flight, limit %d", i, n, m.inflight[i], l.maxConc)
				}
				m.ready[i] = false
				m.polling, m.pollN = i, n
			},
			"wakeDuringPoll": func(t *rapid.T) {
				if m.polling < 0 {
					return
				}
				m.ready[m.polling] = true
				m.s.wake(m.polling, m.now)
			},
			"pollDone": func(t *rapid.T) {
				if m.polling < 0 {
					return
				}
				i := m.polling
				got := rapid.IntRange(0, m.pollN).Draw(t, "got")
				again := got == m.pollN && rapid.Bool().Draw(t, "full")
				if again {
					m.ready[i] = true
				}
				if got > 0 {
					m.inflight[i] += got
					m.admits[i] = append(m.admits[i], admit{m.now, got})
				}
				m.s.done(i, got, again, m.now)
				if got > 0 && !again && rapid.Bool().Draw(t, "recheck") {
					at := m.now.Add(time.Duration(rapid.IntRange(1, 500).Draw(t, "recheckMs")) * time.Millisecond)
					m.s.recheck(i, at)
					m.pendingWake(at, i) // the model wakes it either way: a superset of the scheduler's
				}
				m.polling = -1
			},
			"finish": func(t *rapid.T) {
				i := tenant.Draw(t, "tenant")
				if m.inflight[i] == 0 {
					return
				}
				m.inflight[i]--
				m.s.finished(i, m.now)
			},
		})
	})
}

// pendingWake and firePending mirror the scheduler's delayed wake-ups in the model.
func (m *schedModel) pendingWake(at time.Time, i int) {
	m.pending = append(m.pending, timerEntry{at: at, tenant: i, wake: true})
}

func (m *schedModel) firePending() {
	kept := m.pending[:0]
	for _, e := range m.pending {
		if e.at.After(m.now) {
			kept = append(kept, e)
			continue
		}
		m.ready[e.tenant] = true
	}
	m.pending = kept
}

// TestSchedulerRecheck: a recheck after a short batch polls the tenant again at its time,
// unless the tenant was polled meanwhile (a wake-up came first); then it is void.
func TestSchedulerRecheck(t *testing.T) {
	for _, pollBetween := range []bool{false, true} {
		s := newScheduler([]tenantLimits{{weight: 1}})
		now := epoch
		s.wake(0, now)
		i, n, _, _ := s.next(now, 10)
		s.done(i, n-1, false, now) // a short batch
		s.recheck(0, now.Add(drainRecheck))
		if _, _, ok, at := s.next(now, 10); ok || !at.Equal(now.Add(drainRecheck)) {
			t.Fatalf("right after a short batch: next = %v, timer %v; want nothing until the recheck", ok, at)
		}
		if pollBetween {
			s.wake(0, now)
			i, _, _, _ := s.next(now, 10)
			s.done(i, 0, false, now)
		}
		_, _, ok, _ := s.next(now.Add(drainRecheck), 10)
		if ok == pollBetween {
			t.Errorf("polled in between %v: at the recheck's time next = %v, want %v", pollBetween, ok, !pollBetween)
		}
	}
}
