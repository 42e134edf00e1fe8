// Package dynalite installs and runs dynalite, an in-memory DynamoDB API
// server written for Node.js, for local development and tests.
package dynalite

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

const (
	// Version is the dynalite npm package version that Install pins.
	Version = "4.0.0"
	// ModulePath is the Go module whose go.mod FindRepoRoot looks for.
	ModulePath = "github.com/dynamodbqueue/dynamodbqueue"
	// Region is the AWS region local clients use; dynalite ignores it.
	Region = "us-east-1"

	startTimeout = 30 * time.Second
	pollInterval = 20 * time.Millisecond
	stopTimeout  = 10 * time.Second
)

// InstallDir returns where dynalite is installed for the repository at
// repoRoot: <repoRoot>/.local/dynalite, which git ignores.
func InstallDir(repoRoot string) string {
	return filepath.Join(repoRoot, ".local", "dynalite")
}

func binPath(dir string) string { return filepath.Join(dir, "node_modules", ".bin", "dynalite") }
func cliPath(dir string) string { return filepath.Join(dir, "node_modules", "dynalite", "cli.js") }

// serverJS is the launcher that runs dynalite with instant table creation and without the
// crash on aborted requests (see server.js).
//
//go:embed server.js
var serverJS []byte

// writeLauncher puts server.js next to the installed node_modules, where it finds dynalite.
func writeLauncher(dir string) (string, error) {
	p := filepath.Join(dir, "server.js")
	if cur, err := os.ReadFile(p); err == nil && bytes.Equal(cur, serverJS) {
		return p, nil
	}
	tmp := p + ".tmp" + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(tmp, serverJS, 0o644); err != nil {
		return "", fmt.Errorf("dynalite: write launcher: %w", err)
	}
	return p, os.Rename(tmp, p)
}

// packageJSON lists in allowScripts the one dependency with an install script, which we
// reviewed: classic-level's only picks its prebuilt binary (node-gyp-build). npm 11 prints an
// "install-scripts" advisory for unlisted ones; older npm ignores the field.
// scripts/lib.sh writes the same file.
var packageJSON = []byte(`{
  "private": true,
  "allowScripts": {"classic-level": true}
}
`)

func installed(dir string) bool {
	_, err := os.Stat(binPath(dir))
	return err == nil
}

// Install runs npm to install dynalite into dir unless it is already
// there. An exclusive flock on dir/.install.lock (shared with
// scripts/dynalite.sh) keeps test binaries of several packages, which go
// test runs in parallel, from installing at the same time.
func Install(ctx context.Context, dir string) error {
	if installed(dir) {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	unlock, err := lockFile(ctx, filepath.Join(dir, ".install.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	if installed(dir) { // another process installed it while we waited
		return nil
	}
	// Without a package.json npm would install into the nearest ancestor
	// directory that has one.
	pkg := filepath.Join(dir, "package.json")
	if _, err := os.Stat(pkg); errors.Is(err, os.ErrNotExist) {
		if err := os.WriteFile(pkg, packageJSON, 0o644); err != nil {
			return err
		}
	}
	cmd := exec.CommandContext(ctx, "npm", "install", "--no-audit", "--no-fund", "dynalite@"+Version)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("npm install dynalite@%s in %s: %w\n%s", Version, dir, err, out)
	}
	if !installed(dir) {
		return fmt.Errorf("npm install succeeded but %s is missing", binPath(dir))
	}
	return nil
}

// lockFile takes an exclusive flock on path, polling so that ctx can
// cancel the wait.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil // closing releases the lock
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for lock %s: %w", path, ctx.Err())
		case <-tick.C:
		}
	}
}

// FindRepoRoot walks up from the working directory to the directory whose
// go.mod declares ModulePath. Tests run in package directories, so this
// finds the root from anywhere inside the repository.
func FindRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if modulePath(filepath.Join(dir, "go.mod")) == ModulePath {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod for module %s above the working directory", ModulePath)
		}
		dir = parent
	}
}

// modulePath returns the module path declared in a go.mod, or "".
func modulePath(gomod string) string {
	data, err := os.ReadFile(gomod)
	if err != nil {
		return ""
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module"); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}

// AWSConfig returns an aws.Config for a local endpoint: static dummy
// credentials (dynalite checks that requests are signed, not the
// signature), region us-east-1 and BaseEndpoint set, so that
// dynamodb.NewFromConfig(cfg) talks to endpoint. Nothing is read from the
// environment or ~/.aws, so a developer's real AWS setup cannot leak in.
func AWSConfig(endpoint string) aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
		BaseEndpoint: aws.String(endpoint),
	}
}

// NewClient returns a DynamoDB client for a local endpoint such as
// "http://127.0.0.1:8000"; see AWSConfig.
func NewClient(ctx context.Context, endpoint string) (*dynamodb.Client, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("invalid endpoint %q: want http://host:port", endpoint)
	}
	return dynamodb.NewFromConfig(AWSConfig(endpoint)), nil
}

// Options configure Start and StartDetached.
type Options struct {
	// Dir is the install directory (see InstallDir and Install).
	Dir string
	// Port to listen on at 127.0.0.1; 0 picks a free one.
	Port int
	// Log receives dynalite's stdout and stderr; nil discards them.
	// StartDetached ignores it and logs to a file in its state directory.
	Log io.Writer
}

// Server is a running dynalite process started by Start.
type Server struct {
	cmd      *exec.Cmd
	endpoint string
	exited   chan struct{} // closed once cmd.Wait returns
	waitErr  error         // cmd.Wait's result, valid after exited closes
	stopOnce sync.Once
	stopErr  error
}

// Endpoint returns the server's URL, e.g. "http://127.0.0.1:40123".
func (s *Server) Endpoint() string { return s.endpoint }

// PID returns the process id of the node process.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Stop terminates the server's process group and waits for it to exit.
// It is safe to call more than once.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() { s.stopErr = s.stop() })
	return s.stopErr
}

func (s *Server) stop() error {
	pid := s.PID()
	_ = syscall.Kill(-pid, syscall.SIGTERM) // the group: node is its leader
	t := time.NewTimer(stopTimeout)
	defer t.Stop()
	select {
	case <-s.exited:
		return nil // exits by our signal are expected, not errors
	case <-t.C:
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	<-s.exited
	return fmt.Errorf("dynalite pid %d ignored SIGTERM for %v; killed", pid, stopTimeout)
}

// Start runs dynalite in memory on 127.0.0.1 in its own process group and
// returns once it answers ListTables. ctx bounds only the start-up (at most
// 30s); the server runs until Stop. On Linux the server is also killed if
// the calling process dies, so a crashed test binary leaves none behind.
func Start(ctx context.Context, opts Options) (*Server, error) {
	// dynalite cannot listen on port 0 (its CLI treats 0 as "unset" and
	// uses 4567), so we pick a free port and retry if another process
	// grabs it before dynalite binds.
	var err error
	for range 3 {
		var s *Server
		s, err = start(ctx, opts, false)
		if err == nil || opts.Port != 0 || !errors.Is(err, errExited) {
			return s, err
		}
	}
	return nil, err
}

var errExited = errors.New("dynalite exited during start-up")

// start launches dynalite and waits until it is ready. detached servers
// get their own session and log to opts.Log, which must be an *os.File.
func start(ctx context.Context, opts Options, detached bool) (*Server, error) {
	if opts.Dir == "" {
		return nil, errors.New("dynalite: Options.Dir is empty")
	}
	cli := cliPath(opts.Dir)
	if _, err := os.Stat(cli); err != nil {
		return nil, fmt.Errorf("dynalite is not installed in %s (run Install or scripts/dynalite.sh install): %w", opts.Dir, err)
	}
	port := opts.Port
	if port == 0 {
		var err error
		if port, err = freePort(); err != nil {
			return nil, err
		}
	}
	launcher, err := writeLauncher(opts.Dir)
	if err != nil {
		return nil, err
	}
	// Not CommandContext: ctx is for the start-up only.
	cmd := exec.Command("node", launcher, "--host", "127.0.0.1", "--port", strconv.Itoa(port))
	tail := &tailBuffer{max: 4096}
	// The probe alone could be answered by another server that holds the
	// port, so readiness also needs dynalite's own "listening" banner.
	listening := tail.listening
	if detached {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		cmd.Stdout, cmd.Stderr = opts.Log, opts.Log
		listening = func() bool {
			out, _ := os.ReadFile(opts.Log.(*os.File).Name())
			return bytes.Contains(out, []byte(banner))
		}
	} else {
		cmd.SysProcAttr = procAttr()
		var w io.Writer = tail
		if opts.Log != nil {
			w = io.MultiWriter(opts.Log, tail)
		}
		cmd.Stdout, cmd.Stderr = w, w // the same writer: exec serialises writes
	}
	s := &Server{cmd: cmd, endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), exited: make(chan struct{})}
	// Linux sends the parent-death signal (procAttr) when the *thread* that started the child
	// exits, not the process. Start and wait on a locked thread that lives as long as the child,
	// so the Go runtime retiring an idle thread can never kill the server.
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine, after the child
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start dynalite: %w", err)
	}
	if err := waitReady(ctx, s, listening); err != nil {
		_ = s.Stop()
		if out := tail.String(); out != "" {
			err = fmt.Errorf("%w\ndynalite output:\n%s", err, out)
		}
		return nil, err
	}
	return s, nil
}

// waitReady polls until dynalite says it listens, the port accepts
// connections and ListTables succeeds, or the process exits, or the
// start-up deadline passes.
func waitReady(ctx context.Context, s *Server, listening func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	client, err := NewClient(ctx, s.endpoint)
	if err != nil {
		return err
	}
	addr := strings.TrimPrefix(s.endpoint, "http://")
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	var lastErr error
	for {
		if !listening() {
			lastErr = errors.New("no listening banner yet")
		} else if lastErr = probe(ctx, client, addr); lastErr == nil {
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("%w (%v)", errExited, s.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("dynalite at %s not ready: %w (last error: %v)", s.endpoint, ctx.Err(), lastErr)
		case <-tick.C:
		}
	}
}

func probe(ctx context.Context, client *dynamodb.Client, addr string) error {
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	conn, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return err
	}
	conn.Close()
	_, err = client.ListTables(dctx, &dynamodb.ListTablesInput{}, func(o *dynamodb.Options) {
		o.Retryer = aws.NopRetryer{} // we poll anyway
	})
	return err
}

// freePort asks the kernel for a free port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// banner is what dynalite's CLI prints once its port is bound.
const banner = "Dynalite listening at"

// tailBuffer keeps the last max bytes written, for error messages, and
// notes whether the banner went by.
type tailBuffer struct {
	mu     sync.Mutex
	max    int
	buf    []byte
	banner bool
}

func (t *tailBuffer) listening() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.banner
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	t.banner = t.banner || bytes.Contains(t.buf, []byte(banner))
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = t.buf[over:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
