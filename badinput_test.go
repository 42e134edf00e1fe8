package dynamodbqueue_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
)

// TestBadInputIsRejectedAndNothingWritten sends every kind of invalid input to a real table and
// checks that each gets an error naming the problem and that the table stays empty.
func TestBadInputIsRejectedAndNothingWritten(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	q := newQueue(t, "bad", "c")
	attrs := map[string]events.SQSMessageAttribute{}
	for _, n := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"} {
		attrs[n] = events.SQSMessageAttribute{DataType: "String", StringValue: aws.String("v")}
	}
	good := events.SQSMessage{Body: "fine"}
	pushes := []struct {
		name string
		q    *dynamodbqueue.DynamoDBQueue
		ttl  time.Duration
		msgs []events.SQSMessage
		want error
	}{
		{"body over 1 MiB", q, 0, []events.SQSMessage{good, {Body: strings.Repeat("x", 1<<20+1)}}, dynamodbqueue.ErrMessageTooLarge},
		{"body over 256 KiB limit", q.Clone().UseMaxMessageSize(256 << 10), 0, []events.SQSMessage{{Body: strings.Repeat("x", 256<<10+1)}}, dynamodbqueue.ErrMessageTooLarge},
		{"11 attributes", q, 0, []events.SQSMessage{{Body: "x", MessageAttributes: attrs}}, dynamodbqueue.ErrInvalidMessage},
		{"bad data type", q, 0, []events.SQSMessage{{Body: "x", MessageAttributes: map[string]events.SQSMessageAttribute{"a": {DataType: "Int", StringValue: aws.String("1")}}}}, dynamodbqueue.ErrInvalidMessage},
		{"empty body", q, 0, []events.SQSMessage{{}}, dynamodbqueue.ErrInvalidMessage},
		{"bad group", q, 0, []events.SQSMessage{{Body: "x", Attributes: map[string]string{dynamodbqueue.AttributeMessageGroupID: "has space"}}}, dynamodbqueue.ErrInvalidGroup},
		{"bad dedup id", q, 0, []events.SQSMessage{{Body: "x", Attributes: map[string]string{dynamodbqueue.AttributeMessageDeduplicationID: ""}}}, dynamodbqueue.ErrInvalidMessage},
		{"negative ttl", q, -time.Second, []events.SQSMessage{good}, dynamodbqueue.ErrInvalidArgument},
		{"absurd ttl", q, 100 * 365 * 24 * time.Hour, []events.SQSMessage{good}, dynamodbqueue.ErrInvalidArgument},
		{"bad queue delay", q.Clone().UseDelay(time.Hour), 0, []events.SQSMessage{good}, dynamodbqueue.ErrInvalidArgument},
		{"zero shards", q.Clone().UseShards(0), 0, []events.SQSMessage{good}, dynamodbqueue.ErrInvalidArgument},
		{"no table", q.Clone().UseTable(""), 0, []events.SQSMessage{good}, dynamodbqueue.ErrTableNotSet},
		{"bad table name", q.Clone().UseTable("a/b"), 0, []events.SQSMessage{good}, dynamodbqueue.ErrInvalidName},
		{"bad dead-letter config", q.Clone().UseDeadLetterQueue(&dynamodbqueue.DeadLetterConfig{MaxReceiveCount: 0}), 0, []events.SQSMessage{good}, dynamodbqueue.ErrInvalidArgument},
	}
	for _, tc := range pushes {
		failed, err := tc.q.PushMessages(ctx, tc.ttl, tc.msgs...)
		if !errors.Is(err, tc.want) || len(failed) != len(tc.msgs) {
			t.Errorf("%s: failed=%d err=%v; want all %d failed with %v", tc.name, len(failed), err, len(tc.msgs), tc.want)
		}
	}
	receives := []struct {
		name string
		opts dynamodbqueue.ReceiveOptions
	}{
		{"max 0 via poll", dynamodbqueue.ReceiveOptions{MaxMessages: -1}},
		{"max too large", dynamodbqueue.ReceiveOptions{MaxMessages: dynamodbqueue.MaxReceiveMessages + 1}},
		{"min above max", dynamodbqueue.ReceiveOptions{MaxMessages: 2, MinMessages: 3}},
		{"negative wait", dynamodbqueue.ReceiveOptions{WaitTime: -time.Second}},
		{"absurd wait", dynamodbqueue.ReceiveOptions{WaitTime: 48 * time.Hour}},
		{"negative visibility", dynamodbqueue.ReceiveOptions{VisibilityTimeout: -time.Second}},
		{"visibility over 12h", dynamodbqueue.ReceiveOptions{VisibilityTimeout: 13 * time.Hour}},
	}
	for _, tc := range receives {
		if _, err := q.ReceiveMessages(ctx, tc.opts); !errors.Is(err, dynamodbqueue.ErrInvalidArgument) {
			t.Errorf("%s: %v, want ErrInvalidArgument", tc.name, err)
		}
	}
	if _, err := q.PollMessages(ctx, 0, time.Minute, 0); err != nil {
		// PollMessages(max 0) means one message, as ReceiveOptions' zero value does.
		t.Errorf("PollMessages max 0: %v", err)
	}
	if _, err := q.Peek(ctx, 0); !errors.Is(err, dynamodbqueue.ErrInvalidArgument) {
		t.Errorf("Peek(0): %v", err)
	}
	if _, err := q.RedriveDeadLetters(ctx, -1); err == nil {
		t.Error("RedriveDeadLetters(-1) accepted")
	}
	if n := itemCount(t, q); n != 0 {
		t.Fatalf("bad input wrote %d items", n)
	}
}

// noCallAPI has no methods behind its interface: any call to DynamoDB panics, and
// reachedDynamoDB turns that panic into a report.
type noCallAPI struct{ dynamodbqueue.API }

func reachedDynamoDB(fn func() error) (called bool, err error) {
	defer func() {
		if recover() != nil {
			called = true
		}
	}()
	return false, fn()
}

// FuzzPublicEntryPoints feeds arbitrary strings to the public calls that take strings from
// users. Invalid input must be rejected with a sentinel error before any request is sent.
func FuzzPublicEntryPoints(f *testing.F) {
	f.Add("orders", "tenant-1", "handle", "body", "group")
	f.Add("a|b", "", "", "", "")
	f.Add("q", "c", "AQAB", "\xff", "g g")
	f.Fuzz(func(t *testing.T, queue, client, handle, body, group string) {
		q := dynamodbqueue.NewFromClient(noCallAPI{}, 0).UseTable("fuzz-table").UseQueueName(queue).UseClientID(client).UseLogger(nil)
		ctx := context.Background()
		sentinels := []error{dynamodbqueue.ErrInvalidName, dynamodbqueue.ErrQueueNameNotSet, dynamodbqueue.ErrClientIDNotSet,
			dynamodbqueue.ErrInvalidReceiptHandle, dynamodbqueue.ErrForeignReceiptHandle, dynamodbqueue.ErrInvalidMessage,
			dynamodbqueue.ErrInvalidGroup, dynamodbqueue.ErrMessageTooLarge, dynamodbqueue.ErrInvalidArgument}
		rejected := func(op string, called bool, err error) {
			if called {
				t.Fatalf("%s sent a request for input it should have rejected", op)
			}
			for _, s := range sentinels {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("%s: error %v wraps no sentinel", op, err)
		}
		// Only handles this package signed parse, so a fuzzed handle never reaches DynamoDB.
		called, err := reachedDynamoDB(func() error { _, err := q.DeleteMessages(ctx, handle); return err })
		rejected("DeleteMessages", called, err)
		called, err = reachedDynamoDB(func() error { _, err := q.ChangeVisibility(ctx, time.Second, handle); return err })
		rejected("ChangeVisibility", called, err)

		msg := events.SQSMessage{Body: body, Attributes: map[string]string{dynamodbqueue.AttributeMessageGroupID: group}}
		called, err = reachedDynamoDB(func() error { _, err := q.PushMessages(ctx, 0, msg); return err })
		valid := dynamodbqueue.ValidateName(queue) == nil && dynamodbqueue.ValidateName(client) == nil &&
			dynamodbqueue.ValidateMessage(msg) == nil
		if valid != called {
			t.Fatalf("push of valid=%v input: reached DynamoDB=%v (err %v)", valid, called, err)
		}
		if !valid {
			rejected("PushMessages", called, err)
		}
	})
}

// TestTableNameErrorNamesTheCharacter: a non-ASCII table name is reported by its character and
// position, not by its first byte (issue 8, bug 5).
func TestTableNameErrorNamesTheCharacter(t *testing.T) {
	q := dynamodbqueue.NewFromClient(testenv.Client(t), 0).UseTable("tablé").UseQueueName("q").UseClientID("c")
	_, err := q.Count(ctxT(t))
	if !errors.Is(err, dynamodbqueue.ErrInvalidName) || !strings.Contains(err.Error(), `'é' (U+00E9) at position 5`) {
		t.Fatalf("Count = %v; want ErrInvalidName naming 'é' (U+00E9) at position 5", err)
	}
}
