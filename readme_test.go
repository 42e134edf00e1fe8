package dynamodbqueue_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// readmePrelude is what README.md says every snippet may assume: a context, an AWS config and
// a queue. Each snippet runs in a block of its own inside this function, so it may declare
// these again.
const readmePrelude = `func snippet(ctx context.Context, cfg aws.Config, q *dynamodbqueue.DynamoDBQueue) {
	_, _, _ = ctx, cfg, q
	{
%s
	}
}
`

// readmeImports are the packages a snippet may use, by the name it uses; a snippet's file
// imports those whose name it mentions as "name.".
var readmeImports = map[string]string{
	"context":       "context",
	"errors":        "errors",
	"fmt":           "fmt",
	"log":           "log",
	"slog":          "log/slog",
	"http":          "net/http",
	"os":            "os",
	"signal":        "os/signal",
	"syscall":       "syscall",
	"time":          "time",
	"events":        "github.com/aws/aws-lambda-go/events",
	"aws":           "github.com/aws/aws-sdk-go-v2/aws",
	"awsconfig":     "github.com/aws/aws-sdk-go-v2/config",
	"credentials":   "github.com/aws/aws-sdk-go-v2/credentials",
	"dynamodb":      "github.com/aws/aws-sdk-go-v2/service/dynamodb",
	"prometheus":    "github.com/prometheus/client_golang/prometheus",
	"dynamodbqueue": "github.com/dynamodbqueue/dynamodbqueue",
	"consumer":      "github.com/dynamodbqueue/dynamodbqueue/consumer",
	"prommetrics":   "github.com/dynamodbqueue/dynamodbqueue/consumer/prommetrics",
	"sqsserver":     "github.com/dynamodbqueue/dynamodbqueue/sqsserver",
	"webui":         "github.com/dynamodbqueue/dynamodbqueue/webui",
	"sqs":           "github.com/aws/aws-sdk-go-v2/service/sqs",
	"queuemetrics":  "github.com/dynamodbqueue/dynamodbqueue/queuemetrics",
	"tracing":       "github.com/dynamodbqueue/dynamodbqueue/tracing",
}

var goSnippetRE = regexp.MustCompile("(?s)\n```go\n(.*?)\n```")

// TestREADMESnippetsCompile builds every ```go snippet of README.md as a program of its own
// (in a module that replaces this one with the working tree) and vets it, so a snippet that a
// user pastes compiles: no undefined names, no unused variables, current API.
func TestREADMESnippetsCompile(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	snippets := goSnippetRE.FindAllStringSubmatch(string(readme), -1)
	if len(snippets) < 10 {
		t.Fatalf("found %d go snippets in README.md; the pattern no longer matches", len(snippets))
	}
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	gomod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	// The module requires what this one requires, so nothing is downloaded.
	mod := strings.Replace(string(gomod), "module github.com/dynamodbqueue/dynamodbqueue",
		"module readmesnippets\n\nrequire github.com/dynamodbqueue/dynamodbqueue v0.0.0\n\nreplace github.com/dynamodbqueue/dynamodbqueue => "+root, 1)
	writeFile(t, filepath.Join(dir, "go.mod"), mod)
	gosum, err := os.ReadFile("go.sum")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "go.sum"), string(gosum))
	lines := map[string]int{} // package dir -> line of the snippet in README.md
	for i, m := range snippets {
		pkg := fmt.Sprintf("snippet%02d", i+1)
		lines[pkg] = strings.Count(string(readme)[:strings.Index(string(readme), m[0])], "\n") + 3
		writeFile(t, filepath.Join(dir, pkg, "main.go"), snippetProgram(m[1]))
	}
	cmd := exec.Command("go", "vet", "./...") // go test puts its own go first in PATH
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		report := string(out)
		for pkg, line := range lines {
			report = strings.ReplaceAll(report, pkg+"/main.go", fmt.Sprintf("README.md snippet at line %d (wrapped: %s/main.go)", line, pkg))
		}
		t.Errorf("README.md snippets do not compile: %v\n%s", err, report)
	}
}

// snippetProgram wraps a snippet into a package main with the imports it mentions.
func snippetProgram(code string) string {
	uses := map[string]bool{"context": true, "aws": true, "dynamodbqueue": true} // the prelude's
	for name := range readmeImports {
		if regexp.MustCompile(`(^|[^\w.])` + name + `\.`).MatchString(stripComments(code)) {
			uses[name] = true
		}
	}
	var imports []string
	for name := range uses {
		imports = append(imports, fmt.Sprintf("\t%s %q", name, readmeImports[name]))
	}
	slices.Sort(imports)
	return "package main\n\nimport (\n" + strings.Join(imports, "\n") + "\n)\n\nfunc main() {}\n\n" +
		fmt.Sprintf(readmePrelude, code)
}

var lineCommentRE = regexp.MustCompile(`//.*`)

func stripComments(code string) string { return lineCommentRE.ReplaceAllString(code, "") }

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
