// Package sdkv1260 runs the SQS endpoint's SDK scenario (sqsserver/compat/scenario) with the
// AWS SDK for Go v2 service/sqs v1.26.0, the last version that speaks the query protocol, and
// the SDK core of its time. Those cannot share a build with the main module's packages (which
// need the current core), so the endpoint runs as a `ddbq serve` process built from the main
// module, started and stopped (SIGTERM: graceful shutdown) by the test. It is its own module
// (see go.mod); scripts/test.sh runs it in the servers phase, on each DynamoDB server.
package sdkv1260

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue/sqsserver/compat/scenario"
	"github.com/dynamodbqueue/dynamodbqueue/sqsserver/compat/testkeys"
)

// TestSDKv1260 drives every served action through the query protocol.
func TestSDKv1260(t *testing.T) {
	scenario.Run(t, startServe(t), scenario.Query)
}

// serve is a running `ddbq serve`.
type serve struct {
	url, metrics string
}

func (s *serve) URL() string { return s.url }

// WaitLongPolls reads the ddbq_sqs_long_polls_waiting gauge of /metrics every 10 ms (at most
// scenario.Patience) until it is n.
func (s *serve) WaitLongPolls(t testing.TB, n int) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(scenario.Patience)
	for {
		got, err := s.longPolls()
		if err != nil {
			t.Fatal(err)
		}
		if got == n {
			return
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("%d long polls wait, want %d", got, n)
		}
	}
}

func (s *serve) longPolls() (int, error) {
	resp, err := http.Get(s.metrics)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "ddbq_sqs_long_polls_waiting "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return int(f), err
		}
	}
	return 0, errors.New("no ddbq_sqs_long_polls_waiting in /metrics")
}

// startServe builds ddbq from the main module (../../..), starts `ddbq serve` on the test's
// DynamoDB with the test keys, and stops it with SIGTERM at cleanup, checking that it shuts
// down cleanly (exit 0).
func startServe(t *testing.T) *serve {
	t.Helper()
	endpoint := os.Getenv("DYNAMODBQUEUE_ENDPOINT")
	if endpoint == "" {
		t.Fatal("DYNAMODBQUEUE_ENDPOINT is not set: run under scripts/with-servers.sh (scripts/test.sh does)")
	}
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "ddbq")
	build := exec.Command("go", "build", "-o", bin, "./cmd/ddbq")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/ddbq: %v\n%s", err, out)
	}
	keys := filepath.Join(dir, "keys.json")
	if err := os.WriteFile(keys, testkeys.KeyFile(), 0o600); err != nil {
		t.Fatal(err)
	}
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	cmd := exec.Command(bin, "serve", "--endpoint", endpoint, "-t", "sdkv1260-"+hex.EncodeToString(suffix),
		"--keys", keys, "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "DDBQ_SIGNING_KEY=sdkv1260-test-signing-key")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	s := &serve{}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("ddbq serve did not shut down cleanly after SIGTERM: %v\n%s", err, stderr.String())
			}
		case <-time.After(time.Minute):
			_ = cmd.Process.Kill()
			t.Errorf("ddbq serve still runs a minute after SIGTERM\n%s", stderr.String())
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for s.url == "" || s.metrics == "" {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("ddbq serve exited during start-up\n%s", stderr.String())
			}
			// "ddbq serve: SQS endpoint URL (...)" and "ddbq serve: metrics URL".
			if f := strings.Fields(line); len(f) >= 5 && f[2] == "SQS" && f[3] == "endpoint" {
				s.url = f[4]
			} else if len(f) >= 4 && f[2] == "metrics" {
				s.metrics = f[3]
			}
		case <-ctx.Done():
			t.Fatalf("ddbq serve did not print its addresses within a minute\n%s", stderr.String())
		}
	}
	go func() { // keep draining stdout so the process never blocks on it
		for range lines {
		}
	}()
	return s
}
