package dynalite

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// installDir installs dynalite (once per repository) and returns its dir.
func installDir(t *testing.T) string {
	t.Helper()
	root, err := FindRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := InstallDir(root)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := Install(ctx, dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

func listTables(t *testing.T, endpoint string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := NewClient(ctx, endpoint)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListTables(ctx, &dynamodb.ListTablesInput{}); err != nil {
		t.Fatalf("ListTables at %s: %v", endpoint, err)
	}
}

func processGone(pid int) bool { return syscall.Kill(pid, 0) != nil }

func TestFindRepoRoot(t *testing.T) {
	root, err := FindRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if got := modulePath(filepath.Join(root, "go.mod")); got != ModulePath {
		t.Fatalf("module at %s = %q", root, got)
	}
	if got, want := InstallDir(root), filepath.Join(root, ".local", "dynalite"); got != want {
		t.Fatalf("InstallDir = %q, want %q", got, want)
	}
}

func TestNewClientRejectsBadEndpoint(t *testing.T) {
	for _, ep := range []string{"", "127.0.0.1:8000", "ftp://x", "http://"} {
		if _, err := NewClient(context.Background(), ep); err == nil {
			t.Errorf("NewClient(%q) succeeded", ep)
		}
	}
}

func TestStartStop(t *testing.T) {
	dir := installDir(t)
	var log strings.Builder
	s, err := Start(context.Background(), Options{Dir: dir, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.Endpoint(), "http://127.0.0.1:") || s.PID() <= 0 {
		t.Fatalf("endpoint %q pid %d", s.Endpoint(), s.PID())
	}
	listTables(t, s.Endpoint())
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil { // idempotent
		t.Fatal(err)
	}
	if !processGone(s.PID()) {
		t.Fatalf("pid %d still running after Stop", s.PID())
	}
	if !strings.Contains(log.String(), "listening") {
		t.Errorf("log lacks dynalite's banner: %q", log.String())
	}
}

func TestStartFixedPortInUse(t *testing.T) {
	dir := installDir(t)
	s, err := Start(context.Background(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	p, err := strconv.Atoi(strings.TrimPrefix(s.Endpoint(), "http://127.0.0.1:"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Start(context.Background(), Options{Dir: dir, Port: p}); err == nil {
		t.Fatal("second server on a busy port started")
	} else if !strings.Contains(err.Error(), "EADDRINUSE") {
		t.Errorf("error lacks dynalite's output: %v", err)
	}
}

func TestStartNotInstalled(t *testing.T) {
	if _, err := Start(context.Background(), Options{Dir: t.TempDir()}); err == nil {
		t.Fatal("Start succeeded without an install")
	}
}

func TestDetached(t *testing.T) {
	dir := installDir(t)
	state := t.TempDir()
	if _, _, running, err := Status(state); err != nil || running {
		t.Fatalf("empty state: running=%v err=%v", running, err)
	}
	ep, pid, err := StartDetached(context.Background(), Options{Dir: dir}, state)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = StopDetached(state) }) // in case of failure below
	listTables(t, ep)

	gotEP, gotPID, running, err := Status(state)
	if err != nil || !running || gotEP != ep || gotPID != pid {
		t.Fatalf("Status = %q %d %v %v, want %q %d true", gotEP, gotPID, running, err, ep, pid)
	}
	// Starting again reuses the running server.
	if ep2, pid2, err := StartDetached(context.Background(), Options{Dir: dir}, state); err != nil || ep2 != ep || pid2 != pid {
		t.Fatalf("second StartDetached = %q %d %v", ep2, pid2, err)
	}
	// It leads its own session (and so process group), so it survives
	// its starter and StopDetached can signal the group.
	if pgid, err := syscall.Getpgid(pid); err != nil || pgid != pid {
		t.Fatalf("Getpgid(%d) = %d, %v", pid, pgid, err)
	}
	if err := StopDetached(state); err != nil {
		t.Fatal(err)
	}
	if _, _, running, err := Status(state); err != nil || running {
		t.Fatalf("after stop: running=%v err=%v", running, err)
	}
	if _, err := os.Stat(filepath.Join(state, pidFile)); !os.IsNotExist(err) {
		t.Fatalf("pid file left behind: %v", err)
	}
	if err := StopDetached(state); err != nil { // stopping nothing is fine
		t.Fatal(err)
	}
}

func TestStatusStalePID(t *testing.T) {
	state := t.TempDir()
	// Our own pid is alive but not dynalite: a reused pid must not count.
	if err := os.WriteFile(filepath.Join(state, pidFile), []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, running, err := Status(state); err != nil || running {
		t.Fatalf("running=%v err=%v", running, err)
	}
	if err := StopDetached(state); err != nil {
		t.Fatal(err)
	}
}

func TestInstallConcurrent(t *testing.T) {
	// Install into a fresh dir from two goroutines; the lock serialises
	// them and the second finds the install done. Skipped in -short since
	// it hits the npm registry.
	if testing.Short() {
		t.Skip("installs from npm")
	}
	dir := filepath.Join(t.TempDir(), "dynalite")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	errs := make(chan error, 2)
	for range 2 {
		go func() { errs <- Install(ctx, dir) }()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	s, err := Start(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	listTables(t, s.Endpoint())
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	// The install is quiet: npm 11 warns about dependencies whose install scripts package.json's
	// allowScripts does not list; an up-to-date re-run shows that advisory too if it applies.
	cmd := exec.CommandContext(ctx, "npm", "install", "--no-audit", "--no-fund", "dynalite@"+Version)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil || strings.Contains(string(out), "npm warn") {
		t.Fatalf("npm install in %s: %v\n%s", dir, err, out)
	}
}

// TestSurvivesAbortedRequest sends half a request and hangs up: dynalite 4.0.0 on its own
// crashes on that (it rethrows the socket error); the launcher keeps it serving.
func TestSurvivesAbortedRequest(t *testing.T) {
	s, err := Start(context.Background(), Options{Dir: installDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	for i := 0; i < 3; i++ {
		conn, err := net.Dial("tcp", strings.TrimPrefix(s.Endpoint(), "http://"))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n"+
			"X-Amz-Target: DynamoDB_20120810.ListTables\r\nContent-Type: application/x-amz-json-1.0\r\n\r\n{\"Li")
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // reset, not a polite close
		}
		conn.Close()
	}
	listTables(t, s.Endpoint()) // still answering
}

// TestTablesActiveAtOnce checks the launcher's instant table creation, which keeps the
// integration tests fast.
func TestTablesActiveAtOnce(t *testing.T) {
	s, err := Start(context.Background(), Options{Dir: installDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	c, err := NewClient(context.Background(), s.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.CreateTable(context.Background(), &dynamodb.CreateTableInput{
		TableName:            aws.String("instant"),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("PK"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("PK"), KeyType: types.KeyTypeHash}},
	})
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String("instant")})
	if err != nil || d.Table.TableStatus != types.TableStatusActive {
		t.Fatalf("table status after create: %v (create said %v), %v", d.Table.TableStatus, out.TableDescription.TableStatus, err)
	}
}
