package queuemetrics_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
	"github.com/dynamodbqueue/dynamodbqueue/queuemetrics"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// newTable creates a fresh table and returns a handle on it; the table is dropped afterwards.
func newTable(t *testing.T) *dynamodbqueue.DynamoDBQueue {
	t.Helper()
	q := dynamodbqueue.NewFromClient(testenv.Client(t), 0).UseTable(testenv.TableName(t)).UseLogger(nil)
	if _, err := q.CreateQueueTable(ctxT(t)); err != nil {
		t.Fatalf("CreateQueueTable: %v", err)
	}
	t.Cleanup(func() { _ = q.DropQueueTable(context.Background()) })
	return q
}

func push(t *testing.T, q *dynamodbqueue.DynamoDBQueue, opts dynamodbqueue.PushOptions, n int) {
	t.Helper()
	msgs := make([]events.SQSMessage, n)
	for i := range msgs {
		msgs[i].Body = fmt.Sprintf("%s-%d", q.ClientID(), i)
	}
	if res, err := q.PushWithOptions(ctxT(t), opts, msgs...); err != nil || len(res.Failed) > 0 {
		t.Fatalf("push: %v, %d failed", err, len(res.Failed))
	}
}

func poll(t *testing.T, q *dynamodbqueue.DynamoDBQueue, n int) []events.SQSMessage {
	t.Helper()
	got, err := q.PollMessages(ctxT(t), 0, time.Hour, n)
	if err != nil || len(got) != n {
		t.Fatalf("poll: %d of %d, %v", len(got), n, err)
	}
	return got
}

// scrape gathers reg and returns every sample as "name{label=value,...}" -> value, labels
// sorted by name.
func scrape(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	out := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			out[f.GetName()+labelText(m.GetLabel())] = value(m)
		}
	}
	return out
}

func labelText(labels []*dto.LabelPair) string {
	parts := make([]string, 0, len(labels))
	for _, l := range labels {
		if l.GetName() != "table" {
			parts = append(parts, l.GetName()+"="+l.GetValue())
		}
	}
	sort.Strings(parts)
	return "{" + strings.Join(parts, ",") + "}"
}

func value(m *dto.Metric) float64 {
	if g := m.GetGauge(); g != nil {
		return g.GetValue()
	}
	return m.GetCounter().GetValue()
}

// testClock is the collector's clock, stepped by the test.
type testClock struct{ now atomic.Int64 }

func (c *testClock) Now() time.Time          { return time.Unix(0, c.now.Load()) }
func (c *testClock) Advance(d time.Duration) { c.now.Add(int64(d)) }

// TestGaugesFromARealTable fills a table with messages in every state over two queues and
// reads the gauges back through a registry: per queue, per tenant with the cap, the oldest
// age, the cached values between refreshes and the previous values after a failed refresh.
func TestGaugesFromARealTable(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	base := newTable(t)
	orders := func(client string) *dynamodbqueue.DynamoDBQueue {
		return base.Clone().UseQueueName("orders").UseClientID(client)
	}
	push(t, orders("big"), dynamodbqueue.PushOptions{}, 4)
	poll(t, orders("big"), 1) // 3 visible, 1 in flight
	push(t, orders("mid"), dynamodbqueue.PushOptions{}, 2)
	push(t, orders("small"), dynamodbqueue.PushOptions{Delay: time.Minute}, 1)
	emails := base.Clone().UseQueueName("emails").UseClientID("acme").
		UseDeadLetterQueue(&dynamodbqueue.DeadLetterConfig{MaxReceiveCount: 1})
	push(t, emails, dynamodbqueue.PushOptions{}, 1)
	first := poll(t, emails, 1)
	if _, err := emails.ReleaseMessages(ctx, dynamodbqueue.ToReceiptHandles(first)...); err != nil {
		t.Fatalf("release: %v", err)
	}
	if again, err := emails.PollMessages(ctx, 0, time.Hour, 1); err != nil || len(again) != 0 {
		t.Fatalf("second receive = %d messages, %v; want the message dead-lettered", len(again), err)
	}

	// The oldest visible message of each queue, as the inspection API lists it.
	oldestSent := func(q *dynamodbqueue.DynamoDBQueue) time.Time {
		page, err := q.Inspector().ListMessages(ctx, dynamodbqueue.ListOptions{State: dynamodbqueue.StateVisible, Limit: 1})
		if err != nil || len(page.Messages) != 1 {
			t.Fatalf("ListMessages: %v, %v", page.Messages, err)
		}
		return page.Messages[0].Sent
	}
	bigOldest, midOldest := oldestSent(orders("big")), oldestSent(orders("mid"))

	clock := &testClock{}
	clock.Advance(time.Duration(time.Now().Add(time.Hour).UnixNano())) // an hour after the pushes
	// ScrapeWait is far longer than a refresh of this table takes: each scrape that starts a
	// refresh gets its values.
	c, err := queuemetrics.New(base, queuemetrics.Options{MaxTenants: 1, RefreshInterval: time.Minute, ScrapeWait: time.Minute, Now: clock.Now})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(c.Close)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	age := func(sent time.Time) float64 { return clock.Now().Sub(sent).Seconds() }

	got := scrape(t, reg)
	want := map[string]float64{
		"dynamodbqueue_queue_messages{queue=orders,state=visible}":                       5,
		"dynamodbqueue_queue_messages{queue=orders,state=in_flight}":                     1,
		"dynamodbqueue_queue_messages{queue=orders,state=delayed}":                       1,
		"dynamodbqueue_queue_messages{queue=orders,state=dead_lettered}":                 0,
		"dynamodbqueue_queue_oldest_message_age_seconds{queue=orders}":                   age(older(bigOldest, midOldest)),
		"dynamodbqueue_queue_tenants{queue=orders}":                                      3,
		"dynamodbqueue_tenant_messages{client=big,queue=orders,state=visible}":           3,
		"dynamodbqueue_tenant_messages{client=big,queue=orders,state=in_flight}":         1,
		"dynamodbqueue_tenant_messages{client=big,queue=orders,state=delayed}":           0,
		"dynamodbqueue_tenant_messages{client=big,queue=orders,state=dead_lettered}":     0,
		"dynamodbqueue_tenant_oldest_message_age_seconds{client=big,queue=orders}":       age(bigOldest),
		"dynamodbqueue_tenant_messages{client=(other),queue=orders,state=visible}":       2,
		"dynamodbqueue_tenant_messages{client=(other),queue=orders,state=in_flight}":     0,
		"dynamodbqueue_tenant_messages{client=(other),queue=orders,state=delayed}":       1,
		"dynamodbqueue_tenant_messages{client=(other),queue=orders,state=dead_lettered}": 0,
		"dynamodbqueue_tenant_oldest_message_age_seconds{client=(other),queue=orders}":   age(midOldest),
		// emails: the dead letter is counted for its source pair; emails-dlq holds it visible.
		"dynamodbqueue_queue_messages{queue=emails,state=dead_lettered}":              1,
		"dynamodbqueue_queue_messages{queue=emails,state=visible}":                    0,
		"dynamodbqueue_queue_oldest_message_age_seconds{queue=emails}":                0,
		"dynamodbqueue_tenant_messages{client=acme,queue=emails,state=dead_lettered}": 1,
		"dynamodbqueue_queue_messages{queue=emails-dlq,state=visible}":                1,
		"dynamodbqueue_stats_refresh_success{}":                                       1,
		"dynamodbqueue_stats_refresh_timestamp_seconds{}":                             float64(clock.Now().UnixMilli()) / 1e3,
		"dynamodbqueue_stats_refresh_failures_total{}":                                0,
	}
	check(t, "first scrape", got, want)
	for name := range got {
		if strings.Contains(name, "client=mid") || strings.Contains(name, "client=small") {
			t.Errorf("%s: a tenant beyond the cap has its own series", name)
		}
	}

	// Within the refresh interval a scrape reads nothing: the new messages do not show.
	push(t, orders("big"), dynamodbqueue.PushOptions{}, 2)
	clock.Advance(59 * time.Second)
	check(t, "cached scrape", scrape(t, reg), want)

	// After the interval it reads again.
	clock.Advance(time.Second)
	want["dynamodbqueue_queue_messages{queue=orders,state=visible}"] = 7
	want["dynamodbqueue_tenant_messages{client=big,queue=orders,state=visible}"] = 5
	want["dynamodbqueue_queue_oldest_message_age_seconds{queue=orders}"] += 60
	want["dynamodbqueue_tenant_oldest_message_age_seconds{client=big,queue=orders}"] += 60
	want["dynamodbqueue_tenant_oldest_message_age_seconds{client=(other),queue=orders}"] += 60
	want["dynamodbqueue_stats_refresh_timestamp_seconds{}"] += 60
	check(t, "refreshed scrape", scrape(t, reg), want)

	// A failed refresh keeps the previous values and says so.
	if err := base.DropQueueTable(ctx); err != nil {
		t.Fatalf("DropQueueTable: %v", err)
	}
	clock.Advance(time.Minute)
	want["dynamodbqueue_stats_refresh_success{}"] = 0
	want["dynamodbqueue_stats_refresh_failures_total{}"] = 1
	check(t, "failed refresh", scrape(t, reg), want)
}

func older(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func check(t *testing.T, what string, got, want map[string]float64) {
	t.Helper()
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("%s: no %s", what, name)
		} else if diff := g - w; diff > 0.001 || diff < -0.001 {
			t.Errorf("%s: %s = %v; want %v", what, name, g, w)
		}
	}
}

// TestNoTenantSeries: a negative cap leaves only the queue series.
func TestNoTenantSeries(t *testing.T) {
	t.Parallel()
	base := newTable(t)
	push(t, base.Clone().UseQueueName("jobs").UseClientID("a"), dynamodbqueue.PushOptions{}, 1)
	push(t, base.Clone().UseQueueName("other").UseClientID("a"), dynamodbqueue.PushOptions{}, 1)
	reg := prometheus.NewPedanticRegistry()
	c, err := queuemetrics.Register(reg, base, queuemetrics.Options{MaxTenants: -1, Queues: []string{"jobs"}, ScrapeWait: time.Minute})
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	t.Cleanup(c.Close)
	got := scrape(t, reg)
	for name := range got {
		if strings.HasPrefix(name, "dynamodbqueue_tenant_") || strings.Contains(name, "queue=other") {
			t.Errorf("unexpected series %s", name)
		}
	}
	check(t, "queue jobs", got, map[string]float64{"dynamodbqueue_queue_messages{queue=jobs,state=visible}": 1})
}

// TestNewRejectsBadOptions: bad options are an ErrInvalidOptions, and nothing is read.
func TestNewRejectsBadOptions(t *testing.T) {
	t.Parallel()
	q := dynamodbqueue.NewFromClient(nil, 0).UseTable("table")
	for name, opts := range map[string]queuemetrics.Options{
		"negative interval": {RefreshInterval: -time.Second},
		"negative timeout":  {RefreshTimeout: -time.Second},
		"negative wait":     {ScrapeWait: -time.Second},
		"bad queue name":    {Queues: []string{"no spaces"}},
	} {
		if _, err := queuemetrics.New(q, opts); !errors.Is(err, queuemetrics.ErrInvalidOptions) {
			t.Errorf("%s: err = %v; want ErrInvalidOptions", name, err)
		}
	}
	if _, err := queuemetrics.New(nil, queuemetrics.Options{}); !errors.Is(err, queuemetrics.ErrInvalidOptions) {
		t.Errorf("nil queue: err = %v", err)
	}
}

// gatedAPI holds every Query until the gate is closed: a refresh that takes as long as the
// test wants.
type gatedAPI struct {
	*dynamodb.Client
	gate chan struct{}
}

func (g gatedAPI) Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.Client.Query(ctx, in, optFns...)
}

// TestSlowRefreshDoesNotHoldTheScrape: a scrape waits for a refresh only up to ScrapeWait and
// then answers without values; the refresh goes on, and a later scrape gets its values.
// Close stops a refresh that is still running.
func TestSlowRefreshDoesNotHoldTheScrape(t *testing.T) {
	t.Parallel()
	base := newTable(t)
	push(t, base.Clone().UseQueueName("jobs").UseClientID("a"), dynamodbqueue.PushOptions{}, 2)
	api := gatedAPI{Client: testenv.Client(t), gate: make(chan struct{})}
	gated := dynamodbqueue.NewFromClient(api, 0).UseTable(base.Table()).UseLogger(nil)
	reg := prometheus.NewPedanticRegistry()
	c, err := queuemetrics.Register(reg, gated, queuemetrics.Options{ScrapeWait: time.Millisecond})
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	t.Cleanup(c.Close)

	got := scrape(t, reg) // the refresh is held at the gate: ScrapeWait passes
	if got["dynamodbqueue_stats_refresh_timestamp_seconds{}"] != 0 || len(got) != 4 {
		t.Fatalf("scrape during the first refresh = %v; want only the refresh series, no read yet", got)
	}
	close(api.gate)
	// Each scrape waits up to 1 ms for the refresh in progress; poll until it has ended,
	// bounded by the test's context.
	ctx := ctxT(t)
	for got["dynamodbqueue_stats_refresh_success{}"] != 1 {
		if ctx.Err() != nil {
			t.Fatalf("the refresh never ended: %v", got)
		}
		got = scrape(t, reg)
	}
	check(t, "after the refresh", got, map[string]float64{"dynamodbqueue_queue_messages{queue=jobs,state=visible}": 2})

	// A refresh held at a gate that never opens: Close cancels it and returns.
	blocked := gatedAPI{Client: testenv.Client(t), gate: make(chan struct{})}
	c2, err := queuemetrics.New(dynamodbqueue.NewFromClient(blocked, 0).UseTable(base.Table()).UseLogger(nil),
		queuemetrics.Options{ScrapeWait: time.Millisecond})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	reg2 := prometheus.NewPedanticRegistry()
	reg2.MustRegister(c2)
	scrape(t, reg2)
	c2.Close() // returns once the held refresh has seen its context end
	if got := scrape(t, reg2); got["dynamodbqueue_stats_refresh_failures_total{}"] != 1 {
		t.Errorf("after Close: %v; want the cancelled refresh counted as failed", got)
	}
}
