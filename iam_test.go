package dynamodbqueue_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/smithy-go"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/iameval"
	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
)

// TestIAMPolicyCoversEveryRequest runs every operation a tenant uses through a policed API
// that enforces the tenant's IAMPolicy (with its dead-letter queue): pushes with groups,
// deduplication and a large body, receive, delete, visibility changes, dead-letter moves,
// redrive, peek, stats, count and purge. Every request is allowed except the registry write
// (which the policy leaves out on purpose and the queue tolerates), and each allowed request
// is denied when its keys are another tenant's.
func TestIAMPolicyCoversEveryRequest(t *testing.T) {
	t.Parallel()
	if n := reflect.TypeFor[dynamodbqueue.API]().NumMethod(); n != 13 {
		t.Fatalf("dynamodbqueue.API has %d methods; policedAPI checks 13: police the new ones", n)
	}
	for _, tc := range []struct {
		name     string
		dlqTable bool
		shards   int
	}{
		{"dead letters in the same table", false, 1},
		{"dead letters in another table, 3 shards", true, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			admin, table := newTable(t)
			dlq := &dynamodbqueue.DeadLetterConfig{MaxReceiveCount: 1}
			if tc.dlqTable {
				_, dlq.Table = newTable(t)
			}
			policy, err := dynamodbqueue.IAMPolicy(dynamodbqueue.PolicyOptions{
				TableARN: testARN(table), QueueName: "invoices", ClientID: "acme", DeadLetterQueue: dlq,
			})
			if err != nil {
				t.Fatal(err)
			}
			// A stored definition, which every tenant operation reads.
			if _, err := admin.Client().CreateQueue(ctxT(t), "invoices", dynamodbqueue.QueueAttributes{}); err != nil {
				t.Fatal(err)
			}
			api := newPolicedAPI(t, admin.API(), policy)
			q := dynamodbqueue.NewFromClient(api, 0).UseTable(table).UseQueueName("invoices").UseClientID("acme").
				UseDeadLetterQueue(dlq).UseShards(tc.shards).UseLogger(nil)
			tenantScenario(t, q)

			reqs := api.requests()
			checkOnlyRegistryDenied(t, reqs)
			checkCoverage(t, reqs, tc.dlqTable)
			checkForeignKeysDenied(t, api.policy, reqs)
			checkOtherTenantDenied(t, api, table)
		})
	}
}

// tenantScenario runs every tenant operation once on q, whose dead-letter queue takes
// messages at their second receive, and checks that each did its job.
func tenantScenario(t *testing.T, q *dynamodbqueue.DynamoDBQueue) {
	ctx := ctxT(t)
	check := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	grouped := func(body string) events.SQSMessage {
		return events.SQSMessage{Body: body, Attributes: map[string]string{dynamodbqueue.AttributeMessageGroupID: "order-1"}}
	}
	pay := events.SQSMessage{Body: "pay", Attributes: map[string]string{dynamodbqueue.AttributeMessageDeduplicationID: "payment-7781"}}
	large := events.SQSMessage{Body: strings.Repeat("L", 400_000)} // two chunk items
	res, err := q.PushWithOptions(ctx, dynamodbqueue.PushOptions{}, events.SQSMessage{Body: "plain"}, grouped("g-1"), grouped("g-2"), pay, large)
	check("push", err)
	if len(res.Failed) > 0 {
		t.Fatalf("push: %d failed", len(res.Failed))
	}
	res, err = q.PushWithOptions(ctx, dynamodbqueue.PushOptions{}, pay)
	check("push duplicate", err)
	if res.Duplicates != 1 {
		t.Errorf("repeat push: %d duplicates, want 1", res.Duplicates)
	}
	peeked, err := q.Peek(ctx, 10)
	check("peek", err)
	n, err := q.Count(ctx)
	check("count", err)
	if len(peeked) != 4 || n != 5 { // g-2 waits behind g-1
		t.Errorf("peek %d, count %d; want 4 and 5", len(peeked), n)
	}

	// First receive: delete one, extend one, release the rest.
	msgs := receiveAll(t, q, 4)
	var release []string
	for _, m := range msgs {
		switch m.Body {
		case "plain":
			_, err = q.DeleteMessages(ctx, m.ReceiptHandle)
			check("delete", err)
		case "pay":
			_, err = q.ChangeVisibility(ctx, time.Minute, m.ReceiptHandle)
			check("change visibility", err)
			release = append(release, m.ReceiptHandle)
		default:
			release = append(release, m.ReceiptHandle)
		}
	}
	_, err = q.ReleaseMessages(ctx, release...)
	check("release", err)

	// Second receive: the three released messages go to the dead-letter queue at their
	// second receive, which lets g-2 through.
	msgs = receiveAll(t, q, 1)
	if len(msgs) != 1 || msgs[0].Body != "g-2" {
		t.Fatalf("second receive got %v, want g-2", bodyList(msgs))
	}
	_, err = q.DeleteMessages(ctx, msgs[0].ReceiptHandle)
	check("delete g-2", err)
	st, err := q.Stats(ctx)
	check("stats", err)
	if st.DeadLettered != 3 || st.Total() != 0 {
		t.Errorf("stats %+v, want 3 dead letters and an empty queue", st)
	}

	moved, err := q.RedriveDeadLetters(ctx, 0)
	check("redrive", err)
	if moved != 3 {
		t.Errorf("redrive moved %d, want 3", moved)
	}
	msgs = receiveAll(t, q, 3)
	if got := sortedBodies(msgs); len(got) != 3 || got[0] != large.Body || got[1] != "g-1" || got[2] != "pay" {
		t.Errorf("after redrive got %d messages, want the large one, g-1 and pay", len(got))
	}
	check("purge", q.Purge(ctx))
	if n, err := q.Count(ctx); n != 0 || err != nil {
		t.Errorf("count after purge = %d, %v", n, err)
	}
}

// receiveAll receives until it holds want messages (or a receive comes back empty).
func receiveAll(t *testing.T, q *dynamodbqueue.DynamoDBQueue, want int) []events.SQSMessage {
	t.Helper()
	var all []events.SQSMessage
	for len(all) < want {
		msgs, err := q.ReceiveMessages(ctxT(t), dynamodbqueue.ReceiveOptions{
			MaxMessages: 10, VisibilityTimeout: time.Minute, WaitTime: 200 * time.Millisecond,
		})
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		if len(msgs) == 0 {
			break
		}
		all = append(all, msgs...)
	}
	return all
}

// checkOnlyRegistryDenied: the registry write is the one request the policy denies.
func checkOnlyRegistryDenied(t *testing.T, reqs []policedRequest) {
	t.Helper()
	for _, r := range reqs {
		if !r.allowed && !slices.Equal(r.LeadingKeys, []string{"@registry"}) {
			t.Errorf("the tenant's own policy denied %s on %s with keys %q", r.Action, r.Resource, r.LeadingKeys)
		}
	}
}

// checkCoverage: the scenario made every kind of request the policy must allow, on every kind
// of partition the library writes for a tenant.
func checkCoverage(t *testing.T, reqs []policedRequest, dlqTable bool) {
	t.Helper()
	seen, tables := map[string]bool{}, map[string]bool{}
	for _, r := range reqs {
		if !r.allowed {
			continue
		}
		seen[r.Action] = true
		if strings.HasSuffix(r.Resource, "/index/vis") {
			seen["index"] = true
		}
		for _, k := range r.LeadingKeys {
			switch parts := strings.Split(k, "|"); {
			case parts[0] == "invoices-dlq" && len(parts) == 3:
				seen["dead-letter partition"] = true
			case parts[0] == "invoices-dlq":
				seen["dead-letter body partition"] = true
			case len(parts) == 4:
				seen["body partition"] = true
			case k == "@def|invoices":
				seen["queue definition"] = true
			}
		}
		table, _, _ := strings.Cut(strings.TrimPrefix(r.Resource, testARN("")), "/")
		tables[table] = true
	}
	want := []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query",
		"dynamodb:BatchWriteItem", "dynamodb:BatchGetItem", "index", "dead-letter partition", "dead-letter body partition", "body partition", "queue definition"}
	for _, w := range want {
		if !seen[w] {
			t.Errorf("the scenario made no allowed request of kind %q; seen %v", w, seen)
		}
	}
	if want := map[bool]int{false: 1, true: 2}[dlqTable]; len(tables) != want {
		t.Errorf("allowed requests went to the tables %v, want %d", tables, want)
	}
}

// foreignPrefixes rewrite a key of the tenant (invoices, acme) or of its dead-letter pair into
// the same key of other pairs, near misses included.
var foreignPrefixes = map[string][]string{
	"invoices|acme|":     {"invoices|globex|", "invoices|acme2|", "invoices|acm|", "invoices2|acme|", "invoices-dlq|globex|", "xinvoices|acme|"},
	"invoices-dlq|acme|": {"invoices-dlq|globex|", "invoices-dlq2|acme|", "invoices|globex|"},
	"@def|invoices":      {"@def|invoices2", "@def|invoice", "@def|invoices-dlq2", "@def|xinvoices", "@defs", "@registry"},
}

// checkForeignKeysDenied: each request the tenant was allowed is denied when one of its keys
// is replaced with the same key of another pair.
func checkForeignKeysDenied(t *testing.T, p *iameval.Policy, reqs []policedRequest) {
	t.Helper()
	for _, r := range reqs {
		if !r.allowed || len(r.LeadingKeys) == 0 {
			continue
		}
		for own, foreign := range foreignPrefixes {
			if !strings.HasPrefix(r.LeadingKeys[0], own) {
				continue
			}
			for _, f := range foreign {
				other := r.Request
				other.LeadingKeys = slices.Clone(r.LeadingKeys)
				other.LeadingKeys[0] = f + strings.TrimPrefix(r.LeadingKeys[0], own)
				if p.Allowed(other) {
					t.Errorf("%s on %s allowed for a foreign key %q", other.Action, other.Resource, other.LeadingKeys)
				}
			}
		}
	}
}

// checkOtherTenantDenied: acme's credentials cannot push to, receive from or count
// (invoices, globex).
func checkOtherTenantDenied(t *testing.T, api *policedAPI, table string) {
	t.Helper()
	ctx := ctxT(t)
	globex := dynamodbqueue.NewFromClient(api, 0).UseTable(table).UseQueueName("invoices").UseClientID("globex").UseLogger(nil)
	_, err := globex.PushMessages(ctx, 0, events.SQSMessage{Body: "sneaky"})
	wantDenied(t, "push as another tenant", err)
	_, err = globex.ReceiveMessages(ctx, dynamodbqueue.ReceiveOptions{MaxMessages: 1})
	wantDenied(t, "receive as another tenant", err)
	_, err = globex.Count(ctx)
	wantDenied(t, "count as another tenant", err)
}

func wantDenied(t *testing.T, what string, err error) {
	t.Helper()
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "AccessDeniedException" {
		t.Errorf("%s: %v, want AccessDeniedException", what, err)
	}
}

// TestIAMPolicyReadOnly: the read-only policy lets the tenant peek, count and read stats
// (dead letters included) and denies every write: pushes, receives (claims), purges.
func TestIAMPolicyReadOnly(t *testing.T) {
	t.Parallel()
	admin, table := newTable(t)
	dlq := &dynamodbqueue.DeadLetterConfig{MaxReceiveCount: 3}
	owner := admin.Clone().UseQueueName("invoices").UseClientID("acme").UseDeadLetterQueue(dlq)
	push(t, owner, bodies(3, "m")...)
	policy, err := dynamodbqueue.IAMPolicy(dynamodbqueue.PolicyOptions{
		TableARN: testARN(table), QueueName: "invoices", ClientID: "acme", ReadOnly: true, DeadLetterQueue: dlq,
	})
	if err != nil {
		t.Fatal(err)
	}
	api := newPolicedAPI(t, testenv.Client(t), policy)
	q := dynamodbqueue.NewFromClient(api, 0).UseTable(table).UseQueueName("invoices").UseClientID("acme").
		UseDeadLetterQueue(dlq).UseLogger(nil)
	ctx := ctxT(t)

	if msgs, err := q.Peek(ctx, 10); err != nil || len(msgs) != 3 {
		t.Errorf("Peek = %d messages, %v; want 3", len(msgs), err)
	}
	if n, err := q.Count(ctx); err != nil || n != 3 {
		t.Errorf("Count = %d, %v; want 3", n, err)
	}
	if st, err := q.Stats(ctx); err != nil || st.Visible != 3 {
		t.Errorf("Stats = %+v, %v; want 3 visible", st, err)
	}
	for _, r := range api.requests() {
		if !r.allowed {
			t.Errorf("read-only policy denied the read %s on %s with keys %q", r.Action, r.Resource, r.LeadingKeys)
		}
	}

	_, err = q.PushMessages(ctx, 0, events.SQSMessage{Body: "write"})
	wantDenied(t, "push", err)
	_, _ = q.ReceiveMessages(ctx, dynamodbqueue.ReceiveOptions{MaxMessages: 10}) // may report the denied claims or nothing
	wantDenied(t, "purge", q.Purge(ctx))
	for _, r := range api.requests() {
		if r.allowed && !slices.Contains([]string{"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:DescribeTable"}, r.Action) {
			t.Errorf("read-only policy allowed %s on %s", r.Action, r.Resource)
		}
	}
	if st, err := owner.Stats(ctx); err != nil || st.Visible != 3 || st.InFlight != 0 {
		t.Errorf("after the denied writes: %+v, %v; want the 3 messages untouched", st, err)
	}
}

// TestIAMPolicyDeadLetterOptions: the dead-letter pair resolves like the queue's
// (UseDeadLetterQueue), a table of its own gets a statement of its own, and bad
// configurations fail with the sentinel that names the problem.
func TestIAMPolicyDeadLetterOptions(t *testing.T) {
	t.Parallel()
	base := dynamodbqueue.PolicyOptions{TableARN: testARN("queues"), QueueName: "invoices", ClientID: "acme"}
	allowed := func(opts dynamodbqueue.PolicyOptions, table, pk string) bool {
		t.Helper()
		doc, err := dynamodbqueue.IAMPolicy(opts)
		if err != nil {
			t.Fatal(err)
		}
		p, err := iameval.Parse(doc)
		if err != nil {
			t.Fatal(err)
		}
		return p.Allowed(iameval.Request{Action: "dynamodb:PutItem", Resource: testARN(table), LeadingKeys: []string{pk}})
	}
	opts := base
	opts.DeadLetterQueue = &dynamodbqueue.DeadLetterConfig{MaxReceiveCount: 5}
	if !allowed(opts, "queues", "invoices-dlq|acme|0") || allowed(base, "queues", "invoices-dlq|acme|0") {
		t.Error("the default dead-letter pair <queue>-dlq must be allowed exactly when DeadLetterQueue is set")
	}
	opts.DeadLetterQueue = &dynamodbqueue.DeadLetterConfig{QueueName: "parked", ClientID: "acme-ops", Table: "dead"}
	if !allowed(opts, "dead", "parked|acme-ops|0") || allowed(opts, "queues", "parked|acme-ops|0") || allowed(opts, "dead", "invoices|acme|0") {
		t.Error("a dead-letter table of its own must allow the dead-letter pair there, and only there")
	}

	for _, tc := range []struct {
		name string
		arn  string
		dlq  dynamodbqueue.DeadLetterConfig
		want error
	}{
		{"queue itself", testARN("queues"), dynamodbqueue.DeadLetterConfig{QueueName: "invoices"}, dynamodbqueue.ErrInvalidArgument},
		{"bad queue name", testARN("queues"), dynamodbqueue.DeadLetterConfig{QueueName: "a|b"}, dynamodbqueue.ErrInvalidName},
		{"bad client ID", testARN("queues"), dynamodbqueue.DeadLetterConfig{ClientID: "a*"}, dynamodbqueue.ErrInvalidName},
		{"bad table name", testARN("queues"), dynamodbqueue.DeadLetterConfig{Table: "x"}, dynamodbqueue.ErrInvalidName},
		{"other table, ARN without a table", "*", dynamodbqueue.DeadLetterConfig{Table: "dead"}, dynamodbqueue.ErrInvalidArgument},
	} {
		opts := base
		opts.TableARN, opts.DeadLetterQueue = tc.arn, &tc.dlq
		if doc, err := dynamodbqueue.IAMPolicy(opts); !errors.Is(err, tc.want) {
			t.Errorf("%s: IAMPolicy = %v, %v; want %v", tc.name, doc, err, tc.want)
		}
	}
}

// TestIAMPolicyDefinitionAccess: the tenant may read its own queue's definition partition
// (definition and client overrides) and no other queue's, and may not write definitions.
func TestIAMPolicyDefinitionAccess(t *testing.T) {
	t.Parallel()
	for _, readOnly := range []bool{false, true} {
		doc, err := dynamodbqueue.IAMPolicy(dynamodbqueue.PolicyOptions{TableARN: testARN("queues"), QueueName: "invoices", ClientID: "acme", ReadOnly: readOnly})
		if err != nil {
			t.Fatal(err)
		}
		p, err := iameval.Parse(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			action, pk string
			want       bool
		}{
			{"dynamodb:GetItem", "@def|invoices", true},
			{"dynamodb:BatchGetItem", "@def|invoices", true},
			{"dynamodb:GetItem", "@def|invoices2", false},
			{"dynamodb:BatchGetItem", "@def|orders", false},
			{"dynamodb:GetItem", "@defs", false},
			{"dynamodb:Query", "@def|invoices", false},
			{"dynamodb:PutItem", "@def|invoices", false},
			{"dynamodb:UpdateItem", "@def|invoices", false},
			{"dynamodb:DeleteItem", "@def|invoices", false},
			{"dynamodb:BatchWriteItem", "@def|invoices", false},
		} {
			got := p.Allowed(iameval.Request{Action: tc.action, Resource: testARN("queues"), LeadingKeys: []string{tc.pk}})
			if got != tc.want {
				t.Errorf("readOnly=%v: %s on %q allowed=%v, want %v", readOnly, tc.action, tc.pk, got, tc.want)
			}
		}
	}
}

// TestIAMPolicyWithoutPushesWithHints: a tenant whose policy was made before pushes carried
// their activity hints in their batch (no PushesWithHints statement) still pushes: its first
// push's batch is refused as a whole, and from then on it writes the hints apart, so another
// process's watcher is still woken by them (its fallback is too slow to be what wakes it).
func TestIAMPolicyWithoutPushesWithHints(t *testing.T) {
	t.Parallel()
	admin, table := newTable(t)
	policy, err := dynamodbqueue.IAMPolicy(dynamodbqueue.PolicyOptions{TableARN: testARN(table), QueueName: "invoices", ClientID: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(policy), &doc); err != nil {
		t.Fatal(err)
	}
	stmts := doc["Statement"].([]any)
	doc["Statement"] = slices.DeleteFunc(stmts, func(s any) bool { return s.(map[string]any)["Sid"] == "PushesWithHints" })
	if len(doc["Statement"].([]any)) != len(stmts)-1 {
		t.Fatalf("no PushesWithHints statement in\n%s", policy)
	}
	old, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	api := newPolicedAPI(t, admin.API(), string(old))
	pushing := newWatchClient(t, api, table, dynamodbqueue.Options{WatchInterval: -1})
	watching := newWatchClient(t, nil, table, dynamodbqueue.Options{WatchInterval: 10 * time.Millisecond, WatchFallbackRate: 0.001})
	sub := mustWatch(t, watching, "invoices", "acme")
	q := mustHandle(t, pushing, "invoices", "acme")

	denied := func() (n int) {
		for _, r := range api.requests() {
			if !r.allowed && !slices.Equal(r.LeadingKeys, []string{"@registry"}) {
				n++
			}
		}
		return n
	}
	push(t, q, bodies(1, "a")...)
	if n := denied(); n != 1 {
		t.Fatalf("%d requests denied by the first push; want 1 (its batch with the hint)", n)
	}
	awaitReady(t, sub, "the first push's hint, written apart")
	push(t, q, bodies(1, "b")...)
	if n := denied(); n != 1 {
		t.Fatalf("%d more requests denied after the first push; want none", n-1)
	}
	awaitReady(t, sub, "the second push's hint, written apart")
	if got := mustPoll(t, mustHandle(t, watching, "invoices", "acme"), time.Minute, 10); len(got) != 2 {
		t.Fatalf("received %v, want both messages", bodyList(got))
	}
}
