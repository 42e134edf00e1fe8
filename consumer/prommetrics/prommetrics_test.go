package prommetrics_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/consumer"
	"github.com/dynamodbqueue/dynamodbqueue/consumer/prommetrics"
	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
)

// TestMain points the AWS environment at the local DynamoDB, for the example that builds its
// client with config.LoadDefaultConfig as a program would.
func TestMain(m *testing.M) { testenv.MainWithAWSEnvironment(m) }

// TestMetricsFromARealConsumer runs a consumer with the adapter as its hooks over 5 messages,
// one of which fails once, and reads the counters back through a registry.
func TestMetricsFromARealConsumer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	q := dynamodbqueue.NewFromClient(testenv.Client(t), 0).UseTable(testenv.TableName(t)).
		UseQueueName("jobs").UseClientID("tenant-a").UseLogger(nil)
	if _, err := q.CreateQueueTable(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.DropQueueTable(context.Background()) })
	for _, b := range []string{"a", "b", "c", "d", "flaky"} {
		if _, err := q.PushMessages(ctx, 0, events.SQSMessage{Body: b}); err != nil {
			t.Fatal(err)
		}
	}

	m := prommetrics.New(prommetrics.Options{ConstLabels: prometheus.Labels{"service": "test"}})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)

	var done atomic.Int32
	runCtx, stop := context.WithCancel(ctx)
	c, err := consumer.New(q, consumer.HandlerFunc(func(ctx context.Context, msg events.SQSMessage) error {
		if msg.Body == "flaky" && consumer.ReceiveCount(msg) == 1 {
			return errors.New("first attempt fails")
		}
		if done.Add(1) == 5 {
			stop()
		}
		return nil
	}), consumer.Options{
		Hooks:   m,
		Backoff: consumer.Backoff{Min: 20 * time.Millisecond},
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(runCtx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	stop()

	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	byName := map[string]*dto.MetricFamily{}
	for _, f := range families {
		byName[f.GetName()] = f
	}
	counter := func(name string) float64 {
		f := byName["dynamodbqueue_consumer_"+name]
		if f == nil {
			return 0
		}
		var sum float64
		for _, mt := range f.GetMetric() {
			checkLabels(t, name, mt, "")
			sum += mt.GetCounter().GetValue()
		}
		return sum
	}
	for name, want := range map[string]float64{
		"received_total":  6, // 5 messages + 1 redelivery
		"succeeded_total": 5,
		"failed_total":    1,
		"deleted_total":   5,
	} {
		if got := counter(name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	// The consumer polled the source at least when it started and once more for the retry.
	if got := counter("polls_total"); got < 2 {
		t.Errorf("polls_total = %v, want at least 2", got)
	}
	for _, name := range []string{"receive_errors_total", "delete_errors_total", "released_total", "release_errors_total", "heartbeat_errors_total"} {
		if got := counter(name); got != 0 {
			t.Errorf("%s = %v, want 0", name, got)
		}
	}
	hist := byName["dynamodbqueue_consumer_handler_duration_seconds"]
	if hist == nil {
		t.Fatal("no handler_duration_seconds histogram")
	}
	counts := map[string]uint64{}
	for _, mt := range hist.GetMetric() {
		outcome := checkLabels(t, "handler_duration_seconds", mt, prommetrics.LabelOutcome)
		counts[outcome] += mt.GetHistogram().GetSampleCount()
	}
	if counts[prommetrics.OutcomeSuccess] != 5 || counts[prommetrics.OutcomeError] != 1 {
		t.Errorf("histogram sample counts by outcome = %v, want success 5, error 1", counts)
	}
}

// checkLabels checks the queue, client and const labels of a metric and returns the value of
// the extra label, if asked for.
func checkLabels(t *testing.T, name string, mt *dto.Metric, extra string) string {
	t.Helper()
	labels := map[string]string{}
	for _, l := range mt.GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	if labels[prommetrics.LabelQueue] != "jobs" || labels[prommetrics.LabelClient] != "tenant-a" || labels["service"] != "test" {
		t.Errorf("%s labels = %v", name, labels)
	}
	return labels[extra]
}

// TestNamesAndPrefixes checks the metric names with a custom and an empty prefix.
func TestNamesAndPrefixes(t *testing.T) {
	src := consumer.Source{Table: "t", Queue: "q", ClientID: "c"}
	for _, tc := range []struct {
		opts   prommetrics.Options
		prefix string
	}{
		{prommetrics.Options{Namespace: "acme", Subsystem: "mail"}, "acme_mail_"},
		{prommetrics.Options{Namespace: "-", Subsystem: "-"}, ""},
	} {
		m := prommetrics.New(tc.opts)
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(m)
		m.OnReceive(context.Background(), src, 3)
		m.OnHeartbeat(context.Background(), src, events.SQSMessage{}, nil)
		m.OnRelease(context.Background(), src, 2, 1, errors.New("x"))
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, f := range families {
			names = append(names, f.GetName())
		}
		want := []string{tc.prefix + "heartbeats_total", tc.prefix + "received_total", tc.prefix + "release_errors_total", tc.prefix + "released_total"}
		if strings.Join(names, " ") != strings.Join(want, " ") {
			t.Errorf("prefix %q: families %v, want %v", tc.prefix, names, want)
		}
	}
}

// TestRegisterAndHandler: Register registers on the given registry (nil: the default one),
// refuses a second set of the same metrics without registering anything, and Handler serves
// what the registry gathers.
func TestRegisterAndHandler(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m, err := prommetrics.Register(reg, prommetrics.Options{Namespace: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	var already prometheus.AlreadyRegisteredError
	if m2, err := prommetrics.Register(reg, prommetrics.Options{Namespace: "acme"}); m2 != nil || !errors.As(err, &already) {
		t.Errorf("second Register = %v, %v; want an AlreadyRegisteredError", m2, err)
	}
	m.OnReceive(context.Background(), consumer.Source{Table: "t", Queue: "q", ClientID: "c"}, 2)
	rec := httptest.NewRecorder()
	prommetrics.Handler(reg).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if want := `acme_consumer_received_total{client="c",queue="q"} 2`; rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), want) {
		t.Errorf("Handler: %d\n%s\nwant a line %s", rec.Code, rec.Body, want)
	}

	// nil means the default registerer and gatherer; a distinct namespace keeps it apart from
	// anything else in this binary.
	d, err := prommetrics.Register(nil, prommetrics.Options{Namespace: "prommetrics_test_default"})
	if err != nil {
		t.Fatal(err)
	}
	defer prometheus.DefaultRegisterer.Unregister(d)
	d.OnReceive(context.Background(), consumer.Source{Table: "t", Queue: "q", ClientID: "c"}, 1)
	rec = httptest.NewRecorder()
	prommetrics.Handler(nil).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if want := `prommetrics_test_default_consumer_received_total{client="c",queue="q"} 1`; !strings.Contains(rec.Body.String(), want) {
		t.Errorf("Handler(nil) does not serve the default registry's metrics; want a line %s", want)
	}
}
