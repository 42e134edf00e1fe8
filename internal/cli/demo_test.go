package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// endpointEnv is an environment holding only the test endpoint.
func endpointEnv(t *testing.T) func(string) string {
	ep := testenv.Endpoint(t)
	return func(name string) string {
		if name == EnvEndpoint2 {
			return ep
		}
		return ""
	}
}

// TestDemoInProcess runs the demo inside the test binary, so that go test -race checks its
// producers, consumers and progress loop (the end-to-end tests run a binary without -race).
func TestDemoInProcess(t *testing.T) {
	env := endpointEnv(t)
	var out, errOut bytes.Buffer
	code := ExecuteEnv(context.Background(), []string{"demo", "--messages", "8", "--json"}, nil, &out, &errOut, env)
	if code != ExitOK {
		t.Fatalf("demo: exit code %d\nstdout: %s\nstderr: %s", code, out.String(), errOut.String())
	}
	var sum struct {
		OK    bool `json:"ok"`
		Total struct {
			Pushed, Delivered, DeadLettered int
		} `json:"total"`
	}
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if !sum.OK || sum.Total.Pushed != 40 || sum.Total.Delivered+sum.Total.DeadLettered != 40 || sum.Total.DeadLettered == 0 {
		t.Errorf("demo summary: %s", strings.TrimSpace(out.String()))
	}
}

// cancelOnWrite is an output that cancels a context once a given text has been written.
type cancelOnWrite struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	text   string
	cancel context.CancelFunc
}

func (w *cancelOnWrite) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.text) {
		w.cancel()
	}
	return n, err
}

func (w *cancelOnWrite) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestDemoInterrupted cancels the context given to Execute (as Ctrl-C does in main) once the
// demo has created its table and is about to start its producers and consumers: the demo
// says it was interrupted, checks nothing (no [FAIL]) and exits with 130.
func TestDemoInterrupted(t *testing.T) {
	env := endpointEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &cancelOnWrite{text: "failures ", cancel: cancel}
	var errOut bytes.Buffer
	code := ExecuteEnv(ctx, []string{"demo", "--messages", "50"}, nil, out, &errOut, env)
	stdout := out.String()
	if code != ExitInterrupted {
		t.Fatalf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, ExitInterrupted, stdout, errOut.String())
	}
	if !strings.Contains(stdout, "interrupted after ") || strings.Contains(stdout, "[FAIL]") || strings.Contains(stdout, "[ok  ]") {
		t.Errorf("stdout of an interrupted demo:\n%s", stdout)
	}
	if !strings.Contains(stdout, "dropped table ddbq-demo-") {
		t.Errorf("the interrupted demo did not drop its table:\n%s", stdout)
	}
	if errOut.String() != "ddbq: interrupted\n" {
		t.Errorf("stderr: %q", errOut.String())
	}
}

// TestDemoLegend: the summary explains every column of its table.
func TestDemoLegend(t *testing.T) {
	var out bytes.Buffer
	a := newApp(nil, &out, &out, func(string) string { return "" })
	tenants := newDemoTenants()
	if err := a.demoSummary(&out, tenants, demoOptions{messages: 0}, time.Second, false); err != nil {
		t.Fatal(err)
	}
	header, _, _ := strings.Cut(out.String()[strings.Index(out.String(), "QUEUE"):], "\n")
	for _, col := range strings.Split(header, "  ") {
		col = strings.TrimSpace(col)
		if col == "" || col == "QUEUE" || col == "CLIENT" {
			continue
		}
		if !strings.Contains(demoLegend, "  "+col+" ") {
			t.Errorf("column %q is not in the legend:\n%s", col, out.String())
		}
	}
}
