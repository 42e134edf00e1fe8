package cli

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
)

func watchTable(t *testing.T) (*dynamodbqueue.DynamoDBQueue, string) {
	t.Helper()
	table := testenv.TableName(t)
	q := dynamodbqueue.NewFromClient(testenv.Client(t), 0).UseTable(table).UseQueueName("orders").UseClientID("acme").UseLogger(nil)
	if _, err := q.CreateQueueTable(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.DropQueueTable(context.Background()) })
	if _, err := q.PushMessages(context.Background(), 0, events.SQSMessage{Body: "a"}); err != nil {
		t.Fatal(err)
	}
	return q, table
}

// TestStatsWatchRepeats: on a non-terminal, `stats --watch --count 3` prints three frames one
// after the other, with no terminal control sequences, each read afresh (a message pushed
// after the first frame shows in the next ones), and exits 0.
func TestStatsWatchRepeats(t *testing.T) {
	q, table := watchTable(t)
	// cancelOnWrite (demo_test.go) calls its function on every write from the first frame
	// on: once pushes one message.
	out := &cancelOnWrite{text: "acme", cancel: sync.OnceFunc(func() {
		if _, err := q.PushMessages(context.Background(), 0, events.SQSMessage{Body: "b"}); err != nil {
			t.Error(err)
		}
	})}
	var errOut bytes.Buffer
	code := ExecuteEnv(context.Background(), []string{"stats", "-t", table, "-q", "orders", "-c", "acme",
		"--watch", "--interval", "10ms", "--count", "3"}, nil, out, &errOut, endpointEnv(t))
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	text := out.String()
	if n := strings.Count(text, "QUEUE "); n != 3 {
		t.Errorf("%d frames; want 3:\n%s", n, text)
	}
	if n := strings.Count(text, "\n# "); n != 2 || !strings.HasPrefix(text, "# ") {
		t.Errorf("want a '# <time>' line before each frame:\n%s", text)
	}
	if strings.Contains(text, "\x1b") {
		t.Errorf("terminal control sequences on a non-terminal:\n%q", text)
	}
	var counts []string
	for _, line := range strings.Split(text, "\n") {
		if f := strings.Fields(line); len(f) > 2 && f[1] == "acme" {
			counts = append(counts, f[2])
		}
	}
	if strings.Join(counts, " ") != "1 2 2" {
		t.Errorf("COUNT column over the frames = %v; want 1 2 2 (read again each time):\n%s", counts, text)
	}
}

// TestStatsWatchStopsOnInterrupt: without --count the watch runs until the context ends (as
// on Ctrl-C), and then exits 0; JSON frames are the plain rows, one per line.
func TestStatsWatchStopsOnInterrupt(t *testing.T) {
	_, table := watchTable(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out := &cancelOnWrite{text: `"client":"acme"`, cancel: cancel}
	var errOut bytes.Buffer
	code := ExecuteEnv(ctx, []string{"stats", "-t", table, "-q", "orders", "-c", "acme", "--json",
		"--watch", "--interval", "1h"}, nil, out, &errOut, endpointEnv(t))
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if lines := strings.Split(strings.TrimSpace(out.String()), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], `{"queue":"orders"`) {
		t.Errorf("output %q; want one JSON row", out.String())
	}
}

// TestStatsWatchFlags: --interval and --count need --watch, and must be positive / not negative.
func TestStatsWatchFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--interval", "1s"},
		{"--count", "2"},
		{"--watch", "--interval", "0s"},
		{"--watch", "--count", "-1"},
	} {
		var out, errOut bytes.Buffer
		all := append([]string{"stats", "-t", "some-table", "-q", "orders", "-c", "acme"}, args...)
		if code := ExecuteEnv(context.Background(), all, nil, &out, &errOut, endpointEnv(t)); code != ExitUsage {
			t.Errorf("%v: exit %d; want %d (%s)", args, code, ExitUsage, errOut.String())
		}
	}
}
