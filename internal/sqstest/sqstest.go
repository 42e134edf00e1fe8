// Package sqstest starts the SQS-compatible endpoint (sqsserver) for tests with clients we did
// not write: a fresh table on the test DynamoDB (internal/testenv), SigV4 authentication with
// three keys (an admin, and one key each for the tenants "tenant-a" and "tenant-b"), on a real
// HTTP listener. The Go SDK tests of both protocol versions (the main module and the
// sqsserver/compat/sdkv1260 module) and the JavaScript SDK tests share it.
package sqstest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/dynalite"
	"github.com/dynamodbqueue/dynamodbqueue/internal/keyfile"
	"github.com/dynamodbqueue/dynamodbqueue/internal/sqsauth"
	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
	"github.com/dynamodbqueue/dynamodbqueue/sqsserver"
	"github.com/dynamodbqueue/dynamodbqueue/sqsserver/compat/testkeys"
)

// The keys of every Env (sqsserver/compat/testkeys), as key-file keys.
var (
	Admin   = key(testkeys.Admin)
	KeyA    = key(testkeys.A)
	KeyB    = key(testkeys.B)
	TenantA = testkeys.TenantA
	TenantB = testkeys.TenantB
)

func key(k testkeys.Key) keyfile.Key {
	return keyfile.Key{AccessKeyID: k.AccessKeyID, Secret: k.Secret, Admin: k.Admin, ClientIDs: k.ClientIDs}
}

// Patience bounds a whole client scenario.
const Patience = 2 * time.Minute

// Env is a running endpoint.
type Env struct {
	// Endpoint is the endpoint, http://127.0.0.1:PORT (queue URLs are Endpoint/<clientID>/<queue>).
	Endpoint string
	// Client is the queue client the server uses, for checks behind the endpoint's back.
	Client *dynamodbqueue.Client
	// Server is the handler.
	Server *sqsserver.Server
	polls  atomic.Int64 // long polls waiting (sqsserver.Metrics)
}

// metrics counts the waiting long polls, so a test can send a message while one waits.
type metrics struct{ e *Env }

func (m metrics) Request(string, string, time.Duration) {}
func (m metrics) LongPolls(delta int)                   { m.e.polls.Add(int64(delta)) }

// WaitLongPolls waits (checking every 5 ms, at most Patience) until n long polls wait.
func (e *Env) WaitLongPolls(t testing.TB, n int) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(Patience)
	for e.polls.Load() != int64(n) {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("%d long polls wait, want %d", e.polls.Load(), n)
		}
	}
}

// Start creates a table and serves it; the test's cleanup stops the server and drops the table.
func Start(t testing.TB) *Env {
	t.Helper()
	table := testenv.TableName(t)
	client, err := dynamodbqueue.New(dynamodbqueue.Options{
		API: testenv.Client(t), Table: table, SigningKey: []byte("sqstest-signing-key"),
		Logger: slog.New(slog.DiscardHandler), DefinitionStaleness: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	q, err := client.Queue("setup", "setup")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), Patience)
	defer cancel()
	if _, err := q.CreateQueueTable(ctx); err != nil {
		t.Fatalf("CreateQueueTable: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), Patience)
		defer cancel()
		_ = q.DropQueueTable(ctx)
	})
	ks, err := keyfile.New(Admin, KeyA, KeyB)
	if err != nil {
		t.Fatal(err)
	}
	env := &Env{Client: client}
	auth := sqsauth.New(ks)
	env.Server, err = sqsserver.New(sqsserver.Options{
		Client: client, Auth: auth, Logger: slog.New(slog.DiscardHandler), DefaultClientID: TenantA,
		Metrics: metrics{env},
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(env.Server)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = env.Server.Drain(ctx)
		hs.Close()
	})
	env.Endpoint = hs.URL
	return env
}

// QueueURL is the URL of a tenant's queue.
func (e *Env) QueueURL(clientID, queue string) string {
	return e.Endpoint + "/" + clientID + "/" + queue
}

// URL returns Endpoint (the scenario's Env interface).
func (e *Env) URL() string { return e.Endpoint }

// JSDir is where scripts/sqs-js.sh installs @aws-sdk/client-sqs at version.
func JSDir(t testing.TB, version string) string {
	t.Helper()
	root, err := dynalite.FindRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, ".local", "sqs-js", version)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@aws-sdk", "client-sqs", "package.json")); err != nil {
		t.Fatalf("@aws-sdk/client-sqs %s is not installed (%v): run make servers (scripts/sqs-js.sh)", version, err)
	}
	return dir
}

// RunNode runs `node script` with NODE_PATH at the SDK of version and the environment env
// (plus SQS_ENDPOINT and the keys), and fails the test, with the script's output, unless it
// exits 0. A missing node fails the test.
func (e *Env) RunNode(t testing.TB, version, script string, env ...string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is required for the JavaScript SDK tests: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), Patience)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Env = append(os.Environ(),
		"NODE_PATH="+filepath.Join(JSDir(t, version), "node_modules"),
		"SQS_ENDPOINT="+e.Endpoint,
		"ADMIN_KEY_ID="+Admin.AccessKeyID, "ADMIN_SECRET="+Admin.Secret,
		"A_KEY_ID="+KeyA.AccessKeyID, "A_SECRET="+KeyA.Secret, "A_CLIENT="+TenantA,
		"B_KEY_ID="+KeyB.AccessKeyID, "B_SECRET="+KeyB.Secret, "B_CLIENT="+TenantB,
	)
	cmd.Env = append(cmd.Env, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %s with @aws-sdk/client-sqs %s: %v\n%s", filepath.Base(script), version, err, out.String())
	}
	return out.String()
}

// String describes the env for failure messages.
func (e *Env) String() string {
	return fmt.Sprintf("SQS endpoint %s on table %s", e.Endpoint, e.Client.Table())
}
