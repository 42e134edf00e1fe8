package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
)

// TestVerboseLogsRequests: --verbose logs every DynamoDB request at debug level on stderr,
// with its operation; without it, stderr stays quiet.
func TestVerboseLogsRequests(t *testing.T) {
	ep := testenv.Endpoint(t)
	table := testenv.TableName(t)
	env := func(string) string { return "" }
	run := func(args ...string) (stdout, stderr string) {
		t.Helper()
		var out, errOut bytes.Buffer
		args = append([]string{"--endpoint", ep, "-t", table, "-q", "orders", "-c", "acme"}, args...)
		if code := ExecuteEnv(context.Background(), args, nil, &out, &errOut, env); code != ExitOK {
			t.Fatalf("ddbq %v: exit code %d\n%s%s", args, code, out.String(), errOut.String())
		}
		return out.String(), errOut.String()
	}
	run("table", "create")
	_, quiet := run("push", "hello")
	if quiet != "" {
		t.Errorf("push without --verbose wrote to stderr: %q", quiet)
	}
	_, logs := run("push", "-v", "hello again")
	for _, want := range []string{
		`level=DEBUG msg="DynamoDB request" operation=BatchWriteItem duration=`,
		"attempts=1",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("push -v: stderr lacks %q:\n%s", want, logs)
		}
	}
	_, logs = run("stats", "--verbose")
	if !strings.Contains(logs, `msg="DynamoDB request" operation=Query`) {
		t.Errorf("stats --verbose: no Query logged:\n%s", logs)
	}
}
