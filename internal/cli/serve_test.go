package cli

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
)

// TestServe runs `ddbq serve` in process with a key from the environment: a tenant's SDK
// client sends and receives, the /metrics listener counts the requests and the waiting long
// poll, and cancelling the context (SIGINT/SIGTERM in main) ends the waiting long poll with an
// empty result and the command with exit code 0.
func TestServe(t *testing.T) {
	ep := testenv.Endpoint(t)
	env := map[string]string{
		EnvEndpoint2: ep, "DDBQ_ACCESS_KEY_ID": "SERVETESTKEY0001", "DDBQ_SECRET_ACCESS_KEY": "serve-test-secret-0123",
		"DDBQ_CLIENT_IDS": "acme", EnvSigningKey: "serve-test-signing-key",
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	outR, outW := io.Pipe()
	var errOut strings.Builder
	exit := make(chan int, 1)
	go func() {
		exit <- ExecuteEnv(ctx, []string{"serve", "-t", testenv.TableName(t), "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"},
			nil, outW, &errOut, func(k string) string { return env[k] })
		outW.Close()
	}()
	var sqsURL, metricsURL string
	sc := bufio.NewScanner(outR)
	for (sqsURL == "" || metricsURL == "") && sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 5 && f[2] == "SQS":
			sqsURL = f[4]
		case len(f) >= 4 && f[2] == "metrics":
			metricsURL = f[3]
		}
	}
	if sqsURL == "" || metricsURL == "" {
		t.Fatalf("serve printed no addresses; stderr:\n%s", errOut.String())
	}
	go func() { _, _ = io.Copy(io.Discard, outR) }()

	rctx, rcancel := context.WithTimeout(context.Background(), time.Minute)
	defer rcancel()
	c := sqs.New(sqs.Options{Region: "us-east-1", BaseEndpoint: aws.String(sqsURL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: env["DDBQ_ACCESS_KEY_ID"], SecretAccessKey: env["DDBQ_SECRET_ACCESS_KEY"]}, nil
		})})
	q, err := c.CreateQueue(rctx, &sqs.CreateQueueInput{QueueName: aws.String("jobs")})
	if err != nil {
		t.Fatal(err)
	}
	if want := sqsURL + "/acme/jobs"; aws.ToString(q.QueueUrl) != want {
		t.Fatalf("QueueUrl %q, want %q", aws.ToString(q.QueueUrl), want)
	}
	if _, err := c.SendMessage(rctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String("hi")}); err != nil {
		t.Fatal(err)
	}
	got, err := c.ReceiveMessage(rctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, WaitTimeSeconds: 5})
	if err != nil || len(got.Messages) != 1 || aws.ToString(got.Messages[0].Body) != "hi" {
		t.Fatalf("ReceiveMessage = %+v, %v", got, err)
	}

	// A long poll that waits, seen in /metrics, then ended by the shutdown.
	type result struct {
		n   int
		err error
	}
	polled := make(chan result, 1)
	go func() {
		out, err := c.ReceiveMessage(rctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, WaitTimeSeconds: 20})
		if err != nil {
			polled <- result{err: err}
			return
		}
		polled <- result{n: len(out.Messages)}
	}()
	waitMetric(t, metricsURL, "ddbq_sqs_long_polls_waiting 1")
	m := scrape(t, metricsURL)
	for _, want := range []string{
		`ddbq_sqs_requests_total{action="SendMessage",code=""} 1`,
		`ddbq_sqs_requests_total{action="CreateQueue",code=""} 1`,
		`ddbq_sqs_request_duration_seconds_count{action="ReceiveMessage"} 1`,
		`ddbq_dynamodb_requests_total{operation="BatchWriteItem"}`,
		`dynamodbqueue_queue_messages{`, // the queue gauges (--queue-gauges, on by default)
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	start := time.Now()
	cancel() // as SIGTERM does
	if r := <-polled; r.err != nil || r.n != 0 {
		t.Fatalf("the waiting long poll ended with %d messages, %v; want an empty result", r.n, r.err)
	}
	if code := <-exit; code != ExitOK {
		t.Fatalf("serve exited %d after the shutdown, want 0; stderr:\n%s", code, errOut.String())
	}
	t.Logf("shut down %v after the signal", time.Since(start).Round(time.Millisecond))
	if strings.Contains(errOut.String(), env["DDBQ_SECRET_ACCESS_KEY"]) {
		t.Fatal("the log holds the secret access key")
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitMetric scrapes every 10 ms (at most a minute) until the exposition holds line.
func waitMetric(t *testing.T, url, line string) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(time.Minute)
	for !strings.Contains(scrape(t, url), line) {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("/metrics never showed %q", line)
		}
	}
}

// TestServeUsage: settings that cannot work are refused before anything listens.
func TestServeUsage(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(bad, []byte(`{"keys":[{"access_key_id":"SHORT","secret_access_key":"x","admin":true}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(string) string { return "" }
	for name, args := range map[string][]string{
		"no keys":        {"serve", "--endpoint", "http://127.0.0.1:1"},
		"invalid keys":   {"serve", "--endpoint", "http://127.0.0.1:1", "--keys", bad},
		"missing file":   {"serve", "--endpoint", "http://127.0.0.1:1", "--keys", bad + ".missing"},
		"half of TLS":    {"serve", "--no-auth", "--tls-cert", "cert.pem"},
		"short write":    {"serve", "--no-auth", "--write-timeout", "10s"},
		"keys and none":  {"serve", "--no-auth", "--keys", bad},
		"zero conns":     {"serve", "--no-auth", "--max-conns", "0"},
		"bad public URL": {"serve", "--no-auth", "--endpoint", "http://127.0.0.1:1", "--public-url", "ftp://x"},
	} {
		var out, errOut strings.Builder
		if code := ExecuteEnv(context.Background(), args, nil, &out, &errOut, env); code != ExitUsage {
			t.Errorf("%s: exit %d, want %d (usage); stderr:\n%s", name, code, ExitUsage, errOut.String())
		}
	}
}
