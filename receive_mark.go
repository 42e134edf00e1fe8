package dynamodbqueue

import (
	"context"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue/internal/keys"
)

// Checked-empty marks: what lets an idle long poll cost no request at all.
//
// Without them every new long poll (an SQS client's ReceiveMessage with WaitTimeSeconds) sends
// one ready-index Query before it waits on the table's watcher, and one more at its deadline:
// 1,000 idle clients waiting 20 s each cost 100 Queries per second. A mark says "this pair was
// found empty, and nothing has woken it since", so a new long poll of the pair goes straight to
// waiting, and a poll that reaches its deadline returns without a last look.
//
// A mark of a (table, queue, client) pair is made by a long poll with nothing held, right
// before its first wait (its first pass found nothing), or at its deadline when its pair has
// no valid mark then (instead of a last pass). With the pair subscribed to the watcher (the
// poll's own subscription and the mark's), it takes the pair's generation and its queue's
// continuity epoch, then sends one keys-only Limit-1 Query per shard of s.shards (drained
// shards included) for the item with the smallest vis (store.EarliestVis). If some shard has one due now, there is work: the poll
// looks again at once (and probes no more). Otherwise the mark records the generation, the epoch
// and nextVis, the smallest vis found (none when the pair stores nothing): when the first item
// stored but not visible becomes visible without any hint (a claim of any process that lapses,
// a delayed message).
//
// A new long poll skips its Query iff the mark's generation and epoch are still current and
// this process's corrected clock is before nextVis; a waiting poll that used a mark wakes at
// nextVis at the latest. What voids a mark:
//   - the generation: the watcher changes it at every wake-up of the pair (bumpLocked), which
//     covers a hint of another process's push, release or redrive (the hint is written before
//     the messages; the watcher signals it twice, watchSettle apart, so a hint read just before
//     the generation was taken is signalled again after), a delayed message's hint when it
//     falls due, what the fallback sweep finds, and everything of this process that calls
//     notifyLocal (pushes, releases, redrives, operator actions, moves into a dead-letter
//     queue) or touchPair (visibility changes, deletes that free a FIFO group, the claims a
//     receive returns);
//   - the epoch: a failed hint query of the queue, the queue no longer watched, or the watcher
//     stopped: any gap in reading the hints;
//   - the clock: nextVis reached.
//
// A purge only removes work, and a shard-count change is covered because the probe reads every
// shard of s.shards and pushes to new shards write hints. What no hint announces and this
// process does not do is found by the watcher's fallback sweep, which keeps checking a marked
// pair because the mark keeps it subscribed (its check wakes the pair and so voids the mark):
// within P/B seconds for P watched pairs and a fallback budget of B requests per second, as for
// a waiting long poll. That is a push without hints (IAM denies them, or the hint write failed
// after a retry applied it). Another process that shortens a visibility timeout, or deletes a
// FIFO group's head so the next message is free, is seen sooner: by nextVis at the latest,
// since the claimed item (or the group's lock item) sat in the ready index at the old expiry
// when the probe read it.
//
// A mark lingers, subscribed, for markLinger after the last long poll of its pair ended, then it
// is dropped with its subscription. Memory: about 0.5 KB per marked pair (the mark, its
// subscription and timer, the watcher's map entries and its slot in the fallback ring).

// markLinger is how long a mark outlives the last long poll of its pair. An SQS client that
// long-polls in a loop sends its next ReceiveMessage milliseconds after the last one returned;
// 10 s covers a slow or retrying client with a wide margin. It is short because a pair no
// longer polled still costs while its mark lingers: the hint reads of its queue when no other
// pair of the queue is watched (20 requests/s at the default interval), and a slot in the
// fallback sweep of the pairs still in use.
const markLinger = 10 * time.Second

// pairMark is the checked-empty mark of one pair of a watcher's table, guarded by watcher.mu.
type pairMark struct {
	sub   *Subscription // keeps the pair watched while the mark exists
	polls int           // long polls of this process that joined the mark and are not done
	ended time.Time     // when the last of them ended (wall clock)
	timer *time.Timer   // drops the mark markLinger after the last poll ended

	set     bool // a probe found the pair empty: gen, epoch and nextVis are valid
	gen     uint64
	epoch   uint64
	nextVis time.Time // zero: nothing stored
}

// nextGenLocked returns a value never returned before by this watcher.
func (w *watcher) nextGenLocked() uint64 {
	w.genSeq++
	return w.genSeq
}

// bumpLocked gives subscribed pair p a new generation: whatever mark it has lapses. Pairs
// without subscribers have neither a generation nor a mark.
func (w *watcher) bumpLocked(p pairID) {
	if _, ok := w.subs[p]; !ok {
		return
	}
	if w.gens == nil {
		w.gens = map[pairID]uint64{}
	}
	w.gens[p] = w.nextGenLocked()
}

// breakMarksLocked gives queue a new epoch (every watched queue when queue is ""): the marks
// made before lapse.
func (w *watcher) breakMarksLocked(queue string) {
	for name, wq := range w.queues {
		if queue == "" || name == queue {
			wq.epoch = w.nextGenLocked()
		}
	}
}

// validLocked reports whether mark m of p still says that p is empty at now.
func (w *watcher) validLocked(p pairID, m *pairMark, now time.Time) bool {
	if !m.set || !w.running {
		return false
	}
	gen, ok := w.gens[p]
	wq := w.queues[p.queue]
	return ok && gen == m.gen && wq != nil && wq.epoch == m.epoch && (m.nextVis.IsZero() || now.Before(m.nextVis))
}

// touchPair voids the marks of a pair whose items this process changed in a way no hint
// announces (see the comment at the top).
func (co *core) touchPair(table, queue, client string) {
	if w := co.watch.get(table); w != nil {
		w.mu.Lock()
		w.bumpLocked(pairID{queue, client})
		w.mu.Unlock()
	}
}

// marks reports whether this long poll may use and make marks: it waits on the watcher only.
func (lp *longPoll) marks() bool { return lp.watch && !lp.ownPoll }

// useMark reports whether the pair has a valid mark; the poll then skips its Query, joins the
// mark (keeping it from lapsing while the poll runs) and waits until nextVis at the latest.
func (lp *longPoll) useMark() bool {
	lp.nextVis = time.Time{}
	if !lp.marks() {
		return false
	}
	w := lp.q.core.watch.get(lp.s.table)
	if w == nil {
		return false
	}
	p := pairID{lp.s.queue, lp.s.client}
	w.mu.Lock()
	defer w.mu.Unlock()
	m := w.marks[p]
	if m == nil || !w.validLocked(p, m, lp.q.core.now()) {
		return false
	}
	lp.joinLocked(m)
	lp.nextVis = m.nextVis
	return true
}

// joinLocked counts the poll as a user of m until done.
func (lp *longPoll) joinLocked(m *pairMark) {
	if lp.mark == nil {
		lp.mark = m
		m.polls++
		if m.timer != nil {
			m.timer.Stop()
		}
	}
}

// markResult is what makeMark did.
type markResult int

const (
	markNone    markResult = iota // no probe, or it failed: behave as without marks
	markSet                       // the pair is empty now, and marked
	markVisible                   // the probe saw work due now: look for it
)

// makeMark is called by a long poll with nothing held that is about to wait (subscribed
// already) or reaches its deadline. It probes the pair (see the comment at the top); after a
// probe that saw work, the poll makes no more probes (the pass that follows may find nothing
// to claim, e.g. a message another consumer took meanwhile, and it then waits as without
// marks).
func (lp *longPoll) makeMark(ctx context.Context) markResult {
	if !lp.marks() || lp.sub == nil || lp.noProbe {
		return markNone
	}
	co, s := lp.q.core, lp.s
	w := co.watch.get(s.table)
	if w == nil {
		return markNone
	}
	p := pairID{s.queue, s.client}
	w.mu.Lock()
	m := w.marks[p]
	if m == nil {
		m = &pairMark{}
		if w.marks == nil {
			w.marks = map[pairID]*pairMark{}
		}
		w.marks[p] = m
	}
	lp.joinLocked(m)
	needSub := m.sub == nil
	w.mu.Unlock()
	if needSub {
		// The poll's own subscription (lp.sub) keeps the pair watched until the mark's exists.
		sub := co.subscribe(s.table, s.queue, s.client)
		w.mu.Lock()
		if m.sub == nil {
			m.sub, sub = sub, nil
		}
		w.mu.Unlock()
		if sub != nil {
			sub.Close()
		}
	}
	w.mu.Lock()
	gen, subscribed := w.gens[p]
	wq := w.queues[p.queue]
	ok := subscribed && wq != nil && w.running
	var epoch uint64
	if ok {
		epoch = wq.epoch
	}
	w.mu.Unlock()
	if !ok {
		return markNone
	}
	next, empty, _, err := lp.q.probeEmpty(ctx, s, "Query (idle mark)")
	if err != nil || !empty {
		lp.noProbe = true
		if err != nil {
			return markNone
		}
		return markVisible
	}
	w.mu.Lock()
	m.set, m.gen, m.epoch, m.nextVis = true, gen, epoch, next
	w.mu.Unlock()
	lp.nextVis = next
	return markSet
}

// probeEmpty reads the smallest vis of every shard of s.shards, until one has something due.
// empty says that nothing is visible now; next is the earliest time something stored becomes
// visible (zero: nothing); sent is the number of queries, op their name in errors. Marks use
// it, and so does the watcher's fallback check.
func (q *DynamoDBQueue) probeEmpty(ctx context.Context, s *settings, op string) (next time.Time, empty bool, sent int, err error) {
	now := q.core.now()
	st := q.store(s.table)
	for shard := 0; shard < s.shards; shard++ {
		vis, err := st.EarliestVis(ctx, s.pk(shard), op)
		sent++
		if err != nil {
			return time.Time{}, false, sent, err
		}
		if vis == "" {
			continue
		}
		at, _, err := keys.ParseVis(vis)
		if err != nil || !at.After(now) {
			return time.Time{}, false, sent, nil // due now (or not understood): look as usual
		}
		if next.IsZero() || at.Before(next) {
			next = at
		}
	}
	return next, true, sent, nil
}

// leaveMark ends the poll's use of its mark; the last poll to leave starts the linger.
func (lp *longPoll) leaveMark() {
	m := lp.mark
	if m == nil {
		return
	}
	w := lp.q.core.watch.get(lp.s.table) // never nil: the mark is the watcher's
	w.mu.Lock()
	defer w.mu.Unlock()
	m.polls--
	if m.polls > 0 {
		return
	}
	m.ended = time.Now()
	p := pairID{lp.s.queue, lp.s.client}
	if m.timer == nil {
		m.timer = time.AfterFunc(markLinger, func() { w.expireMark(p, m) })
	} else {
		m.timer.Reset(markLinger)
	}
}

// expireMark drops mark m of p and its subscription if no long poll used it for markLinger.
func (w *watcher) expireMark(p pairID, m *pairMark) {
	w.mu.Lock()
	if m.polls > 0 || w.marks[p] != m {
		w.mu.Unlock()
		return
	}
	if left := markLinger - time.Since(m.ended); left > 0 {
		m.timer.Reset(left)
		w.mu.Unlock()
		return
	}
	delete(w.marks, p)
	sub := m.sub
	w.mu.Unlock()
	if sub != nil {
		sub.Close()
	}
}
