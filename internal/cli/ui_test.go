package cli

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
)

// syncBuffer is a bytes.Buffer safe to read while the command writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestUIRefusesAnOpenListenerWithoutLogin: on an address beyond loopback without a token, basic
// auth or key file, ddbq ui does not start (usage error), before it touches DynamoDB.
func TestUIRefusesAnOpenListenerWithoutLogin(t *testing.T) {
	var out, errOut bytes.Buffer
	env := func(string) string { return "" }
	code := ExecuteEnv(context.Background(), []string{"ui", "-t", "x", "--listen", "0.0.0.0:0"}, nil, &out, &errOut, env)
	if code != ExitUsage || !strings.Contains(errOut.String(), "required when listening beyond loopback") {
		t.Errorf("exit %d, stderr %q", code, errOut.String())
	}
}

// TestUIServesTheTable: ddbq ui on a local DynamoDB creates the table, serves the overview on
// the address it prints, and stops cleanly when its context ends.
func TestUIServesTheTable(t *testing.T) {
	table := testenv.TableName(t)
	t.Cleanup(func() {
		_, _ = testenv.Client(t).DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &table})
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	env := func(k string) string {
		if k == EnvEndpoint {
			return testenv.Endpoint(t)
		}
		return ""
	}
	done := make(chan int, 1)
	go func() {
		done <- ExecuteEnv(ctx, []string{"ui", "-t", table, "--listen", "127.0.0.1:0"}, nil, &out, &errOut, env)
	}()
	addrRE := regexp.MustCompile(`http://127\.0\.0\.1:\d+/`)
	// The command prints its address once it listens; wait for it, bounded.
	deadline := time.NewTimer(time.Minute)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var url string
	for url == "" {
		select {
		case code := <-done:
			t.Fatalf("ddbq ui exited with %d: %s", code, errOut.String())
		case <-deadline.C:
			t.Fatalf("ddbq ui printed no address: %q %q", out.String(), errOut.String())
		case <-tick.C:
			url = addrRE.FindString(out.String())
		}
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Table "+table) {
		t.Errorf("GET %s: %d\n%s", url, resp.StatusCode, body)
	}
	cancel()
	if code := <-done; code != ExitOK {
		t.Errorf("exit %d after the context ended: %s", code, errOut.String())
	}
}
