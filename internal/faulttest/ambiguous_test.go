package faulttest

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/faultproxy"
)

// bodyHas returns a Rule.Match that picks requests whose JSON body contains every one of subs
// and none of the strings after a "!" prefix.
func bodyHas(subs ...string) func(string, []byte) bool {
	return func(_ string, body []byte) bool {
		for _, s := range subs {
			if neg, ok := strings.CutPrefix(s, "!"); ok {
				if strings.Contains(string(body), neg) {
					return false
				}
			} else if !strings.Contains(string(body), s) {
				return false
			}
		}
		return true
	}
}

// Requests of the queue, told apart by their expressions (see claimMessage, claimGroup,
// touchGroup, setGroupVisibility, changeOne and writeDeduplicated in the root package).
var (
	// The claim of a message outside groups.
	matchClaim = bodyHas(`"vis = :old"`, "rc = if_not_exists")
	// The claim of a group's lock item.
	matchGroupClaim = bodyHas(`"vis = :old"`, "!rc = if_not_exists")
	// The claim of the head message of a group that is held.
	matchHeadClaim = bodyHas(`attribute_exists(PK) AND (attribute_not_exists(tok)`, "rc = if_not_exists")
	// The push's update of a group's lock item.
	matchTouchGroup = bodyHas("if_not_exists(vis, :vis)")
	// A visibility change or the release of a group, conditional on the claim token (a change
	// outside groups also requires vis; a release after a delete also removes the token).
	matchSetVis = bodyHas(`"tok = :tok`, `"SET vis = :vis`)
	// The deduplication record of a push.
	matchDedupRecord = bodyHas("ddu < :now")
	// The deduplication record's completion.
	matchDedupDone = bodyHas("SET #st = :done")
	// The message item of a deduplicated push.
	matchDedupMessage = bodyHas(`"attribute_not_exists(PK)"`, "!ddu < :now")
)

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func inject(t *testing.T, e *env, kind faultproxy.Kind, op string, match func(string, []byte) bool, n int) {
	t.Helper()
	if err := e.proxy.Inject(faultproxy.Rule{Kind: kind, Operations: []string{op}, Match: match}, n); err != nil {
		t.Fatal(err)
	}
}

func mustPush(t *testing.T, q *dynamodbqueue.DynamoDBQueue, msgs ...events.SQSMessage) dynamodbqueue.PushResult {
	t.Helper()
	res, err := q.PushWithOptions(ctxFor(t, 30*time.Second), dynamodbqueue.PushOptions{}, msgs...)
	if err != nil || len(res.Failed) > 0 {
		t.Fatalf("push: %d failed: %v", len(res.Failed), err)
	}
	return res
}

func grouped(group string, bodies ...string) []events.SQSMessage {
	out := make([]events.SQSMessage, len(bodies))
	for i, b := range bodies {
		out[i] = events.SQSMessage{Body: b}
		if group != "" {
			out[i].Attributes = map[string]string{dynamodbqueue.AttributeMessageGroupID: group}
		}
	}
	return out
}

func bodiesOf(msgs []events.SQSMessage) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.Body
	}
	return out
}

func receiveCount(m events.SQSMessage) int {
	n, _ := strconv.Atoi(m.Attributes[dynamodbqueue.AttributeApproximateReceiveCount])
	return n
}

// receiveN waits (up to ctx) until q has received n messages.
func receiveN(ctx context.Context, t *testing.T, q *dynamodbqueue.DynamoDBQueue, n int, vt time.Duration) []events.SQSMessage {
	t.Helper()
	var got []events.SQSMessage
	for len(got) < n {
		msgs, err := q.ReceiveMessages(ctx, dynamodbqueue.ReceiveOptions{
			MaxMessages: n - len(got), WaitTime: 200 * time.Millisecond, VisibilityTimeout: vt,
		})
		got = append(got, msgs...)
		if err != nil {
			if ctx.Err() != nil {
				t.Fatalf("received %d of %d messages (%v) before the deadline: %v", len(got), n, bodiesOf(got), err)
			}
			t.Logf("receive: %v", err)
		}
	}
	return got
}

// expectNothing checks that one pass over the queue finds nothing to receive.
func expectNothing(t *testing.T, q *dynamodbqueue.DynamoDBQueue, why string) {
	t.Helper()
	msgs, err := q.ReceiveMessages(ctxFor(t, 10*time.Second), dynamodbqueue.ReceiveOptions{MaxMessages: 10, VisibilityTimeout: time.Minute})
	if err != nil || len(msgs) > 0 {
		t.Fatalf("%s: received %v, %v; want nothing", why, bodiesOf(msgs), err)
	}
}

func mustDelete(t *testing.T, q *dynamodbqueue.DynamoDBQueue, msgs ...events.SQSMessage) {
	t.Helper()
	failed, err := q.DeleteMessages(ctxFor(t, 30*time.Second), dynamodbqueue.ToReceiptHandles(msgs)...)
	if err != nil || len(failed) > 0 {
		t.Fatalf("delete %v: %d failed: %v", bodiesOf(msgs), len(failed), err)
	}
}

func expectCount(t *testing.T, q *dynamodbqueue.DynamoDBQueue, want int) {
	t.Helper()
	n, err := q.Count(ctxFor(t, 10*time.Second))
	if err != nil || n != want {
		t.Fatalf("Count = %d, %v; want %d", n, err, want)
	}
}

// storedRC returns the receive count stored in the message item with the given body.
func storedRC(t *testing.T, e *env, tn tenant, body string) int {
	t.Helper()
	left, err := e.leftovers(ctxFor(t, 10*time.Second), tn)
	if err != nil {
		t.Fatal(err)
	}
	for _, lo := range left {
		if lo.id == body {
			return lo.rc
		}
	}
	t.Fatalf("message %q is not in the table", body)
	return 0
}

func expectFaults(t *testing.T, e *env, kind faultproxy.Kind, op string, want uint64) {
	t.Helper()
	if n := e.proxy.Stats().CountOp(kind, op); n != want {
		t.Fatalf("%s faults on %s = %d, want %d (injections pending: %d)", kind, op, n, want, e.proxy.Pending())
	}
}

// TestLostClaimResponseRedelivered drops the responses of every attempt of a claim: DynamoDB
// applied the first, so the message is claimed by a receive that then failed. The message
// must come back when its visibility timeout ends, and be delivered.
func TestLostClaimResponseRedelivered(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		group string
		match func(string, []byte) bool
		rc    int // receive count at the redelivery
	}{
		{"plain", "", matchClaim, 2},        // the lost claim counted a receive
		{"group", "g1", matchGroupClaim, 1}, // the lost claim was the group lock's: the head was never claimed
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, seedFor(t, 3003), 3)
			tn := tenant{queue: "claims", client: "c"}
			mustPush(t, e.direct(tn), grouped(tc.group, "m1")...)
			const vt = 1500 * time.Millisecond
			inject(t, e, faultproxy.DropResponse, "UpdateItem", tc.match, 3) // all 3 attempts

			start := time.Now()
			a := e.queue(tn)
			msgs, err := a.ReceiveMessages(ctxFor(t, 30*time.Second), dynamodbqueue.ReceiveOptions{VisibilityTimeout: vt})
			if err == nil || len(msgs) != 0 {
				t.Fatalf("receive through 3 dropped claim responses = %v, %v; want an error", bodiesOf(msgs), err)
			}
			expectFaults(t, e, faultproxy.DropResponse, "UpdateItem", 3)
			if tc.group == "" {
				// Exactly one claim was applied (the retries found it claimed).
				if rc := storedRC(t, e, tn, "m1"); rc != 1 {
					t.Fatalf("stored receive count = %d, want 1", rc)
				}
			}
			expectCount(t, e.direct(tn), 1)

			b := e.queue(tn)
			got := receiveN(ctxFor(t, 30*time.Second), t, b, 1, time.Minute)
			if got[0].Body != "m1" || receiveCount(got[0]) != tc.rc {
				t.Fatalf("redelivered %q with receive count %d, want m1 with %d", got[0].Body, receiveCount(got[0]), tc.rc)
			}
			// The lost claim hid the message for its visibility timeout: it cannot have come
			// back earlier (a lower bound, which the claim's own clock guarantees).
			if el := time.Since(start); el < vt {
				t.Fatalf("redelivered after %v, before the lost claim's visibility timeout of %v", el, vt)
			}
			mustDelete(t, b, got...)
			expectCount(t, e.direct(tn), 0)
		})
	}
}

// TestRetriedWritesRecognisedAsOwn drops the response of one write the queue makes after
// DynamoDB applied it; the SDK retries it, and the queue must take the outcome for its own
// success: no error, no lost claim, no duplicate, nothing left behind.
func TestRetriedWritesRecognisedAsOwn(t *testing.T) {
	t.Parallel()
	const long = time.Minute // no visibility timeout ends during a subtest
	tn := tenant{queue: "retries", client: "c"}
	type step func(t *testing.T, e *env)
	cases := []struct {
		name string
		run  step
	}{
		{"claim", func(t *testing.T, e *env) {
			mustPush(t, e.direct(tn), grouped("", "m1")...)
			inject(t, e, faultproxy.DropResponse, "UpdateItem", matchClaim, 1)
			a := e.queue(tn)
			got := receiveN(ctxFor(t, 20*time.Second), t, a, 1, long)
			expectFaults(t, e, faultproxy.DropResponse, "UpdateItem", 1)
			if receiveCount(got[0]) != 1 || storedRC(t, e, tn, "m1") != 1 {
				t.Fatalf("receive count %d (stored %d), want 1", receiveCount(got[0]), storedRC(t, e, tn, "m1"))
			}
			expectNothing(t, e.direct(tn), "message claimed by a recognised retry")
			mustDelete(t, a, got...)
		}},
		{"group-lock-claim", func(t *testing.T, e *env) {
			mustPush(t, e.direct(tn), grouped("g", "m1", "m2")...)
			inject(t, e, faultproxy.DropResponse, "UpdateItem", matchGroupClaim, 1)
			a := e.queue(tn)
			got := receiveN(ctxFor(t, 20*time.Second), t, a, 1, long)
			expectFaults(t, e, faultproxy.DropResponse, "UpdateItem", 1)
			if got[0].Body != "m1" {
				t.Fatalf("got %q, want m1", got[0].Body)
			}
			expectNothing(t, e.direct(tn), "group held through a recognised retry")
			mustDelete(t, a, got...)
			got = receiveN(ctxFor(t, 20*time.Second), t, a, 1, long)
			if got[0].Body != "m2" {
				t.Fatalf("got %q, want m2", got[0].Body)
			}
			mustDelete(t, a, got...)
		}},
		{"group-head-claim", func(t *testing.T, e *env) {
			mustPush(t, e.direct(tn), grouped("g", "m1", "m2")...)
			inject(t, e, faultproxy.DropResponse, "UpdateItem", matchHeadClaim, 1)
			a := e.queue(tn)
			got := receiveN(ctxFor(t, 20*time.Second), t, a, 1, long)
			expectFaults(t, e, faultproxy.DropResponse, "UpdateItem", 1)
			if got[0].Body != "m1" || receiveCount(got[0]) != 1 {
				t.Fatalf("got %q (receive count %d), want m1 (1)", got[0].Body, receiveCount(got[0]))
			}
			expectNothing(t, e.direct(tn), "group held through a recognised retry")
			mustDelete(t, a, got...)
			got = receiveN(ctxFor(t, 20*time.Second), t, a, 1, long)
			if got[0].Body != "m2" {
				t.Fatalf("got %q, want m2", got[0].Body)
			}
			mustDelete(t, a, got...)
		}},
		{"delete", func(t *testing.T, e *env) {
			mustPush(t, e.direct(tn), grouped("", "m1")...)
			a := e.queue(tn)
			got := receiveN(ctxFor(t, 20*time.Second), t, a, 1, long)
			inject(t, e, faultproxy.DropResponse, "DeleteItem", nil, 1)
			mustDelete(t, a, got...)
			expectFaults(t, e, faultproxy.DropResponse, "DeleteItem", 1)
		}},
		{"delete-in-group-then-release", func(t *testing.T, e *env) {
			mustPush(t, e.direct(tn), grouped("g", "m1", "m2")...)
			a := e.queue(tn)
			got := receiveN(ctxFor(t, 20*time.Second), t, a, 1, long)
			inject(t, e, faultproxy.DropResponse, "DeleteItem", nil, 1)
			inject(t, e, faultproxy.DropResponse, "UpdateItem", matchSetVis, 1) // the group's release
			mustDelete(t, a, got...)
			expectFaults(t, e, faultproxy.DropResponse, "DeleteItem", 1)
			expectFaults(t, e, faultproxy.DropResponse, "UpdateItem", 1)
			// The release went through: m2 is out now, not after the minute-long timeout.
			got = receiveN(ctxFor(t, 20*time.Second), t, e.direct(tn), 1, long)
			if got[0].Body != "m2" {
				t.Fatalf("got %q, want m2", got[0].Body)
			}
			mustDelete(t, e.direct(tn), got...)
		}},
		{"change-visibility", func(t *testing.T, e *env) {
			mustPush(t, e.direct(tn), grouped("", "m1")...)
			a := e.queue(tn)
			got := receiveN(ctxFor(t, 20*time.Second), t, a, 1, long)
			inject(t, e, faultproxy.DropResponse, "UpdateItem", matchSetVis, 1)
			if failed, err := a.ReleaseMessages(ctxFor(t, 20*time.Second), got[0].ReceiptHandle); err != nil || len(failed) > 0 {
				t.Fatalf("release: %v", err)
			}
			expectFaults(t, e, faultproxy.DropResponse, "UpdateItem", 1)
			got = receiveN(ctxFor(t, 20*time.Second), t, e.direct(tn), 1, long)
			mustDelete(t, e.direct(tn), got...)
		}},
		{"push-batch", func(t *testing.T, e *env) {
			inject(t, e, faultproxy.DropResponse, "BatchWriteItem", nil, 1)
			mustPush(t, e.queue(tn), grouped("", "m1", "m2", "m3")...)
			expectFaults(t, e, faultproxy.DropResponse, "BatchWriteItem", 1)
			expectCount(t, e.direct(tn), 3)
			got := receiveN(ctxFor(t, 20*time.Second), t, e.direct(tn), 3, long)
			if b := bodiesOf(got); !slices.Equal(b, []string{"m1", "m2", "m3"}) {
				t.Fatalf("got %v", b)
			}
			expectNothing(t, e.direct(tn), "no duplicate from the retried batch")
			mustDelete(t, e.direct(tn), got...)
		}},
		{"push-group", func(t *testing.T, e *env) {
			inject(t, e, faultproxy.DropResponse, "UpdateItem", matchTouchGroup, 1)
			mustPush(t, e.queue(tn), grouped("g", "m1", "m2")...)
			expectFaults(t, e, faultproxy.DropResponse, "UpdateItem", 1)
			for _, want := range []string{"m1", "m2"} {
				got := receiveN(ctxFor(t, 20*time.Second), t, e.direct(tn), 1, long)
				if got[0].Body != want {
					t.Fatalf("got %q, want %q", got[0].Body, want)
				}
				mustDelete(t, e.direct(tn), got...)
			}
		}},
		{"push-dedup", func(t *testing.T, e *env) {
			inject(t, e, faultproxy.DropResponse, "PutItem", matchDedupRecord, 1)
			inject(t, e, faultproxy.DropResponse, "PutItem", matchDedupMessage, 1)
			inject(t, e, faultproxy.DropResponse, "UpdateItem", matchDedupDone, 1)
			msg := events.SQSMessage{Body: "m1", Attributes: map[string]string{dynamodbqueue.AttributeMessageDeduplicationID: "d1"}}
			res := mustPush(t, e.queue(tn), msg)
			expectFaults(t, e, faultproxy.DropResponse, "PutItem", 2)
			expectFaults(t, e, faultproxy.DropResponse, "UpdateItem", 1)
			if res.Duplicates != 0 {
				t.Fatalf("own retried push counted as %d duplicates", res.Duplicates)
			}
			expectCount(t, e.direct(tn), 1)
			// A real repeat is still recognised.
			if res := mustPush(t, e.queue(tn), msg); res.Duplicates != 1 {
				t.Fatalf("repeat push: %d duplicates, want 1", res.Duplicates)
			}
			got := receiveN(ctxFor(t, 20*time.Second), t, e.direct(tn), 1, long)
			mustDelete(t, e.direct(tn), got...)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, 1, 3)
			tc.run(t, e)
			if n := e.proxy.Pending(); n != 0 {
				t.Fatalf("%d injected faults were never used: the test missed its target request", n)
			}
			expectCount(t, e.direct(tn), 0)
		})
	}
}

// TestStaleHandlesDeleteNothing lets a consumer's claims run out and another consumer take the
// messages; the first consumer's deletes and releases, with dropped responses and other faults,
// must all fail as stale and change nothing, while the new holder's handles work.
func TestStaleHandlesDeleteNothing(t *testing.T) {
	t.Parallel()
	seed := seedFor(t, 4004)
	e := newEnv(t, seed, 10)
	tn := tenant{queue: "stale", client: "c"}
	var all []events.SQSMessage
	all = append(all, grouped("", "p1", "p2", "p3", "p4", "p5", "p6")...)
	all = append(all, grouped("g1", "g1-1", "g1-2", "g1-3")...)
	all = append(all, grouped("g2", "g2-1", "g2-2", "g2-3")...)
	mustPush(t, e.direct(tn), all...)

	a, b := e.queue(tn), e.queue(tn)
	// A takes the six plain messages and the two group heads, briefly.
	held := receiveN(ctxFor(t, 20*time.Second), t, a, 8, time.Second)
	// B waits until all of them are back and holds them for a minute.
	taken := receiveN(ctxFor(t, 30*time.Second), t, b, 8, time.Minute)
	if x, y := sortedCopy(bodiesOf(held)), sortedCopy(bodiesOf(taken)); !slices.Equal(x, y) {
		t.Fatalf("A held %v, B took %v", x, y)
	}
	// A's handles are stale now: nothing may be deleted or released with them, even when
	// responses are dropped and requests retried.
	if err := e.proxy.SetRules(
		faultproxy.Rule{Kind: faultproxy.DropResponse, Probability: 0.3, Operations: []string{"DeleteItem", "UpdateItem"}},
		faultproxy.Rule{Kind: faultproxy.InternalServerError, Probability: 0.1},
		faultproxy.Rule{Kind: faultproxy.Throttling, Probability: 0.1},
	); err != nil {
		t.Fatal(err)
	}
	failed, err := a.DeleteMessages(ctxFor(t, 30*time.Second), dynamodbqueue.ToReceiptHandles(held)...)
	if len(failed) != len(held) || !errors.Is(err, dynamodbqueue.ErrStaleReceiptHandle) {
		t.Fatalf("stale deletes: %d of %d failed, %v", len(failed), len(held), err)
	}
	assertAllStale(t, err, len(held))
	failed, err = a.ReleaseMessages(ctxFor(t, 30*time.Second), dynamodbqueue.ToReceiptHandles(held)...)
	if len(failed) != len(held) {
		t.Fatalf("stale releases: %d of %d failed, %v", len(failed), len(held), err)
	}
	assertAllStale(t, err, len(held))
	st := e.proxy.Stats()
	if err := e.proxy.SetRules(); err != nil {
		t.Fatal(err)
	}
	expectCount(t, e.direct(tn), len(all))
	// Nothing was released either: B still holds all 8, and the groups' next messages wait.
	expectNothing(t, e.direct(tn), "messages B holds, after stale releases by A")
	// B's handles work.
	mustDelete(t, b, taken...)
	expectCount(t, e.direct(tn), len(all)-len(taken))
	t.Logf("%v", st)
	if st.Count(faultproxy.DropResponse) == 0 {
		t.Fatal("no response was dropped")
	}
}

// assertAllStale checks that a joined per-handle error holds n errors, each a stale-handle
// error or, where injected faults outlasted the SDK's retries, a DynamoDB error; and that most
// are stale. (Whatever the error, the count and polls checked afterwards show nothing changed.)
func assertAllStale(t *testing.T, err error, n int) {
	t.Helper()
	j, ok := err.(interface{ Unwrap() []error })
	if !ok || len(j.Unwrap()) != n {
		t.Fatalf("want %d per-handle errors, got %v", n, err)
	}
	stale := 0
	for _, e := range j.Unwrap() {
		var api smithy.APIError
		var send *smithyhttp.RequestSendError
		switch {
		case errors.Is(e, dynamodbqueue.ErrStaleReceiptHandle):
			stale++
		case errors.As(e, &api) || errors.As(e, &send):
			t.Logf("not stale but failed through injected faults: %v", e)
		default:
			t.Errorf("want a stale-handle error, got %v", e)
		}
	}
	if stale < n/2 {
		t.Errorf("only %d of %d errors say the handle is stale", stale, n)
	}
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}
