package consumer_test

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

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/consumer"
	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
	"github.com/dynamodbqueue/dynamodbqueue/internal/wait"
)

// tenantAPI counts the requests sent through it, and among them those that address a
// partition of one (queue, client) pair of queue `queue` (a key value "queue|client|..."): a
// per-tenant request. The watcher's hint queries address the queue's hint partitions instead.
type tenantAPI struct {
	dynamodbqueue.API
	queue     string
	total     atomic.Int64
	perTenant atomic.Int64
}

func (a *tenantAPI) note(maps ...map[string]types.AttributeValue) {
	a.total.Add(1)
	for _, m := range maps {
		for _, v := range m {
			if s, ok := v.(*types.AttributeValueMemberS); ok && strings.HasPrefix(s.Value, a.queue+"|") {
				a.perTenant.Add(1)
				return
			}
		}
	}
}

func (a *tenantAPI) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	a.note(in.Key)
	return a.API.GetItem(ctx, in, o...)
}

func (a *tenantAPI) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	a.note(in.Item)
	return a.API.PutItem(ctx, in, o...)
}

func (a *tenantAPI) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	a.note(in.Key)
	return a.API.UpdateItem(ctx, in, o...)
}

func (a *tenantAPI) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	a.note(in.Key)
	return a.API.DeleteItem(ctx, in, o...)
}

func (a *tenantAPI) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	a.note(in.ExpressionAttributeValues, in.ExclusiveStartKey)
	return a.API.Query(ctx, in, o...)
}

func (a *tenantAPI) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	var keys []map[string]types.AttributeValue
	for _, ka := range in.RequestItems {
		keys = append(keys, ka.Keys...)
	}
	a.note(keys...)
	return a.API.BatchGetItem(ctx, in, o...)
}

func (a *tenantAPI) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	var keys []map[string]types.AttributeValue
	for _, ws := range in.RequestItems {
		for _, w := range ws {
			switch {
			case w.PutRequest != nil:
				keys = append(keys, w.PutRequest.Item)
			case w.DeleteRequest != nil:
				keys = append(keys, w.DeleteRequest.Key)
			}
		}
	}
	a.note(keys...)
	return a.API.BatchWriteItem(ctx, in, o...)
}

// newClient returns a client of a fresh table that sends its requests through api.
func newClient(t testing.TB, api dynamodbqueue.API) *dynamodbqueue.Client {
	t.Helper()
	table := newTable(t, api).Table()
	c, err := dynamodbqueue.New(dynamodbqueue.Options{API: api, Table: table, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("dynamodbqueue.New: %v", err)
	}
	return c
}

func mustQueue(t testing.TB, c *dynamodbqueue.Client, queue, client string) *dynamodbqueue.DynamoDBQueue {
	t.Helper()
	q, err := c.Queue(queue, client)
	if err != nil {
		t.Fatalf("Queue(%q, %q): %v", queue, client, err)
	}
	return q
}

// tenantHooks counts what consumer.TenantHooks report.
type tenantHooks struct {
	consumer.NopHooks
	polls     atomic.Int64
	received  atomic.Int64
	wakes     atomic.Int64
	throttles atomic.Int64
}

func (h *tenantHooks) OnPoll(context.Context, consumer.Source, int) { h.polls.Add(1) }
func (h *tenantHooks) OnReceive(_ context.Context, _ consumer.Source, n int) {
	h.received.Add(int64(n))
}
func (h *tenantHooks) OnWake(context.Context, consumer.Source) { h.wakes.Add(1) }
func (h *tenantHooks) OnThrottle(context.Context, consumer.Source, time.Duration) {
	h.throttles.Add(1)
}

// TestIdleTenantsCostNothing: a consumer of 1,000 tenants polls each once when it starts (for
// messages pushed before) and then, while all are idle, sends no request for any of them: it
// waits on the table's watcher, whose cost does not depend on the number of tenants. The only
// per-tenant requests in the idle window are the watcher's fallback checks, which its own
// budget bounds. Then a message pushed by another process to a random tenant is handled
// once, by a handler call that sees that tenant's client ID, and so is one pushed by this
// process.
func TestIdleTenantsCostNothing(t *testing.T) {
	t.Parallel()
	const tenants = 1000
	api := &tenantAPI{API: testenv.Client(t), queue: "jobs"}
	client := newClient(t, api)
	ids := make([]string, tenants)
	for i := range ids {
		ids[i] = fmt.Sprintf("t%04d", i)
	}
	type handled struct{ client, body string }
	var mu sync.Mutex
	var got []handled
	hooks := &tenantHooks{}
	c := mustNew(t, mustQueue(t, client, "jobs", ids[0]), func(ctx context.Context, msg events.SQSMessage) error {
		src, ok := consumer.SourceOf(ctx)
		if !ok {
			return errors.New("no source in the handler's context")
		}
		mu.Lock()
		defer mu.Unlock()
		got = append(got, handled{src.ClientID, msg.Body})
		return nil
	}, consumer.Options{ClientIDs: ids[1:], Hooks: hooks, Concurrency: 16, Pollers: 8})
	began := time.Now()
	start(t, c)
	waitUntil(t, "the first poll of every tenant", func() bool { return hooks.polls.Load() >= tenants })
	t.Logf("first poll of %d tenants: %d requests in %v", tenants, api.total.Load(), time.Since(began).Round(time.Millisecond))

	// Idle: about 20 ticks of the watcher (one hint query each).
	ws0, polls0, perTenant0, total0, begun := client.WatchStats(), hooks.polls.Load(), api.perTenant.Load(), api.total.Load(), time.Now()
	waitUntil(t, "20 ticks of the watcher", func() bool { return client.WatchStats().Ticks >= ws0.Ticks+20 })
	ws1, polls1, perTenant1, total1, took := client.WatchStats(), hooks.polls.Load(), api.perTenant.Load(), api.total.Load(), time.Since(begun)
	if polls1 != polls0 {
		t.Errorf("the idle consumer polled %d times", polls1-polls0)
	}
	// A fallback check may be on its way (sent, not yet counted by the watcher) at either end
	// of the window: one definition read and one query.
	if fallback := ws1.FallbackRequests - ws0.FallbackRequests; perTenant1-perTenant0 > fallback+2 {
		t.Errorf("%d per-tenant requests while idle, of which only %d were the watcher's fallback checks",
			perTenant1-perTenant0, fallback)
	}
	t.Logf("idle over %d tenants: %d requests in %v (%.1f/s), %d of them per tenant (watcher fallback: %d)",
		tenants, total1-total0, took.Round(time.Millisecond), float64(total1-total0)/took.Seconds(),
		perTenant1-perTenant0, ws1.FallbackRequests-ws0.FallbackRequests)

	// Another process (its own client: its own watcher and in-process signals) pushes to a
	// random tenant; this process pushes to another.
	other, err := dynamodbqueue.New(dynamodbqueue.Options{API: testenv.Client(t), Table: client.Table(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	a, b := ids[rand.IntN(tenants)], ids[rand.IntN(tenants)]
	push(t, mustQueue(t, other, "jobs", a), "for-"+a)
	push(t, mustQueue(t, client, "jobs", b), "for-"+b)
	waitUntil(t, "both messages", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= 2
	})
	mu.Lock()
	defer mu.Unlock()
	want := []handled{{a, "for-" + a}, {b, "for-" + b}}
	slices.SortFunc(got, func(x, y handled) int { return strings.Compare(x.body, y.body) })
	slices.SortFunc(want, func(x, y handled) int { return strings.Compare(x.body, y.body) })
	if !slices.Equal(got, want) {
		t.Errorf("handled %v, want %v", got, want)
	}
}

// TestTenantMaxConcurrency: with MaxConcurrency, no tenant ever has more handlers running at
// once than its limit, here 1 for one tenant and 2 for the others (Tenants), although the
// consumer has workers to spare.
func TestTenantMaxConcurrency(t *testing.T) {
	t.Parallel()
	client := newClient(t, testenv.Client(t))
	ids := []string{"a", "b", "c"}
	for _, id := range ids {
		push(t, mustQueue(t, client, "jobs", id), bodies(15, id)...)
	}
	limit := func(src consumer.Source) int {
		if src.ClientID == "a" {
			return 1
		}
		return 2
	}
	var mu sync.Mutex
	running, peak := map[string]int{}, map[string]int{}
	var done atomic.Int32
	c := mustNew(t, mustQueue(t, client, "jobs", ids[0]), func(ctx context.Context, msg events.SQSMessage) error {
		src, _ := consumer.SourceOf(ctx)
		mu.Lock()
		running[src.ClientID]++
		peak[src.ClientID] = max(peak[src.ClientID], running[src.ClientID])
		mu.Unlock()
		// Simulated work, so that handlers of one tenant would overlap without the limit.
		_ = wait.Sleep(ctx, 10*time.Millisecond)
		mu.Lock()
		running[src.ClientID]--
		mu.Unlock()
		done.Add(1)
		return nil
	}, consumer.Options{Concurrency: 8, ClientIDs: ids[1:], Tenants: func(src consumer.Source) consumer.TenantOptions {
		return consumer.TenantOptions{MaxConcurrency: limit(src)}
	}})
	stop := start(t, c)
	waitUntil(t, "45 messages", func() bool { return done.Load() == 45 })
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, id := range ids {
		if lim := limit(consumer.Source{ClientID: id}); peak[id] > lim {
			t.Errorf("tenant %s had %d handlers running at once, limit %d", id, peak[id], lim)
		}
	}
	t.Logf("peak handlers per tenant: %v", peak)
}

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestTenantRateLimit: with the scheduler's clock held still, the rate limit admits exactly
// its burst and then holds the tenant back (reported to TenantHooks.OnThrottle) however long
// the consumer runs; each step of the clock admits what the token bucket refills, never more
// than the burst at once.
func TestTenantRateLimit(t *testing.T) {
	t.Parallel()
	q := newQueue(t, "jobs", "limited")
	push(t, q, bodies(30, "m")...)
	hooks := &tenantHooks{}
	clock := &fakeClock{now: time.Now()}
	c := mustNew(t, q, noop, consumer.Options{Concurrency: 10, Hooks: hooks,
		Tenant: consumer.TenantOptions{Rate: 10, Burst: 3}})
	consumer.SetClock(c, clock.Now)
	start(t, c)
	// step advances the clock by d and waits until the consumer was held back by the rate
	// limit again (a throttle after the clock moved), then checks how many messages were
	// admitted in all.
	throttled := int64(0)
	step := func(d time.Duration, want int64) {
		t.Helper()
		clock.Advance(d)
		waitUntil(t, "the rate limit to hold the tenant back", func() bool {
			return hooks.throttles.Load() > throttled && hooks.received.Load() >= want
		})
		// The clock stands still, so no further token can come: what was admitted is final.
		throttled = hooks.throttles.Load()
		if got := hooks.received.Load(); got != want {
			t.Fatalf("after %v more: %d messages admitted in all, want %d", d, got, want)
		}
	}
	step(0, 3)                    // the burst
	step(time.Second, 6)          // 10 tokens refilled, but the bucket holds 3
	step(100*time.Millisecond, 7) // one token
	step(250*time.Millisecond, 9) // two and a half
	step(50*time.Millisecond, 10) // the half and a half
}

// TestNoisyNeighbour: one tenant has a backlog of 150 messages; while the consumer works
// through it, ten quiet tenants get one message each. Each quiet message is handled long
// before the backlog drains: within a few batches of the noisy tenant after its push, not
// after the backlog.
func TestNoisyNeighbour(t *testing.T) {
	t.Parallel()
	const backlog, quiet = 150, 10
	client := newClient(t, testenv.Client(t))
	noisy := mustQueue(t, client, "jobs", "noisy")
	push(t, noisy, bodies(backlog, "noisy")...)
	ids := make([]string, quiet)
	for i := range ids {
		ids[i] = fmt.Sprintf("quiet%02d", i)
	}
	var mu sync.Mutex
	noisyDone := 0
	quietAt := map[string]int{} // quiet message -> noisy messages handled before it
	c := mustNew(t, noisy, func(ctx context.Context, msg events.SQSMessage) error {
		src, _ := consumer.SourceOf(ctx)
		// Simulated work, so the backlog takes a while.
		_ = wait.Sleep(ctx, 2*time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		if src.ClientID == "noisy" {
			noisyDone++
		} else {
			quietAt[msg.Body] = noisyDone
		}
		return nil
	}, consumer.Options{Concurrency: 4, ClientIDs: ids})
	stop := start(t, c)
	noisyCount := func() int {
		mu.Lock()
		defer mu.Unlock()
		return noisyDone
	}
	waitUntil(t, "the backlog to be under way", func() bool { return noisyCount() >= 20 })
	pushedAt := map[string]int{}
	for _, id := range ids {
		body := "hello-" + id
		pushedAt[body] = noisyCount()
		push(t, mustQueue(t, client, "jobs", id), body)
	}
	waitUntil(t, "the backlog to drain", func() bool { return noisyCount() == backlog })
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	// A quiet tenant is polled before the noisy one is polled again (stride scheduling), so
	// the noisy messages handled meanwhile are those claimed already and about one batch.
	// Without fairness the quiet messages would come after the rest of the backlog.
	const bound = 40
	for body, at := range pushedAt {
		h, ok := quietAt[body]
		switch {
		case !ok:
			t.Errorf("%s not handled before the backlog of %d drained", body, backlog)
		case h-at > bound:
			t.Errorf("%s waited for %d noisy messages (pushed after %d, handled after %d), more than %d",
				body, h-at, at, h, bound)
		}
	}
	t.Logf("quiet messages: pushed after / handled after noisy message #: %v / %v", pushedAt, quietAt)
}

// TestTenantOptionsValidation: New rejects bad per-tenant limits with ErrInvalidOptions and a
// message naming the field (and, for Tenants, the source).
func TestTenantOptionsValidation(t *testing.T) {
	t.Parallel()
	q := dynamodbqueue.NewFromClient(testenv.Client(t), 0).UseTable("tenant-options").UseQueueName("jobs").UseClientID("a")
	for _, tc := range []struct {
		name string
		opts consumer.Options
		want string
	}{
		{"negative concurrency", consumer.Options{Tenant: consumer.TenantOptions{MaxConcurrency: -1}}, "MaxConcurrency"},
		{"negative rate", consumer.Options{Tenant: consumer.TenantOptions{Rate: -1}}, "Rate"},
		{"burst without rate", consumer.Options{Tenant: consumer.TenantOptions{Burst: 5}}, "Burst"},
		{"negative burst", consumer.Options{Tenant: consumer.TenantOptions{Rate: 1, Burst: -1}}, "Burst"},
		{"weight too big", consumer.Options{Tenant: consumer.TenantOptions{Weight: consumer.MaxTenantWeight + 1}}, "Weight"},
		{"bad weight of one source", consumer.Options{ClientIDs: []string{"b"}, Tenants: func(src consumer.Source) consumer.TenantOptions {
			if src.ClientID == "b" {
				return consumer.TenantOptions{Weight: -2}
			}
			return consumer.TenantOptions{}
		}}, "jobs/b"},
	} {
		_, err := consumer.New(q, consumer.HandlerFunc(noop), tc.opts)
		if !errors.Is(err, consumer.ErrInvalidOptions) || !strings.Contains(fmt.Sprint(err), tc.want) {
			t.Errorf("%s: New = %v, want ErrInvalidOptions mentioning %q", tc.name, err, tc.want)
		}
	}
	if _, err := consumer.New(q, consumer.HandlerFunc(noop), consumer.Options{Tenant: consumer.TenantOptions{MaxConcurrency: 2, Rate: 0.5, Weight: 3}}); err != nil {
		t.Errorf("valid tenant options: %v", err)
	}
}

// TestWatchDisabledPollsEveryWaitTime: with a client whose watching is disabled
// (WatchInterval < 0) the consumer still runs: it polls each source every WaitTime, and so
// handles a message another process pushes.
func TestWatchDisabledPollsEveryWaitTime(t *testing.T) {
	t.Parallel()
	api := testenv.Client(t)
	table := newTable(t, api).Table()
	client, err := dynamodbqueue.New(dynamodbqueue.Options{API: api, Table: table, WatchInterval: -1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Watch("jobs", "a"); !errors.Is(err, dynamodbqueue.ErrWatchDisabled) {
		t.Fatalf("Watch = %v, want ErrWatchDisabled", err)
	}
	hooks := &tenantHooks{}
	got := make(chan string, 1)
	c := mustNew(t, mustQueue(t, client, "jobs", "a"), func(ctx context.Context, msg events.SQSMessage) error {
		got <- msg.Body
		return nil
	}, consumer.Options{ClientIDs: []string{"b"}, WaitTime: 50 * time.Millisecond, Hooks: hooks})
	start(t, c)
	// Idle polls go on: more than the first poll of each source.
	waitUntil(t, "polls after the first round", func() bool { return hooks.polls.Load() > 4 })
	other, err := dynamodbqueue.New(dynamodbqueue.Options{API: api, Table: table, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	push(t, mustQueue(t, other, "jobs", "b"), "hello")
	select {
	case body := <-got:
		if body != "hello" {
			t.Errorf("handled %q, want hello", body)
		}
	case <-testCtx(t).Done():
		t.Fatal("the message was not handled")
	}
}
