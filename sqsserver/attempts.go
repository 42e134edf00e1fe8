package sqsserver

import (
	"sync"
	"time"
)

// ReceiveRequestAttemptId (FIFO queues): a ReceiveMessage retried with the same attempt ID
// within five minutes, while the messages it returned are still hidden, gets the same messages
// and receipt handles again instead of new ones, as SQS does. The attempts are remembered by
// the process that served them, so a retry that reaches another server process receives anew;
// the first attempt's messages then stay hidden until their visibility timeout, as with any
// receive whose response was lost.

// attemptWindow is how long SQS honours an attempt ID.
const attemptWindow = 5 * time.Minute

// maxAttempts bounds the remembered attempts; past it, expired ones are dropped and then the
// oldest.
const maxAttempts = 10000

type attempt struct {
	messages list
	until    time.Time
}

type attempts struct {
	mu sync.Mutex
	m  map[string]attempt
}

func attemptKey(ref *queueRef, id string) string { return ref.client + "\x00" + ref.name + "\x00" + id }

// get returns the messages an earlier attempt returned, if it is still valid.
func (a *attempts) get(key string, now time.Time) (list, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.m[key]
	if !ok || now.After(e.until) {
		return nil, false
	}
	return e.messages, true
}

// put remembers an attempt's messages until they become visible again or the window ends.
func (a *attempts) put(key string, msgs list, now time.Time, vis time.Duration) {
	until := now.Add(min(attemptWindow, vis))
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil {
		a.m = map[string]attempt{}
	}
	if len(a.m) >= maxAttempts {
		var oldestKey string
		var oldest time.Time
		for k, e := range a.m {
			if now.After(e.until) {
				delete(a.m, k)
			} else if oldestKey == "" || e.until.Before(oldest) {
				oldestKey, oldest = k, e.until
			}
		}
		if len(a.m) >= maxAttempts {
			delete(a.m, oldestKey)
		}
	}
	a.m[key] = attempt{messages: msgs, until: until}
}
