package dynamodbqueue_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
)

// newClockedQueue is newQueue with a test clock.
func newClockedQueue(t *testing.T, queue, client string) (*dynamodbqueue.DynamoDBQueue, *dynamodbqueue.Clock) {
	t.Helper()
	q := newQueue(t, queue, client)
	c := &dynamodbqueue.Clock{}
	return dynamodbqueue.WithClock(q, c), c
}

func TestIsolationBetweenPairs(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	a := newQueue(t, "jobs", "client-a")
	b := a.Clone().UseClientID("client-b")
	other := a.Clone().UseQueueName("jobs2") // same client, other queue
	push(t, a, bodies(5, "a")...)
	push(t, b, bodies(3, "b")...)

	for _, tc := range []struct {
		q    *dynamodbqueue.DynamoDBQueue
		want int
	}{{a, 5}, {b, 3}, {other, 0}} {
		if n, err := tc.q.Count(ctx); err != nil || n != tc.want {
			t.Fatalf("Count(%s/%s) = %d, %v; want %d", tc.q.QueueName(), tc.q.ClientID(), n, err, tc.want)
		}
	}
	gotB := mustPoll(t, b, time.Minute, 10)
	if want := bodyList(bodies(3, "b")); !slices.Equal(bodyList(gotB), want) {
		t.Fatalf("client b received %v, want only its own %v", bodyList(gotB), want)
	}
	// a's handles cannot delete b's messages and vice versa.
	failed, err := a.DeleteMessages(ctx, toHandles(gotB)...)
	if len(failed) != 3 || !errors.Is(err, dynamodbqueue.ErrForeignReceiptHandle) {
		t.Fatalf("deleting b's handles through a: failed=%d err=%v; want 3 and ErrForeignReceiptHandle", len(failed), err)
	}
	if err := b.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := a.Count(ctx); n != 5 {
		t.Fatalf("purging b removed a's messages: a has %d, want 5", n)
	}
	if n, _ := b.Count(ctx); n != 0 {
		t.Fatalf("b has %d messages after Purge, want 0", n)
	}
	pairs, err := a.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(pairs, func(x, y dynamodbqueue.QueueAndClientID) int {
		return cmpStr(x.ClientID, y.ClientID)
	})
	want := []dynamodbqueue.QueueAndClientID{{QueueName: "jobs", ClientID: "client-a"}, {QueueName: "jobs", ClientID: "client-b"}}
	if !slices.Equal(pairs, want) {
		t.Fatalf("List = %v, want %v", pairs, want)
	}
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestInvalidNamesRejectedBeforeSending(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	q, _ := newTable(t)
	for _, tc := range []struct{ queue, client string }{
		{"", "c"}, {"q", ""}, {"has|pipe", "c"}, {"q", "has space"}, {"q", "star*"}, {string(make([]byte, 81)), "c"}, {"ünï", "c"},
	} {
		bad := q.Clone().UseQueueName(tc.queue).UseClientID(tc.client)
		failed, err := bad.PushMessages(ctx, 0, events.SQSMessage{Body: "x"})
		if err == nil || len(failed) != 1 {
			t.Fatalf("push with queue %q client %q: failed=%d err=%v; want an error", tc.queue, tc.client, len(failed), err)
		}
		if !errors.Is(err, dynamodbqueue.ErrInvalidName) && !errors.Is(err, dynamodbqueue.ErrQueueNameNotSet) && !errors.Is(err, dynamodbqueue.ErrClientIDNotSet) {
			t.Fatalf("push with queue %q client %q: err %v does not name the problem", tc.queue, tc.client, err)
		}
		if _, err := bad.PollMessages(ctx, 0, time.Minute, 1); err == nil {
			t.Fatalf("poll with queue %q client %q succeeded", tc.queue, tc.client)
		}
	}
	if pairs, err := q.List(ctx); err != nil || len(pairs) != 0 {
		t.Fatalf("List after rejected pushes = %v, %v; want nothing written", pairs, err)
	}
}

func TestClaimedMessageInvisibleUntilTimeout(t *testing.T) {
	t.Parallel()
	q, clock := newClockedQueue(t, "vis", "c")
	push(t, q, events.SQSMessage{Body: "only"})
	first := mustPoll(t, q, 30*time.Second, 10)
	if len(first) != 1 || first[0].Attributes[dynamodbqueue.AttributeApproximateReceiveCount] != "1" {
		t.Fatalf("first poll = %+v; want the message with receive count 1", first)
	}
	clock.Advance(29 * time.Second)
	if again := mustPoll(t, q, 30*time.Second, 10); len(again) != 0 {
		t.Fatalf("message delivered again within its visibility timeout")
	}
	clock.Advance(2 * time.Second)
	second := mustPoll(t, q, 30*time.Second, 10)
	if len(second) != 1 || second[0].MessageId != first[0].MessageId {
		t.Fatalf("after the timeout got %v; want the same message again", bodyList(second))
	}
	if rc := second[0].Attributes[dynamodbqueue.AttributeApproximateReceiveCount]; rc != "2" {
		t.Fatalf("receive count after redelivery = %s, want 2", rc)
	}
	if a, b := first[0].Attributes[dynamodbqueue.AttributeApproximateFirstReceiveTimestamp], second[0].Attributes[dynamodbqueue.AttributeApproximateFirstReceiveTimestamp]; a != b || a == "" {
		t.Fatalf("first-receive timestamp changed from %q to %q", a, b)
	}
}

func TestConcurrentConsumersClaimExactlyOnce(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	q := newQueue(t, "race", "c")
	const n = 200
	push(t, q, bodies(n, "r")...)
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		// Each consumer has its own queue value and client, as separate processes would.
		c := dynamodbqueue.NewFromClient(testenv.Client(t), 0).UseTable(q.Table()).UseQueueName("race").UseClientID("c")
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				msgs, err := c.PollMessages(ctx, 0, time.Hour, 7)
				if err != nil {
					t.Error(err)
					return
				}
				if len(msgs) == 0 {
					return
				}
				mu.Lock()
				for _, m := range msgs {
					seen[m.Body]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("received %d distinct messages, want %d", len(seen), n)
	}
	for body, k := range seen {
		if k != 1 {
			t.Fatalf("message %s was claimed %d times within one visibility timeout", body, k)
		}
	}
}

func TestStaleTamperedAndForeignHandlesDeleteNothing(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	q, clock := newClockedQueue(t, "handles", "c")
	push(t, q, events.SQSMessage{Body: "x"})
	old := mustPoll(t, q, 10*time.Second, 1)
	clock.Advance(11 * time.Second)
	cur := mustPoll(t, q, 10*time.Second, 1)
	if len(old) != 1 || len(cur) != 1 {
		t.Fatalf("polls returned %d and %d messages", len(old), len(cur))
	}

	h := old[0].ReceiptHandle
	tampered := h[:len(h)-3] + flip(h[len(h)-3:len(h)-2]) + h[len(h)-2:]
	otherClient := q.Clone().UseClientID("d")
	otherTable := q.Clone().UseTable("another-table")
	cases := []struct {
		name string
		q    *dynamodbqueue.DynamoDBQueue
		h    string
		want error
	}{
		{"stale", q, h, dynamodbqueue.ErrStaleReceiptHandle},
		{"tampered", q, tampered, dynamodbqueue.ErrInvalidReceiptHandle},
		{"garbage", q, "not-a-handle", dynamodbqueue.ErrInvalidReceiptHandle},
		{"empty", q, "", dynamodbqueue.ErrInvalidReceiptHandle},
		{"other client", otherClient, cur[0].ReceiptHandle, dynamodbqueue.ErrForeignReceiptHandle},
		{"other table", otherTable, cur[0].ReceiptHandle, dynamodbqueue.ErrForeignReceiptHandle},
	}
	for _, tc := range cases {
		failed, err := tc.q.DeleteMessages(ctx, tc.h)
		if len(failed) != 1 || !errors.Is(err, tc.want) {
			t.Fatalf("%s handle: failed=%d err=%v; want %v", tc.name, len(failed), err, tc.want)
		}
		if _, err := tc.q.ChangeVisibility(ctx, 0, tc.h); !errors.Is(err, tc.want) {
			t.Fatalf("%s handle: ChangeVisibility err=%v; want %v", tc.name, err, tc.want)
		}
		if n, _ := q.Count(ctx); n != 1 {
			t.Fatalf("%s handle deleted the message", tc.name)
		}
	}
	if failed, err := q.DeleteMessages(ctx, cur[0].ReceiptHandle); err != nil || len(failed) != 0 {
		t.Fatalf("current handle: failed=%v err=%v", failed, err)
	}
	if n, _ := q.Count(ctx); n != 0 {
		t.Fatalf("current handle did not delete the message")
	}
	// Deleting again with the same handle is an idempotent success, as in SQS.
	if failed, err := q.DeleteMessages(ctx, cur[0].ReceiptHandle); err != nil || len(failed) != 0 {
		t.Fatalf("repeated delete: failed=%v err=%v", failed, err)
	}
}

func flip(s string) string {
	if s == "A" {
		return "B"
	}
	return "A"
}

func TestFIFOAndLIFOOrderSwitchAtRuntime(t *testing.T) {
	t.Parallel()
	q := newQueue(t, "order", "c")
	// One batch: all of these are pushed within the same millisecond.
	msgs := bodies(40, "o")
	push(t, q, msgs...)
	want := bodyList(msgs)
	if got := bodyList(mustPoll(t, q, time.Hour, 5)); !slices.Equal(got, want[:5]) {
		t.Fatalf("FIFO = %v, want %v", got, want[:5])
	}
	q.UseLIFO()
	if got := bodyList(mustPoll(t, q, time.Hour, 5)); !slices.Equal(got, reversed(want[35:])) {
		t.Fatalf("LIFO = %v, want %v", got, reversed(want[35:]))
	}
	q.UseFIFO()
	if got := bodyList(mustPoll(t, q, time.Hour, 5)); !slices.Equal(got, want[5:10]) {
		t.Fatalf("FIFO again = %v, want %v", got, want[5:10])
	}
	if q.Order() != dynamodbqueue.FIFO {
		t.Fatalf("Order() = %v", q.Order())
	}
}

func reversed(s []string) []string {
	r := slices.Clone(s)
	slices.Reverse(r)
	return r
}

func TestExpiredMessagesNeverDeliveredOrCounted(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	q, clock := newClockedQueue(t, "ttl", "c")
	if failed, err := q.PushMessages(ctx, time.Minute, bodies(3, "short")...); err != nil || len(failed) > 0 {
		t.Fatal(err)
	}
	push(t, q, events.SQSMessage{Body: "long"}) // default TTL: 14 days
	clock.Advance(2 * time.Minute)
	if n, err := q.Count(ctx); err != nil || n != 1 {
		t.Fatalf("Count = %d, %v; want 1 (expired messages are not counted)", n, err)
	}
	got := mustPoll(t, q, time.Minute, 10)
	if !slices.Equal(bodyList(got), []string{"long"}) {
		t.Fatalf("poll = %v; want only the unexpired message", bodyList(got))
	}
}

func TestMessageFieldsRoundTrip(t *testing.T) {
	t.Parallel()
	q := newQueue(t, "fields", "c")
	in := events.SQSMessage{
		Body: "héllo \t wörld 🌍",
		MessageAttributes: map[string]events.SQSMessageAttribute{
			"s":      {DataType: "String", StringValue: aws.String("text")},
			"n":      {DataType: "Number", StringValue: aws.String("-12.5e3")},
			"b":      {DataType: "Binary", BinaryValue: []byte{0, 1, 2, 255}},
			"custom": {DataType: "String.json", StringValue: aws.String(`{"a":1}`)},
			"bin2":   {DataType: "Binary.gz", BinaryValue: []byte("\x1f\x8b")},
		},
		Attributes:     map[string]string{"Custom": "kept"},
		EventSource:    "aws:sqs",
		EventSourceARN: "arn:aws:sqs:eu-west-1:1:q",
		AWSRegion:      "eu-west-1",
	}
	res, err := q.PushWithOptions(ctxT(t), dynamodbqueue.PushOptions{}, in)
	if err != nil {
		t.Fatal(err)
	}
	sent := res.Pushed[0]
	got := mustPoll(t, q, time.Minute, 1)
	if len(got) != 1 {
		t.Fatalf("got %d messages", len(got))
	}
	m := got[0]
	if m.Body != in.Body || m.EventSource != in.EventSource || m.EventSourceARN != in.EventSourceARN || m.AWSRegion != in.AWSRegion {
		t.Fatalf("fields changed: %+v", m)
	}
	if m.MessageId == "" || m.MessageId != sent.MessageId || m.Md5OfBody != sent.Md5OfBody || m.Md5OfBody == "" || m.Md5OfMessageAttributes == "" {
		t.Fatalf("ids/digests: got %q %q %q, pushed %q %q", m.MessageId, m.Md5OfBody, m.Md5OfMessageAttributes, sent.MessageId, sent.Md5OfBody)
	}
	if len(m.MessageAttributes) != len(in.MessageAttributes) {
		t.Fatalf("attributes = %v", m.MessageAttributes)
	}
	for k, a := range in.MessageAttributes {
		b := m.MessageAttributes[k]
		if a.DataType != b.DataType || aws.ToString(a.StringValue) != aws.ToString(b.StringValue) || !slices.Equal(a.BinaryValue, b.BinaryValue) {
			t.Fatalf("attribute %s: got %+v want %+v", k, b, a)
		}
	}
	if m.Attributes["Custom"] != "kept" {
		t.Fatalf("user attribute lost: %v", m.Attributes)
	}
	for _, k := range []string{dynamodbqueue.AttributeSentTimestamp, dynamodbqueue.AttributeApproximateReceiveCount, dynamodbqueue.AttributeApproximateFirstReceiveTimestamp} {
		if _, err := strconv.ParseInt(m.Attributes[k], 10, 64); err != nil {
			t.Fatalf("attribute %s = %q, want a number", k, m.Attributes[k])
		}
	}
}

func TestLongPollWakesOnPushAndStopsOnCancel(t *testing.T) {
	t.Parallel()
	q := newQueue(t, "longpoll", "c")
	ctx := ctxT(t)
	done := make(chan []events.SQSMessage)
	go func() {
		msgs, err := q.ReceiveMessages(ctx, dynamodbqueue.ReceiveOptions{MaxMessages: 10, WaitTime: time.Minute})
		if err != nil {
			t.Error(err)
		}
		done <- msgs
	}()
	push(t, q, events.SQSMessage{Body: "wake"})
	if got := <-done; !slices.Equal(bodyList(got), []string{"wake"}) {
		t.Fatalf("long poll returned %v", bodyList(got))
	}

	cctx, cancel := context.WithCancel(ctx)
	errc := make(chan error)
	go func() {
		_, err := q.ReceiveMessages(cctx, dynamodbqueue.ReceiveOptions{WaitTime: time.Hour})
		errc <- err
	}()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled long poll returned %v, want context.Canceled", err)
	}
}

func TestPollWaitsForMaxMessagesUntilTimeout(t *testing.T) {
	t.Parallel()
	q := newQueue(t, "pollmax", "c")
	ctx := ctxT(t)
	push(t, q, bodies(2, "a")...)
	go func() {
		// Arrives while the poll waits for its fifth message.
		if failed, err := q.PushMessages(ctx, 0, bodies(3, "b")...); err != nil || len(failed) > 0 {
			t.Error(err)
		}
	}()
	got, err := q.PollMessages(ctx, 30*time.Second, time.Minute, 5)
	if err != nil || len(got) != 5 {
		t.Fatalf("PollMessages with timeout got %d messages, %v; want 5", len(got), err)
	}
}

func TestMissingTableErrorWraps(t *testing.T) {
	t.Parallel()
	q := dynamodbqueue.NewFromClient(testenv.Client(t), 0).UseTable(testenv.TableName(t)).UseQueueName("q").UseClientID("c")
	_, err := q.PollMessages(ctxT(t), 0, time.Minute, 1)
	var rnf *types.ResourceNotFoundException
	if !errors.Is(err, dynamodbqueue.ErrTableNotFound) || !errors.As(err, &rnf) {
		t.Fatalf("poll on a missing table: %v; want ErrTableNotFound wrapping ResourceNotFoundException", err)
	}
	if ok, err := q.TableExists(ctxT(t)); ok || err != nil {
		t.Fatalf("TableExists = %v, %v", ok, err)
	}
}

func TestSettingsChangeWhileInUse(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	q := newQueue(t, "qa", "c")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() { // flips queue name and order while others push and poll
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if i%2 == 0 {
				q.UseQueueName("qb").UseLIFO().UseVisibilityTimeout(time.Hour)
			} else {
				q.UseQueueName("qa").UseFIFO().UseVisibilityTimeout(2 * time.Hour)
			}
		}
	}()
	const pushes = 40
	for i := 0; i < pushes; i++ {
		push(t, q, events.SQSMessage{Body: fmt.Sprint(i)})
		if _, err := q.PollMessages(ctx, 0, 0, 1); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	qa, _ := q.Clone().UseQueueName("qa").Count(ctx)
	qb, _ := q.Clone().UseQueueName("qb").Count(ctx)
	if qa+qb != pushes {
		t.Fatalf("qa has %d and qb %d messages, want %d in all", qa, qb, pushes)
	}
}

// TestCancelledReceiveReturnsEveryClaim cancels receives at arbitrary moments and checks that
// every message left in flight was returned to the caller: none is hidden with nobody holding it.
func TestCancelledReceiveReturnsEveryClaim(t *testing.T) {
	t.Parallel()
	q := newQueue(t, "cancel", "c")
	push(t, q, bodies(200, "x")...)
	returned := 0
	for _, d := range []time.Duration{2, 5, 10, 20, 40} {
		ctx, cancel := context.WithTimeout(context.Background(), d*time.Millisecond)
		msgs, _ := q.ReceiveMessages(ctx, dynamodbqueue.ReceiveOptions{MaxMessages: 40, VisibilityTimeout: time.Hour})
		cancel()
		returned += len(msgs)
	}
	st, err := q.Stats(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.InFlight != returned {
		t.Fatalf("%d messages in flight but only %d were returned to the caller", st.InFlight, returned)
	}
}

// TestCreateTableTTLFollowsEndpoint: where the endpoint implements time to live (DynamoDB Local,
// AWS), CreateQueueTable turns it on and says so at info level; where it does not (dynalite), the
// table is still created, a warning wrapping ErrTTLNotEnabled is logged, and DescribeQueueTable
// reports the status. A repeated create is quiet and idempotent on both.
func TestCreateTableTTLFollowsEndpoint(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	var logged []slog.Record
	var mu sync.Mutex
	logger := slog.New(recordHandler{fn: func(r slog.Record) { mu.Lock(); logged = append(logged, r); mu.Unlock() }})
	q := dynamodbqueue.NewFromClient(testenv.Client(t), 0).UseTable(testenv.TableName(t)).UseLogger(logger)
	created, err := q.CreateQueueTable(ctx)
	if err != nil || !created {
		t.Fatalf("CreateQueueTable = %v, %v; want created without error", created, err)
	}
	t.Cleanup(func() { _ = q.DropQueueTable(context.Background()) })
	warned, said := false, false
	for _, r := range logged {
		said = said || (r.Level == slog.LevelInfo && strings.Contains(r.Message, "time to live enabled"))
		r.Attrs(func(a slog.Attr) bool {
			if e, ok := a.Value.Any().(error); ok && errors.Is(e, dynamodbqueue.ErrTTLNotEnabled) && r.Level == slog.LevelWarn {
				warned = true
			}
			return true
		})
	}
	info, err := q.DescribeQueueTable(ctx)
	if err != nil || !info.ReadyIndex || info.Status != "ACTIVE" {
		t.Fatalf("DescribeQueueTable = %+v, %v", info, err)
	}
	if testenv.SupportsTTL(t) {
		if warned || !said || (info.TTLStatus != "ENABLED" && info.TTLStatus != "ENABLING") {
			t.Fatalf("%s: warned %v, said enabled %v, TTL status %q; want no warning, an info record, ENABLED",
				testenv.Server(t), warned, said, info.TTLStatus)
		}
	} else if !warned || said || info.TTLStatus == "ENABLED" {
		t.Fatalf("%s: warned %v, said enabled %v, TTL status %q; want a warning wrapping ErrTTLNotEnabled",
			testenv.Server(t), warned, said, info.TTLStatus)
	}
	mu.Lock()
	logged = nil
	mu.Unlock()
	if created, err := q.CreateQueueTable(ctx); err != nil || created {
		t.Fatalf("second CreateQueueTable = %v, %v; want false, nil", created, err)
	}
	for _, r := range logged {
		if r.Level >= slog.LevelInfo {
			t.Fatalf("repeated create logged at %v: %v", r.Level, r.Message)
		}
	}
}

// recordHandler passes every record to fn.
type recordHandler struct{ fn func(slog.Record) }

func (h recordHandler) Enabled(context.Context, slog.Level) bool      { return true }
func (h recordHandler) Handle(_ context.Context, r slog.Record) error { h.fn(r); return nil }
func (h recordHandler) WithAttrs([]slog.Attr) slog.Handler            { return h }
func (h recordHandler) WithGroup(string) slog.Handler                 { return h }
