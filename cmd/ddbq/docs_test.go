package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// docCommand is one `$ ` line of a console block in docs/CLI.md and what it should print.
type docCommand struct {
	line     int
	command  string
	exitCode int
	want     []string // expected stdout then stderr; "..." is a wildcard
}

var exitCommentRE = regexp.MustCompile(`\s+# exit (\d+)$`)

// parseDoc returns the commands of the ```console blocks of a Markdown file.
func parseDoc(t *testing.T, path string) []docCommand {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cmds []docCommand
	in := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case !in && line == "```console":
			in = true
		case !in:
		case line == "```":
			in = false
		case strings.HasPrefix(line, "$ "):
			c := docCommand{line: n, command: strings.TrimPrefix(line, "$ ")}
			if m := exitCommentRE.FindStringSubmatch(c.command); m != nil {
				c.exitCode, _ = strconv.Atoi(m[1])
			}
			cmds = append(cmds, c)
		case len(cmds) == 0:
			t.Fatalf("%s:%d: output before the first command", path, n)
		default:
			cmds[len(cmds)-1].want = append(cmds[len(cmds)-1].want, line)
		}
	}
	return cmds
}

// wantRE turns expected output lines into a regular expression: a line "..." matches any
// number of lines, "..." inside a line any text.
func wantRE(lines []string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`^`)
	for _, l := range lines {
		if l == "..." {
			b.WriteString(`(?:.*\n)*?`)
			continue
		}
		b.WriteString(strings.ReplaceAll(regexp.QuoteMeta(l), `\.\.\.`, `.*?`))
		b.WriteString(`\n`)
	}
	b.WriteString(`$`)
	return regexp.MustCompile(b.String())
}

// TestDocExamples runs the examples of docs/CLI.md with bash, in order, in an empty
// directory, with ddbq on the PATH, a private state directory for `ddbq local` and the
// repository's dynalite installation. Lines
// starting with "export" set the variables for the commands after them.
func TestDocExamples(t *testing.T) {
	t.Parallel()
	cmds := parseDoc(t, filepath.Join("..", "..", "docs", "CLI.md"))
	if len(cmds) < 20 {
		t.Fatalf("docs/CLI.md has only %d examples", len(cmds))
	}
	// An empty directory outside the repository: `ddbq local` must not depend on where it
	// runs, and dynalite comes from DDBQ_DYNALITE_DIR (baseEnv), so npm is not needed.
	dir := t.TempDir()
	env := append(baseEnv(t), "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"))
	t.Cleanup(func() {
		x := exec.Command(bin, "local", "stop")
		x.Env = env
		_ = x.Run()
	})
	envFile := filepath.Join(t.TempDir(), "env")
	env = append(env, "DOC_ENV_FILE="+envFile)
	for _, c := range cmds {
		script := c.command
		export := strings.HasPrefix(c.command, "export ")
		if export {
			// Keep the exported variables for the commands that follow.
			script += "\nenv -0 >\"$DOC_ENV_FILE\""
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		x := exec.CommandContext(ctx, "bash", "-c", "set -o pipefail\n"+script)
		x.Dir, x.Env = dir, env
		var stdout, stderr bytes.Buffer
		x.Stdout, x.Stderr = &stdout, &stderr
		err := x.Run()
		cancel()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("docs/CLI.md:%d: %s: %v", c.line, c.command, err)
		}
		got := stdout.String() + stderr.String()
		if code != c.exitCode {
			t.Fatalf("docs/CLI.md:%d: %s: exit code %d, want %d\n%s", c.line, c.command, code, c.exitCode, got)
		}
		if len(c.want) > 0 && !wantRE(c.want).MatchString(got) {
			t.Errorf("docs/CLI.md:%d: %s: output differs\ngot:\n%s\nwant:\n%s", c.line, c.command, got, strings.Join(c.want, "\n"))
		}
		if export {
			data, err := os.ReadFile(envFile)
			if err != nil {
				t.Fatal(err)
			}
			env = strings.Split(strings.TrimSuffix(string(data), "\x00"), "\x00")
		}
	}
}
