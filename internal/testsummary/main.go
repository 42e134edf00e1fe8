// Command testsummary reads the `go test -json` files that `make test` writes (one per run: a
// DynamoDB server, the launcher tests, each fuzz target) and prints a line per run and one
// closing line for them all:
//
//	summary: 1520 passed, 0 failed, 0 skipped
//
// It exits 1 when any test or package failed, when a test was skipped (the tests never skip: a
// missing tool fails them), or when a file holds no test at all.
//
//	go run ./internal/testsummary .local/test-results/*.json
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: testsummary RESULTS.json...")
		os.Exit(2)
	}
	os.Exit(run(os.Args[1:], os.Stdout))
}

func run(files []string, out io.Writer) int {
	var total Tally
	code := 0
	for _, f := range files {
		r, err := os.Open(f)
		if err != nil {
			fmt.Fprintln(out, err)
			code = 1
			continue
		}
		t, err := Read(r)
		r.Close()
		if err != nil {
			fmt.Fprintf(out, "%s: %v\n", f, err)
			code = 1
		}
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		fmt.Fprintf(out, "%-32s %s\n", name+":", t)
		for _, failed := range t.FailedNames {
			fmt.Fprintf(out, "  FAIL %s\n", failed)
		}
		if !t.OK() {
			code = 1
		}
		total.Add(t)
	}
	fmt.Fprintf(out, "summary: %d passed, %d failed, %d skipped\n", total.Passed, total.Failed+total.PackagesFailed, total.Skipped)
	return code
}
