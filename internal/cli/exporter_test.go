package cli

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
)

// lineWriter sends each line written to it on a channel (the exporter's stdout).
type lineWriter struct {
	buf   bytes.Buffer
	lines chan string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadString('\n')
		if err != nil {
			w.buf.WriteString(line) // incomplete: keep it
			return len(p), nil
		}
		w.lines <- strings.TrimSuffix(line, "\n")
	}
}

// TestExporterServesQueueGauges runs `ddbq exporter` in process on a real table, scrapes its
// /metrics over HTTP and reads the queue gauges, then interrupts it (as Ctrl-C does): it
// stops with exit code 0.
func TestExporterServesQueueGauges(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	table := testenv.TableName(t)
	q := dynamodbqueue.NewFromClient(testenv.Client(t), 0).UseTable(table).UseQueueName("orders").UseClientID("acme").UseLogger(nil)
	if _, err := q.CreateQueueTable(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.DropQueueTable(context.Background()) })
	if _, err := q.PushMessages(ctx, 0, events.SQSMessage{Body: "a"}, events.SQSMessage{Body: "b"}); err != nil {
		t.Fatal(err)
	}

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	out := &lineWriter{lines: make(chan string, 10)}
	var errOut bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- ExecuteEnv(runCtx, []string{"exporter", "-t", table, "--listen", "127.0.0.1:0", "--max-tenants", "5"}, nil, out, &errOut, endpointEnv(t))
	}()
	var url string
	select {
	case line := <-out.lines:
		_, rest, ok := strings.Cut(line, "metrics ")
		url, _, _ = strings.Cut(rest, " ")
		if !ok || !strings.HasPrefix(url, "http://127.0.0.1:") {
			t.Fatalf("first line %q: want the metrics URL", line)
		}
	case code := <-done:
		t.Fatalf("exporter exited with %d: %s", code, errOut.String())
	}

	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d, %v", url, resp.StatusCode, err)
	}
	want := map[string]string{
		`dynamodbqueue_queue_messages{queue="orders",state="visible",table="` + table + `"}`:                "2",
		`dynamodbqueue_queue_messages{queue="orders",state="in_flight",table="` + table + `"}`:              "0",
		`dynamodbqueue_tenant_messages{client="acme",queue="orders",state="visible",table="` + table + `"}`: "2",
		`dynamodbqueue_stats_refresh_success`:                                                               "1",
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		name, value, _ := strings.Cut(sc.Text(), " ")
		if w, ok := want[name]; ok {
			if value != w {
				t.Errorf("%s = %s; want %s", name, value, w)
			}
			delete(want, name)
		}
	}
	for name := range want {
		t.Errorf("no %s in the scrape:\n%s", name, body)
	}

	stop() // Ctrl-C
	if code := <-done; code != ExitOK {
		t.Errorf("exit code after interrupt %d; want 0; stderr %s", code, errOut.String())
	}
}

// TestExporterNeedsATable: no table, or a table that does not exist, fails before listening.
func TestExporterNeedsATable(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := ExecuteEnv(context.Background(), []string{"exporter"}, nil, &out, &errOut, endpointEnv(t)); code != ExitUsage {
		t.Errorf("no table: exit %d; want %d (%s)", code, ExitUsage, errOut.String())
	}
	errOut.Reset()
	if code := ExecuteEnv(context.Background(), []string{"exporter", "-t", testenv.TableName(t)}, nil, &out, &errOut, endpointEnv(t)); code != ExitNotFound {
		t.Errorf("missing table: exit %d; want %d (%s)", code, ExitNotFound, errOut.String())
	}
	if code := ExecuteEnv(context.Background(), []string{"exporter", "-t", "some-table", "--max-tenants", "0"}, nil, &out, &errOut, endpointEnv(t)); code != ExitUsage {
		t.Errorf("--max-tenants 0: exit %d; want %d", code, ExitUsage)
	}
}
