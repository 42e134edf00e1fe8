package main

import (
	"strings"
	"testing"
)

// TestPeekPagesAndStates pages through peek with the cursor it prints, lists by state and
// newest first, and rejects a bad state and a foreign cursor.
func TestPeekPagesAndStates(t *testing.T) {
	t.Parallel()
	table := newTable(t)
	g := q(table, "orders", "acme")
	must(t, 0, cmd{args: args(g, a("push", "m1", "m2", "m3"))})
	must(t, 0, cmd{args: args(g, a("receive", "--visibility", "1h"))}) // m1 in flight

	r := must(t, 0, cmd{args: args(g, a("peek", "--state", "any", "--json", "--max", "2"))})
	ms := jsonLines(t, r.stdout)
	if len(ms) != 2 || ms[0]["body"] != "m1" || ms[0]["state"] != "in-flight" || ms[0]["receiveCount"] != 1.0 || ms[1]["state"] != "visible" {
		t.Fatalf("first page: %v", ms)
	}
	cursor, ok := strings.CutPrefix(strings.TrimSpace(r.stderr), "more: --cursor ")
	if !ok {
		t.Fatalf("no cursor on stderr: %q", r.stderr)
	}
	r = must(t, 0, cmd{args: args(g, a("peek", "--state", "any", "--json", "--max", "2", "--cursor", cursor))})
	if ms := jsonLines(t, r.stdout); len(ms) != 1 || ms[0]["body"] != "m3" || r.stderr != "" {
		t.Errorf("second page: %v, stderr %q", ms, r.stderr)
	}
	r = must(t, 0, cmd{args: args(g, a("peek", "--newest", "--json"))})
	if ms := jsonLines(t, r.stdout); len(ms) != 2 || ms[0]["body"] != "m3" || ms[1]["body"] != "m2" {
		t.Errorf("visible, newest first: %v", ms)
	}
	r = must(t, 0, cmd{args: args(g, a("peek", "--state", "in-flight"))})
	if !strings.Contains(r.stdout, "in-flight") || !strings.Contains(r.stdout, "m1") || strings.Contains(r.stdout, "m2") {
		t.Errorf("in-flight: %q", r.stdout)
	}
	r = must(t, 2, cmd{args: args(g, a("peek", "--state", "stuck"))})
	if !strings.Contains(r.stderr, `"stuck"`) {
		t.Errorf("bad state: %q", r.stderr)
	}
	r = must(t, 2, cmd{args: args(q(table, "orders", "globex"), a("peek", "--state", "any", "--max", "2", "--cursor", cursor))})
	if !strings.Contains(r.stderr, "cursor") {
		t.Errorf("foreign cursor: %q", r.stderr)
	}
}

// TestStatsAllClients counts every client of one queue; --all refuses dead-letter flags.
func TestStatsAllClients(t *testing.T) {
	t.Parallel()
	table := newTable(t)
	must(t, 0, cmd{args: args(q(table, "orders", "acme"), a("push", "a1"))})
	must(t, 0, cmd{args: args(q(table, "orders", "globex"), a("push", "g1", "g2"))})
	must(t, 0, cmd{args: args(q(table, "emails", "acme"), a("push", "e1"))})
	r := must(t, 0, cmd{args: args(q(table, "orders", "acme"), a("stats", "--all-clients", "--json"))})
	ls := jsonLines(t, r.stdout)
	if len(ls) != 2 || ls[0]["client"] != "acme" || ls[0]["count"] != 1.0 || ls[1]["client"] != "globex" || ls[1]["count"] != 2.0 {
		t.Errorf("stats --all-clients: %v", ls)
	}
	r = must(t, 2, cmd{args: args(q(table, "orders", "acme"), a("stats", "--all", "--dlq-queue", "x"))})
	if !strings.Contains(r.stderr, "--all") {
		t.Errorf("stats --all --dlq-queue: %q", r.stderr)
	}
}
