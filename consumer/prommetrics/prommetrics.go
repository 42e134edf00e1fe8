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
// Every metric is labelled by queue and client (the source's queue name and client ID). With
// the default namespace and subsystem the names are:
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
package prommetrics

import (
	"context"
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
}

var (
	_ consumer.Hooks          = (*Metrics)(nil)
	_ consumer.ClockSkewHooks = (*Metrics)(nil)
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
	}
}

func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{
		m.received, m.receiveErrors, m.succeeded, m.failed, m.deleted, m.deleteErrors,
		m.released, m.releaseErrors, m.heartbeats, m.heartbeatErrors, m.duration, m.clockOffset,
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

func add(v *prometheus.CounterVec, src consumer.Source, n int) {
	if n > 0 {
		v.WithLabelValues(src.Queue, src.ClientID).Add(float64(n))
	}
}

// OnReceive counts received messages.
func (m *Metrics) OnReceive(_ context.Context, src consumer.Source, n int) {
	add(m.received, src, n)
}

// OnReceiveError counts a failed poll.
func (m *Metrics) OnReceiveError(_ context.Context, src consumer.Source, _ error) {
	add(m.receiveErrors, src, 1)
}

// OnSuccess counts a successful handler call and observes its latency.
func (m *Metrics) OnSuccess(_ context.Context, src consumer.Source, _ events.SQSMessage, took time.Duration) {
	add(m.succeeded, src, 1)
	m.duration.WithLabelValues(src.Queue, src.ClientID, OutcomeSuccess).Observe(took.Seconds())
}

// OnError counts a failed handler call and observes its latency.
func (m *Metrics) OnError(_ context.Context, src consumer.Source, _ events.SQSMessage, took time.Duration, _ error, _ time.Duration) {
	add(m.failed, src, 1)
	m.duration.WithLabelValues(src.Queue, src.ClientID, OutcomeError).Observe(took.Seconds())
}

// OnDelete counts deleted messages and failed deletes.
func (m *Metrics) OnDelete(_ context.Context, src consumer.Source, deleted, failed int, _ error) {
	add(m.deleted, src, deleted)
	add(m.deleteErrors, src, failed)
}

// OnRelease counts released messages and failed releases.
func (m *Metrics) OnRelease(_ context.Context, src consumer.Source, released, failed int, _ error) {
	add(m.released, src, released)
	add(m.releaseErrors, src, failed)
}

// OnHeartbeat counts a visibility renewal, or its failure.
func (m *Metrics) OnHeartbeat(_ context.Context, src consumer.Source, _ events.SQSMessage, err error) {
	if err != nil {
		add(m.heartbeatErrors, src, 1)
		return
	}
	add(m.heartbeats, src, 1)
}

// OnClockSkew sets the clock offset gauge of src (consumer.ClockSkewHooks).
func (m *Metrics) OnClockSkew(_ context.Context, src consumer.Source, offset time.Duration) {
	m.clockOffset.WithLabelValues(src.Queue, src.ClientID).Set(offset.Seconds())
}
