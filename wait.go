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
	sub     *Subscription
	ownPoll bool
}

// startLongPoll subscribes a receive that waits up to wait to its pair's watcher. A receive
// that does not wait, or a client without watching (Options.WatchInterval < 0), gets a
// longPoll without subscription that re-polls on its own as before. Call done when the receive
// returns.
func (q *DynamoDBQueue) startLongPoll(s *settings, wait time.Duration) *longPoll {
	lp := &longPoll{ownPoll: true}
	if wait <= 0 || !q.core.watch.enabled() {
		return lp
	}
	lp.sub = q.core.subscribe(s.table, s.queue, s.client)
	// A handle given its own interval (UseLongPollInterval, different from the client's)
	// keeps re-polling at it as well: a per-handle bound for work no hint announces.
	base := q.core.base
	lp.ownPoll = s.pollMin != base.pollMin || s.pollMax != base.pollMax
	return lp
}

// retry returns how long the long poll waits before it asks DynamoDB again by itself, given
// its current re-poll interval: that interval when it polls on its own, else no limit (the
// caller bounds it by the deadline): the watcher wakes it.
func (lp *longPoll) retry(interval time.Duration) time.Duration {
	if lp.ownPoll {
		return interval
	}
	return MaxWaitTime
}

// done ends the subscription.
func (lp *longPoll) done() {
	if lp.sub != nil {
		lp.sub.Close()
	}
}
