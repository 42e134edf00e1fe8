// Package queuemetrics exposes the state of a queue table as Prometheus gauges: how many
// messages are visible, in flight, delayed and dead-lettered, and how old the oldest visible
// message is, per queue and per tenant (client ID). It reads the table through the root
// package's inspection API (Inspector.TableStats or QueueStats), so alerting on a backlog
// needs no consumer running.
//
// # Cost and refresh
//
// A Collector reads the table at most once per Options.RefreshInterval (default 30 s): a
// scrape within the interval gets the cached values; a later one starts a refresh (concurrent
// scrapes share it) and waits for it up to Options.ScrapeWait (default 5 s), so a scrape
// stays within Prometheus's scrape timeout however large the table: past the wait, it gets
// the previous values and the refresh goes on in the background for the next scrape. A failed
// refresh also waits out the interval. Close stops a refresh in progress.
//
// One refresh lists the pairs (one Query of the table's registry), then reads, pair after
// pair, every message item once, projected to a few small attributes, with eventually
// consistent queries: one Query per shard per pair (plus one per 1 MB page) and one read of
// the pair's stored definition, so about 2 requests per (queue, client) pair. Its read cost
// is about (size of the message items) / 8 KB read units, e.g. 100,000 messages of 430 bytes
// stored cost about 5,300 read units per refresh. Scraped every 15 s with a 30 s interval,
// that is the cost of one refresh per 30 s, not per scrape. docs/OBSERVABILITY.md has
// measured request counts and durations.
//
// # Metrics
//
// With the default namespace "dynamodbqueue":
//
//	dynamodbqueue_queue_messages{table,queue,state}                  state: visible, in_flight, delayed, dead_lettered
//	dynamodbqueue_queue_oldest_message_age_seconds{table,queue}      0 when nothing is visible
//	dynamodbqueue_queue_tenants{table,queue}                         client IDs the table lists for the queue
//	dynamodbqueue_tenant_messages{table,queue,client,state}
//	dynamodbqueue_tenant_oldest_message_age_seconds{table,queue,client}
//	dynamodbqueue_stats_refresh_success                              1 if the last refresh worked
//	dynamodbqueue_stats_refresh_timestamp_seconds                    when the values shown were read
//	dynamodbqueue_stats_refresh_duration_seconds                     how long that read took
//	dynamodbqueue_stats_refresh_failures_total
//
// # Cardinality
//
// Per-tenant series are capped by Options.MaxTenants per queue (default 100): the tenants
// with the most messages (visible + in flight + delayed + dead-lettered; ties by client ID)
// get their own client label, and the rest are summed under client="(other)" (a value no
// client ID can take), with the oldest age of them all. The queue series always count every
// tenant. A negative MaxTenants turns the per-tenant series off.
package queuemetrics

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// OtherTenants is the client label of the tenants beyond Options.MaxTenants. Client IDs are
// made of A-Z a-z 0-9 _ . - only, so it never names a real tenant.
const OtherTenants = "(other)"

// Defaults of Options.
const (
	DefaultRefreshInterval = 30 * time.Second
	DefaultRefreshTimeout  = time.Minute
	DefaultMaxTenants      = 100
	DefaultScrapeWait      = 5 * time.Second
)

// Message states, the values of the state label.
const (
	StateVisible      = "visible"
	StateInFlight     = "in_flight"
	StateDelayed      = "delayed"
	StateDeadLettered = "dead_lettered"
)

// ErrInvalidOptions is wrapped by New's errors about its Options.
var ErrInvalidOptions = errors.New("queuemetrics: invalid options")

// Options configures a Collector. The zero value reads every queue of the table with the
// defaults.
type Options struct {
	// Queues limits the gauges to these queue names, read with Inspector.QueueStats (dead
	// letters: the messages in each queue's dead-letter queue, from its stored redrive policy).
	// Empty: every queue of the table, read with one Inspector.TableStats (dead letters: the
	// messages anywhere in the table dead-lettered from the pair).
	Queues []string
	// RefreshInterval is the shortest time between two reads of the table; 0 means
	// DefaultRefreshInterval.
	RefreshInterval time.Duration
	// RefreshTimeout bounds one read; 0 means DefaultRefreshTimeout. A refresh that times out
	// counts as failed and the previous values are served.
	RefreshTimeout time.Duration
	// ScrapeWait is how long a scrape waits for the refresh it started (or found running)
	// before it answers with the previous values; 0 means DefaultScrapeWait. Keep it below
	// the scrape timeout.
	ScrapeWait time.Duration
	// MaxTenants caps the per-tenant series of each queue (see the package doc); 0 means
	// DefaultMaxTenants, negative means no per-tenant series.
	MaxTenants int
	// Namespace is the first part of the metric names; "" means "dynamodbqueue".
	Namespace string
	// Logger receives failed refreshes; nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock for ages and the refresh interval; nil means time.Now.
	Now func() time.Time
}

// Collector is a prometheus.Collector of queue gauges. Register it on a registry (or serve
// it with Handler). It is safe for concurrent scrapes.
type Collector struct {
	q    *dynamodbqueue.DynamoDBQueue
	opts Options

	queueMsgs, queueAge, queueTenants  *prometheus.Desc
	tenantMsgs, tenantAge              *prometheus.Desc
	success, stamp, duration, failures *prometheus.Desc

	ctx    context.Context // ends with Close: stops a refresh in progress
	cancel context.CancelFunc
	wg     sync.WaitGroup // the refresh in progress

	mu      sync.Mutex
	running chan struct{} // non-nil while a refresh runs; closed when it ends
	stats   []dynamodbqueue.PairStats
	readAt  time.Time // when stats were read (zero before the first success)
	took    time.Duration
	tried   time.Time // when the last refresh started
	ok      bool
	failed  float64
}

// New returns a Collector of the table of q (its table, shard count and other settings; its
// queue name and client ID are not used). It reads nothing until the first scrape.
func New(q *dynamodbqueue.DynamoDBQueue, opts Options) (*Collector, error) {
	if q == nil {
		return nil, fmt.Errorf("%w: no queue handle", ErrInvalidOptions)
	}
	if opts.RefreshInterval < 0 || opts.RefreshTimeout < 0 || opts.ScrapeWait < 0 {
		return nil, fmt.Errorf("%w: negative refresh interval, refresh timeout or scrape wait", ErrInvalidOptions)
	}
	for _, name := range opts.Queues {
		if err := dynamodbqueue.ValidateName(name); err != nil {
			return nil, fmt.Errorf("%w: queue %q: %w", ErrInvalidOptions, name, err)
		}
	}
	opts.Queues = slices.Compact(slices.Sorted(slices.Values(opts.Queues))) // one series per queue
	opts.RefreshInterval = cmp.Or(opts.RefreshInterval, DefaultRefreshInterval)
	opts.RefreshTimeout = cmp.Or(opts.RefreshTimeout, DefaultRefreshTimeout)
	opts.ScrapeWait = cmp.Or(opts.ScrapeWait, DefaultScrapeWait)
	opts.MaxTenants = cmp.Or(opts.MaxTenants, DefaultMaxTenants)
	opts.Namespace = cmp.Or(opts.Namespace, "dynamodbqueue")
	opts.Logger = cmp.Or(opts.Logger, slog.Default())
	if opts.Now == nil {
		opts.Now = time.Now
	}
	ns := opts.Namespace
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(ns, "", name), help, labels, nil)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Collector{
		q: q.Clone(), opts: opts, ctx: ctx, cancel: cancel,
		queueMsgs:    desc("queue_messages", "Messages of the queue by state (all its tenants).", "table", "queue", "state"),
		queueAge:     desc("queue_oldest_message_age_seconds", "Age of the queue's oldest visible message; 0 when none is visible.", "table", "queue"),
		queueTenants: desc("queue_tenants", "Client IDs the table lists for the queue (pairs that ever had a message).", "table", "queue"),
		tenantMsgs:   desc("tenant_messages", "Messages of one tenant (client ID) of the queue by state; tenants beyond the cap are summed under client=\"(other)\".", "table", "queue", "client", "state"),
		tenantAge:    desc("tenant_oldest_message_age_seconds", "Age of the tenant's oldest visible message; 0 when none is visible.", "table", "queue", "client"),
		success:      desc("stats_refresh_success", "1 if the last read of the table worked, else 0 (the previous values are shown)."),
		stamp:        desc("stats_refresh_timestamp_seconds", "When the values shown were read (Unix time); 0 before the first successful read."),
		duration:     desc("stats_refresh_duration_seconds", "How long the read of the values shown took."),
		failures:     desc("stats_refresh_failures_total", "Reads of the table that failed."),
	}, nil
}

// Describe sends the descriptors of every metric of the collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.queueMsgs, c.queueAge, c.queueTenants, c.tenantMsgs, c.tenantAge, c.success, c.stamp, c.duration, c.failures} {
		ch <- d
	}
}

// Collect starts a refresh if the last one started a refresh interval ago or more, waits
// for a refresh in progress up to the scrape wait, then sends the gauges of the last
// successful one.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	now := c.opts.Now()
	if c.running == nil && c.ctx.Err() == nil && (c.tried.IsZero() || now.Sub(c.tried) >= c.opts.RefreshInterval) {
		c.tried, c.running = now, make(chan struct{})
		c.wg.Add(1)
		go c.refresh(now, c.running)
	}
	running := c.running
	c.mu.Unlock()
	if running != nil {
		wait := time.NewTimer(c.opts.ScrapeWait)
		select {
		case <-running:
		case <-wait.C: // answer with the previous values; the refresh goes on
		}
		wait.Stop()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(c.success, boolFloat(c.ok))
	stamp := 0.0
	if !c.readAt.IsZero() {
		stamp = float64(c.readAt.UnixMilli()) / 1e3
	}
	gauge(c.stamp, stamp)
	gauge(c.duration, c.took.Seconds())
	ch <- prometheus.MustNewConstMetric(c.failures, prometheus.CounterValue, c.failed)
	if c.readAt.IsZero() {
		return
	}
	table := c.q.Table()
	for _, g := range c.groups() {
		g.total.send(gauge, c.queueMsgs, c.queueAge, c.readAt, table, g.queue)
		gauge(c.queueTenants, float64(g.tenants), table, g.queue)
		for _, t := range g.each {
			t.send(gauge, c.tenantMsgs, c.tenantAge, c.readAt, table, g.queue, t.client)
		}
	}
}

// Close stops a refresh in progress and waits for it to end; later scrapes serve the last
// values and read nothing. It is safe to call more than once.
func (c *Collector) Close() {
	c.cancel()
	c.wg.Wait()
}

// refresh reads the stats (started at now) and stores them; on failure it keeps the previous
// ones. It closes done when it ends.
func (c *Collector) refresh(now time.Time, done chan struct{}) {
	defer c.wg.Done()
	ctx, cancel := context.WithTimeout(c.ctx, c.opts.RefreshTimeout)
	defer cancel()
	stats, err := c.read(ctx)
	took := c.opts.Now().Sub(now)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.running = nil
	defer close(done)
	if err != nil {
		c.ok = false
		c.failed++
		c.opts.Logger.Warn("queuemetrics: reading the queue stats failed; serving the previous values",
			"table", c.q.Table(), "err", err)
		return
	}
	c.stats, c.readAt, c.took, c.ok = stats, now, took, true
}

func (c *Collector) read(ctx context.Context) ([]dynamodbqueue.PairStats, error) {
	if len(c.opts.Queues) == 0 {
		return c.q.Inspector().TableStats(ctx)
	}
	var all []dynamodbqueue.PairStats
	for _, name := range c.opts.Queues {
		q := c.q.Clone().UseQueueName(name)
		if q.ClientID() == "" {
			q.UseClientID("metrics") // QueueStats needs a pair; it reads every client of the queue
		}
		st, err := q.Inspector().QueueStats(ctx)
		if err != nil {
			return nil, fmt.Errorf("queue %s: %w", name, err)
		}
		all = append(all, st...)
	}
	return all, nil
}

// series is the values of one queue, or one tenant, or the tenants beyond the cap.
type series struct {
	client                                   string
	visible, inFlight, delayed, deadLettered int
	oldest                                   time.Time // zero if nothing visible
}

func pairSeries(p dynamodbqueue.PairStats) series {
	return series{client: p.ClientID, visible: p.Visible, inFlight: p.InFlight, delayed: p.Delayed,
		deadLettered: p.DeadLettered, oldest: p.OldestVisible}
}

// merge adds o's counts to s and keeps the older of the two oldest messages.
func (s *series) merge(o series) {
	s.visible += o.visible
	s.inFlight += o.inFlight
	s.delayed += o.delayed
	s.deadLettered += o.deadLettered
	if !o.oldest.IsZero() && (s.oldest.IsZero() || o.oldest.Before(s.oldest)) {
		s.oldest = o.oldest
	}
}

func (s *series) size() int { return s.visible + s.inFlight + s.delayed + s.deadLettered }

func (s *series) send(gauge func(*prometheus.Desc, float64, ...string), msgs, age *prometheus.Desc, at time.Time, labels ...string) {
	for _, v := range []struct {
		state string
		n     int
	}{{StateVisible, s.visible}, {StateInFlight, s.inFlight}, {StateDelayed, s.delayed}, {StateDeadLettered, s.deadLettered}} {
		gauge(msgs, float64(v.n), append(labels, v.state)...)
	}
	a := 0.0
	if !s.oldest.IsZero() {
		a = max(0, at.Sub(s.oldest).Seconds())
	}
	gauge(age, a, labels...)
}

// queueGroup is one queue: its total, its tenant count and its per-tenant series (capped).
type queueGroup struct {
	queue   string
	total   series
	tenants int
	each    []series
}

// groups folds the cached pair stats into queues, capping each queue's tenant series.
// Called with c.mu held.
func (c *Collector) groups() []queueGroup {
	var out []queueGroup
	for i := 0; i < len(c.stats); {
		j := i
		for j < len(c.stats) && c.stats[j].QueueName == c.stats[i].QueueName {
			j++
		}
		g := queueGroup{queue: c.stats[i].QueueName, tenants: j - i}
		tenants := make([]series, 0, j-i)
		for _, p := range c.stats[i:j] {
			s := pairSeries(p)
			g.total.merge(s)
			tenants = append(tenants, s)
		}
		g.each = capTenants(tenants, c.opts.MaxTenants)
		out = append(out, g)
		i = j
	}
	return out
}

// capTenants keeps the max largest tenants (ties by client ID) and sums the rest under
// OtherTenants; none when max is negative.
func capTenants(tenants []series, limit int) []series {
	if limit < 0 {
		return nil
	}
	if len(tenants) <= limit {
		return tenants
	}
	slices.SortFunc(tenants, func(a, b series) int {
		return cmp.Or(cmp.Compare(b.size(), a.size()), cmp.Compare(a.client, b.client))
	})
	other := series{client: OtherTenants}
	for _, t := range tenants[limit:] {
		other.merge(t)
	}
	return append(tenants[:limit:limit], other)
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Handler serves the metrics of g in the Prometheus text format, for the exporter's
// /metrics; errors while gathering answer 500.
func Handler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError})
}

// Register creates a Collector for q and registers it on reg: the one line a server that
// already serves a registry (ddbq serve --metrics) adds to show the queue gauges. Close the
// Collector when the server stops.
func Register(reg prometheus.Registerer, q *dynamodbqueue.DynamoDBQueue, opts Options) (*Collector, error) {
	c, err := New(q, opts)
	if err != nil {
		return nil, err
	}
	if err := reg.Register(c); err != nil {
		return nil, fmt.Errorf("queuemetrics: register: %w", err)
	}
	return c, nil
}
