package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
)

// TestHelp pins the help text of every command.
func TestHelp(t *testing.T) {
	t.Parallel()
	for _, c := range [][]string{
		{}, {"table"}, {"table", "create"}, {"table", "drop"}, {"table", "describe"},
		{"queues"}, {"queue"}, {"queue", "create"}, {"queue", "get"}, {"queue", "update"}, {"queue", "delete"}, {"queue", "list"},
		{"push"}, {"receive"}, {"delete"}, {"peek"}, {"stats"}, {"purge"},
		{"visibility"}, {"visibility", "change"}, {"visibility", "release"},
		{"dlq"}, {"dlq", "list"}, {"dlq", "redrive"}, {"iam-policy"}, {"bench"},
		{"local"}, {"local", "start"}, {"local", "stop"}, {"local", "status"}, {"demo"}, {"version"},
		{"exporter"}, {"ui"},
	} {
		name := "help-" + strings.Join(append([]string{"ddbq"}, c...), "-")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := must(t, 0, cmd{args: append(c, "--help")})
			golden(t, name, r.stdout)
		})
	}
}

// TestTable covers table create, describe and drop, with their exit codes.
func TestTable(t *testing.T) {
	t.Parallel()
	table := testenv.TableName(t)
	g := args(q(table, "orders", "acme"))

	r := must(t, 3, cmd{args: args(g, a("table", "describe"))})
	golden(t, "table-describe-missing.stderr", scrub(r.stderr, table))

	r = must(t, 0, cmd{args: args(g, a("table", "create"))})
	if r.stdout != "created table "+table+"\n" {
		t.Errorf("create: %q", r.stdout)
	}
	r = must(t, 0, cmd{args: args(g, a("table", "create", "--json"))})
	if o := jsonObject(t, r.stdout); o["created"] != false || o["table"] != table {
		t.Errorf("second create: %v", o)
	}

	r = must(t, 0, cmd{args: args(g, a("table", "describe"))})
	// The time-to-live line follows the endpoint: DynamoDB Local (like AWS) enables TTL,
	// dynalite has no TTL API.
	describeGolden := "table-describe"
	if testenv.SupportsTTL(t) {
		describeGolden = "table-describe-ttl"
	}
	golden(t, describeGolden, scrub(r.stdout, table))
	r = must(t, 0, cmd{args: args(g, a("table", "describe", "--json"))})
	if o := jsonObject(t, r.stdout); o["status"] != "ACTIVE" || o["readyIndex"] != true {
		t.Errorf("describe --json: %v", o)
	}

	// --verbose shows the whole error chain, with the DynamoDB exception.
	r = must(t, 3, cmd{args: args(g, a("table", "describe", "-t", "no-such-table", "--verbose"))})
	if !strings.Contains(r.stderr, "ResourceNotFoundException") || !strings.Contains(r.stderr, "dynamodbqueue: DescribeTable") {
		t.Errorf("--verbose error: %s", r.stderr)
	}

	r = must(t, 2, cmd{args: args(g, a("table", "drop"))})
	golden(t, "table-drop-no-yes.stderr", r.stderr)
	must(t, 0, cmd{args: args(g, a("table", "drop", "--yes"))})
	must(t, 3, cmd{args: args(g, a("table", "drop", "--yes"))})
	r = must(t, 3, cmd{args: args(g, a("push", "x"))})
	if !strings.Contains(r.stderr, "create it with: ddbq table create -t "+table) {
		t.Errorf("push to a missing table: %s", r.stderr)
	}
}

// TestPushReceiveDelete pushes from arguments, stdin and files and reads the messages back.
func TestPushReceiveDelete(t *testing.T) {
	t.Parallel()
	table := newTable(t)
	g := q(table, "orders", "acme")

	r := must(t, 0, cmd{args: args(g, a("push", "one", "two"))})
	if r.stdout != "pushed 2 messages\n" {
		t.Errorf("push: %q", r.stdout)
	}
	r = must(t, 0, cmd{args: args(g, a("push", "--json", "--attr", "priority=Number:5", "--attr", "kind=order", "three"))})
	if o := jsonObject(t, r.stdout); o["stored"] != 1.0 || o["duplicates"] != 0.0 || len(o["messageIds"].([]any)) != 1 {
		t.Errorf("push --json: %v", o)
	}
	// JSON lines on stdin, including a message as receive prints it.
	stdin := `{"body":"four"}` + "\n" +
		`{"body":{"n":5},"messageAttributes":{"a":{"dataType":"String","stringValue":"x"}}}` + "\n" +
		`{"messageId":"old","receiptHandle":"old","body":"six","attributes":{"ApproximateReceiveCount":"3","SentTimestamp":"1"}}` + "\n"
	must(t, 0, cmd{args: args(g, a("push")), stdin: stdin})
	// Files: plain lines, JSON lines, a JSON array.
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	must(t, 0, cmd{args: args(g, a("push", "--file", write("bodies.txt", "seven\r\n\neight\n")))})
	must(t, 0, cmd{args: args(g, a("push", "--file", write("m.jsonl", `{"body":"nine"}`+"\n")))})
	must(t, 0, cmd{args: args(g, a("push", "--file", write("m.json", `[{"body":"ten"}, {"body":"eleven"}]`)))})
	// --raw: plain lines on stdin.
	must(t, 0, cmd{args: args(g, a("push", "--raw")), stdin: "twelve\n{not json}\n"})

	r = must(t, 0, cmd{args: args(g, a("stats", "--json"))})
	if o := jsonObject(t, r.stdout); o["count"] != 13.0 || o["visible"] != 13.0 {
		t.Errorf("stats after pushes: %v", o)
	}

	r = must(t, 0, cmd{args: args(g, a("receive", "--max", "20", "--visibility", "1m"))})
	msgs := jsonLines(t, r.stdout)
	var bodies []string
	for _, m := range msgs {
		bodies = append(bodies, m["body"].(string))
		if m["receiptHandle"] == "" {
			t.Errorf("no receipt handle: %v", m)
		}
		attrs := m["attributes"].(map[string]any)
		if attrs["ApproximateReceiveCount"] != "1" {
			t.Errorf("%v: receive count %v", m["body"], attrs["ApproximateReceiveCount"])
		}
		switch m["body"] {
		case "three":
			ma := m["messageAttributes"].(map[string]any)
			if p := ma["priority"].(map[string]any); p["dataType"] != "Number" || p["stringValue"] != "5" {
				t.Errorf("attribute priority: %v", p)
			}
			if k := ma["kind"].(map[string]any); k["dataType"] != "String" || k["stringValue"] != "order" {
				t.Errorf("attribute kind: %v", k)
			}
		case "six":
			if m["messageId"] == "old" {
				t.Errorf("a re-pushed message kept its old ID")
			}
		}
	}
	want := "one two three four {\"n\":5} six seven eight nine ten eleven twelve {not json}"
	if got := strings.Join(bodies, " "); got != want {
		t.Errorf("bodies in order:\n got %s\nwant %s", got, want)
	}

	// Delete reads receive's output on stdin.
	r = must(t, 0, cmd{args: args(g, a("delete")), stdin: r.stdout})
	if r.stdout != "deleted 13 messages\n" {
		t.Errorf("delete: %q", r.stdout)
	}
	r = must(t, 0, cmd{args: args(g, a("stats", "--json"))})
	if o := jsonObject(t, r.stdout); o["count"] != 0.0 {
		t.Errorf("stats after delete: %v", o)
	}
	// Nothing left: receive prints nothing and says so on stderr; with --exit-empty it
	// exits with 5, so a script can tell.
	r = must(t, 0, cmd{args: args(g, a("receive"))})
	if r.stdout != "" || r.stderr != "no messages\n" {
		t.Errorf("receive on empty queue: %q %q", r.stdout, r.stderr)
	}
	r = must(t, 5, cmd{args: args(g, a("receive", "--exit-empty"))})
	if r.stdout != "" || r.stderr != "no messages\n" {
		t.Errorf("receive --exit-empty on empty queue: %q %q", r.stdout, r.stderr)
	}
	r = must(t, 5, cmd{args: args(g, a("receive", "--exit-empty", "--json"))})
	if r.stdout != "" || r.stderr != "" {
		t.Errorf("receive --exit-empty --json on empty queue: %q %q", r.stdout, r.stderr)
	}
	// --delete, --wait; --exit-empty changes nothing when a message comes.
	must(t, 0, cmd{args: args(g, a("push", "last"))})
	r = must(t, 0, cmd{args: args(g, a("receive", "--delete", "--wait", "1s", "--exit-empty"))})
	if ms := jsonLines(t, r.stdout); len(ms) != 1 || ms[0]["body"] != "last" || r.stderr != "deleted 1 message\n" {
		t.Errorf("receive --delete: %q %q", r.stdout, r.stderr)
	}
	r = must(t, 0, cmd{args: args(g, a("stats", "--json"))})
	if o := jsonObject(t, r.stdout); o["count"] != 0.0 {
		t.Errorf("stats after receive --delete: %v", o)
	}
}

// TestPushOptions covers groups, deduplication, delays and invalid input.
func TestPushOptions(t *testing.T) {
	t.Parallel()
	table := newTable(t)
	g := q(table, "orders", "acme")

	must(t, 0, cmd{args: args(g, a("push", "--group", "g1", "a", "b"))})
	r := must(t, 0, cmd{args: args(g, a("push", "--dedup-id", "d1", "c"))})
	first := uuidRE.FindString(r.stdout)
	r = must(t, 0, cmd{args: args(g, a("push", "--dedup-id", "d1", "c again"))})
	if !strings.Contains(r.stdout, first) || !strings.Contains(r.stdout, "duplicate") {
		t.Errorf("deduplicated push: %q, first ID %s", r.stdout, first)
	}
	must(t, 0, cmd{args: args(g, a("push", "--delay", "1m", "--ttl", "1h", "later"))})
	// Duplicates are counted apart from the stored messages, in --json and in text.
	r = must(t, 0, cmd{args: args(q(table, "dedup", "acme"), a("push", "--content-dedup", "--json", "same", "same", "other"))})
	if o := jsonObject(t, r.stdout); o["stored"] != 2.0 || o["duplicates"] != 1.0 || o["failed"] != 0.0 || len(o["messageIds"].([]any)) != 3 {
		t.Errorf("push --content-dedup --json: %v", o)
	}
	r = must(t, 0, cmd{args: args(q(table, "dedup2", "acme"), a("push", "--content-dedup", "a", "b", "c", "d", "e", "a"))})
	if r.stdout != "pushed 5 messages; 1 duplicate was not stored again (within the deduplication window)\n" {
		t.Errorf("push of 5 messages and 1 duplicate: %q", r.stdout)
	}
	r = must(t, 0, cmd{args: args(q(table, "dedup2", "acme"), a("push", "--content-dedup", "a", "b", "f"))})
	if r.stdout != "pushed 1 message; 2 duplicates were not stored again (within the deduplication window)\n" {
		t.Errorf("push of 1 message and 2 duplicates: %q", r.stdout)
	}
	r = must(t, 0, cmd{args: args(q(table, "dedup2", "acme"), a("stats", "--json"))})
	if o := jsonObject(t, r.stdout); o["count"] != 6.0 {
		t.Errorf("stored after the duplicates: %v, want 6", o["count"])
	}
	r = must(t, 0, cmd{args: args(g, a("stats"))})
	golden(t, "stats-push-options", r.stdout)

	// The group gives one message at a time.
	r = must(t, 0, cmd{args: args(g, a("receive", "--max", "10"))})
	var bodies []string
	for _, m := range jsonLines(t, r.stdout) {
		bodies = append(bodies, m["body"].(string))
	}
	if got := strings.Join(bodies, ","); got != "a,c" {
		t.Errorf("received %s, want a,c (b waits for a: same group)", got)
	}

	for _, bad := range []struct {
		name string
		c    cmd
	}{
		{"dedup-many", cmd{args: args(g, a("push", "--dedup-id", "d", "x", "y"))}},
		{"attr", cmd{args: args(g, a("push", "--attr", "n=Float:1", "x"))}},
		{"attr-binary", cmd{args: args(g, a("push", "--attr", "b=Binary:***", "x"))}},
		{"delay", cmd{args: args(g, a("push", "--delay", "1h", "x"))}},
		{"empty", cmd{args: args(g, a("push"))}},
		{"json", cmd{args: args(g, a("push")), stdin: "{\"body\":\"ok\"}\n{\"body\": oops}\n"}},
		{"no-body", cmd{args: args(g, a("push")), stdin: "{\"body\":\"ok\"}\n\n{\"group\":\"g\"}\n"}},
		{"bad-char", cmd{args: args(g, a("push", "bad \x01 char"))}},
		{"name", cmd{args: args(q(table, "bad name", "acme"), a("push", "x"))}},
		{"name-non-ascii", cmd{args: args(q(table, "ördérs", "acme"), a("push", "x"))}},
		{"plain-text", cmd{args: args(g, a("push")), stdin: "hello\n"}},
	} {
		r := must(t, 2, bad.c)
		golden(t, "push-invalid-"+bad.name+".stderr", scrub(r.stderr, table))
	}
	// Invalid input pushed nothing.
	r = must(t, 0, cmd{args: args(g, a("stats", "--json"))})
	if o := jsonObject(t, r.stdout); o["count"] != 4.0 {
		t.Errorf("stats after invalid pushes: %v", o)
	}
}

// TestProgress shows the push progress bar with --progress.
func TestProgress(t *testing.T) {
	t.Parallel()
	table := newTable(t)
	var b strings.Builder
	for i := range 600 {
		fmt.Fprintf(&b, "message %d\n", i)
	}
	file := filepath.Join(t.TempDir(), "bodies.txt")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	g := q(table, "bulk", "acme")
	r := must(t, 0, cmd{args: args(g, a("push", "--file", file, "--progress"))})
	if r.stdout != "pushed 600 messages\n" || !strings.Contains(r.stderr, "pushing") || !strings.Contains(r.stderr, "600/600") {
		t.Errorf("push --progress:\nstdout %q\nstderr %q", r.stdout, r.stderr)
	}
	// Without a terminal and without --progress, no bar.
	r = must(t, 0, cmd{args: args(g, a("push", "--file", file))})
	if r.stderr != "" {
		t.Errorf("push without --progress wrote to stderr: %q", r.stderr)
	}
}

// TestStats pins the stats table for a known state: visible, in flight, delayed, grouped and
// dead-lettered messages, for one pair and for --all.
func TestStats(t *testing.T) {
	t.Parallel()
	table := newTable(t)
	g := q(table, "orders", "acme")
	must(t, 0, cmd{args: args(g, a("push", "p1", "p2", "p3"))})
	must(t, 0, cmd{args: args(g, a("push", "--delay", "5m", "delayed"))})
	must(t, 0, cmd{args: args(g, a("push", "--group", "g1", "g1-a", "g1-b"))})
	must(t, 0, cmd{args: args(g, a("receive", "--visibility", "1h"))}) // p1 in flight
	// One dead letter: received once, released, then received past --max-receives 1.
	must(t, 0, cmd{args: args(q(table, "emails", "acme"), a("push", "poison"))})
	r := must(t, 0, cmd{args: args(q(table, "emails", "acme"), a("receive", "--max-receives", "1"))})
	must(t, 0, cmd{args: args(q(table, "emails", "acme"), a("visibility", "release")), stdin: r.stdout})
	must(t, 0, cmd{args: args(q(table, "emails", "acme"), a("receive", "--max-receives", "1"))})
	must(t, 0, cmd{args: args(q(table, "emails", "globex"), a("push", "hello"))})

	r = must(t, 0, cmd{args: args(g, a("stats"))})
	golden(t, "stats", r.stdout)
	r = must(t, 0, cmd{args: args(g, a("stats", "--all"))})
	golden(t, "stats-all", r.stdout)
	r = must(t, 0, cmd{args: args(g, a("stats", "--all", "--json"))})
	golden(t, "stats-all-json", r.stdout)
	r = must(t, 0, cmd{args: args(g, a("queues"))})
	golden(t, "queues", r.stdout)
	r = must(t, 0, cmd{args: args(g, a("queues", "--json"))})
	golden(t, "queues-json", r.stdout)
}

// TestPeek shows messages without claiming them.
func TestPeek(t *testing.T) {
	t.Parallel()
	table := newTable(t)
	g := q(table, "orders", "acme")
	r := must(t, 0, cmd{args: args(g, a("peek"))})
	if r.stdout != "no messages\n" {
		t.Errorf("peek on empty queue: %q", r.stdout)
	}
	must(t, 0, cmd{args: args(g, a("push", "first", "second\nline", strings.Repeat("long ", 20)))})
	must(t, 0, cmd{args: args(g, a("push", "--group", "g", "grouped"))})
	r = must(t, 0, cmd{args: args(g, a("peek"))})
	golden(t, "peek", columns(scrub(r.stdout)))
	r = must(t, 0, cmd{args: args(g, a("peek", "--json", "--max", "2"))})
	ms := jsonLines(t, r.stdout)
	if len(ms) != 2 || ms[0]["body"] != "first" || ms[0]["receiptHandle"] != "" {
		t.Errorf("peek --json: %v", ms)
	}
	// Still all visible.
	r = must(t, 0, cmd{args: args(g, a("stats", "--json"))})
	if o := jsonObject(t, r.stdout); o["visible"] != 4.0 {
		t.Errorf("stats after peek: %v", o)
	}
	r = must(t, 2, cmd{args: args(g, a("peek", "--max", "0"))})
	golden(t, "peek-max-0.stderr", r.stderr)
	r = must(t, 2, cmd{args: args(g, a("dlq", "list", "--max", "0"))})
	golden(t, "peek-max-0.stderr", r.stderr) // the same check and message for every --max
}

// TestVisibility changes visibility timeouts, releases messages and checks stale and invalid
// handles (exit codes 4 and 2).
func TestVisibility(t *testing.T) {
	t.Parallel()
	table := newTable(t)
	g := q(table, "orders", "acme")
	must(t, 0, cmd{args: args(g, a("push", "m1", "m2"))})
	r := must(t, 0, cmd{args: args(g, a("receive", "--max", "2", "--visibility", "1h"))})
	ms := jsonLines(t, r.stdout)
	h1, h2 := ms[0]["receiptHandle"].(string), ms[1]["receiptHandle"].(string)

	r = must(t, 0, cmd{args: args(g, a("visibility", "change", "--timeout", "2h", h1, h2))})
	if r.stdout != "changed the visibility of 2 messages\n" {
		t.Errorf("change: %q", r.stdout)
	}
	r = must(t, 0, cmd{args: args(g, a("visibility", "release", "--json", h1))})
	if o := jsonObject(t, r.stdout); o["released"] != 1.0 {
		t.Errorf("release --json: %v", o)
	}
	// m1 is received again: h1 is stale now.
	r = must(t, 0, cmd{args: args(g, a("receive", "--visibility", "1h"))})
	h3 := jsonLines(t, r.stdout)[0]["receiptHandle"].(string)
	r = must(t, 4, cmd{args: args(g, a("delete", h1, h2))})
	if r.stdout != "deleted 1 message\n" || !strings.Contains(r.stderr, "stale") || !strings.Contains(r.stderr, "1 of 2 receipt handles failed") {
		t.Errorf("partial delete:\nstdout %q\nstderr %q", r.stdout, r.stderr)
	}
	r = must(t, 4, cmd{args: args(g, a("visibility", "change", "--timeout", "1m", "--json", h1, h3))})
	if o := jsonObject(t, r.stdout); o["changed"] != 1.0 || len(o["failed"].([]any)) != 1 {
		t.Errorf("partial change --json: %v", o)
	}
	// Malformed handles: usage error, nothing sent.
	r = must(t, 2, cmd{args: args(g, a("delete", "not-a-handle"))})
	golden(t, "delete-invalid.stderr", r.stderr)
	// A handle of another client.
	r = must(t, 2, cmd{args: args(q(table, "orders", "globex"), a("delete", h3))})
	if !strings.Contains(r.stderr, "another table, queue or client") {
		t.Errorf("foreign handle: %s", r.stderr)
	}
	must(t, 2, cmd{args: args(g, a("visibility", "change", "--timeout", "13h", h3))})
	r = must(t, 2, cmd{args: args(g, a("visibility", "change", h3))})
	golden(t, "visibility-no-timeout.stderr", r.stderr)
	must(t, 2, cmd{args: args(g, a("delete"))})
	must(t, 0, cmd{args: args(g, a("delete")), stdin: h3 + "\n"})
}

// TestDLQ dead-letters a message with receive --max-receives, lists and redrives it.
func TestDLQ(t *testing.T) {
	t.Parallel()
	table := newTable(t)
	g := q(table, "orders", "acme")
	r := must(t, 0, cmd{args: args(g, a("dlq", "list"))})
	if r.stdout != "no messages\n" {
		t.Errorf("empty dlq list: %q", r.stdout)
	}
	must(t, 0, cmd{args: args(g, a("push", "poison"))})
	r = must(t, 0, cmd{args: args(g, a("receive", "--max-receives", "1"))})
	must(t, 0, cmd{args: args(g, a("visibility", "release")), stdin: r.stdout})
	r = must(t, 0, cmd{args: args(g, a("receive", "--max-receives", "1"))})
	if r.stdout != "" || !strings.Contains(r.stderr, "moved to dead-letter queue") {
		t.Errorf("receive past --max-receives: %q %q", r.stdout, r.stderr)
	}
	r = must(t, 0, cmd{args: args(g, a("dlq", "list"))})
	golden(t, "dlq-list", columns(scrub(r.stdout)))
	r = must(t, 0, cmd{args: args(g, a("dlq", "list", "--json"))})
	ms := jsonLines(t, r.stdout)
	if len(ms) != 1 || ms[0]["attributes"].(map[string]any)["DeadLetterSourceQueue"] != "orders|acme|0" {
		t.Errorf("dlq list --json: %v", ms)
	}
	// The same list, naming the dead-letter pair explicitly.
	r = must(t, 0, cmd{args: args(q(table, "other", "x"), a("dlq", "list", "--json", "--dlq-queue", "orders-dlq", "--dlq-client", "acme"))})
	if len(jsonLines(t, r.stdout)) != 1 {
		t.Errorf("dlq list --dlq-queue: %q", r.stdout)
	}
	r = must(t, 0, cmd{args: args(g, a("dlq", "redrive"))})
	if r.stdout != "moved 1 message back to queue orders, client acme\n" {
		t.Errorf("redrive: %q", r.stdout)
	}
	r = must(t, 0, cmd{args: args(g, a("dlq", "redrive", "--json", "--max", "5"))})
	if o := jsonObject(t, r.stdout); o["moved"] != 0.0 {
		t.Errorf("second redrive: %v", o)
	}
	r = must(t, 0, cmd{args: args(g, a("receive"))})
	m := jsonLines(t, r.stdout)[0]
	if m["body"] != "poison" || m["attributes"].(map[string]any)["ApproximateReceiveCount"] != "1" {
		t.Errorf("redriven message: %v", m)
	}
	must(t, 2, cmd{args: args(g, a("dlq", "redrive", "--max", "-1"))})
	must(t, 2, cmd{args: args(g, a("dlq", "nope"))})
}

// TestPurge deletes a pair's messages and the whole table, with --yes only.
func TestPurge(t *testing.T) {
	t.Parallel()
	table := newTable(t)
	g := q(table, "orders", "acme")
	must(t, 0, cmd{args: args(g, a("push", "a", "b"))})
	must(t, 0, cmd{args: args(q(table, "orders", "globex"), a("push", "c"))})
	r := must(t, 2, cmd{args: args(g, a("purge"))})
	golden(t, "purge-no-yes.stderr", r.stderr)
	r = must(t, 2, cmd{args: args(g, a("purge", "--all"))})
	golden(t, "purge-all-no-yes.stderr", r.stderr)

	r = must(t, 0, cmd{args: args(g, a("purge", "--yes"))})
	golden(t, "purge", scrub(r.stdout, table))
	r = must(t, 0, cmd{args: args(g, a("stats", "--all", "--json"))})
	if ls := jsonLines(t, r.stdout); len(ls) != 2 || ls[0]["count"] != 0.0 || ls[1]["count"] != 1.0 {
		t.Errorf("stats after purge: %v", ls)
	}
	r = must(t, 0, cmd{args: args(g, a("purge", "--all", "--yes", "--json"))})
	if o := jsonObject(t, r.stdout); o["purged"] != "all" {
		t.Errorf("purge --all --json: %v", o)
	}
	r = must(t, 0, cmd{args: args(g, a("queues"))})
	if r.stdout != "no queues in table "+table+"\n" {
		t.Errorf("queues after purge --all: %q", r.stdout)
	}
}

// TestIAMPolicy pins the policy documents.
func TestIAMPolicy(t *testing.T) {
	t.Parallel()
	const arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/queues"
	r := must(t, 0, cmd{args: a("iam-policy", "-q", "orders", "-c", "acme", "--table-arn", arn)})
	golden(t, "iam-policy.json", r.stdout)
	r = must(t, 0, cmd{args: a("iam-policy", "-q", "orders", "-c", "acme", "--table-arn", arn, "--read-only")})
	golden(t, "iam-policy-read-only.json", r.stdout)
	// --dlq grants the dead-letter pair that receive --max-receives moves to; --dlq-table puts
	// it in a statement for that table.
	r = must(t, 0, cmd{args: a("iam-policy", "-q", "orders", "-c", "acme", "--table-arn", arn, "--dlq")})
	if !strings.Contains(r.stdout, `"orders-dlq|acme|*"`) {
		t.Errorf("iam-policy --dlq does not grant orders-dlq|acme|:\n%s", r.stdout)
	}
	r = must(t, 0, cmd{args: a("iam-policy", "-q", "orders", "-c", "acme", "--table-arn", arn, "--dlq-table", "dead")})
	if !strings.Contains(r.stdout, `table/dead/index/vis`) || !strings.Contains(r.stdout, `"orders-dlq|acme|*"`) {
		t.Errorf("iam-policy --dlq-table dead does not grant the pair in table dead:\n%s", r.stdout)
	}
	r = must(t, 0, cmd{args: a("iam-policy", "-t", "queues", "--region", "eu-west-1", "-q", "orders", "-c", "acme")})
	if !strings.Contains(r.stdout, `"arn:aws:dynamodb:eu-west-1:*:table/queues"`) || !strings.Contains(r.stderr, "no --table-arn") {
		t.Errorf("iam-policy without --table-arn:\n%s\n%s", r.stdout, r.stderr)
	}
	r = must(t, 2, cmd{args: a("iam-policy", "-q", "orders", "--table-arn", arn)})
	golden(t, "iam-policy-no-client.stderr", r.stderr)
	must(t, 2, cmd{args: a("iam-policy", "-q", "orders", "-c", "acme")})
}

// TestErrors pins the messages and exit codes of common mistakes.
func TestErrors(t *testing.T) {
	t.Parallel()
	ep := os.Getenv(testenv.EnvEndpoint)
	for _, c := range []struct {
		name string
		code int
		args []string
	}{
		{"no-table", 2, a("--endpoint", ep, "stats")},
		{"no-queue", 2, a("--endpoint", ep, "-t", "tbl", "stats")},
		{"no-client", 2, a("--endpoint", ep, "-t", "tbl", "-q", "orders", "stats")},
		{"bad-table-name", 2, a("--endpoint", ep, "-t", "a b", "-q", "orders", "-c", "x", "stats")},
		{"unknown-command", 2, a("nope")},
		{"unknown-subcommand", 2, a("table", "nope")},
		{"unknown-flag", 2, a("stats", "--nope")},
		{"bad-duration", 2, a("receive", "--wait", "soon")},
		{"extra-args", 2, a("stats", "x")},
		{"extra-args-receive", 2, a("receive", "extra-arg")},
		{"bad-endpoint", 2, a("--endpoint", "localhost:8000", "-t", "tbl", "-q", "q", "-c", "c", "stats")},
		{"local-and-endpoint", 2, a("--local", "--endpoint", ep, "stats")},
		{"no-region", 2, a("-t", "tbl", "-q", "orders", "-c", "acme", "stats")},
		{"local-not-running", 3, a("--local", "-t", "tbl", "-q", "orders", "-c", "acme", "stats")},
		{"bad-shards", 2, a("--shards", "0", "-t", "tbl", "-q", "orders", "-c", "acme", "stats")},
		{"bad-profile", 2, a("--endpoint", ep, "--profile", "nope", "-t", "tbl", "-q", "orders", "-c", "acme", "stats")},
		{"table-not-found", 3, a("--endpoint", ep, "-t", "no-such-table", "-q", "orders", "-c", "acme", "stats")},
		{"receive-max", 2, a("--endpoint", ep, "-t", "no-such-table", "-q", "orders", "-c", "acme", "receive", "--max", "5000")},
		{"receive-max-0", 2, a("--endpoint", ep, "-t", "no-such-table", "-q", "orders", "-c", "acme", "receive", "--max", "0")},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := must(t, c.code, cmd{args: c.args})
			stderr := stateRE.ReplaceAllString(r.stderr, "(state in STATE_DIR)")
			golden(t, "error-"+c.name+".stderr", scrub(stderr))
		})
	}
}

// TestConnectionRefused: a runtime error (exit code 1) with a hint.
func TestConnectionRefused(t *testing.T) {
	t.Parallel()
	r := must(t, 1, cmd{args: a("--endpoint", "http://127.0.0.1:9", "-t", "tbl", "-q", "orders", "-c", "acme", "stats")})
	if !strings.Contains(r.stderr, "connection refused") || !strings.Contains(r.stderr, "nothing answers at http://127.0.0.1:9") {
		t.Errorf("stderr: %s", r.stderr)
	}
}

// TestEnvironment: flags can come from DDBQ_* variables and DYNAMODBQUEUE_ENDPOINT; flags win.
func TestEnvironment(t *testing.T) {
	t.Parallel()
	table := newTable(t)
	env := []string{"DDBQ_TABLE=" + table, "DDBQ_QUEUE=orders", "DDBQ_CLIENT=acme", "DYNAMODBQUEUE_ENDPOINT=" + os.Getenv(testenv.EnvEndpoint)}
	must(t, 0, cmd{args: a("push", "from-env"), env: env})
	must(t, 0, cmd{args: a("push", "-c", "globex", "flag-wins"), env: env})
	r := must(t, 0, cmd{args: a("peek", "--json"), env: append(env, "DDBQ_ENDPOINT="+os.Getenv(testenv.EnvEndpoint))})
	if ms := jsonLines(t, r.stdout); len(ms) != 1 || ms[0]["body"] != "from-env" {
		t.Errorf("peek with environment: %v", ms)
	}
	r = must(t, 0, cmd{args: a("peek", "--json", "-c", "globex"), env: env})
	if ms := jsonLines(t, r.stdout); len(ms) != 1 || ms[0]["body"] != "flag-wins" {
		t.Errorf("peek -c globex: %v", ms)
	}
	// DDBQ_ENDPOINT comes before DYNAMODBQUEUE_ENDPOINT.
	must(t, 1, cmd{args: a("peek"), env: append(env, "DDBQ_ENDPOINT=http://127.0.0.1:9")})
	must(t, 2, cmd{args: a("peek"), env: append(env, "DDBQ_SHARDS=x")})
	// The signing key must match between receive and delete.
	keyed := append(env, "DDBQ_SIGNING_KEY=secret")
	r = must(t, 0, cmd{args: a("receive"), env: keyed})
	must(t, 2, cmd{args: a("delete"), env: env, stdin: r.stdout})
	must(t, 0, cmd{args: a("delete"), env: keyed, stdin: r.stdout})
}

// TestLocal starts, uses and stops the local dynalite, each command run from another
// directory: there is one per user, its state in the user cache directory
// ($HOME/.cache/ddbq here), found from anywhere.
func TestLocal(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	stateDir := filepath.Join(home, ".cache", "ddbq")
	env := []string{"HOME=" + home, "DDBQ_STATE_DIR="} // no DDBQ_STATE_DIR: the default
	var dirs []string
	for range 4 {
		dirs = append(dirs, t.TempDir())
	}
	in := func(dir int, args ...string) cmd { return cmd{args: args, env: env, dir: dirs[dir]} }
	t.Cleanup(func() { in(0, "local", "stop").run(t) })
	r := must(t, 3, in(0, "local", "status"))
	if r.stdout != "not running\n" || r.stderr != "" {
		t.Errorf("status: %q %q", r.stdout, r.stderr)
	}
	r = must(t, 0, in(0, "local", "start"))
	ep := strings.TrimSpace(r.stdout)
	if !strings.HasPrefix(ep, "http://127.0.0.1:") || !strings.Contains(r.stderr, "started dynalite") {
		t.Fatalf("start: %q %q", r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(stateDir, "dynalite.pid")); err != nil {
		t.Errorf("no pid file in the per-user state directory: %v", err)
	}
	r = must(t, 0, in(1, "local", "start", "--json"))
	if o := jsonObject(t, r.stdout); o["endpoint"] != ep || o["started"] != false || o["stateDir"] != stateDir {
		t.Errorf("second start, from another directory: %v", o)
	}
	r = must(t, 0, in(2, "local", "status"))
	if !strings.HasPrefix(r.stdout, "running (pid ") || !strings.HasSuffix(r.stdout, " at "+ep+"\n") {
		t.Errorf("status from another directory: %q", r.stdout)
	}
	table := testenv.TableName(t)
	g := a("--local", "-t", table, "-q", "orders", "-c", "acme")
	must(t, 0, in(1, args(g, a("table", "create"))...))
	must(t, 0, in(2, args(g, a("push", "hi"))...))
	r = must(t, 0, in(3, args(g, a("peek", "--json"))...))
	if len(jsonLines(t, r.stdout)) != 1 {
		t.Errorf("peek on the local dynalite: %q", r.stdout)
	}
	r = must(t, 0, in(3, "local", "stop"))
	if !strings.HasPrefix(r.stdout, "stopped dynalite (pid ") {
		t.Errorf("stop from another directory: %q", r.stdout)
	}
	r = must(t, 3, in(0, "local", "status", "--json"))
	if o := jsonObject(t, r.stdout); o["running"] != false {
		t.Errorf("status --json after stop: %v", o)
	}
	r = must(t, 0, in(1, "local", "stop"))
	if r.stdout != "dynalite not running\n" {
		t.Errorf("second stop: %q", r.stdout)
	}
	must(t, 3, in(2, args(g, a("peek"))...))
}

// TestLargeBody: a body of 1,000,000 '<' goes through push, receive and delete. receive does
// not HTML-escape it (one byte per '<', not six), and delete reads the long line, so nothing
// stays in flight. A 2 MiB body is the library's size error (exit 2), not a scanner error.
func TestLargeBody(t *testing.T) {
	t.Parallel()
	table := newTable(t)
	g := q(table, "big", "acme")
	body := strings.Repeat("<", 1_000_000)
	must(t, 0, cmd{args: args(g, a("push", "--raw")), stdin: body + "\n"})
	r := must(t, 0, cmd{args: args(g, a("receive", "--visibility", "10m"))})
	if !strings.Contains(r.stdout, `"body":"`+body+`"`) || len(r.stdout) > len(body)+2000 {
		t.Errorf("receive printed %d bytes, want the body unescaped (%d bytes and the envelope)", len(r.stdout), len(body))
	}
	r = must(t, 0, cmd{args: args(g, a("delete")), stdin: r.stdout})
	if r.stdout != "deleted 1 message\n" {
		t.Errorf("delete of the large message: %q %q", r.stdout, r.stderr)
	}

	huge := strings.Repeat("x", 2<<20)
	file := filepath.Join(t.TempDir(), "huge.txt")
	if err := os.WriteFile(file, []byte(huge+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = must(t, 2, cmd{args: args(g, a("push", "--file", file))})
	if !strings.Contains(r.stderr, "huge.txt: line 1: message too large") {
		t.Errorf("push of a 2 MiB file: %q", r.stderr)
	}
	r = must(t, 2, cmd{args: args(g, a("push", "--raw")), stdin: huge + "\n"})
	if !strings.Contains(r.stderr, "stdin: line 1: message too large") {
		t.Errorf("push --raw of a 2 MiB line: %q", r.stderr)
	}
	r = must(t, 2, cmd{args: args(g, a("push")), stdin: `{"body":"` + huge + `"}` + "\n"})
	if !strings.Contains(r.stderr, "message too large") {
		t.Errorf("push of a 2 MiB JSON body: %q", r.stderr)
	}
	r = must(t, 0, cmd{args: args(g, a("stats", "--json"))})
	if o := jsonObject(t, r.stdout); o["count"] != 0.0 {
		t.Errorf("stats after the large messages: %v", o)
	}
}

// TestVersion: --version and the version command print the same line.
func TestVersion(t *testing.T) {
	t.Parallel()
	r := must(t, 0, cmd{args: a("--version")})
	if !regexp.MustCompile(`^ddbq version \S+, commit (unknown|[0-9a-f]{40})`).MatchString(r.stdout) {
		t.Errorf("--version: %q", r.stdout)
	}
	if v := must(t, 0, cmd{args: a("version")}); v.stdout != r.stdout {
		t.Errorf("version %q, --version %q", v.stdout, r.stdout)
	}
	r = must(t, 0, cmd{args: a("completion", "bash")})
	if !strings.Contains(r.stdout, "bash completion V2 for ddbq") {
		t.Errorf("completion bash: %.200q", r.stdout)
	}
}

// TestInterrupt: SIGINT ends a long poll with exit code 130 (rather than the exit 0 of a
// receive that waited its 30 s out, or death by the signal).
func TestInterrupt(t *testing.T) {
	t.Parallel()
	table := newTable(t)
	// -v logs each DynamoDB request: the first Query of the long poll says the signal handler,
	// installed before any request, is in place.
	x := exec.Command(bin, args(q(table, "orders", "acme"), a("receive", "--wait", "30s", "-v"))...)
	x.Env = baseEnv(t)
	stderrPipe, err := x.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Start(); err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	lines := bufio.NewScanner(stderrPipe)
	for lines.Scan() {
		stderr.WriteString(lines.Text() + "\n")
		if strings.Contains(lines.Text(), "operation=Query") {
			break
		}
	}
	if err := x.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(stderrPipe) // until the process closes stderr on exit
	stderr.Write(rest)
	err = x.Wait()
	if code := x.ProcessState.ExitCode(); code != 130 || !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("exit code %d (%v), want 130 and 'interrupted'; stderr:\n%s", code, err, stderr.String())
	}
}

// TestDemo runs the demo, small, on the test endpoint.
func TestDemo(t *testing.T) {
	t.Parallel()
	ep := os.Getenv(testenv.EnvEndpoint)
	r := must(t, 0, cmd{args: a("demo", "--endpoint", ep, "--messages", "12")})
	for _, want := range []string{
		"5 tenants in 2 queues", "summary after", "orders  acme", "emails  umbrella",
		"[ok  ] every message was delivered or dead-lettered (54 + 6 of 60)",
		"[ok  ] isolation", "[ok  ] no message was processed successfully twice", "dropped table ddbq-demo-",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, r.stdout)
		}
	}
	r = must(t, 0, cmd{args: a("demo", "--messages", "6", "--json"), env: []string{"DYNAMODBQUEUE_ENDPOINT=" + ep}})
	o := jsonObject(t, r.stdout)
	total := o["total"].(map[string]any)
	if o["ok"] != true || total["pushed"] != 30.0 || total["deadLettered"] != 6.0 || total["delivered"] != 24.0 {
		t.Errorf("demo --json: %v", o)
	}
	must(t, 2, cmd{args: a("demo", "--endpoint", ep, "--messages", "0")})
}

// TestBench runs a small latency workload of the benchmark.
func TestBench(t *testing.T) {
	t.Parallel()
	ep := os.Getenv(testenv.EnvEndpoint)
	r := must(t, 0, cmd{args: a("bench", "--endpoint", ep, "--workloads", "latency", "--latency-messages", "5", "--latency-gap", "20ms", "--json")})
	o := jsonObject(t, r.stdout)
	results, _ := o["results"].([]any)
	if len(results) == 0 || o["endpoint"] != ep {
		t.Fatalf("bench --json: %v", o)
	}
	if res := results[0].(map[string]any); res["workload"] != "latency" || res["lost"] != 0.0 {
		t.Errorf("bench result: %v", res)
	}
	if r.stderr != "" {
		t.Errorf("bench without a terminal wrote progress: %q", r.stderr)
	}
	r = must(t, 2, cmd{args: a("bench", "--endpoint", ep, "--workloads", "nope")})
	golden(t, "bench-bad-workload.stderr", r.stderr)
	must(t, 2, cmd{args: a("bench", "--aws", "--endpoint", ep)})
}

// TestShards: a queue spread over shards needs the same --shards everywhere.
func TestShards(t *testing.T) {
	t.Parallel()
	table := newTable(t)
	g := args(q(table, "wide", "acme"), a("--shards", "4"))
	must(t, 0, cmd{args: args(g, a("push", "1", "2", "3", "4", "5", "6", "7", "8"))})
	r := must(t, 0, cmd{args: args(g, a("stats", "--json"))})
	if o := jsonObject(t, r.stdout); o["count"] != 8.0 {
		t.Errorf("stats --shards 4: %v", o)
	}
	r = must(t, 0, cmd{args: args(q(table, "wide", "acme"), a("stats", "--json")), env: []string{"DDBQ_SHARDS=4"}})
	if o := jsonObject(t, r.stdout); o["count"] != 8.0 {
		t.Errorf("stats with DDBQ_SHARDS=4: %v", o)
	}
	r = must(t, 0, cmd{args: args(q(table, "wide", "acme"), a("stats", "--json"))})
	if o := jsonObject(t, r.stdout); o["count"].(float64) >= 8 {
		t.Errorf("stats of shard 0 only: %v", o)
	}
	r = must(t, 0, cmd{args: args(g, a("receive", "--max", "10", "--delete"))})
	if n := len(jsonLines(t, r.stdout)); n != 8 {
		t.Errorf("received %d of 8 messages over 4 shards", n)
	}
}
