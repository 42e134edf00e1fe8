package main

import (
	"strings"
	"testing"
)

// TestQueueCommands covers ddbq queue create, get, update (attributes, --if-version, a client's
// overrides), list (prefix, paging) and delete, with their output and exit codes.
func TestQueueCommands(t *testing.T) {
	t.Parallel()
	table := newTable(t)
	g := q(table, "orders", "acme")
	r := must(t, 0, cmd{args: args(g, a("queue", "create", "--shards", "4", "--visibility", "1m", "--dlq", "orders-dlq",
		"--max-receives", "5", "--tag", "team=billing", "--content-dedup"))})
	golden(t, "queue-create", scrub(r.stdout, table))
	must(t, 0, cmd{args: args(g, a("queue", "create", "--shards", "4", "--visibility", "1m", "--dlq", "orders-dlq",
		"--max-receives", "5", "--tag", "team=billing", "--content-dedup"))}) // idempotent
	r = must(t, 2, cmd{args: args(g, a("queue", "create", "--visibility", "2m"))})
	golden(t, "queue-create-mismatch.stderr", scrub(r.stderr, table))

	r = must(t, 0, cmd{args: args(g, a("queue", "update", "--shards", "2", "--if-version", "1", "--json"))})
	golden(t, "queue-update-json", scrub(r.stdout, table))
	r = must(t, 1, cmd{args: args(g, a("queue", "update", "--delay", "1s", "--if-version", "1"))})
	golden(t, "queue-update-conflict.stderr", r.stderr)
	r = must(t, 0, cmd{args: args(g, a("queue", "update", "--for-client", "globex", "--visibility", "5m"))})
	if !strings.Contains(r.stdout, "visibility 5m0s") {
		t.Errorf("override not shown:\n%s", r.stdout)
	}
	must(t, 2, cmd{args: args(g, a("queue", "update", "--for-client", "globex", "--shards", "3"))})
	r = must(t, 0, cmd{args: args(g, a("queue", "get", "--for-client", "globex"))})
	golden(t, "queue-get", scrub(r.stdout, table))

	// Every command's handle uses the definition: its content-based deduplication drops a repeat.
	must(t, 0, cmd{args: args(g, a("push", "same", "same", "other"))})
	r = must(t, 0, cmd{args: args(g, a("stats", "--json"))})
	if !strings.Contains(r.stdout, `"visible":2`) {
		t.Errorf("stats after pushing a repeat to a deduplicating queue:\n%s", r.stdout)
	}
	for _, name := range []string{"orders-2", "other"} {
		must(t, 0, cmd{args: args(q(table, name, "acme"), a("queue", "create"))})
	}
	r = must(t, 0, cmd{args: args(g, a("queue", "list", "--prefix", "orders", "--limit", "1"))})
	golden(t, "queue-list-page", r.stdout)
	cursor := strings.TrimPrefix(strings.TrimSpace(lastLine(r.stdout)), "next page: --cursor ")
	r = must(t, 0, cmd{args: args(g, a("queue", "list", "--prefix", "orders", "--cursor", cursor))})
	if !strings.Contains(r.stdout, "orders-2") || strings.Contains(r.stdout, "other") || strings.Contains(r.stdout, "next page") {
		t.Errorf("second page:\n%s", r.stdout)
	}

	r = must(t, 2, cmd{args: args(g, a("queue", "delete"))})
	if !strings.Contains(r.stderr, "needs --yes") {
		t.Errorf("delete without --yes:\n%s", r.stderr)
	}
	must(t, 0, cmd{args: args(g, a("queue", "delete", "--yes"))})
	r = must(t, 0, cmd{args: args(g, a("stats", "--json"))})
	if !strings.Contains(r.stdout, `"visible":0`) {
		t.Errorf("messages left after queue delete:\n%s", r.stdout)
	}
	r = must(t, 3, cmd{args: args(g, a("queue", "get"))})
	golden(t, "queue-get-missing.stderr", scrub(r.stderr, table))
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
