package sqsserver

import (
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// TestReceiveRequestAttemptID: on a FIFO queue a retried attempt gets the same messages and
// handles; another attempt ID receives anew.
func TestReceiveRequestAttemptID(t *testing.T) {
	e := newEndpoint(t, newTable(t))
	for _, proto := range protocols {
		qurl := e.call(t, proto, "key-a", "CreateQueue", map[string]any{"QueueName": "attempts-" + proto + ".fifo",
			"Attributes": map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "true"}}).ok(t, "CreateQueue").value("QueueUrl", "QueueUrl")
		for _, g := range []string{"g1", "g2"} {
			e.call(t, proto, "key-a", "SendMessage", map[string]any{"QueueUrl": qurl, "MessageBody": "body-" + g, "MessageGroupId": g}).ok(t, "SendMessage")
		}
		recv := func(id string) resp {
			return e.call(t, proto, "key-a", "ReceiveMessage", map[string]any{"QueueUrl": qurl, "ReceiveRequestAttemptId": id}).ok(t, "ReceiveMessage "+id)
		}
		first := recv("attempt-1").value("ReceiptHandle", "ReceiptHandle")
		again := recv("attempt-1").value("ReceiptHandle", "ReceiptHandle")
		if first == "" || again != first {
			t.Errorf("%s: retried attempt got handle %q, first %q", proto, again, first)
		}
		other := recv("attempt-2")
		if h := other.value("ReceiptHandle", "ReceiptHandle"); h == "" || h == first {
			t.Errorf("%s: a new attempt got %q (first %q): %s", proto, h, first, other.body)
		}
	}
}

// recordingMetrics records what the server reports.
type recordingMetrics struct {
	mu       sync.Mutex
	requests []string
	polls    int
	maxPolls int
}

func (m *recordingMetrics) Request(action, code string, _ time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests = append(m.requests, action+"/"+code)
}

func (m *recordingMetrics) LongPolls(delta int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.polls += delta
	m.maxPolls = max(m.maxPolls, m.polls)
}

// TestMetrics: every request is counted with its action and code (unknown actions under one
// name), and a long poll is counted while it waits.
func TestMetrics(t *testing.T) {
	m := &recordingMetrics{}
	srv, err := New(Options{Client: newTable(t), Auth: keys, Metrics: m, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	e := &endpoint{srv: srv, url: hs.URL}
	qurl := e.call(t, "json", "key-a", "CreateQueue", map[string]any{"QueueName": "metrics"}).ok(t, "CreateQueue").value("QueueUrl", "QueueUrl")
	e.call(t, "query", "key-a", "ReceiveMessage", map[string]any{"QueueUrl": qurl, "WaitTimeSeconds": 1}).ok(t, "ReceiveMessage")
	e.call(t, "json", "key-a", "GetQueueUrl", map[string]any{"QueueName": "missing"})
	e.call(t, "json", "key-a", "Whatever", nil)
	m.mu.Lock()
	defer m.mu.Unlock()
	want := []string{"CreateQueue/", "ReceiveMessage/", "GetQueueUrl/" + CodeNonExistentQueue, UnknownAction + "/" + CodeUnsupportedOperation}
	if len(m.requests) != len(want) {
		t.Fatalf("requests %q, want %q", m.requests, want)
	}
	for i := range want {
		if m.requests[i] != want[i] {
			t.Errorf("request %d = %q, want %q", i, m.requests[i], want[i])
		}
	}
	if m.polls != 0 || m.maxPolls != 1 {
		t.Errorf("long polls: now %d, at most %d; want 0 and 1", m.polls, m.maxPolls)
	}
}

// TestMessageGroupIDOnStandardQueue: a standard queue accepts MessageGroupId (SQS's fair
// queues) and returns it, without making a FIFO group: two messages of one group are received
// together.
func TestMessageGroupIDOnStandardQueue(t *testing.T) {
	e := newEndpoint(t, newTable(t))
	for _, proto := range protocols {
		qurl := e.call(t, proto, "key-a", "CreateQueue", map[string]any{"QueueName": "fair-" + proto}).ok(t, "CreateQueue").value("QueueUrl", "QueueUrl")
		for _, body := range []string{"one", "two"} {
			e.call(t, proto, "key-a", "SendMessage", map[string]any{"QueueUrl": qurl, "MessageBody": body, "MessageGroupId": "tenant-7"}).ok(t, "SendMessage")
		}
		var groups []string
		waitFor(t, "both messages", func() bool {
			r := e.call(t, proto, "key-a", "ReceiveMessage", map[string]any{"QueueUrl": qurl, "MaxNumberOfMessages": 10, "AttributeNames": []string{"MessageGroupId"}}).ok(t, "ReceiveMessage")
			groups = append(groups, r.values("MessageGroupId", "Value")...)
			return len(groups) >= 2
		})
		if len(groups) != 2 || groups[0] != "tenant-7" || groups[1] != "tenant-7" {
			t.Errorf("%s: MessageGroupId of the received messages: %q", proto, groups)
		}
	}
}
