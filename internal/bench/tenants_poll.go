package bench

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// wakeups fans the wake-ups of several pairs into one channel of tenant indexes, for a
// consumer that serves many tenants from one goroutine. A tenant is queued at most once
// until it is taken (pending), so the watcher's second signal of a push that arrives before
// the consumer got to the first costs no extra poll; a signal that arrives after the
// consumer took the tenant queues it again, so none is lost.
type wakeups struct {
	ch      chan int
	pending map[int]*atomic.Bool
	subs    []*dynamodbqueue.Subscription
	quit    chan struct{}
	wg      sync.WaitGroup
}

// watchTenants subscribes, through cl's table watcher, to the pair of qs[t] for each t of
// tenants. Close the result when done.
func watchTenants(cl *dynamodbqueue.Client, qs []*dynamodbqueue.DynamoDBQueue, tenants []int) (*wakeups, error) {
	// The buffer holds every tenant once: with pending, a forwarder never blocks.
	w := &wakeups{ch: make(chan int, len(tenants)), pending: make(map[int]*atomic.Bool, len(tenants)), quit: make(chan struct{})}
	for _, t := range tenants {
		sub, err := cl.Watch(qs[t].QueueName(), qs[t].ClientID())
		if err != nil {
			w.close()
			return nil, err
		}
		w.subs = append(w.subs, sub)
		p := new(atomic.Bool)
		w.pending[t] = p
		w.wg.Go(func() {
			for {
				select {
				case <-w.quit:
					return
				case <-sub.Ready():
					if p.CompareAndSwap(false, true) {
						w.ch <- t
					}
				}
			}
		})
	}
	return w, nil
}

// take marks tenant t as taken: a wake-up from now on queues it again.
func (w *wakeups) take(t int) { w.pending[t].Store(false) }

// close stops the forwarders and ends the subscriptions.
func (w *wakeups) close() {
	close(w.quit)
	w.wg.Wait()
	for _, s := range w.subs {
		s.Close()
	}
}

// serveWoken is one consumer of the tenants workload over its tenants: it subscribes to them,
// polls each once (a wake-up announces only work that becomes visible after the subscription),
// then polls only the tenants its watcher wakes, again at once while a poll got messages
// without draining the tenant (ReceiveResult.Drained: what becomes visible after a drained
// look is announced by a wake-up).
// poll receives from tenant t, handles what came and returns how many messages it got and
// whether it drained the tenant. serveWoken returns when st stops (every message handled), when ctx
// ends, or when the producers were done and no poll got anything for drainWait.
func serveWoken(ctx context.Context, st *stopper, producersDone *atomic.Bool, cl *dynamodbqueue.Client,
	qs []*dynamodbqueue.DynamoDBQueue, tenants []int, poll func(t int) (n int, drained bool, err error)) error {
	w, err := watchTenants(cl, qs, tenants)
	if err != nil {
		return err
	}
	defer w.close()
	serve := func(t int) (got bool, err error) {
		for !st.stopped() {
			n, drained, err := poll(t)
			if err != nil {
				return got, err
			}
			got = got || n > 0
			// An empty poll that did not drain (claims lost, a failed read) is not polled
			// again at once either, so it cannot spin: the watcher's fallback finds what it
			// left visible.
			if drained || n == 0 {
				break
			}
		}
		return got, nil
	}
	for _, t := range tenants {
		if _, err := serve(t); err != nil {
			return err
		}
	}
	// The idle timer ends the consumer after drainWait without messages once the producers
	// are done (done: whether they were when this window began), as the old round robin did.
	idle := time.NewTimer(drainWait)
	defer idle.Stop()
	done := producersDone.Load()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-st.ch:
			return nil
		case <-idle.C:
			if done {
				return nil
			}
			done = producersDone.Load()
			idle.Reset(drainWait)
		case t := <-w.ch:
			w.take(t)
			got, err := serve(t)
			if err != nil {
				return err
			}
			if got {
				done = producersDone.Load()
				idle.Reset(drainWait)
			}
		}
	}
}

// tenantsRand returns the random source of producer pi of the tenants workload: seeded, so
// that a run's traffic (which tenant gets which batch) is the same every time.
func tenantsRand(pi int) *rand.Rand { return rand.New(rand.NewPCG(uint64(pi), 42)) }

// skewedTenant draws the tenant of the next batch, skewed: tenant = T * u^3, so the first
// tenants get most batches.
func skewedTenant(rng *rand.Rand, tenants int) int {
	return min(int(float64(tenants)*math.Pow(rng.Float64(), 3)), tenants-1)
}
