package cli

import (
	"context"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/dynamodbqueue/dynamodbqueue/sqsserver"
)

// serveMetrics backs sqsserver.Metrics with Prometheus, on a registry of its own (so tests can
// run several servers in one process), served by `ddbq serve --metrics-listen`.
type serveMetrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	longPolls prometheus.Gauge
	dynamo    *prometheus.CounterVec
}

func newServeMetrics() *serveMetrics {
	m := &serveMetrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ddbq_sqs_requests_total",
			Help: "SQS requests answered, by action and SQS error code (\"\" on success).",
		}, []string{"action", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ddbq_sqs_request_duration_seconds",
			Help: "Time to answer an SQS request, by action (long polls included).",
			// From a fast send (ms) to a long poll's full 20 s.
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 20, 30},
		}, []string{"action"}),
		longPolls: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ddbq_sqs_long_polls_waiting",
			Help: "ReceiveMessage calls waiting for messages now.",
		}),
		dynamo: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ddbq_dynamodb_requests_total",
			Help: "DynamoDB operations the server sent (each counted once, retries included), by operation.",
		}, []string{"operation"}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.longPolls, m.dynamo,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Request implements sqsserver.Metrics.
func (m *serveMetrics) Request(action, code string, d time.Duration) {
	m.requests.WithLabelValues(action, code).Inc()
	m.latency.WithLabelValues(action).Observe(d.Seconds())
}

// LongPolls implements sqsserver.Metrics.
func (m *serveMetrics) LongPolls(delta int) { m.longPolls.Add(float64(delta)) }

var _ sqsserver.Metrics = (*serveMetrics)(nil)

// countDynamoDB is an API option that counts each DynamoDB operation once, around its retries.
func (m *serveMetrics) countDynamoDB(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("ddbqServeMetrics",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			m.dynamo.WithLabelValues(awsmiddleware.GetOperationName(ctx)).Inc()
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
}
