package sqsserver

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/dynamodbqueue/dynamodbqueue/tracing"
)

// TestSendSpans: with Options.Tracer every sent message gets a producer span "send <queue>".
// A message whose client sent an X-Ray trace header gets a span in that trace, a child of the
// client's span; a message without one gets a new trace, whose context the stored message then
// carries in AWSTraceHeader, so a consumer links to the endpoint's span.
func TestSendSpans(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	srv, err := New(Options{Client: newTable(t), Auth: keys, Logger: slog.New(slog.DiscardHandler),
		Tracer: tracing.New(tracing.Options{TracerProvider: tp})})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	e := &endpoint{srv: srv, url: hs.URL}

	qurl := e.call(t, "json", "key-a", "CreateQueue", map[string]any{"QueueName": "traced"}).ok(t, "CreateQueue").value("QueueUrl", "QueueUrl")
	const clientHeader = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
	client, err := tracing.ParseAWSTraceHeader(clientHeader)
	if err != nil {
		t.Fatal(err)
	}
	e.call(t, "json", "key-a", "SendMessage", map[string]any{"QueueUrl": qurl, "MessageBody": "with",
		"MessageSystemAttributes": map[string]any{"AWSTraceHeader": map[string]any{"DataType": "String", "StringValue": clientHeader}}}).ok(t, "SendMessage with a trace header")
	e.call(t, "json", "key-a", "SendMessage", map[string]any{"QueueUrl": qurl, "MessageBody": "without"}).ok(t, "SendMessage without")
	e.call(t, "json", "key-a", "SendMessageBatch", map[string]any{"QueueUrl": qurl, "Entries": []any{
		map[string]any{"Id": "b1", "MessageBody": "batched"}}}).ok(t, "SendMessageBatch")

	spans := exp.GetSpans()
	if len(spans) != 3 {
		t.Fatalf("%d spans, want one per message (3): %v", len(spans), spans)
	}
	var child, fresh []tracetest.SpanStub
	for _, s := range spans {
		if s.Name != "send traced" || s.SpanKind != trace.SpanKindProducer {
			t.Errorf("span %q kind %v, want a producer span \"send traced\"", s.Name, s.SpanKind)
		}
		if s.SpanContext.TraceID() == client.TraceID() {
			if s.Parent.SpanID() != client.SpanID() {
				t.Errorf("span in the client's trace has parent %v, want the client's span %v", s.Parent.SpanID(), client.SpanID())
			}
			child = append(child, s)
		} else {
			fresh = append(fresh, s)
		}
	}
	if len(child) != 1 || len(fresh) != 2 {
		t.Fatalf("%d spans in the client's trace, %d in new ones; want 1 and 2", len(child), len(fresh))
	}

	// What consumers read: each stored message carries the context to link to.
	got := map[string]string{}
	waitFor(t, "the three messages", func() bool {
		r := e.call(t, "json", "key-a", "ReceiveMessage", map[string]any{"QueueUrl": qurl, "MaxNumberOfMessages": 10,
			"MessageSystemAttributeNames": []string{"AWSTraceHeader"}}).ok(t, "ReceiveMessage")
		msgs, _ := r.json["Messages"].([]any)
		for _, m := range msgs {
			m := m.(map[string]any)
			attrs, _ := m["Attributes"].(map[string]any)
			h, _ := attrs["AWSTraceHeader"].(string)
			got[m["Body"].(string)] = h
		}
		return len(got) == 3
	})
	if got["with"] != clientHeader {
		t.Errorf("a client's own trace header was changed to %q", got["with"])
	}
	for _, body := range []string{"without", "batched"} {
		sc, err := tracing.ParseAWSTraceHeader(got[body])
		if err != nil {
			t.Fatalf("%s: stored AWSTraceHeader %q: %v", body, got[body], err)
		}
		found := false
		for _, s := range fresh {
			found = found || (s.SpanContext.TraceID() == sc.TraceID() && s.SpanContext.SpanID() == sc.SpanID())
		}
		if !found {
			t.Errorf("%s carries %q, which names none of the endpoint's send spans", body, got[body])
		}
	}
}
