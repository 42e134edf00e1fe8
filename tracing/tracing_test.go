package tracing_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/consumer"
	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
	"github.com/dynamodbqueue/dynamodbqueue/tracing"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func newQueue(t *testing.T, queue, client string) *dynamodbqueue.DynamoDBQueue {
	t.Helper()
	q := dynamodbqueue.NewFromClient(testenv.Client(t), 0).UseTable(testenv.TableName(t)).
		UseQueueName(queue).UseClientID(client).UseLogger(nil)
	if _, err := q.CreateQueueTable(ctxT(t)); err != nil {
		t.Fatalf("CreateQueueTable: %v", err)
	}
	t.Cleanup(func() { _ = q.DropQueueTable(context.Background()) })
	return q
}

// recorder returns a tracer provider that keeps every ended span in memory.
func recorder(t *testing.T) (*sdktrace.TracerProvider, *tracetest.InMemoryExporter) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, exp
}

func spanNamed(t *testing.T, spans tracetest.SpanStubs, name string) []tracetest.SpanStub {
	t.Helper()
	var out []tracetest.SpanStub
	for _, s := range spans {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// TestConsumerSpanLinksToProducerAcrossAQueue pushes two messages through Tracer.Push inside
// an application span, receives them with a real consumer running Tracer.Handler, and reads
// the recorded spans: each "process" span is a consumer span in a trace of its own, linked to
// the "send" span, which is the child of the application span.
func TestConsumerSpanLinksToProducerAcrossAQueue(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	q := newQueue(t, "orders", "acme")
	tp, exp := recorder(t)
	tr := tracing.New(tracing.Options{TracerProvider: tp})

	appCtx, app := tp.Tracer("test").Start(ctx, "checkout")
	msgs := []events.SQSMessage{{Body: "a"}, {Body: "b"}}
	res, err := tr.Push(appCtx, q, dynamodbqueue.PushOptions{}, msgs...)
	if err != nil || len(res.Failed) > 0 {
		t.Fatalf("Push: %v, %d failed", err, len(res.Failed))
	}
	app.End()
	if len(msgs[0].MessageAttributes) != 0 {
		t.Errorf("Push changed the caller's message: %v", msgs[0].MessageAttributes)
	}

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	handled := make(chan events.SQSMessage, 2)
	h := consumer.HandlerFunc(func(ctx context.Context, m events.SQSMessage) error {
		if !trace.SpanContextFromContext(ctx).IsValid() {
			t.Errorf("handler context has no span")
		}
		handled <- m
		if len(handled) == 2 {
			stop()
		}
		return nil
	})
	c, err := consumer.New(q, tr.Handler("orders", h), consumer.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("consumer.New: %v", err)
	}
	if err := c.Run(runCtx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(handled) != 2 {
		t.Fatalf("handled %d messages; want 2", len(handled))
	}
	m := <-handled
	if got := m.MessageAttributes[tracing.AttributeTraceParent]; got.StringValue == nil || got.DataType != "String" {
		t.Errorf("received message has no traceparent attribute: %v", m.MessageAttributes)
	}

	spans := exp.GetSpans()
	sends := spanNamed(t, spans, "send orders")
	procs := spanNamed(t, spans, "process orders")
	if len(sends) != 1 || len(procs) != 2 {
		t.Fatalf("spans %v; want one send and two process", names(spans))
	}
	send := sends[0]
	if send.SpanKind != trace.SpanKindProducer || send.Parent.SpanID() != app.SpanContext().SpanID() ||
		send.SpanContext.TraceID() != app.SpanContext().TraceID() {
		t.Errorf("send span: kind %v, parent %v; want a producer child of %v", send.SpanKind, send.Parent, app.SpanContext())
	}
	for _, p := range procs {
		if p.SpanKind != trace.SpanKindConsumer {
			t.Errorf("process span kind %v", p.SpanKind)
		}
		if p.Parent.IsValid() || p.SpanContext.TraceID() == send.SpanContext.TraceID() {
			t.Errorf("process span parent %v, trace %v: want a new trace root", p.Parent, p.SpanContext.TraceID())
		}
		if len(p.Links) != 1 || !p.Links[0].SpanContext.Equal(withRemote(send.SpanContext)) {
			t.Errorf("process span links %+v; want one to the send span %v", p.Links, send.SpanContext)
		}
	}
}

func withRemote(sc trace.SpanContext) trace.SpanContext { return sc.WithRemote(true) }

func names(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}

// TestAWSTraceHeaderOfAnSQSClientLinks: a message stored with the AWSTraceHeader system
// attribute (as the SQS endpoint stores a SendMessage's) and no traceparent is linked from
// its process span, and a failing handler marks the span.
func TestAWSTraceHeaderOfAnSQSClientLinks(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	q := newQueue(t, "jobs", "acme")
	const header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
	push := events.SQSMessage{Body: "x", Attributes: map[string]string{tracing.AttributeAWSTraceHeader: header}}
	if res, err := q.PushWithOptions(ctx, dynamodbqueue.PushOptions{}, push); err != nil || len(res.Failed) > 0 {
		t.Fatalf("push: %v", err)
	}
	got, err := q.PollMessages(ctx, 0, time.Minute, 1)
	if err != nil || len(got) != 1 {
		t.Fatalf("poll: %d, %v", len(got), err)
	}
	tp, exp := recorder(t)
	tr := tracing.New(tracing.Options{TracerProvider: tp})
	boom := errors.New("boom")
	err = tr.Handler("jobs", consumer.HandlerFunc(func(context.Context, events.SQSMessage) error { return boom })).
		HandleMessage(ctx, got[0])
	if !errors.Is(err, boom) {
		t.Fatalf("handler error = %v", err)
	}
	spans := exp.GetSpans()
	if len(spans) != 1 || len(spans[0].Links) != 1 {
		t.Fatalf("spans %+v; want one with one link", spans)
	}
	link := spans[0].Links[0].SpanContext
	if link.TraceID().String() != "5759e988bd862e3fe1be46a994272793" || link.SpanID().String() != "53995c3f42cd8ad8" || !link.IsSampled() {
		t.Errorf("link %v; want the X-Ray header's trace and parent, sampled", link)
	}
	if spans[0].Status.Code != codes.Error {
		t.Errorf("status %v; want Error", spans[0].Status)
	}
}

// TestOffWithoutAProvider: with a no-op provider Push writes nothing into the messages.
func TestOffWithoutAProvider(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	q := newQueue(t, "jobs", "acme")
	tr := tracing.New(tracing.Options{TracerProvider: noop.NewTracerProvider()})
	if _, err := tr.Push(ctx, q, dynamodbqueue.PushOptions{}, events.SQSMessage{Body: "x"}); err != nil {
		t.Fatalf("Push: %v", err)
	}
	got, err := q.PollMessages(ctx, 0, time.Minute, 1)
	if err != nil || len(got) != 1 {
		t.Fatalf("poll: %d, %v", len(got), err)
	}
	if len(got[0].MessageAttributes) != 0 || got[0].Attributes[tracing.AttributeAWSTraceHeader] != "" {
		t.Errorf("message carries trace context with tracing off: %v %v", got[0].MessageAttributes, got[0].Attributes)
	}
}

func spanContext(t *testing.T, state string) trace.SpanContext {
	t.Helper()
	ts, err := trace.ParseTraceState(state)
	if err != nil {
		t.Fatal(err)
	}
	return trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3}, SpanID: trace.SpanID{4, 5}, TraceFlags: trace.FlagsSampled, TraceState: ts,
	})
}

func withAttrs(n int) events.SQSMessage {
	m := events.SQSMessage{MessageAttributes: map[string]events.SQSMessageAttribute{}}
	for i := range n {
		v := "v"
		m.MessageAttributes[fmt.Sprint("a", i)] = events.SQSMessageAttribute{DataType: "String", StringValue: &v}
	}
	return m
}

// TestInjectRespectsTheAttributeLimit: traceparent and tracestate go in message attributes
// while there is room (10 at most); without room for traceparent, the AWSTraceHeader system
// attribute carries the context instead. Every case extracts to the same span context.
func TestInjectRespectsTheAttributeLimit(t *testing.T) {
	t.Parallel()
	sc := spanContext(t, "vendor=x")
	ctx := trace.ContextWithSpanContext(context.Background(), sc)
	for _, tc := range []struct {
		attrs                 int
		parent, state, header bool
	}{
		{attrs: 0, parent: true, state: true},
		{attrs: 8, parent: true, state: true},
		{attrs: 9, parent: true},
		{attrs: 10, header: true},
	} {
		m := withAttrs(tc.attrs)
		tracing.Inject(ctx, &m)
		_, parent := m.MessageAttributes[tracing.AttributeTraceParent]
		_, state := m.MessageAttributes[tracing.AttributeTraceState]
		_, header := m.Attributes[tracing.AttributeAWSTraceHeader]
		if parent != tc.parent || state != tc.state || header != tc.header || len(m.MessageAttributes) > 10 {
			t.Errorf("%d attributes: traceparent %v tracestate %v AWSTraceHeader %v (%d attributes)", tc.attrs, parent, state, header, len(m.MessageAttributes))
		}
		got, ok := tracing.SpanContext(m)
		if !ok || got.TraceID() != sc.TraceID() || got.SpanID() != sc.SpanID() || !got.IsSampled() || !got.IsRemote() {
			t.Errorf("%d attributes: extracted %v, %v; want %v", tc.attrs, got, ok, sc)
		}
		if tc.state && got.TraceState().Get("vendor") != "x" {
			t.Errorf("%d attributes: tracestate %q lost", tc.attrs, got.TraceState())
		}
	}
	m := withAttrs(0)
	tracing.Inject(context.Background(), &m) // no span: nothing
	if len(m.MessageAttributes) != 0 || m.Attributes != nil {
		t.Errorf("Inject without a span wrote %v %v", m.MessageAttributes, m.Attributes)
	}
}

// TestAWSTraceHeader converts X-Ray headers both ways and rejects malformed ones.
func TestAWSTraceHeader(t *testing.T) {
	t.Parallel()
	sc, err := tracing.ParseAWSTraceHeader("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1|68fd508a:5")
	if err != nil || sc.TraceID().String() != "5759e988bd862e3fe1be46a994272793" || sc.SpanID().String() != "53995c3f42cd8ad8" || !sc.IsSampled() || !sc.IsRemote() {
		t.Fatalf("Parse = %v, %v", sc, err)
	}
	if got := tracing.FormatAWSTraceHeader(sc); got != "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1" {
		t.Errorf("Format = %s", got)
	}
	if sc, err := tracing.ParseAWSTraceHeader("Parent=53995c3f42cd8ad8;Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=?"); err != nil || sc.IsSampled() {
		t.Errorf("Sampled=? parsed as %v, %v; want not sampled", sc, err)
	}
	for _, bad := range []string{
		"",
		"Root=1-5759e988-bd862e3fe1be46a994272793",                                   // no Parent
		"Parent=53995c3f42cd8ad8",                                                    // no Root
		"Root=2-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8",           // version
		"Root=1-5759e98-bd862e3fe1be46a994272793a;Parent=53995c3f42cd8ad8",           // epoch length
		"Root=1-5759e988-bd862e3fe1be46a99427279z;Parent=53995c3f42cd8ad8",           // not hex
		"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad",            // span length
		"Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=1", // zero IDs
	} {
		if _, err := tracing.ParseAWSTraceHeader(bad); !errors.Is(err, tracing.ErrInvalidAWSTraceHeader) {
			t.Errorf("Parse(%q) err = %v; want ErrInvalidAWSTraceHeader", bad, err)
		}
	}
}

// FuzzParseAWSTraceHeader: whatever parses formats back to a header that parses to the same.
func FuzzParseAWSTraceHeader(f *testing.F) {
	f.Add("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
	f.Add("Root=1-;Parent=;")
	f.Fuzz(func(t *testing.T, h string) {
		sc, err := tracing.ParseAWSTraceHeader(h)
		if err != nil {
			return
		}
		again, err := tracing.ParseAWSTraceHeader(tracing.FormatAWSTraceHeader(sc))
		if err != nil || !again.Equal(sc) {
			t.Fatalf("%q -> %v -> %v, %v", h, sc, again, err)
		}
	})
}

// TestStartSendForTheSQSEndpoint: the server's send span continues the client's trace from
// AWSTraceHeader or traceparent and leaves the message as the client sent it; a message
// without trace context gets the span's context in AWSTraceHeader, never in its message
// attributes.
func TestStartSendForTheSQSEndpoint(t *testing.T) {
	t.Parallel()
	tp, exp := recorder(t)
	tr := tracing.New(tracing.Options{TracerProvider: tp})
	client := spanContext(t, "")
	header := tracing.FormatAWSTraceHeader(client)
	traceparent := "00-" + client.TraceID().String() + "-" + client.SpanID().String() + "-01"
	for name, m := range map[string]events.SQSMessage{
		"AWSTraceHeader": {Attributes: map[string]string{tracing.AttributeAWSTraceHeader: header}},
		"traceparent": {MessageAttributes: map[string]events.SQSMessageAttribute{
			tracing.AttributeTraceParent: {DataType: "String", StringValue: &traceparent}}},
	} {
		exp.Reset()
		_, span := tr.StartSend(context.Background(), "orders", &m)
		span.End()
		spans := exp.GetSpans()
		if len(spans) != 1 || spans[0].Parent.SpanID() != client.SpanID() || spans[0].SpanContext.TraceID() != client.TraceID() || spans[0].SpanKind != trace.SpanKindProducer {
			t.Errorf("%s: spans %+v; want a producer child of the client's span", name, spans)
		}
		if name == "traceparent" && (m.Attributes[tracing.AttributeAWSTraceHeader] != "" || len(m.MessageAttributes) != 1) {
			t.Errorf("%s: message changed: %v %v", name, m.Attributes, m.MessageAttributes)
		}
		if name == "AWSTraceHeader" && (m.Attributes[tracing.AttributeAWSTraceHeader] != header || m.MessageAttributes != nil) {
			t.Errorf("%s: message changed: %v %v", name, m.Attributes, m.MessageAttributes)
		}
	}

	exp.Reset()
	var m events.SQSMessage
	_, span := tr.StartSend(context.Background(), "orders", &m)
	span.End()
	got, ok := tracing.SpanContext(m)
	if !ok || m.MessageAttributes != nil || got.SpanID() != span.SpanContext().SpanID() || got.TraceID() != span.SpanContext().TraceID() {
		t.Errorf("untraced message: AWSTraceHeader %q, attributes %v; want the send span %v", m.Attributes[tracing.AttributeAWSTraceHeader], m.MessageAttributes, span.SpanContext())
	}
}
