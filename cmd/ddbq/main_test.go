package main

// End-to-end tests: they build the ddbq binary once (TestMain) and run it with os/exec
// against a local DynamoDB (testenv.Endpoint), checking output and exit codes. Output that
// is stable is compared with golden files in testdata/; run `go test ./cmd/ddbq -update` to
// rewrite them.

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue/internal/dynalite"
	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// bin is the ddbq binary TestMain built.
var bin string

// dynaliteDir is the repository's dynalite installation (scripts/dynalite.sh install), which
// every ddbq run gets as DDBQ_DYNALITE_DIR: `ddbq local start` then needs no npm, and works
// without a network.
var dynaliteDir string

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "ddbq-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin = filepath.Join(dir, "ddbq")
	// Not with -race even under go test -race: a race-enabled binary starts several times
	// slower, and the concurrent code of the CLI (the demo) is raced in-process by the
	// tests of internal/cli.
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building ddbq:", err)
		return 1
	}
	root, err := dynalite.FindRepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dynaliteDir = dynalite.InstallDir(root)
	// One dynalite for the whole binary unless the environment names an endpoint (as
	// testenv.Main would do, but this TestMain must also remove the binary afterwards).
	if os.Getenv(testenv.EnvEndpoint) == "" {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		inst := dynaliteDir
		if err := dynalite.Install(ctx, inst); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		logFile, err := os.Create(filepath.Join(dir, "dynalite.log"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer logFile.Close()
		srv, err := dynalite.Start(ctx, dynalite.Options{Dir: inst, Log: logFile})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer srv.Stop()
		os.Setenv(testenv.EnvEndpoint, srv.Endpoint())
		code := m.Run()
		if code != 0 {
			if out, err := os.ReadFile(logFile.Name()); err == nil {
				fmt.Fprintf(os.Stderr, "dynalite output:\n%s\n", out)
			}
		}
		return code
	}
	return m.Run()
}

// result is the outcome of one ddbq run.
type result struct {
	stdout, stderr string
	code           int
}

// cmd describes one ddbq run.
type cmd struct {
	args  []string
	env   []string // extra NAME=value entries; they win over baseEnv's
	stdin string
	dir   string // working directory; "" is the test's
}

// baseEnv is a small, hermetic environment: no AWS or DDBQ variables of the developer leak in.
func baseEnv(t *testing.T) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"DDBQ_STATE_DIR=" + t.TempDir(),
		"DDBQ_DYNALITE_DIR=" + dynaliteDir,
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// exec runs ddbq and returns its output and exit code.
func (c cmd) run(t *testing.T) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	x := exec.CommandContext(ctx, bin, c.args...)
	x.Env = append(baseEnv(t), c.env...) // os/exec keeps the last value of a name
	x.Dir = c.dir
	x.Stdin = strings.NewReader(c.stdin)
	var stdout, stderr bytes.Buffer
	x.Stdout, x.Stderr = &stdout, &stderr
	err := x.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("ddbq %s: %v", strings.Join(c.args, " "), err)
		}
		code = ee.ExitCode()
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// must runs ddbq and fails the test unless it exits with want.
func must(t *testing.T, want int, c cmd) result {
	t.Helper()
	r := c.run(t)
	if r.code != want {
		t.Fatalf("ddbq %s: exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(c.args, " "), r.code, want, r.stdout, r.stderr)
	}
	return r
}

// q returns the global flags for the test's table and a queue and client.
func q(table, queue, client string) []string {
	return []string{"--endpoint", os.Getenv(testenv.EnvEndpoint), "-t", table, "-q", queue, "-c", client}
}

// args joins flag lists.
func args(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func a(s ...string) []string { return s }

// newTable creates a table for the test and returns its name.
func newTable(t *testing.T) string {
	t.Helper()
	table := testenv.TableName(t)
	must(t, 0, cmd{args: args(q(table, "x", "y"), a("table", "create"))})
	return table
}

var (
	stateRE  = regexp.MustCompile(`\(state in [^)]*\)`)
	spacesRE = regexp.MustCompile(` {2,}`)
	uuidRE   = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	timeRE   = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z`)
)

// scrub replaces what changes from run to run: table names, the endpoint, message IDs and
// times.
func scrub(s string, tables ...string) string {
	for _, t := range tables {
		s = strings.ReplaceAll(s, t, "TABLE")
	}
	s = scrubEndpoint(s, os.Getenv(testenv.EnvEndpoint))
	s = uuidRE.ReplaceAllString(s, "MESSAGE-ID")
	return timeRE.ReplaceAllString(s, "TIME")
}

// fixedURLs are texts of ddbq holding an example URL, which scrubEndpoint leaves alone even
// when the test endpoint is that URL (DynamoDB Local's usual http://127.0.0.1:8000, say).
var fixedURLs = []string{"want a URL such as http://127.0.0.1:8000"}

// scrubEndpoint replaces the test endpoint ep in s with ENDPOINT, except inside fixedURLs.
func scrubEndpoint(s, ep string) string {
	if ep == "" {
		return s
	}
	hold := func(i int) string { return fmt.Sprintf("\x00fixed%d\x00", i) }
	for i, f := range fixedURLs {
		s = strings.ReplaceAll(s, f, hold(i))
	}
	s = strings.ReplaceAll(s, ep, "ENDPOINT")
	for i, f := range fixedURLs {
		s = strings.ReplaceAll(s, hold(i), f)
	}
	return s
}

// columns evens out the spaces between table columns, which scrub made uneven.
func columns(s string) string { return spacesRE.ReplaceAllString(s, "  ") }

// golden compares got with testdata/name.golden, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/ddbq -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s (run go test ./cmd/ddbq -update if the change is intended)\ngot:\n%s\nwant:\n%s", name, path, got, want)
	}
}

// jsonLines decodes each line of s into a map.
func jsonLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON line: %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// jsonObject decodes s as one JSON object.
func jsonObject(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("not JSON: %q: %v", s, err)
	}
	return m
}

// TestScrubEndpoint: the golden normaliser replaces the test endpoint, but not the fixed
// example URL of ddbq's messages when the endpoint is that very URL.
func TestScrubEndpoint(t *testing.T) {
	const ep = "http://127.0.0.1:8000"
	in := `ddbq: invalid endpoint "x": want a URL such as http://127.0.0.1:8000` + "\n  nothing answers at " + ep + "\n"
	want := `ddbq: invalid endpoint "x": want a URL such as http://127.0.0.1:8000` + "\n  nothing answers at ENDPOINT\n"
	if got := scrubEndpoint(in, ep); got != want {
		t.Errorf("scrubEndpoint:\n got %q\nwant %q", got, want)
	}
}
