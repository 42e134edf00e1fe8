package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

const stream = `{"Action":"start","Package":"p"}
{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"pass","Package":"p","Test":"TestA"}
{"Action":"run","Package":"p","Test":"TestB"}
{"Action":"run","Package":"p","Test":"TestB/sub"}
{"Action":"pass","Package":"p","Test":"TestB/sub"}
{"Action":"fail","Package":"p","Test":"TestB"}
{"Action":"skip","Package":"p","Test":"TestC"}
{"Action":"fail","Package":"p"}
{"Action":"pass","Package":"q"}
{"Action":"skip","Package":"r"}
# a build error line, not JSON
{"ImportPath":"s","Action":"build-fail"}
`

func TestReadCountsTestsSubtestsAndPackages(t *testing.T) {
	got, err := Read(strings.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	if got.Passed != 2 || got.Failed != 1 || got.Skipped != 1 {
		t.Errorf("tests: %d passed, %d failed, %d skipped; want 2, 1, 1", got.Passed, got.Failed, got.Skipped)
	}
	if got.PackagesPassed != 1 || got.PackagesFailed != 2 || got.PackagesSkipped != 1 {
		t.Errorf("packages: %d ok, %d failed, %d without tests; want 1, 2, 1", got.PackagesPassed, got.PackagesFailed, got.PackagesSkipped)
	}
	if got.OK() {
		t.Error("OK() = true for a stream with failures")
	}
}

func TestOKNeedsATestAndNoSkip(t *testing.T) {
	for _, c := range []struct {
		name string
		t    Tally
		ok   bool
	}{
		{"passed", Tally{Passed: 3, PackagesPassed: 1}, true},
		{"no test ran", Tally{PackagesSkipped: 2}, false},
		{"a skip", Tally{Passed: 3, Skipped: 1}, false},
		{"a package failed to build", Tally{Passed: 3, PackagesFailed: 1}, false},
	} {
		if c.t.OK() != c.ok {
			t.Errorf("%s: OK() = %v, want %v", c.name, !c.ok, c.ok)
		}
	}
}

func TestRunEndsOnOneSummaryLine(t *testing.T) {
	dir := t.TempDir()
	ok := dir + "/dynalite.json"
	if err := writeFile(ok, `{"Action":"pass","Package":"p","Test":"TestA"}`+"\n"+`{"Action":"pass","Package":"p"}`+"\n"); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if code := run([]string{ok}, &out); code != 0 {
		t.Fatalf("exit %d for a passing run:\n%s", code, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if last := lines[len(lines)-1]; last != "summary: 1 passed, 0 failed, 0 skipped" {
		t.Fatalf("last line %q", last)
	}
	var out2 bytes.Buffer
	if code := run([]string{ok, dir + "/missing.json"}, &out2); code != 1 {
		t.Fatalf("exit %d with a missing results file, want 1", code)
	}
}

func writeFile(name, content string) error { return os.WriteFile(name, []byte(content), 0o644) }
