package consumer

import (
	"container/heap"
	"math"
	"time"

	"golang.org/x/time/rate"
)

// strideScale is the pass a tenant of weight 1 is charged per message; a tenant of weight w is
// charged strideScale/w. It is lcm(1..16), so common weights divide it exactly (for others the
// rounding is below 0.2% at MaxTenantWeight), and a pass overflows only after about 2.5e13
// messages of weight 1.
const strideScale = 720720

// scheduler decides which source the dispatcher polls next, and how many messages it may claim
// from it. It is a pure data structure (no goroutines, no I/O, time passed in), so its
// fairness and limits can be tested by themselves; the run guards it with a mutex.
//
// The algorithm is stride scheduling (Waldspurger and Weihl, 1995) over the tenants that are
// eligible: ready (they may have messages: a wake-up since their last poll, or their last poll
// came back full), not being polled, under their concurrency limit and not held back by
// their rate limit. Each tenant has a pass; the eligible tenant with the lowest pass is polled
// next (ties: the one eligible longest), and is charged stride = strideScale/weight per message
// it claims (one stride for an empty poll, so that polls that find nothing are not free). A
// tenant that becomes eligible again starts at no lower than the pass of the last tenant
// picked (the virtual time), so it cannot save up credit while idle or blocked and then
// monopolise the workers. A tenant woken from idle keeps what it was charged before (see
// wake), so quiet tenants woken again and again cannot keep a backlog from its share.
type scheduler struct {
	tenants []tenant
	ready   tenantHeap // eligible tenants by (pass, seq)
	timers  timerHeap  // pending re-checks: retries that become visible, rate-limit waits
	vtime   uint64     // pass of the last tenant picked
	seq     uint64     // orders heap entries that tie on pass: first come, first served
	// onThrottle, if set, learns that the rate limit of tenant i holds it back for wait.
	onThrottle func(i int, wait time.Duration)
}

// tenant is the scheduling state of one source.
type tenant struct {
	stride   uint64
	maxConc  int // 0: no limit of its own
	limiter  *rate.Limiter
	pass     uint64
	seq      uint64
	ready    bool   // may have messages
	polling  bool   // a poll of it is in progress
	polls    uint64 // polls begun, for recheck
	inflight int    // messages claimed and not yet handled
	// notBefore holds the tenant back while its rate limit has no token.
	notBefore time.Time
	heapIdx   int // index in scheduler.ready, -1 when not there
}

// tenantLimits are the resolved limits of one tenant, as the scheduler needs them.
type tenantLimits struct {
	weight  int
	maxConc int
	rate    float64 // messages per second; 0 means no limit
	burst   int
}

func newScheduler(limits []tenantLimits) *scheduler {
	s := &scheduler{tenants: make([]tenant, len(limits))}
	for i, l := range limits {
		t := &s.tenants[i]
		t.stride = strideScale / uint64(max(l.weight, 1))
		t.maxConc = l.maxConc
		t.heapIdx = -1
		if l.rate > 0 {
			t.limiter = rate.NewLimiter(rate.Limit(l.rate), l.burst)
		}
	}
	return s
}

// wake marks tenant i as possibly having messages. A tenant woken from idle starts at the
// virtual time, or at its own pass if that is higher: it keeps the charge of what it claimed
// before it went idle. Forgiving that charge (starting every woken tenant at the virtual time)
// starved a backlog: polling a tenant at the virtual time does not move it, so a stream of
// wake-ups of quiet tenants stayed ahead of the backlog, whose pass is one batch further, for
// as long as the stream lasted. Kept, the charge is paid off as the virtual time moves on: a
// quiet tenant whose last poll was one message is polled before a backlog of the same weight
// is polled twice.
func (s *scheduler) wake(i int, now time.Time) {
	s.tenants[i].ready = true
	s.reconsider(i, now) // pass = max(pass, vtime)
}

// wakeAt marks tenant i as possibly having messages from at on: a message of it becomes
// visible again then.
func (s *scheduler) wakeAt(i int, at time.Time, now time.Time) {
	if !at.After(now) {
		s.wake(i, now)
		return
	}
	heap.Push(&s.timers, timerEntry{at: at, tenant: i, wake: true})
}

// recheck wakes tenant i at at, unless it is polled before then (by a wake-up meanwhile):
// for a poll that came back short, which probably, but not surely, emptied the tenant.
func (s *scheduler) recheck(i int, at time.Time) {
	heap.Push(&s.timers, timerEntry{at: at, tenant: i, wake: true, unlessPolled: true, polls: s.tenants[i].polls})
}

// eligible reports whether tenant i may be polled at now.
func (s *scheduler) eligible(i int, now time.Time) bool {
	t := &s.tenants[i]
	return t.ready && !t.polling && (t.maxConc == 0 || t.inflight < t.maxConc) && !now.Before(t.notBefore)
}

// reconsider puts tenant i in the ready heap if it is eligible and not there yet.
func (s *scheduler) reconsider(i int, now time.Time) {
	t := &s.tenants[i]
	if t.heapIdx >= 0 || !s.eligible(i, now) {
		return
	}
	t.pass = max(t.pass, s.vtime) // no credit for the time it was not eligible
	s.seq++
	t.seq = s.seq
	heap.Push(&s.ready, tenantRef{s: s, i: i})
}

// fire applies the timers due at now.
func (s *scheduler) fire(now time.Time) {
	for len(s.timers) > 0 && !s.timers[0].at.After(now) {
		e := heap.Pop(&s.timers).(timerEntry)
		if e.unlessPolled && s.tenants[e.tenant].polls != e.polls {
			continue // polled since: that poll did the check
		}
		if e.wake {
			s.tenants[e.tenant].ready = true
		}
		s.reconsider(e.tenant, now)
	}
}

// next picks the tenant to poll at now, given capacity idle workers (> 0). It returns the
// tenant and how many messages the poll may claim (1..capacity), and marks the tenant as being
// polled until done is called. When no tenant is eligible it returns ok false and the time of
// the next timer (zero if none): until then, only a wake, a done or a finished can make one
// eligible.
func (s *scheduler) next(now time.Time, capacity int) (i, n int, ok bool, wakeAt time.Time) {
	s.fire(now)
	for s.ready.Len() > 0 {
		i = heap.Pop(&s.ready).(tenantRef).i
		t := &s.tenants[i]
		n = capacity
		if t.maxConc > 0 {
			n = min(n, t.maxConc-t.inflight)
		}
		if t.limiter != nil {
			tokens := t.limiter.TokensAt(now)
			if tokens < 1 {
				// Hold it back until one token is there, keeping its pass.
				wait := time.Duration(math.Ceil((1 - tokens) / float64(t.limiter.Limit()) * float64(time.Second)))
				t.notBefore = now.Add(wait)
				heap.Push(&s.timers, timerEntry{at: t.notBefore, tenant: i})
				if s.onThrottle != nil {
					s.onThrottle(i, wait)
				}
				continue
			}
			n = min(n, int(tokens))
		}
		s.vtime = t.pass
		t.ready = false // a wake-up during the poll sets it again
		t.polling = true
		t.polls++
		return i, n, true, time.Time{}
	}
	if len(s.timers) > 0 {
		wakeAt = s.timers[0].at
	}
	return 0, 0, false, wakeAt
}

// done records that the poll of tenant i, started by next, claimed got messages at now.
// again says the tenant may have more (its batch came back full, or the poll failed and is to
// be retried): it stays ready. Otherwise it waits for its next wake-up, unless one came in
// during the poll.
func (s *scheduler) done(i, got int, again bool, now time.Time) {
	t := &s.tenants[i]
	t.polling = false
	if again {
		t.ready = true
	}
	if got > 0 {
		t.inflight += got
		if t.limiter != nil {
			t.limiter.AllowN(now, got) // next gave no more than the tokens there were
		}
	}
	t.pass += uint64(max(got, 1)) * t.stride
	s.reconsider(i, now)
}

// finished records that a message of tenant i claimed earlier is handled (or given up).
func (s *scheduler) finished(i int, now time.Time) {
	s.tenants[i].inflight--
	s.reconsider(i, now)
}

// tenantRef is an entry of the ready heap.
type tenantRef struct {
	s *scheduler
	i int
}

type tenantHeap []tenantRef

func (h tenantHeap) Len() int { return len(h) }
func (h tenantHeap) Less(a, b int) bool {
	ta, tb := &h[a].s.tenants[h[a].i], &h[b].s.tenants[h[b].i]
	if ta.pass != tb.pass {
		return ta.pass < tb.pass
	}
	return ta.seq < tb.seq
}
func (h tenantHeap) Swap(a, b int) {
	h[a], h[b] = h[b], h[a]
	h[a].s.tenants[h[a].i].heapIdx = a
	h[b].s.tenants[h[b].i].heapIdx = b
}
func (h *tenantHeap) Push(x any) {
	r := x.(tenantRef)
	r.s.tenants[r.i].heapIdx = len(*h)
	*h = append(*h, r)
}
func (h *tenantHeap) Pop() any {
	old := *h
	r := old[len(old)-1]
	*h = old[:len(old)-1]
	r.s.tenants[r.i].heapIdx = -1
	return r
}

// timerEntry re-checks a tenant at a given time: wake marks it ready (a retried message becomes
// visible), otherwise it only ends a rate-limit wait. With unlessPolled it is void if the
// tenant was polled since it was set (its poll count is no longer polls).
type timerEntry struct {
	at           time.Time
	tenant       int
	wake         bool
	unlessPolled bool
	polls        uint64
}

type timerHeap []timerEntry

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(a, b int) bool { return h[a].at.Before(h[b].at) }
func (h timerHeap) Swap(a, b int)      { h[a], h[b] = h[b], h[a] }
func (h *timerHeap) Push(x any)        { *h = append(*h, x.(timerEntry)) }
func (h *timerHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
