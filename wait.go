package dynamodbqueue

import (
	"sync"
	"time"
)

// wakeups lets a push wake the long polls of the same (table, queue, client) in this process at
// once. Pushes from other processes reach them through the table's watcher (watcher.go), which
// closes the same channels.
type wakeups struct {
	mu sync.Mutex
	m  map[string]chan struct{}
}

// channel returns a channel that is closed by the next notify for key. Take it before looking
// at the queue, so a push between the look and the wait is not missed.
func (w *wakeups) channel(key string) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = make(map[string]chan struct{})
	}
	ch, ok := w.m[key]
	if !ok {
		ch = make(chan struct{})
		w.m[key] = ch
	}
	return ch
}

// notify wakes every waiter on key.
func (w *wakeups) notify(key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if ch, ok := w.m[key]; ok {
		close(ch)
		delete(w.m, key)
	}
}

// longPoll is a long poll's link to the table's watcher (watcher.go): while it waits, its pair
// is watched, and a wake-up closes the same in-process channel a push does.
type longPoll struct {
	q       *DynamoDBQueue
	s       *settings
	watch   bool // wait on the watcher
	ownPoll bool // re-poll at the handle's interval too
	sub     *Subscription
	mark    *pairMark // the checked-empty mark the poll joined (receive_mark.go)
	nextVis time.Time // when the mark it used lapses (zero: never by itself)
	noProbe bool      // a probe of this poll saw work or failed: make no more
}

// startLongPoll prepares the link of a receive that waits up to wait. A client without
// watching (Options.WatchInterval < 0) re-polls on its own as before; so does, in addition to
// the watcher, a handle given its own interval (UseLongPollInterval, different from the
// client's): a per-handle bound for work no hint announces. Call done when the receive returns.
func (q *DynamoDBQueue) startLongPoll(s *settings, wait time.Duration) *longPoll {
	lp := &longPoll{q: q, s: s, ownPoll: true}
	if wait <= 0 || !q.core.watch.enabled() {
		return lp
	}
	base := q.core.base
	lp.watch = true
	lp.ownPoll = s.pollMin != base.pollMin || s.pollMax != base.pollMax
	return lp
}

// retry is called when the long poll is about to wait: it subscribes the pair to the watcher
// (first time only; a receive that never waits never subscribes) and returns how long to wait
// before asking DynamoDB again by itself, given the current re-poll interval: that interval
// when the poll re-polls on its own, else no limit (the caller bounds it by the deadline).
// A hint the watcher saw shortly before the subscription wakes the poll at once (see
// watcher.add), so a push between the poll's last pass and this call is not missed.
func (lp *longPoll) retry(interval time.Duration) time.Duration {
	if lp.watch && lp.sub == nil {
		lp.sub = lp.q.core.subscribe(lp.s.table, lp.s.queue, lp.s.client)
	}
	if lp.ownPoll {
		return interval
	}
	return MaxWaitTime
}

// done ends the subscription, and the poll's use of its checked-empty mark (receive_mark.go).
func (lp *longPoll) done() {
	lp.leaveMark()
	if lp.sub != nil {
		lp.sub.Close()
	}
}
