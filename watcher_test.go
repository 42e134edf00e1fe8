package dynamodbqueue_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
	"github.com/dynamodbqueue/dynamodbqueue/internal/wait"
)

// newWatchClient returns a Client of its own (another "process") on table, talking through api
// (the test endpoint's client when nil).
func newWatchClient(t testing.TB, api dynamodbqueue.API, table string, opts dynamodbqueue.Options) *dynamodbqueue.Client {
	t.Helper()
	if api == nil {
		api = testenv.Client(t)
	}
	opts.API, opts.Table = api, table
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	c, err := dynamodbqueue.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// mustWatch subscribes to a pair and closes the subscription at the end of the test.
func mustWatch(t testing.TB, c *dynamodbqueue.Client, queue, client string) *dynamodbqueue.Subscription {
	t.Helper()
	sub, err := c.Watch(queue, client)
	if err != nil {
		t.Fatalf("Watch(%s, %s): %v", queue, client, err)
	}
	t.Cleanup(sub.Close)
	return sub
}

// mustHandle returns c's handle on a pair.
func mustHandle(t testing.TB, c *dynamodbqueue.Client, queue, client string) *dynamodbqueue.DynamoDBQueue {
	t.Helper()
	q, err := c.Queue(queue, client)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// awaitReady waits for a wake-up of sub; the bound only keeps a broken build from hanging (a
// wake-up is expected within a few watch intervals).
func awaitReady(t testing.TB, sub *dynamodbqueue.Subscription, what string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctxT(t), 20*time.Second)
	defer cancel()
	select {
	case <-sub.Ready():
	case <-ctx.Done():
		t.Fatalf("%s: no wake-up of (%s, %s)", what, sub.Queue(), sub.ClientID())
	}
}

// awaitTicks waits until c's watchers have looked at the hints n more times than when called,
// polling WatchStats every millisecond; it is how tests let time pass in units of the watcher's
// work, not of the wall clock.
func awaitTicks(t testing.TB, c *dynamodbqueue.Client, n int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctxT(t), time.Minute)
	defer cancel()
	want := c.WatchStats().Ticks + n
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for c.WatchStats().Ticks < want {
		select {
		case <-ctx.Done():
			t.Fatalf("the watcher made %d of %d more ticks", c.WatchStats().Ticks-want+n, n)
		case <-tick.C:
		}
	}
}

// woken reports whether sub has a wake-up pending, without waiting.
func woken(sub *dynamodbqueue.Subscription) bool {
	select {
	case <-sub.Ready():
		return true
	default:
		return false
	}
}

// isHintQuery reports whether a request seen by a hookAPI is a watcher's read of activity
// hints (partition "@act|..."), which runs concurrently with the operation a test observes.
func isHintQuery(op string, in any) bool {
	qi, ok := in.(*dynamodb.QueryInput)
	if op != "Query" || !ok {
		return false
	}
	pk, _ := qi.ExpressionAttributeValues[":pk"].(*types.AttributeValueMemberS)
	return pk != nil && strings.HasPrefix(pk.Value, "@act|")
}

// isHintWrite reports whether a request is the write of an activity hint.
func isHintWrite(op string, in any) bool {
	switch v := in.(type) {
	case *dynamodb.UpdateItemInput:
		pk, _ := v.Key["PK"].(*types.AttributeValueMemberS)
		return op == "UpdateItem" && pk != nil && strings.HasPrefix(pk.Value, "@act|")
	case *dynamodb.BatchWriteItemInput:
		for _, reqs := range v.RequestItems {
			for _, r := range reqs {
				if r.PutRequest != nil {
					if pk, _ := r.PutRequest.Item["PK"].(*types.AttributeValueMemberS); pk != nil && strings.HasPrefix(pk.Value, "@act|") {
						return true
					}
				}
			}
		}
	}
	return false
}

// opCounter counts the requests a hookAPI sees, by operation.
type opCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *opCounter) hook(op string, _ any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[op]++
	return nil
}

func (c *opCounter) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	sum := 0
	for _, n := range c.n {
		sum += n
	}
	return sum
}

// TestWatchIdleCostIndependentOfTenants: one process subscribed to 1 and to 10,000 idle
// tenants of a queue sends the same requests per tick: one per tick, a hint query or (one tick
// in five at this rate) a fallback check instead. Every request the process sends is counted
// through the API (hookAPI), over a fixed number of ticks.
func TestWatchIdleCostIndependentOfTenants(t *testing.T) {
	t.Parallel()
	_, table := newTable(t)
	const (
		ticks    = 40
		interval = 10 * time.Millisecond
		rate     = 20.0 // fallback requests per second: 0.2 per tick
	)
	for _, tenants := range []int{1, 10_000} {
		api := newHookAPI(t)
		counter := &opCounter{n: map[string]int{}}
		api.set(counter.hook)
		c := newWatchClient(t, api, table, dynamodbqueue.Options{WatchInterval: interval, WatchFallbackRate: rate})
		subs := make([]*dynamodbqueue.Subscription, tenants)
		for i := range subs {
			subs[i] = mustWatch(t, c, "idle", fmt.Sprintf("tenant-%05d", i))
		}
		awaitTicks(t, c, ticks)
		for _, s := range subs {
			s.Close()
		}
		awaitStopped(t, c)
		st := c.WatchStats()
		sent := counter.total()
		if int64(sent) != st.HintQueries+st.FallbackRequests {
			t.Fatalf("T=%d: %d requests sent, the watcher counted %d hint queries and %d fallback requests", tenants, sent, st.HintQueries, st.FallbackRequests)
		}
		// One request per tick: a tick reads the hints, or sweeps, or repays a check that sent
		// more than one request (a definition read) by sending nothing. The last check's
		// extra requests may not be repaid yet when the count stops.
		if int64(sent) > st.Ticks+2 {
			t.Errorf("T=%d: %d requests in %d ticks; want at most one per tick (one hint partition)", tenants, sent, st.Ticks)
		}
		// The budget accrues rate*interval per tick; a check may overdraw it by its cost.
		if budget := int64(float64(st.Ticks)*rate*interval.Seconds()) + 2; st.FallbackRequests > budget {
			t.Errorf("T=%d: %d fallback requests in %d ticks; the budget allows %d", tenants, st.FallbackRequests, st.Ticks, budget)
		}
		// The sweep takes its share of the ticks and no more: the others read the hints.
		if minHints := st.Ticks - st.FallbackRequests; st.HintQueries < minHints || st.FallbackRequests == 0 {
			t.Errorf("T=%d: %d hint queries and %d fallback requests in %d ticks; want the sweep in some ticks and the hints in the others", tenants, st.HintQueries, st.FallbackRequests, st.Ticks)
		}
		t.Logf("T=%d: %d requests in %d ticks (%d hint queries, %d fallback)", tenants, sent, st.Ticks, st.HintQueries, st.FallbackRequests)
	}
}

// awaitStopped waits until c's watchers have stopped (no subscriptions, goroutine gone).
func awaitStopped(t testing.TB, c *dynamodbqueue.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctxT(t), time.Minute)
	defer cancel()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for c.WatchStats().Watchers > 0 {
		select {
		case <-ctx.Done():
			t.Fatalf("the watcher did not stop after its last subscription closed: %+v", c.WatchStats())
		case <-tick.C:
		}
	}
}

// TestWatchWakesOnPushFromAnotherProcess: a push by another process wakes the subscriber of the
// pushed pair, and no subscriber of another pair of the queue (or of another queue).
func TestWatchWakesOnPushFromAnotherProcess(t *testing.T) {
	t.Parallel()
	_, table := newTable(t)
	watching := newWatchClient(t, nil, table, dynamodbqueue.Options{})
	pushing := newWatchClient(t, nil, table, dynamodbqueue.Options{})
	subA := mustWatch(t, watching, "orders", "a")
	subB := mustWatch(t, watching, "orders", "b")
	subOther := mustWatch(t, watching, "invoices", "a")
	push(t, mustHandle(t, pushing, "orders", "a"), bodies(1, "x")...)
	awaitReady(t, subA, "push to (orders, a)")
	awaitTicks(t, watching, 10) // past the second signal of the hint (watchSettle)
	if woken(subB) || woken(subOther) {
		t.Fatalf("a push to (orders, a) woke (orders, b): %v, (invoices, a): %v", woken(subB), woken(subOther))
	}
	got := mustPoll(t, mustHandle(t, watching, "orders", "a"), time.Minute, 10)
	if !slices.Equal(bodyList(got), []string{"x-000"}) {
		t.Fatalf("the woken pair holds %v", bodyList(got))
	}
}

// TestLongPollWaitsOnTheWatcher: a long poll with nothing to receive asks DynamoDB once and then
// waits on the watcher (no re-polls of its own), and a push from another process ends it with
// the message.
func TestLongPollWaitsOnTheWatcher(t *testing.T) {
	t.Parallel()
	_, table := newTable(t)
	api := newHookAPI(t)
	var pairQueries atomic.Int64
	api.set(func(op string, in any) error {
		if op == "Query" && !isHintQuery(op, in) {
			pairQueries.Add(1)
		}
		return nil
	})
	// A fallback budget too small to spend in the test: its checks query the pair too.
	polling := newWatchClient(t, api, table, dynamodbqueue.Options{WatchFallbackRate: 0.001})
	pushing := newWatchClient(t, nil, table, dynamodbqueue.Options{})
	q := mustHandle(t, polling, "lp", "c")
	type result struct {
		msgs []events.SQSMessage
		err  error
	}
	done := make(chan result, 1)
	go func() {
		msgs, err := q.ReceiveMessages(ctxT(t), dynamodbqueue.ReceiveOptions{WaitTime: 20 * time.Second})
		done <- result{msgs, err}
	}()
	awaitSubscribed(t, polling, 1)
	awaitTicks(t, polling, 20)
	if n := pairQueries.Load(); n != 2 {
		t.Fatalf("an idle long poll queried its pair %d times over 20 ticks; want 2 (the first pass and the probe that marks the pair checked empty)", n)
	}
	push(t, mustHandle(t, pushing, "lp", "c"), bodies(1, "lp")...)
	r := <-done // the long poll's wait time bounds this
	if r.err != nil || !slices.Equal(bodyList(r.msgs), []string{"lp-000"}) {
		t.Fatalf("long poll returned %v, %v", bodyList(r.msgs), r.err)
	}
}

// awaitSubscribed waits until c has n subscriptions (a long poll subscribes once it waits).
func awaitSubscribed(t testing.TB, c *dynamodbqueue.Client, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctxT(t), time.Minute)
	defer cancel()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for c.WatchStats().Subscriptions < n {
		select {
		case <-ctx.Done():
			t.Fatalf("%d subscriptions, want %d", c.WatchStats().Subscriptions, n)
		case <-tick.C:
		}
	}
}

// TestWatchIsolationAtTenThousandTenants: one process watches 10,000 tenants of a queue;
// another pushes one message to each of 100 random tenants. Every message is received by the
// handle of its own tenant, exactly once, woken by the watcher; none goes to another tenant.
func TestWatchIsolationAtTenThousandTenants(t *testing.T) {
	t.Parallel()
	_, table := newTable(t)
	const tenants, pushed = 10_000, 100
	watching := newWatchClient(t, nil, table, dynamodbqueue.Options{})
	pushing := newWatchClient(t, nil, table, dynamodbqueue.Options{})
	ctx, cancel := context.WithTimeout(ctxT(t), time.Minute)
	defer cancel()

	var mu sync.Mutex
	got := map[string][]string{} // tenant -> bodies received
	var received atomic.Int64
	allIn := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < tenants; i++ {
		tenant := fmt.Sprintf("t%05d", i)
		sub := mustWatch(t, watching, "iso", tenant)
		q := mustHandle(t, watching, "iso", tenant)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case <-allIn:
					return
				case <-sub.Ready():
				}
				msgs, err := q.ReceiveMessages(ctx, dynamodbqueue.ReceiveOptions{MaxMessages: 10})
				if err != nil && ctx.Err() == nil {
					t.Errorf("receive of %s: %v", tenant, err)
				}
				if len(msgs) == 0 {
					continue
				}
				mu.Lock()
				got[tenant] = append(got[tenant], bodyList(msgs)...)
				mu.Unlock()
				if _, err := q.DeleteMessages(ctx, toHandles(msgs)...); err != nil && ctx.Err() == nil {
					t.Errorf("delete of %s: %v", tenant, err)
				}
				if received.Add(int64(len(msgs))) >= pushed {
					close(allIn)
				}
			}
		}()
	}
	want := map[string]string{}
	for _, i := range rand.Perm(tenants)[:pushed] {
		tenant := fmt.Sprintf("t%05d", i)
		want[tenant] = "for-" + tenant
	}
	var pushers sync.WaitGroup
	work := make(chan string)
	for range 8 {
		pushers.Add(1)
		go func() {
			defer pushers.Done()
			for tenant := range work {
				if _, err := mustHandle(t, pushing, "iso", tenant).PushMessages(ctx, 0, events.SQSMessage{Body: want[tenant]}); err != nil {
					t.Errorf("push to %s: %v", tenant, err)
				}
			}
		}()
	}
	for tenant := range want {
		work <- tenant
	}
	close(work)
	pushers.Wait()
	select {
	case <-allIn:
	case <-ctx.Done():
	}
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	for tenant, bodies := range got {
		if w, ok := want[tenant]; !ok || !slices.Equal(bodies, []string{w}) {
			t.Errorf("tenant %s received %v, want [%s]", tenant, bodies, want[tenant])
		}
	}
	for tenant := range want {
		if _, ok := got[tenant]; !ok {
			t.Errorf("tenant %s never received its message", tenant)
		}
	}
}

// TestWatchFallbackFindsWhatNoHintAnnounced: the watcher's hint queries all fail (a hint lost,
// a partition unreadable); the fallback sweep still finds the pushed message and wakes its
// pair, within its budget.
func TestWatchFallbackFindsWhatNoHintAnnounced(t *testing.T) {
	t.Parallel()
	_, table := newTable(t)
	api := newHookAPI(t)
	var dropped atomic.Int64
	api.set(func(op string, in any) error {
		if isHintQuery(op, in) {
			dropped.Add(1)
			return errors.New("test: hint query dropped")
		}
		return nil
	})
	watching := newWatchClient(t, api, table, dynamodbqueue.Options{WatchInterval: 10 * time.Millisecond, WatchFallbackRate: 50})
	pushing := newWatchClient(t, nil, table, dynamodbqueue.Options{})
	subs := []*dynamodbqueue.Subscription{
		mustWatch(t, watching, "fb", "a"), mustWatch(t, watching, "fb", "b"), mustWatch(t, watching, "fb", "c"),
	}
	push(t, mustHandle(t, pushing, "fb", "b"), bodies(1, "fb")...)
	awaitReady(t, subs[1], "fallback")
	if dropped.Load() == 0 || watching.WatchStats().FallbackFinds == 0 {
		t.Fatalf("woken with %d hint queries dropped and stats %+v; want the fallback's find", dropped.Load(), watching.WatchStats())
	}
	if woken(subs[0]) || woken(subs[2]) {
		t.Fatal("the fallback woke pairs without visible work")
	}
}

// TestWatchFallbackAfterClaimExpiry: a message claimed in this process and never deleted
// becomes visible again when its visibility timeout runs out; no hint says so, and the
// watcher's check scheduled at the claim's expiry wakes the pair (the round robin alone would
// take T/budget).
func TestWatchFallbackAfterClaimExpiry(t *testing.T) {
	t.Parallel()
	_, table := newTable(t)
	clk := &dynamodbqueue.Clock{}
	c := newWatchClient(t, nil, table, dynamodbqueue.Options{WatchInterval: 10 * time.Millisecond, WatchFallbackRate: 5})
	q := mustHandle(t, c, "exp", "c")
	dynamodbqueue.WithClock(q, clk)
	sub := mustWatch(t, c, "exp", "c")
	push(t, q, bodies(1, "exp")...)
	awaitReady(t, sub, "push")
	if got := mustPoll(t, q, 30*time.Second, 1); len(got) != 1 {
		t.Fatalf("poll got %v", bodyList(got))
	}
	awaitTicks(t, c, 20) // the push's second signal is over
	for woken(sub) {
	}
	finds := c.WatchStats().FallbackFinds
	clk.Advance(31 * time.Second)
	awaitReady(t, sub, "claim expired")
	if c.WatchStats().FallbackFinds == finds {
		t.Fatal("woken after the claim expired, but not by the fallback")
	}
	if got := mustPoll(t, q, time.Minute, 1); !slices.Equal(bodyList(got), []string{"exp-000"}) {
		t.Fatalf("after the claim expired the pair holds %v", bodyList(got))
	}
}

// TestWatchDelayedMessageWakesWhenDue: a delayed push's hint is future-dated; it wakes the pair
// when the delay is over, not before. The fallback budget is too small to act in the test.
func TestWatchDelayedMessageWakesWhenDue(t *testing.T) {
	t.Parallel()
	_, table := newTable(t)
	clk := &dynamodbqueue.Clock{}
	watching := newWatchClient(t, nil, table, dynamodbqueue.Options{WatchInterval: 10 * time.Millisecond, WatchFallbackRate: 0.001})
	pushing := newWatchClient(t, nil, table, dynamodbqueue.Options{})
	wq := mustHandle(t, watching, "delayed", "c")
	pq := mustHandle(t, pushing, "delayed", "c")
	dynamodbqueue.WithClock(wq, clk)
	dynamodbqueue.WithClock(pq, clk)
	sub := mustWatch(t, watching, "delayed", "c")
	if _, err := pq.PushWithOptions(ctxT(t), dynamodbqueue.PushOptions{Delay: time.Minute}, bodies(1, "late")...); err != nil {
		t.Fatal(err)
	}
	awaitTicks(t, watching, 30)
	if woken(sub) {
		t.Fatal("a message delayed by a minute woke its pair at once")
	}
	clk.Advance(time.Minute + time.Second)
	awaitReady(t, sub, "delay over")
	if got := mustPoll(t, wq, time.Minute, 1); !slices.Equal(bodyList(got), []string{"late-000"}) {
		t.Fatalf("after the delay the pair holds %v", bodyList(got))
	}
}

// TestWatchHintsAfterPurgeAndQueueDelete: hints of purged or deleted work never show up as
// messages: a pair woken by a hint whose messages were purged receives nothing, and the hint
// items appear in no count, peek or listing of the queue.
func TestWatchHintsAfterPurgeAndQueueDelete(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	_, table := newTable(t)
	c := newWatchClient(t, nil, table, dynamodbqueue.Options{})
	if _, err := c.CreateQueue(ctx, "gone", dynamodbqueue.QueueAttributes{}); err != nil {
		t.Fatal(err)
	}
	q := mustHandle(t, c, "gone", "c")
	push(t, q, bodies(3, "p")...)
	if err := q.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	sub := mustWatch(t, c, "gone", "c")
	awaitTicks(t, c, 5)
	if got := mustPoll(t, q, time.Minute, 10); len(got) != 0 {
		t.Fatalf("after a purge the pair delivered %v", bodyList(got))
	}
	if n, err := q.Count(ctx); err != nil || n != 0 {
		t.Fatalf("Count after purge = %d, %v", n, err)
	}
	if peek, err := q.Peek(ctx, 10); err != nil || len(peek) != 0 {
		t.Fatalf("Peek after purge = %v, %v", bodyList(peek), err)
	}
	push(t, q, bodies(1, "d")...)
	if err := c.DeleteQueue(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	awaitTicks(t, c, 5)
	_ = woken(sub) // a hint of deleted work may wake the pair; it must find nothing
	if got := mustPoll(t, q, time.Minute, 10); len(got) != 0 {
		t.Fatalf("after DeleteQueue the pair delivered %v", bodyList(got))
	}
	pairs, err := q.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pairs {
		if strings.HasPrefix(p.QueueName, "@") || strings.HasPrefix(p.ClientID, "@") {
			t.Fatalf("List shows a hint partition: %+v", p)
		}
	}
}

// TestHintWriteFailureFailsThePush: a push whose hint cannot be written fails whole, with
// nothing stored; a write that carries a hint applied twice (the SDK retried a write DynamoDB
// had applied: the push's batch, message included) changes nothing: the message is stored and
// delivered once.
func TestHintWriteFailureFailsThePush(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	_, table := newTable(t)
	api := newHookAPI(t)
	refuse := errors.New("test: hint write refused")
	api.set(func(op string, in any) error {
		if isHintWrite(op, in) {
			return refuse
		}
		return nil
	})
	c := newWatchClient(t, api, table, dynamodbqueue.Options{})
	q := mustHandle(t, c, "hw", "c")
	res, err := q.SendMessages(ctx, dynamodbqueue.PushOptions{}, bodies(3, "h")...)
	if !errors.Is(err, refuse) {
		t.Fatalf("push with its hint refused: %v", err)
	}
	for i, r := range res {
		if r.Err == nil {
			t.Fatalf("message %d reported stored though the hint failed", i)
		}
	}
	if n, err := q.Count(ctx); err != nil || n != 0 {
		t.Fatalf("Count after the failed push = %d, %v; want nothing written", n, err)
	}

	// Apply every write that carries a hint once before it is sent (the push's batch, with the
	// message in it, or a hint's own UpdateItem): the write then lands twice.
	var replayed atomic.Int64
	api.set(func(op string, in any) error {
		if !isHintWrite(op, in) {
			return nil
		}
		var err error
		switch in := in.(type) {
		case *dynamodb.UpdateItemInput:
			_, err = api.API.UpdateItem(ctx, in)
		case *dynamodb.BatchWriteItemInput:
			_, err = api.API.BatchWriteItem(ctx, in)
		}
		replayed.Add(1)
		return err
	})
	other := newWatchClient(t, nil, table, dynamodbqueue.Options{})
	sub := mustWatch(t, other, "hw", "c")
	push(t, q, bodies(1, "twice")...)
	awaitReady(t, sub, "retried hint")
	got := mustPoll(t, mustHandle(t, other, "hw", "c"), time.Minute, 10)
	if !slices.Equal(bodyList(got), []string{"twice-000"}) {
		t.Fatalf("after a retried hint write the pair delivered %v", bodyList(got))
	}
	if replayed.Load() == 0 {
		t.Fatal("no write that carries a hint was replayed")
	}
}

// TestWatchSkewedClocks: the pushing process's clock is off by 5 s or a minute (ahead, behind);
// its clock is corrected towards DynamoDB's, and the watcher's overlap covers what is left, so
// its pushes still wake the watching process.
func TestWatchSkewedClocks(t *testing.T) {
	t.Parallel()
	for _, skew := range []time.Duration{5 * time.Second, -5 * time.Second, time.Minute, -time.Minute} {
		t.Run(fmt.Sprint(skew), func(t *testing.T) {
			t.Parallel()
			_, table := newTable(t)
			world := &dynamodbqueue.Clock{}
			watching := newWatchClient(t, nil, table, dynamodbqueue.Options{WatchFallbackRate: 0.001})
			pushing := newWatchClient(t, nil, table, dynamodbqueue.Options{})
			wq := mustHandle(t, watching, "skew", "c")
			pq := mustHandle(t, pushing, "skew", "c")
			dynamodbqueue.WithClock(wq, world)
			dynamodbqueue.WithSkewedClock(pq, world, skew)
			sub := mustWatch(t, watching, "skew", "c")
			push(t, pq, bodies(1, "s")...)
			awaitReady(t, sub, "push from a skewed process")
			if got := mustPoll(t, wq, time.Minute, 1); !slices.Equal(bodyList(got), []string{"s-000"}) {
				t.Fatalf("the woken pair holds %v", bodyList(got))
			}
		})
	}
}

// TestWatchBadInput: Watch rejects bad names with the package's errors, and a client without
// watching says so.
func TestWatchBadInput(t *testing.T) {
	t.Parallel()
	api := testenv.Client(t)
	c := newWatchClient(t, api, "some-table", dynamodbqueue.Options{})
	for _, tc := range []struct {
		queue, client string
		want          error
	}{
		{"", "c", dynamodbqueue.ErrQueueNameNotSet},
		{"q", "", dynamodbqueue.ErrClientIDNotSet},
		{"q|x", "c", dynamodbqueue.ErrInvalidName},
		{"q", "@act", dynamodbqueue.ErrInvalidName},
	} {
		if _, err := c.Watch(tc.queue, tc.client); !errors.Is(err, tc.want) {
			t.Errorf("Watch(%q, %q) = %v, want %v", tc.queue, tc.client, err, tc.want)
		}
	}
	if _, err := newWatchClient(t, api, "", dynamodbqueue.Options{}).Watch("q", "c"); !errors.Is(err, dynamodbqueue.ErrTableNotSet) {
		t.Errorf("Watch without a table = %v", err)
	}
	off := newWatchClient(t, api, "some-table", dynamodbqueue.Options{WatchInterval: -1})
	if _, err := off.Watch("q", "c"); !errors.Is(err, dynamodbqueue.ErrWatchDisabled) {
		t.Errorf("Watch with watching disabled = %v", err)
	}
	for _, opts := range []dynamodbqueue.Options{{WatchFallbackRate: -1}, {WatchFallbackRate: 1e6}, {HintPartitions: -1}, {HintPartitions: 1000}} {
		opts.API = api
		if _, err := dynamodbqueue.New(opts); !errors.Is(err, dynamodbqueue.ErrInvalidArgument) {
			t.Errorf("New(%+v) = %v, want ErrInvalidArgument", opts, err)
		}
	}
	if st := c.WatchStats(); st.Subscriptions != 0 || st.HintQueries != 0 {
		t.Errorf("rejected subscriptions left %+v", st)
	}
}

// TestHintWriteDeniedSkipsHints: a principal whose policy predates hints (writing them is
// denied) still pushes; it stops trying after the first denial, and the watcher of another
// process finds its messages by the fallback.
func TestHintWriteDeniedSkipsHints(t *testing.T) {
	t.Parallel()
	_, table := newTable(t)
	api := newHookAPI(t)
	var denied atomic.Int64
	api.set(func(op string, in any) error {
		if isHintWrite(op, in) {
			denied.Add(1)
			return &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "test: no grant for @act"}
		}
		return nil
	})
	pushing := newWatchClient(t, api, table, dynamodbqueue.Options{})
	watching := newWatchClient(t, nil, table, dynamodbqueue.Options{WatchInterval: 10 * time.Millisecond, WatchFallbackRate: 50})
	sub := mustWatch(t, watching, "old", "c")
	q := mustHandle(t, pushing, "old", "c")
	push(t, q, bodies(1, "a")...)
	// The first push tries its hint in its batch, then (refused as a whole) on its own.
	if n := denied.Load(); n != 2 {
		t.Fatalf("the first push attempted %d hint writes; want 2 (in its batch, then apart)", n)
	}
	push(t, q, bodies(1, "b")...)
	if n := denied.Load(); n != 2 {
		t.Fatalf("%d hint writes attempted after the first push's denials; want none", n-2)
	}
	awaitReady(t, sub, "fallback for a principal without hints")
	if got := mustPoll(t, mustHandle(t, watching, "old", "c"), time.Minute, 10); len(got) != 2 {
		t.Fatalf("received %v, want both messages", bodyList(got))
	}
}

// lostHintAPI leaves the activity hints of the first batch write that carries any
// unprocessed (it writes the rest), and fails the write that retries them: a hint that
// rode in a push's batch and was not written while its messages were.
type lostHintAPI struct {
	dynamodbqueue.API
	mu      sync.Mutex
	dropped []types.WriteRequest // hints left unprocessed, not yet retried
}

func (a *lostHintAPI) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var hints, rest []types.WriteRequest
	var table string
	for t, reqs := range in.RequestItems {
		table = t
		for _, r := range reqs {
			if isHintWrite("BatchWriteItem", &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{t: {r}}}) {
				hints = append(hints, r)
			} else {
				rest = append(rest, r)
			}
		}
	}
	switch {
	case len(hints) > 0 && len(rest) == 0 && a.dropped != nil:
		return nil, errors.New("test: the retry of a hint fails")
	case len(hints) > 0 && a.dropped == nil:
		a.dropped = hints
		out, err := a.API.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: rest}}, o...)
		if err != nil {
			return nil, err
		}
		out.UnprocessedItems = map[string][]types.WriteRequest{table: hints}
		return out, nil
	}
	return a.API.BatchWriteItem(ctx, in, o...)
}

// TestLostBatchHintIsWrittenAgain: when the hint a push sends in its batch is left
// unprocessed and its retry fails while the messages were written, the push still succeeds and
// writes the hint again after them, so another process's watcher wakes at once (its fallback
// is too slow to be what wakes it).
func TestLostBatchHintIsWrittenAgain(t *testing.T) {
	t.Parallel()
	_, table := newTable(t)
	pushing := newWatchClient(t, &lostHintAPI{API: testenv.Client(t)}, table, dynamodbqueue.Options{})
	watching := newWatchClient(t, nil, table, dynamodbqueue.Options{WatchInterval: 10 * time.Millisecond, WatchFallbackRate: 0.001})
	sub := mustWatch(t, watching, "lost", "c")
	push(t, mustHandle(t, pushing, "lost", "c"), bodies(2, "m")...)
	if n := pushing.WatchStats().FollowUpHints; n != 1 {
		t.Fatalf("%d follow-up hints written; want 1 for the lost one", n)
	}
	awaitReady(t, sub, "the follow-up of a lost hint")
	if got := mustPoll(t, mustHandle(t, watching, "lost", "c"), time.Minute, 10); len(got) != 2 {
		t.Fatalf("received %v, want both messages", bodyList(got))
	}
	if st := watching.WatchStats(); st.FallbackFinds != 0 {
		t.Fatalf("the fallback found the work (%+v); want the hint to", st)
	}
}

// slowWritesAPI answers every batch write a while after sending it, as a loaded server does.
type slowWritesAPI struct {
	dynamodbqueue.API
	delay time.Duration
}

func (a slowWritesAPI) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	out, err := a.API.BatchWriteItem(ctx, in, o...)
	if werr := wait.Sleep(ctx, a.delay); werr != nil {
		return nil, werr
	}
	return out, err
}

// TestSlowPushWritesFollowUpHint: a push whose messages were stored more than half of the
// watcher's 100 ms between its two signals after its hint was sent writes the hint again
// after them, even when the hint went in the same request: a server may apply the items of one
// request over its whole duration (DynamoDB Local does), so both signals could come before the
// messages are there. (How few follow-ups fast pushes write is measured by the bench's
// WatchStats, not asserted: what is fast depends on the machine.)
func TestSlowPushWritesFollowUpHint(t *testing.T) {
	t.Parallel()
	_, table := newTable(t)
	slow := newWatchClient(t, slowWritesAPI{API: testenv.Client(t), delay: 80 * time.Millisecond}, table, dynamodbqueue.Options{})
	push(t, mustHandle(t, slow, "slow", "c"), bodies(10, "slow")...)
	if n := slow.WatchStats().FollowUpHints; n != 1 {
		t.Errorf("a slow push wrote %d follow-up hints, want 1", n)
	}
}
