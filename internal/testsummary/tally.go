package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
)

// event is the part of a test2json event (`go doc cmd/test2json`) that the tally needs.
type event struct {
	Action  string
	Package string
	Test    string
}

// Tally counts the outcomes in one `go test -json` stream. Subtests count like tests.
type Tally struct {
	Passed, Failed, Skipped        int
	PackagesPassed, PackagesFailed int
	PackagesSkipped                int // "no test files"
	FailedNames                    []string
}

// Read tallies a `go test -json` stream. Lines that are not JSON (a build error printed
// around the stream) are ignored; a "build-fail" event or a package-level fail counts as a
// failed package.
func Read(r io.Reader) (Tally, error) {
	var t Tally
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20) // a test's output line can be long
	for sc.Scan() {
		var e event
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.Action == "" {
			continue
		}
		t.add(e)
	}
	return t, sc.Err()
}

func (t *Tally) add(e event) {
	switch {
	case e.Action == "build-fail":
		t.PackagesFailed++
		t.FailedNames = append(t.FailedNames, e.Package+" (build failed)")
	case e.Test == "" && e.Action == "pass":
		t.PackagesPassed++
	case e.Test == "" && e.Action == "fail":
		t.PackagesFailed++
		t.FailedNames = append(t.FailedNames, e.Package)
	case e.Test == "" && e.Action == "skip":
		t.PackagesSkipped++
	case e.Action == "pass":
		t.Passed++
	case e.Action == "fail":
		t.Failed++
		t.FailedNames = append(t.FailedNames, e.Package+"."+e.Test)
	case e.Action == "skip":
		t.Skipped++
		t.FailedNames = append(t.FailedNames, e.Package+"."+e.Test+" (skipped)")
	}
}

// Add adds o's counts to t.
func (t *Tally) Add(o Tally) {
	t.Passed += o.Passed
	t.Failed += o.Failed
	t.Skipped += o.Skipped
	t.PackagesPassed += o.PackagesPassed
	t.PackagesFailed += o.PackagesFailed
	t.PackagesSkipped += o.PackagesSkipped
}

// OK reports whether the stream ran at least one test and nothing failed or skipped.
func (t Tally) OK() bool {
	return t.Passed > 0 && t.Failed == 0 && t.Skipped == 0 && t.PackagesFailed == 0
}

func (t Tally) String() string {
	return fmt.Sprintf("%d passed, %d failed, %d skipped in %d packages (%d ok, %d failed, %d without tests)",
		t.Passed, t.Failed, t.Skipped, t.PackagesPassed+t.PackagesFailed, t.PackagesPassed, t.PackagesFailed, t.PackagesSkipped)
}
