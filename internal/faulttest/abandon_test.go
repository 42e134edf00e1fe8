package faulttest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// pushDirect registers and pushes messages without faults: plain ones, and per group its
// messages in order.
func pushDirect(t *testing.T, e *env, l *ledger, tn tenant, plain int, groups map[string]int) {
	t.Helper()
	var msgs []events.SQSMessage
	for i := range plain {
		msgs = append(msgs, l.newMessage(tn, "plain", "", i))
	}
	for g, n := range groups {
		for i := range n {
			msgs = append(msgs, l.newMessage(tn, g, g, i))
		}
	}
	res, err := e.direct(tn).PushWithOptions(ctxFor(t, 30*time.Second), dynamodbqueue.PushOptions{}, msgs...)
	l.pushed(msgs, res, err)
	if err != nil {
		t.Fatal(err)
	}
}

// TestAbandonedConsumers kills consumers that are goroutines: some take one batch, delete part
// of it and stop; others run normally until their context is cancelled at a random moment
// (in the middle of a receive, a claim or a delete). Everything they held must come back after
// the visibility timeout and be processed by the surviving consumers, in group order.
func TestAbandonedConsumers(t *testing.T) {
	t.Parallel()
	seed := seedFor(t, 5005)
	e := newEnv(t, seed, 4, faults(1)...)
	l := newLedger()
	tn := tenant{queue: "abandon", client: "c"}
	pushDirect(t, e, l, tn, 50, map[string]int{"ga": 8, "gb": 8, "gc": 8})
	const vt = 1500 * time.Millisecond
	rng := rand.New(rand.NewPCG(seed, 99))

	// Three consumers take a batch each, delete some of it and walk away with the rest.
	var abandonedMu sync.Mutex
	abandoned := map[string]bool{}
	var wg sync.WaitGroup
	for i := range 3 {
		keep := rng.IntN(3) // how many of its batch it deletes before it stops
		wg.Add(1)
		go func() {
			defer wg.Done()
			q := e.queue(tn)
			name := fmt.Sprintf("doomed%d", i)
			start := l.now()
			msgs, err := q.ReceiveMessages(ctxFor(t, 20*time.Second), dynamodbqueue.ReceiveOptions{
				MaxMessages: 6, MinMessages: 6, WaitTime: time.Second, VisibilityTimeout: vt,
			})
			l.received(name, tn, start, msgs)
			if err != nil {
				l.receiveFailed(err)
			}
			for j, m := range msgs {
				if j >= keep {
					abandonedMu.Lock()
					abandoned[m.Body] = true
					abandonedMu.Unlock()
					continue
				}
				at := l.deleting(m.Body)
				_, err := q.DeleteMessages(ctxFor(t, 20*time.Second), m.ReceiptHandle)
				l.deleted(m.Body, at, err)
			}
		}()
	}
	wg.Wait()
	// Two more run normally and are cancelled at a random moment.
	for i := range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(50+rng.IntN(400))*time.Millisecond)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer cancel()
			consume(ctx, e.queue(tn), l, consumeSpec{name: fmt.Sprintf("cancelled%d", i), tn: tn, vt: vt, batch: 4})
		}()
	}
	wg.Wait()
	if len(abandoned) == 0 {
		t.Fatal("no message was abandoned")
	}

	// The survivors.
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			consume(ctx, e.queue(tn), l, consumeSpec{name: fmt.Sprintf("survivor%d", i), tn: tn, vt: vt, batch: 5})
		}()
	}
	e.waitDrained(ctx, l, []tenant{tn})
	cancel()
	wg.Wait()
	s := l.check(t)
	l.mu.Lock()
	for id := range abandoned {
		m := l.msgs[id]
		survivors := m.receivers["survivor0"] + m.receivers["survivor1"]
		if m.recvs < 2 || m.maxRC < 2 || (survivors == 0 && m.delOK == 0) {
			t.Errorf("abandoned %s: %d deliveries (%v), highest receive count %d", id, m.recvs, m.receivers, m.maxRC)
		}
	}
	l.mu.Unlock()
	t.Logf("abandoned %d messages; %v; %v", len(abandoned), s, e.proxy.Stats())
}
