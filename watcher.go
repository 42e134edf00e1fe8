package dynamodbqueue

import (
	"container/heap"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue/internal/keys"
	"github.com/dynamodbqueue/dynamodbqueue/internal/store"
)

// The watcher: one per (Client core, table) in a process, shared by every subscriber
// (Client.Watch), every long poll (ReceiveMessages with a wait time) and every consumer of that
// table. It finds the pairs that have new work by reading the queues' activity hints (hint.go)
// instead of every pair's partitions, so its idle cost does not depend on the number of pairs
// it watches (docs/SCALING.md, "Thousands of tenants").

// Defaults of the watcher's Options.
const (
	// DefaultWatchInterval is how often a watcher reads the activity hints of the queues it
	// watches (Options.WatchInterval): one Query per hint partition of each watched queue per
	// interval, 20 per second per queue at 50 ms, the fallback sweep included (it takes one tick
	// in 20 at the defaults).
	DefaultWatchInterval = 50 * time.Millisecond
	// DefaultWatchFallbackRate is how many requests per second a watcher's fallback sweep may
	// send (Options.WatchFallbackRate) at most by default: the default is this or
	// DefaultWatchFallbackShare of the ticks, whichever is less.
	DefaultWatchFallbackRate = 1.0
	// DefaultWatchFallbackShare is the largest share of a watcher's ticks its fallback sweep
	// takes by default: one tick in ten at a tick of 100 ms or more (0.2 requests/s at 500 ms).
	DefaultWatchFallbackShare = 0.1
	// MaxWatchFallbackRate bounds Options.WatchFallbackRate.
	MaxWatchFallbackRate = 1000.0
)

const (
	// watchOverlap is how far before its previous look a watcher reads hints again: a hint is
	// written at the pusher's time (corrected towards DynamoDB's to within about a second,
	// clock.go) and becomes readable a write's latency later, so a look must reach back past
	// both, or a hint written just before it would fall between two looks. A look reads up to
	// the watcher's own now, never ahead: a pusher whose clock runs ahead dates its messages
	// ahead too, and they become visible to this process's receives when its clock gets there,
	// which is when the hint is read.
	watchOverlap = 2 * time.Second
	// watchSettle is when a watcher signals a new hint a second time, after it first saw it. A
	// push writes its hint before its messages (hint.go); a subscriber woken at once may look
	// before the messages are written, and the second signal catches that push.
	watchSettle = 100 * time.Millisecond
	// watchClaimSlack is how long after a claim made in this process expires that the
	// watcher's fallback checks its pair (see noteClaims).
	watchClaimSlack = 100 * time.Millisecond
	// watchConcurrency bounds the hint queries a watcher has in flight.
	watchConcurrency = 8
	// watchRequestTimeout bounds one request of the watcher.
	watchRequestTimeout = 10 * time.Second
)

// ErrWatchDisabled is returned by Client.Watch when the client was made with a negative
// Options.WatchInterval.
var ErrWatchDisabled = errors.New("dynamodbqueue: watching is disabled (Options.WatchInterval < 0)")

// WatchStats counts what the watchers of a Client (and of every Client that shares its process
// state, see WithTable) did since it was made: the requests they sent, so a caller can measure
// the idle cost, and the wake-ups they gave.
type WatchStats struct {
	// Watchers is the number of watchers running now (one per table with subscribers).
	Watchers int
	// Subscriptions is the number of open subscriptions (Watch, long polls waiting, and the
	// checked-empty marks of pairs long-polled within the last 10 s, see receive_mark.go).
	Subscriptions int
	// Ticks is the number of looks at the activity hints.
	Ticks int64
	// HintQueries is the number of Query requests (pages) that read activity hints.
	HintQueries int64
	// FallbackRequests is the number of requests the fallback sweep sent: ready-index queries
	// and the definition reads they needed.
	FallbackRequests int64
	// Signals is the number of wake-ups given to pairs (each wakes every subscriber of its pair).
	Signals int64
	// FallbackFinds is the number of wake-ups that came from the fallback sweep: work that no
	// hint announced (a visibility timeout that ran out, a lost hint).
	FallbackFinds int64
	// Errors is the number of failed requests (the look or check is repeated).
	Errors int64
	// FollowUpHints is the number of second hints this process's pushes wrote because their
	// messages were stored long after their first hint (see docs/SCALING.md).
	FollowUpHints int64
}

// watchState is a process's watching state (one per core): the options and the watcher of
// each table.
type watchState struct {
	interval     time.Duration // < 0: disabled
	fallbackRate float64
	hintParts    int
	hintModes    sync.Map // table+"\x00"+queue -> hintWriteMode, when IAM refused hint writes (hint.go)

	mu      sync.Mutex
	byTable map[string]*watcher

	ticks, hintQueries, fallbackReqs, signals, fallbackFinds, errors atomic.Int64
	followUps                                                        atomic.Int64 // second hints of slow pushes (push.go)
}

// configure sets the options (New validated them).
func (ws *watchState) configure(interval time.Duration, rate float64, parts int) {
	if interval == 0 {
		interval = DefaultWatchInterval
	}
	if rate == 0 {
		rate = DefaultWatchFallbackRate
		if interval > 0 {
			rate = min(rate, DefaultWatchFallbackShare/interval.Seconds())
		}
	}
	if parts == 0 {
		parts = 1
	}
	ws.interval, ws.fallbackRate, ws.hintParts = interval, rate, parts
}

// enabled reports whether long polls wait on a watcher.
func (ws *watchState) enabled() bool { return ws.interval > 0 }

// get returns the watcher of table, or nil when there has been none.
func (ws *watchState) get(table string) *watcher {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return ws.byTable[table]
}

// watcherFor returns the watcher of table, making it (not starting it) if needed.
func (ws *watchState) watcherFor(co *core, table string) *watcher {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.byTable == nil {
		ws.byTable = map[string]*watcher{}
	}
	w := ws.byTable[table]
	if w == nil {
		w = &watcher{co: co, table: table, queues: map[string]*watchedQueue{}, subs: map[pairID]map[*Subscription]struct{}{}, ringIdx: map[pairID]int{}, dueAt: map[pairID]time.Time{}}
		ws.byTable[table] = w
	}
	return w
}

// pairID names a (queue, client) pair of a watcher's table.
type pairID struct{ queue, client string }

// watcher watches the queues of one table that have subscribers.
type watcher struct {
	co    *core
	table string

	mu       sync.Mutex
	running  bool // the goroutine runs; it stops at the first tick without subscribers
	nsubs    int
	queues   map[string]*watchedQueue
	subs     map[pairID]map[*Subscription]struct{}
	resignal []pendingSignal // second signals of new hints (watchSettle)
	// Checked-empty marks of long polls (receive_mark.go): a generation per subscribed pair,
	// changed by every wake-up of it, and the marks.
	gens   map[pairID]uint64
	genSeq uint64
	marks  map[pairID]*pairMark
	// The fallback sweep: subscribed pairs in round robin (ring, ringIdx, ringPos), checks
	// scheduled at claim expiries first (due, dueAt), within a budget of tokens.
	ring    []pairID
	ringIdx map[pairID]int
	ringPos int
	due     dueHeap
	dueAt   map[pairID]time.Time
	tokens  float64
	swept   bool // the last tick spent its requests on the sweep instead of the hints
	owed    int  // ticks that send nothing, to repay the last sweep's requests beyond one
}

// watchedQueue is what a watcher knows about one queue: its subscribed pairs, where its last
// look ended, the hints seen within the overlap (so each wakes its pair once), and when each
// client's latest hint was seen (so a pair subscribing just after wakes at once).
type watchedQueue struct {
	pairs  int
	cursor time.Time
	seen   map[string]time.Time // hint SK + "\x00" + vis -> vis time
	latest map[string]time.Time // client -> when its latest new hint was seen (corrected clock)
	// idleSince is when its last pair left (pairs == 0): it is kept, unread, for watchOverlap,
	// so long polls that come and go keep what it has seen.
	idleSince time.Time
	// epoch changes whenever its hints may have gone unread (receive_mark.go): a failed look,
	// or the queue dropped and watched anew.
	epoch uint64
}

// pendingSignal is a second signal due at a time (corrected clock).
type pendingSignal struct {
	pair pairID
	at   time.Time
}

// Subscription receives wake-ups for one (queue, client) pair of a table: when work may have
// become visible there (a push from any process, a release, a delay that ran out, or what the
// fallback sweep found). Wake-ups are hints, never promises: the pair may turn out empty (another
// consumer was faster), and several wake-ups may come as one. Close it when done; it is safe
// for concurrent use.
type Subscription struct {
	w    *watcher
	pair pairID
	ch   chan struct{}
	once sync.Once
}

// Watch subscribes to wake-ups for (queue, clientID) of the client's table. The first
// subscriber of a table starts the table's watcher in this process; the watcher stops shortly
// after the last subscription of the table is closed. Wake-ups announce work that becomes
// visible after Watch returns: check the pair once after subscribing for what was there
// before. Invalid names fail with ErrInvalidName (or ErrTableNotSet, ErrQueueNameNotSet,
// ErrClientIDNotSet); a client made with a negative Options.WatchInterval fails with
// ErrWatchDisabled.
func (c *Client) Watch(queue, clientID string) (*Subscription, error) {
	if c.table == "" {
		return nil, ErrTableNotSet
	}
	if err := validateTableName(c.table); err != nil {
		return nil, err
	}
	if err := validatePair(queue, clientID); err != nil {
		return nil, err
	}
	if !c.core.watch.enabled() {
		return nil, ErrWatchDisabled
	}
	return c.core.subscribe(c.table, queue, clientID), nil
}

// WatchStats returns what the watchers of this client's process state did so far.
func (c *Client) WatchStats() WatchStats {
	ws := &c.core.watch
	st := WatchStats{
		Ticks: ws.ticks.Load(), HintQueries: ws.hintQueries.Load(), FallbackRequests: ws.fallbackReqs.Load(),
		Signals: ws.signals.Load(), FallbackFinds: ws.fallbackFinds.Load(), Errors: ws.errors.Load(),
		FollowUpHints: ws.followUps.Load(),
	}
	ws.mu.Lock()
	watchers := make([]*watcher, 0, len(ws.byTable))
	for _, w := range ws.byTable {
		watchers = append(watchers, w)
	}
	ws.mu.Unlock()
	for _, w := range watchers {
		w.mu.Lock()
		if w.running {
			st.Watchers++
		}
		st.Subscriptions += w.nsubs
		w.mu.Unlock()
	}
	return st
}

// Ready receives a value when the pair may have visible work. It is buffered by one: wake-ups
// that come while the subscriber is busy are kept as one.
func (s *Subscription) Ready() <-chan struct{} { return s.ch }

// Queue returns the queue name of the subscription's pair.
func (s *Subscription) Queue() string { return s.pair.queue }

// ClientID returns the client ID of the subscription's pair.
func (s *Subscription) ClientID() string { return s.pair.client }

// Close ends the subscription; Ready receives nothing more. Closing twice is harmless.
func (s *Subscription) Close() { s.once.Do(func() { s.w.remove(s) }) }

// subscribe adds a subscription for a valid pair.
func (co *core) subscribe(table, queue, client string) *Subscription {
	w := co.watch.watcherFor(co, table)
	sub := &Subscription{w: w, pair: pairID{queue, client}, ch: make(chan struct{}, 1)}
	w.add(sub)
	return sub
}

// add registers sub and starts the watcher if it is not running.
func (w *watcher) add(sub *Subscription) {
	w.mu.Lock()
	defer w.mu.Unlock()
	set := w.subs[sub.pair]
	if set == nil {
		set = map[*Subscription]struct{}{}
		w.subs[sub.pair] = set
		w.ringIdx[sub.pair] = len(w.ring)
		w.ring = append(w.ring, sub.pair)
		w.bumpLocked(sub.pair) // a fresh generation: no mark made before matches it
		wq := w.queues[sub.pair.queue]
		if wq == nil {
			// Start the look where the hints of pushes that may not have been seen yet begin.
			wq = &watchedQueue{cursor: w.co.now(), seen: map[string]time.Time{}, latest: map[string]time.Time{}, epoch: w.nextGenLocked()}
			w.queues[sub.pair.queue] = wq
		}
		wq.pairs++
		wq.idleSince = time.Time{}
		// A hint seen shortly before is news to this pair's first subscriber: its pass before
		// subscribing may have missed that work (a long poll subscribes only once it waits).
		if at, ok := wq.latest[sub.pair.client]; ok && w.co.now().Sub(at) < watchOverlap {
			defer w.signalLocked(sub.pair)
		}
	}
	set[sub] = struct{}{}
	w.nsubs++
	if !w.running {
		w.running = true
		go w.run()
	}
}

// remove unregisters sub. The goroutine notices at its next tick when nothing is left.
func (w *watcher) remove(sub *Subscription) {
	w.mu.Lock()
	defer w.mu.Unlock()
	set := w.subs[sub.pair]
	if _, ok := set[sub]; !ok {
		return
	}
	delete(set, sub)
	w.nsubs--
	if len(set) > 0 {
		return
	}
	delete(w.subs, sub.pair)
	i := w.ringIdx[sub.pair]
	last := len(w.ring) - 1
	w.ring[i] = w.ring[last]
	w.ringIdx[w.ring[i]] = i
	w.ring = w.ring[:last]
	delete(w.ringIdx, sub.pair)
	delete(w.gens, sub.pair)
	if wq := w.queues[sub.pair.queue]; wq != nil {
		wq.pairs--
		if wq.pairs == 0 {
			wq.idleSince = w.co.now()
		}
	}
}

// run ticks until a tick finds no subscribers.
func (w *watcher) run() {
	t := time.NewTicker(w.co.watch.interval)
	defer t.Stop()
	for range t.C {
		if !w.tick() {
			return
		}
	}
}

// look is one hint query of a tick.
type look struct {
	queue  string
	pk     string
	lo, hi string
	hits   []hintHit
	err    error
	pages  int
}

// hintHit is one hint a look read.
type hintHit struct{ sk, vis string }

// tick reads the hints of every watched queue, signals the pairs with new ones, and spends the
// fallback budget. It reports false (and marks the watcher stopped) when nothing is subscribed.
func (w *watcher) tick() bool {
	ws := &w.co.watch
	now := w.co.now()
	w.mu.Lock()
	if w.nsubs == 0 {
		w.running = false
		w.breakMarksLocked("") // nothing is read while stopped
		w.mu.Unlock()
		return false
	}
	// The fallback budget accrues per tick, not per second of wall clock: a tick that ran late
	// does not make the next spend more, and the cost of N ticks is bounded by N, whatever the
	// load. Below one check per tick (the defaults), a tick spends its requests either on the
	// hints or on the fallback sweep, never both, and never on the sweep twice in a row; a check
	// that sent more than one request (a definition read, several shards) is repaid by as many
	// ticks that send nothing. So an idle watcher sends one request per tick and hint partition
	// (Options.WatchInterval), and a sweeping or repaying tick only delays the hints it skips to
	// the next tick, which reads them from its cursor as usual. A higher rate sweeps on every
	// tick, besides the hints.
	perTick := ws.fallbackRate * ws.interval.Seconds()
	w.tokens = min(w.tokens+perTick, max(perTick, 1))
	repaying := perTick < 1 && w.owed > 0
	if repaying {
		w.owed--
	}
	sweepOnly := !repaying && perTick < 1 && w.tokens >= 1 && !w.swept
	w.swept = sweepOnly
	var looks []*look
	for name, wq := range w.queues {
		if wq.pairs == 0 {
			if now.Sub(wq.idleSince) >= watchOverlap || now.Before(wq.idleSince) {
				delete(w.queues, name)
			}
			continue
		}
		if sweepOnly || repaying {
			continue
		}
		// A cursor ahead of now was set before this process's clock was corrected (a clock
		// that ran ahead): read from now, or the hints until the clock got there would go unread.
		if wq.cursor.After(now) {
			wq.cursor = now
		}
		lo := keys.VisBound(wq.cursor.Add(-watchOverlap))
		for k := 0; k < ws.hintParts; k++ {
			looks = append(looks, &look{queue: name, pk: hintPK(name, k), lo: lo, hi: keys.VisBound(now)})
		}
	}
	w.mu.Unlock()
	ws.ticks.Add(1)

	ctx, cancel := context.WithTimeout(context.Background(), watchRequestTimeout)
	defer cancel()
	st := store.Store{API: w.co.api, Table: w.table, Wrap: wrapAPI}
	store.Parallel(len(looks), watchConcurrency, func(i int) {
		l := looks[i]
		l.pages, l.err = st.EachHint(ctx, l.pk, l.lo, l.hi, func(sk, vis string) { l.hits = append(l.hits, hintHit{sk, vis}) })
	})

	w.mu.Lock()
	failed, looked := map[string]bool{}, map[string]bool{}
	signal := map[pairID]bool{}
	for _, l := range looks {
		ws.hintQueries.Add(int64(l.pages))
		looked[l.queue] = true
		if l.err != nil {
			ws.errors.Add(1)
			failed[l.queue] = true
			w.breakMarksLocked(l.queue) // hints of the queue may go unread: its marks lapse
			continue
		}
		wq := w.queues[l.queue]
		if wq == nil {
			continue // its last subscriber left meanwhile
		}
		for _, h := range l.hits {
			k := h.sk + "\x00" + h.vis
			if _, ok := wq.seen[k]; ok {
				continue
			}
			at, _, err := keys.ParseVis(h.vis)
			if err != nil {
				continue // not a hint this package wrote
			}
			wq.seen[k] = at
			p := pairID{l.queue, hintClient(h.sk)}
			wq.latest[p.client] = now
			w.resignal = append(w.resignal, pendingSignal{p, now.Add(watchSettle)})
			if _, ok := w.subs[p]; ok {
				signal[p] = true
			}
		}
	}
	for name, wq := range w.queues {
		if !looked[name] || failed[name] {
			continue // read the same range again next time
		}
		wq.cursor = now
		for k, at := range wq.seen {
			if at.Before(now.Add(-2 * watchOverlap)) {
				delete(wq.seen, k)
			}
		}
		for c, at := range wq.latest {
			if now.Sub(at) >= watchOverlap {
				delete(wq.latest, c)
			}
		}
	}
	keep := w.resignal[:0]
	for _, r := range w.resignal {
		if now.Before(r.at) {
			keep = append(keep, r)
		} else if _, ok := w.subs[r.pair]; ok {
			signal[r.pair] = true
		}
	}
	w.resignal = keep
	for p := range signal {
		w.signalLocked(p)
	}
	w.mu.Unlock()

	if sweepOnly {
		sent := w.sweep(ctx)
		w.mu.Lock()
		w.owed = max(sent-1, 0)
		w.mu.Unlock()
	} else if perTick >= 1 {
		w.sweep(ctx)
	}
	return true
}

// signalLocked wakes every subscriber of p, and the long polls of p in this process.
func (w *watcher) signalLocked(p pairID) {
	w.co.watch.signals.Add(1)
	w.wakeSubsLocked(p)
	w.co.wake.notify(pairKey(w.table, p.queue, p.client))
}

// wakeSubsLocked gives p a new generation (its marks lapse, receive_mark.go) and wakes its
// subscribers; a subscriber with a wake-up pending keeps that one.
func (w *watcher) wakeSubsLocked(p pairID) {
	w.bumpLocked(p)
	for sub := range w.subs[p] {
		select {
		case sub.ch <- struct{}{}:
		default:
		}
	}
}

// notifyLocal wakes the waiters of a pair in this process at once: long polls, and the
// subscribers of the table's watcher. Pushes and releases of this process call it.
func (co *core) notifyLocal(table, queue, client string) {
	if w := co.watch.get(table); w != nil {
		w.mu.Lock()
		w.wakeSubsLocked(pairID{queue, client})
		w.mu.Unlock()
	}
	// After the generation changed (receive_mark.go): a long poll that takes its wake channel
	// after this close sees the new generation, so it never waits on a mark this push voided.
	co.wake.notify(pairKey(table, queue, client))
}

// pairKey names a (queue, client) pair of a table in this process's per-pair state: the wake
// channels of its long polls, and the pass cursor of its receives (fairgroup.go).
func pairKey(table, queue, client string) string {
	return table + "\x00" + keys.PairPrefix(queue, client)
}

// noteClaims schedules a fallback check of s's pair for when n messages claimed now for vt run
// out of their visibility timeout: if they were not deleted, they are visible again, and no
// hint says so. The check is made within the fallback budget, ahead of the round robin.
func (co *core) noteClaims(s *settings, n int, vt time.Duration) {
	if n == 0 {
		return
	}
	w := co.watch.get(s.table)
	if w == nil {
		return
	}
	at := co.now().Add(vt + watchClaimSlack)
	p := pairID{s.queue, s.client}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.subs[p]; !ok {
		return
	}
	// One check per pair and second of expiries is enough: it finds every message that is
	// visible by then.
	if prev, ok := w.dueAt[p]; ok && !at.After(prev.Add(time.Second)) && !at.Before(prev) {
		return
	}
	w.dueAt[p] = at
	heap.Push(&w.due, pendingSignal{p, at})
}

// sweep spends the fallback budget (accrued by tick): it checks subscribed pairs directly,
// those whose claims ran out first, then the others in turn, and wakes those that have visible
// work. With budget B requests per second and P pairs of one shard each, every pair is checked
// at least every P/B seconds. It returns the number of requests it sent.
func (w *watcher) sweep(ctx context.Context) (sent int) {
	ws := &w.co.watch
	for {
		w.mu.Lock()
		if w.tokens < 1 {
			w.mu.Unlock()
			return sent
		}
		p, ok := w.nextCheckLocked()
		w.mu.Unlock()
		if !ok {
			return sent
		}
		found, reqs, err := w.check(ctx, p)
		sent += reqs
		ws.fallbackReqs.Add(int64(reqs))
		w.mu.Lock()
		w.tokens -= float64(max(reqs, 1))
		if err != nil {
			ws.errors.Add(1)
		}
		if found {
			ws.fallbackFinds.Add(1)
			if _, ok := w.subs[p]; ok {
				w.signalLocked(p)
			}
		}
		w.mu.Unlock()
	}
}

// nextCheckLocked returns the pair to check next: a claim that ran out, else the next in turn.
func (w *watcher) nextCheckLocked() (pairID, bool) {
	now := w.co.now()
	for w.due.Len() > 0 && !now.Before(w.due[0].at) {
		d := heap.Pop(&w.due).(pendingSignal)
		if w.dueAt[d.pair].Equal(d.at) {
			delete(w.dueAt, d.pair)
		}
		if _, ok := w.subs[d.pair]; ok {
			return d.pair, true
		}
	}
	if len(w.ring) == 0 {
		return pairID{}, false
	}
	w.ringPos %= len(w.ring)
	p := w.ring[w.ringPos]
	w.ringPos++
	return p, true
}

// check asks whether p has a visible message: one Limit-1 keys-only query of the ready index
// per shard, until one finds something, plus the read of the pair's definition when this
// process has none cached. It returns the number of requests sent.
func (w *watcher) check(ctx context.Context, p pairID) (found bool, reqs int, err error) {
	q, err := (&Client{core: w.co, table: w.table}).Queue(p.queue, p.client)
	if err != nil {
		return false, 0, err
	}
	if _, cached := w.co.defs.lookup(w.table, p.queue, p.client); !cached {
		reqs++
	}
	s := q.resolved(ctx)
	if err := s.checkQueue(); err != nil {
		return false, reqs, err
	}
	// The same per-shard look as a long poll's checked-empty probe (receive_mark.go).
	_, empty, sent, err := q.probeEmpty(ctx, s, "Query (watch fallback)")
	return err == nil && !empty, reqs + sent, err
}

// dueHeap orders scheduled checks by time.
type dueHeap []pendingSignal

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(pendingSignal)) }
func (h *dueHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
