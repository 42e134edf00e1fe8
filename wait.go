package dynamodbqueue

import (
	"sync"
)

// wakeups lets a push wake the long polls of the same (table, queue, client) in this process at
// once, instead of waiting for their next retry. Pollers in other processes rely on the
// bounded retry interval (UseLongPollInterval).
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
