// Package tracing carries OpenTelemetry trace context through queue messages: a producer's
// context travels in the message, and the consumer's span for the message links to it.
//
// It uses only the OpenTelemetry API (go.opentelemetry.io/otel/trace and /propagation), so
// it is off unless the program configures a TracerProvider: with the global default (a
// no-op provider) or a nil Options.TracerProvider and no global one set, Push only pushes
// and nothing is written into messages.
//
// # Where the context travels
//
//   - The W3C message attributes "traceparent" and "tracestate" (String), which Inject writes
//     and every consumer of any language can read. They count against the 10 message
//     attributes a message may have: when there is no room for traceparent, Inject writes the
//     system attribute "AWSTraceHeader" instead (which does not count), and tracestate only
//     goes along when there is room for it too.
//   - The system attribute "AWSTraceHeader" in AWS X-Ray format
//     (Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1), which
//     SQS clients send and which the SQS endpoint stores with the message (InjectAWSTraceHeader
//     writes it without touching the message attributes, whose MD5 digest SQS clients check).
//
// Extract reads traceparent first, then AWSTraceHeader.
//
// # Spans
//
// Tracer.Push starts a producer span "send <queue>" around a push and writes its context into
// each message. Tracer.Handler (for package consumer) and Tracer.StartProcess start a consumer
// span "process <queue>" per message, a new trace root LINKED to the producer's span (the
// OpenTelemetry messaging conventions: the producer and the consumer are separate traces,
// since a message may wait for days and be received many times). Attributes follow the
// messaging semantic conventions (messaging.system "dynamodbqueue", destination, message ID).
package tracing

import (
	"context"
	"maps"
	"strconv"

	"github.com/aws/aws-lambda-go/events"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/consumer"
)

// Names of the attributes that carry trace context.
const (
	// AttributeTraceParent is the W3C traceparent message attribute.
	AttributeTraceParent = "traceparent"
	// AttributeTraceState is the W3C tracestate message attribute.
	AttributeTraceState = "tracestate"
	// AttributeAWSTraceHeader is the SQS system attribute with an X-Ray trace header.
	AttributeAWSTraceHeader = "AWSTraceHeader"
)

// maxMessageAttributes is how many message attributes a message may have (as in SQS).
const maxMessageAttributes = 10

// ScopeName is the instrumentation scope of the spans.
const ScopeName = "github.com/dynamodbqueue/dynamodbqueue/tracing"

// System is the messaging.system attribute of the spans.
const System = "dynamodbqueue"

var w3c = propagation.TraceContext{}

// Options configures a Tracer.
type Options struct {
	// TracerProvider makes the spans; nil means otel.GetTracerProvider(), a no-op until the
	// program sets one with otel.SetTracerProvider.
	TracerProvider trace.TracerProvider
}

// Tracer starts producer and consumer spans for queue messages. The zero value is not
// usable; make one with New. It is safe for concurrent use.
type Tracer struct {
	tracer trace.Tracer
}

// New returns a Tracer with the given options.
func New(opts Options) *Tracer {
	tp := opts.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	return &Tracer{tracer: tp.Tracer(ScopeName)}
}

// carrier adapts a message's String message attributes to propagation.TextMapCarrier, only
// for the W3C keys: a propagator writes through it, and it never adds past the attribute limit.
type carrier struct{ m *events.SQSMessage }

func (c carrier) Get(key string) string {
	a, ok := c.m.MessageAttributes[key]
	if !ok || a.StringValue == nil {
		return ""
	}
	return *a.StringValue
}

func (c carrier) Set(key string, value string) {
	_, exists := c.m.MessageAttributes[key]
	if !exists && len(c.m.MessageAttributes) >= maxMessageAttributes {
		return
	}
	if c.m.MessageAttributes == nil {
		c.m.MessageAttributes = map[string]events.SQSMessageAttribute{}
	}
	v := value
	c.m.MessageAttributes[key] = events.SQSMessageAttribute{DataType: "String", StringValue: &v}
}

func (c carrier) Keys() []string {
	var keys []string
	for _, k := range []string{AttributeTraceParent, AttributeTraceState} {
		if _, ok := c.m.MessageAttributes[k]; ok {
			keys = append(keys, k)
		}
	}
	return keys
}

// Inject writes the span context of ctx into m: the traceparent and tracestate message
// attributes, or the AWSTraceHeader system attribute when m has no room for traceparent (see
// the package doc). It writes nothing when ctx has no valid span context, so it is a no-op
// with tracing off.
func Inject(ctx context.Context, m *events.SQSMessage) {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return
	}
	_, has := m.MessageAttributes[AttributeTraceParent]
	if !has && len(m.MessageAttributes) >= maxMessageAttributes {
		InjectAWSTraceHeader(ctx, m)
		return
	}
	if !has && sc.TraceState().Len() > 0 && len(m.MessageAttributes)+2 > maxMessageAttributes {
		sc = sc.WithTraceState(trace.TraceState{}) // room for traceparent only
		ctx = trace.ContextWithSpanContext(ctx, sc)
	}
	w3c.Inject(ctx, carrier{m})
}

// InjectAWSTraceHeader writes the span context of ctx into m's AWSTraceHeader system
// attribute in X-Ray format, leaving its message attributes alone. It writes nothing when ctx
// has no valid span context.
func InjectAWSTraceHeader(ctx context.Context, m *events.SQSMessage) {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return
	}
	if m.Attributes == nil {
		m.Attributes = map[string]string{}
	}
	m.Attributes[AttributeAWSTraceHeader] = FormatAWSTraceHeader(sc)
}

// SpanContext returns the producer's span context that m carries: from the traceparent (and
// tracestate) message attributes, or else from the AWSTraceHeader system attribute; false if
// m carries none that is valid.
func SpanContext(m events.SQSMessage) (trace.SpanContext, bool) {
	if _, ok := m.MessageAttributes[AttributeTraceParent]; ok {
		sc := trace.SpanContextFromContext(w3c.Extract(context.Background(), carrier{&m}))
		if sc.IsValid() {
			return sc, true
		}
	}
	if h, ok := m.Attributes[AttributeAWSTraceHeader]; ok {
		if sc, err := ParseAWSTraceHeader(h); err == nil {
			return sc, true
		}
	}
	return trace.SpanContext{}, false
}

// Extract returns ctx with the producer's span context that m carries as its remote parent
// (see SpanContext), or ctx unchanged when m carries none. The SQS endpoint calls it on a
// SendMessage's message to continue the client's trace.
func Extract(ctx context.Context, m events.SQSMessage) context.Context {
	if sc, ok := SpanContext(m); ok {
		return trace.ContextWithRemoteSpanContext(ctx, sc)
	}
	return ctx
}

// Push pushes msgs to q like q.PushWithOptions, inside a producer span "send <queue>" whose
// context it injects into each message (copies: msgs is not changed). The span records a
// failed push (err, or messages not stored) as an error.
func (t *Tracer) Push(ctx context.Context, q *dynamodbqueue.DynamoDBQueue, opts dynamodbqueue.PushOptions, msgs ...events.SQSMessage) (dynamodbqueue.PushResult, error) {
	ctx, span := t.tracer.Start(ctx, "send "+q.QueueName(), trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			semconv.MessagingSystemKey.String(System),
			semconv.MessagingOperationTypeSend,
			semconv.MessagingOperationName("send"),
			semconv.MessagingDestinationName(q.QueueName()),
			attribute.String("dynamodbqueue.client_id", q.ClientID()),
			semconv.MessagingBatchMessageCount(len(msgs)),
		))
	defer span.End()
	if span.SpanContext().IsValid() {
		traced := make([]events.SQSMessage, len(msgs))
		for i, m := range msgs {
			m.MessageAttributes = maps.Clone(m.MessageAttributes)
			m.Attributes = maps.Clone(m.Attributes)
			Inject(ctx, &m)
			traced[i] = m
		}
		msgs = traced
	}
	res, err := q.PushWithOptions(ctx, opts, msgs...)
	switch {
	case err != nil:
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	case len(res.Failed) > 0:
		span.SetStatus(codes.Error, strconv.Itoa(len(res.Failed))+" messages not stored")
	}
	return res, err
}

// StartSend starts a producer span "send <queue>" for one message that a server (the SQS
// endpoint) is about to push for a client: the span is the child of the client's span that m
// carries (AWSTraceHeader system attribute or traceparent message attribute, see Extract), in
// the trace of ctx otherwise. When m carries no trace context, the span's context is written
// into m's AWSTraceHeader system attribute (not into its message attributes, whose MD5 digest
// SQS clients check), so the consumer links to this span. The caller ends the span after the
// push; with tracing off it is a no-op span and m is not changed. One line in a SendMessage
// handler: ctx, span := tracer.StartSend(ctx, queue, &m); defer span.End().
func (t *Tracer) StartSend(ctx context.Context, queue string, m *events.SQSMessage) (context.Context, trace.Span) {
	_, carried := SpanContext(*m)
	ctx, span := t.tracer.Start(Extract(ctx, *m), "send "+queue, trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			semconv.MessagingSystemKey.String(System),
			semconv.MessagingOperationTypeSend,
			semconv.MessagingOperationName("send"),
			semconv.MessagingDestinationName(queue),
		))
	if !carried {
		InjectAWSTraceHeader(ctx, m)
	}
	return ctx, span
}

// StartProcess starts the consumer span "process <queue>" for a received message: a new
// root span (in the trace of ctx, if ctx has one) linked to the producer's span context that
// m carries, if any. The caller ends the span. queue may be "" when unknown.
func (t *Tracer) StartProcess(ctx context.Context, queue string, m events.SQSMessage) (context.Context, trace.Span) {
	attrs := []attribute.KeyValue{
		semconv.MessagingSystemKey.String(System),
		semconv.MessagingOperationTypeProcess,
		semconv.MessagingOperationName("process"),
		semconv.MessagingMessageID(m.MessageId),
	}
	name := "process"
	if queue != "" {
		name += " " + queue
		attrs = append(attrs, semconv.MessagingDestinationName(queue))
	}
	if g := m.Attributes[dynamodbqueue.AttributeMessageGroupID]; g != "" {
		attrs = append(attrs, attribute.String("dynamodbqueue.message_group_id", g))
	}
	if n, err := strconv.Atoi(m.Attributes[dynamodbqueue.AttributeApproximateReceiveCount]); err == nil {
		attrs = append(attrs, attribute.Int("dynamodbqueue.receive_count", n))
	}
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(attrs...)}
	if sc, ok := SpanContext(m); ok {
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: sc}))
	}
	if !trace.SpanContextFromContext(ctx).IsValid() {
		opts = append(opts, trace.WithNewRoot())
	}
	return t.tracer.Start(ctx, name, opts...)
}

// Handler wraps h so that each message is handled inside a StartProcess span for queue (""
// when the consumer serves several queues). A handler error marks the span as failed. Wire it
// with consumer.New(q, tracer.Handler("orders", h), opts).
func (t *Tracer) Handler(queue string, h consumer.Handler) consumer.Handler {
	return consumer.HandlerFunc(func(ctx context.Context, m events.SQSMessage) error {
		ctx, span := t.StartProcess(ctx, queue, m)
		defer span.End()
		err := h.HandleMessage(ctx, m)
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		return err
	})
}
