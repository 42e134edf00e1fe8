// Package prommetrics reports the activity of a consumer.Consumer as Prometheus metrics.
//
// Metrics implements consumer.Hooks and prometheus.Collector. Register creates and registers
// them, and Handler serves a registry on /metrics:
//
//	reg := prometheus.NewRegistry() // or nil for prometheus.DefaultRegisterer
//	m, err := prommetrics.Register(reg, prommetrics.Options{})
//	if err != nil {
//		return err
//	}
//	c, err := consumer.New(q, handler, consumer.Options{Hooks: m})
//	...
//	http.Handle("/metrics", prommetrics.Handler(reg))
//
// (New returns unregistered metrics, for a registerer of your own: reg.MustRegister(m).)
//
// Every metric is labelled by queue and client (the source's queue name and client ID: the
// tenant). With the default namespace and subsystem the names are:
//
//	dynamodbqueue_consumer_received_total         messages claimed by polls
//	dynamodbqueue_consumer_receive_errors_total   failed polls
//	dynamodbqueue_consumer_succeeded_total        handler calls that returned nil
//	dynamodbqueue_consumer_failed_total           handler calls that returned an error or panicked
//	dynamodbqueue_consumer_deleted_total          handled messages deleted
//	dynamodbqueue_consumer_delete_errors_total    handled messages that could not be deleted
//	dynamodbqueue_consumer_released_total         messages released at shutdown
//	dynamodbqueue_consumer_release_errors_total   messages that could not be released
//	dynamodbqueue_consumer_heartbeats_total       visibility renewals of running handlers
//	dynamodbqueue_consumer_heartbeat_errors_total visibility renewals that failed
//	dynamodbqueue_consumer_handler_duration_seconds  histogram of handler latency,
//	                                              with an extra label outcome="success"|"error"
//	dynamodbqueue_consumer_clock_offset_seconds   gauge: DynamoDB's clock minus the clock of the
//	                                              process serving the source, as the queue
//	                                              estimates and corrects it; set when the consumer
//	                                              starts and whenever the queue warns about it
//	                                              (consumer.ClockSkewHooks)
//	dynamodbqueue_consumer_wakeups_total          wake-ups of the source (a push seen, a retry due, ...)
//	dynamodbqueue_consumer_polls_total            receive requests of the source
//	dynamodbqueue_consumer_empty_polls_total      receive requests that found nothing
//	dynamodbqueue_consumer_throttled_total        times the source's rate limit held it back
//	                                              (consumer.TenantHooks)
//
// # Cardinality
//
// A consumer can serve thousands of tenants, and each tenant is a value of the client label
// of every metric above: 15 series per tenant, plus the buckets of the histogram. So the
// number of (queue, client) pairs that get series of their own is capped, at
// Options.MaxClients (DefaultMaxClients unless set): the first pairs reported get their own
// client label value; the others of a queue share the label value OtherClient ("_other"),
// which sums them. Set MaxClients to the number of tenants you want to see one by one, or
// negative for no cap.
package prommetrics

import (
	"context"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dynamodbqueue/dynamodbqueue/consumer"
)

// Label names.
const (
	LabelQueue   = "queue"
	LabelClient  = "client"
	LabelOutcome = "outcome"
)

// OtherClient is the client label value of the pairs beyond Options.MaxClients.
const OtherClient = "_other"

// DefaultMaxClients is the number of (queue, client) pairs that get series of their own
// unless Options.MaxClients says otherwise.
const DefaultMaxClients = 500

// Values of the outcome label of the latency histogram.
const (
	OutcomeSuccess = "success"
	OutcomeError   = "error"
)

// Options names and shapes the metrics. The zero value gives the names in the package
// documentation.
type Options struct {
	// Namespace is the first part of the metric names. Default "dynamodbqueue"; "-" means none.
	Namespace string
	// Subsystem is the second part of the metric names. Default "consumer"; "-" means none.
	Subsystem string
	// ConstLabels are added to every metric, e.g. {"service": "billing"}.
	ConstLabels prometheus.Labels
	// Buckets of the handler latency histogram, in seconds. Default prometheus.DefBuckets.
	Buckets []float64
	// MaxClients caps the number of (queue, client) pairs with series of their own; the
	// others are counted under client OtherClient (see Cardinality in the package
	// documentation). 0 means DefaultMaxClients; negative means no cap.
	MaxClients int
}

// Metrics holds the consumer metrics. It implements consumer.Hooks (give it to
// consumer.Options.Hooks) and prometheus.Collector (register it). One Metrics can serve
// several consumers; their series are told apart by the queue and client labels.
type Metrics struct {
	received        *prometheus.CounterVec
	receiveErrors   *prometheus.CounterVec
	succeeded       *prometheus.CounterVec
	failed          *prometheus.CounterVec
	deleted         *prometheus.CounterVec
	deleteErrors    *prometheus.CounterVec
	released        *prometheus.CounterVec
	releaseErrors   *prometheus.CounterVec
	heartbeats      *prometheus.CounterVec
	heartbeatErrors *prometheus.CounterVec
	duration        *prometheus.HistogramVec
	clockOffset     *prometheus.GaugeVec
	wakeups         *prometheus.CounterVec
	polls           *prometheus.CounterVec
	emptyPolls      *prometheus.CounterVec
	throttled       *prometheus.CounterVec

	// maxClients caps known; known holds the pairs with series of their own.
	maxClients int
	mu         sync.RWMutex
	known      map[pair]struct{}
}

type pair struct{ queue, client string }

var (
	_ consumer.Hooks          = (*Metrics)(nil)
	_ consumer.ClockSkewHooks = (*Metrics)(nil)
	_ consumer.TenantHooks    = (*Metrics)(nil)
	_ prometheus.Collector    = (*Metrics)(nil)
)

// New returns unregistered metrics; register them with a prometheus.Registerer.
func New(opts Options) *Metrics {
	ns, sub := opts.Namespace, opts.Subsystem
	switch ns {
	case "":
		ns = "dynamodbqueue"
	case "-":
		ns = ""
	}
	switch sub {
	case "":
		sub = "consumer"
	case "-":
		sub = ""
	}
	buckets := opts.Buckets
	if len(buckets) == 0 {
		buckets = prometheus.DefBuckets
	}
	maxClients := opts.MaxClients
	if maxClients == 0 {
		maxClients = DefaultMaxClients
	}
	labels := []string{LabelQueue, LabelClient}
	counter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: name, Help: help, ConstLabels: opts.ConstLabels,
		}, labels)
	}
	return &Metrics{
		received:        counter("received_total", "Messages claimed by polls."),
		receiveErrors:   counter("receive_errors_total", "Polls that failed."),
		succeeded:       counter("succeeded_total", "Handler calls that returned nil."),
		failed:          counter("failed_total", "Handler calls that returned an error or panicked."),
		deleted:         counter("deleted_total", "Handled messages deleted."),
		deleteErrors:    counter("delete_errors_total", "Handled messages that could not be deleted."),
		released:        counter("released_total", "Messages made visible again at once because the consumer shut down."),
		releaseErrors:   counter("release_errors_total", "Messages that could not be released at shutdown."),
		heartbeats:      counter("heartbeats_total", "Visibility renewals of messages whose handler is running."),
		heartbeatErrors: counter("heartbeat_errors_total", "Visibility renewals that failed."),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "handler_duration_seconds",
			Help:        "Time the handler took per message, by outcome.",
			ConstLabels: opts.ConstLabels, Buckets: buckets,
		}, []string{LabelQueue, LabelClient, LabelOutcome}),
		clockOffset: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "clock_offset_seconds",
			Help:        "DynamoDB's clock minus the clock of the process serving the source, as estimated and corrected by the queue.",
			ConstLabels: opts.ConstLabels,
		}, labels),
		wakeups:    counter("wakeups_total", "Wake-ups of the source: a push seen by the watcher, a retried message due, a group unblocked."),
		polls:      counter("polls_total", "Receive requests of the source."),
		emptyPolls: counter("empty_polls_total", "Receive requests of the source that found no message."),
		throttled:  counter("throttled_total", "Times the source's rate limit held it back."),
		maxClients: maxClients,
		known:      map[pair]struct{}{},
	}
}

func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{
		m.received, m.receiveErrors, m.succeeded, m.failed, m.deleted, m.deleteErrors,
		m.released, m.releaseErrors, m.heartbeats, m.heartbeatErrors, m.duration, m.clockOffset,
		m.wakeups, m.polls, m.emptyPolls, m.throttled,
	}
}

// Describe sends the descriptors of all metrics (prometheus.Collector).
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.collectors() {
		c.Describe(ch)
	}
}

// Collect sends the current values of all metrics (prometheus.Collector).
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.collectors() {
		c.Collect(ch)
	}
}

// client returns the client label value of src: its client ID while the cap allows, else
// OtherClient.
func (m *Metrics) client(src consumer.Source) string {
	if m.maxClients < 0 {
		return src.ClientID
	}
	p := pair{src.Queue, src.ClientID}
	m.mu.RLock()
	_, ok := m.known[p]
	full := len(m.known) >= m.maxClients
	m.mu.RUnlock()
	switch {
	case ok:
		return src.ClientID
	case full:
		return OtherClient
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.known[p]; ok || len(m.known) < m.maxClients {
		m.known[p] = struct{}{}
		return src.ClientID
	}
	return OtherClient
}

func (m *Metrics) add(v *prometheus.CounterVec, src consumer.Source, n int) {
	if n > 0 {
		v.WithLabelValues(src.Queue, m.client(src)).Add(float64(n))
	}
}

// OnReceive counts received messages.
func (m *Metrics) OnReceive(_ context.Context, src consumer.Source, n int) {
	m.add(m.received, src, n)
}

// OnReceiveError counts a failed poll.
func (m *Metrics) OnReceiveError(_ context.Context, src consumer.Source, _ error) {
	m.add(m.receiveErrors, src, 1)
}

// OnSuccess counts a successful handler call and observes its latency.
func (m *Metrics) OnSuccess(_ context.Context, src consumer.Source, _ events.SQSMessage, took time.Duration) {
	m.add(m.succeeded, src, 1)
	m.duration.WithLabelValues(src.Queue, m.client(src), OutcomeSuccess).Observe(took.Seconds())
}

// OnError counts a failed handler call and observes its latency.
func (m *Metrics) OnError(_ context.Context, src consumer.Source, _ events.SQSMessage, took time.Duration, _ error, _ time.Duration) {
	m.add(m.failed, src, 1)
	m.duration.WithLabelValues(src.Queue, m.client(src), OutcomeError).Observe(took.Seconds())
}

// OnDelete counts deleted messages and failed deletes.
func (m *Metrics) OnDelete(_ context.Context, src consumer.Source, deleted, failed int, _ error) {
	m.add(m.deleted, src, deleted)
	m.add(m.deleteErrors, src, failed)
}

// OnRelease counts released messages and failed releases.
func (m *Metrics) OnRelease(_ context.Context, src consumer.Source, released, failed int, _ error) {
	m.add(m.released, src, released)
	m.add(m.releaseErrors, src, failed)
}

// OnHeartbeat counts a visibility renewal, or its failure.
func (m *Metrics) OnHeartbeat(_ context.Context, src consumer.Source, _ events.SQSMessage, err error) {
	if err != nil {
		m.add(m.heartbeatErrors, src, 1)
		return
	}
	m.add(m.heartbeats, src, 1)
}

// OnClockSkew sets the clock offset gauge of src (consumer.ClockSkewHooks). For the sources
// counted under OtherClient it holds the offset reported last by any of them.
func (m *Metrics) OnClockSkew(_ context.Context, src consumer.Source, offset time.Duration) {
	m.clockOffset.WithLabelValues(src.Queue, m.client(src)).Set(offset.Seconds())
}

// OnWake counts a wake-up of src (consumer.TenantHooks).
func (m *Metrics) OnWake(_ context.Context, src consumer.Source) {
	m.add(m.wakeups, src, 1)
}

// OnPoll counts a receive request of src, and whether it found nothing (consumer.TenantHooks).
func (m *Metrics) OnPoll(_ context.Context, src consumer.Source, received int) {
	m.add(m.polls, src, 1)
	if received == 0 {
		m.add(m.emptyPolls, src, 1)
	}
}

// OnThrottle counts a rate-limit wait of src (consumer.TenantHooks).
func (m *Metrics) OnThrottle(_ context.Context, src consumer.Source, _ time.Duration) {
	m.add(m.throttled, src, 1)
}
