package dynamodbqueue_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
)

// TestNewValidatesOptions: each invalid option fails New with the sentinel that names it.
func TestNewValidatesOptions(t *testing.T) {
	t.Parallel()
	api := testenv.Client(t)
	for _, tc := range []struct {
		name string
		opts dynamodbqueue.Options
		want error
	}{
		{"no API", dynamodbqueue.Options{}, dynamodbqueue.ErrInvalidArgument},
		{"bad table", dynamodbqueue.Options{API: api, Table: "a/b"}, dynamodbqueue.ErrInvalidName},
		{"negative TTL", dynamodbqueue.Options{API: api, DefaultTTL: -time.Second}, dynamodbqueue.ErrInvalidArgument},
		{"negative poll interval", dynamodbqueue.Options{API: api, LongPollInterval: -time.Millisecond}, dynamodbqueue.ErrInvalidArgument},
		{"poll limit under first", dynamodbqueue.Options{API: api, LongPollInterval: time.Second, LongPollMaxInterval: time.Millisecond}, dynamodbqueue.ErrInvalidArgument},
	} {
		if c, err := dynamodbqueue.New(tc.opts); !errors.Is(err, tc.want) || c != nil {
			t.Errorf("%s: New = %v, %v; want %v", tc.name, c, err, tc.want)
		}
	}
	if _, err := dynamodbqueue.New(dynamodbqueue.Options{API: api}); err != nil {
		t.Fatalf("New with only an API: %v", err)
	}
}

// TestClientQueueValidatesNames: Queue needs the client's table and valid names.
func TestClientQueueValidatesNames(t *testing.T) {
	t.Parallel()
	c, err := dynamodbqueue.New(dynamodbqueue.Options{API: testenv.Client(t)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Queue("q", "c"); !errors.Is(err, dynamodbqueue.ErrTableNotSet) {
		t.Errorf("no table: %v", err)
	}
	c = c.WithTable("queues")
	for _, tc := range []struct {
		queue, client string
		want          error
	}{
		{"", "c", dynamodbqueue.ErrQueueNameNotSet},
		{"q", "", dynamodbqueue.ErrClientIDNotSet},
		{"a|b", "c", dynamodbqueue.ErrInvalidName},
		{"q", "c c", dynamodbqueue.ErrInvalidName},
	} {
		if q, err := c.Queue(tc.queue, tc.client); !errors.Is(err, tc.want) || q != nil {
			t.Errorf("Queue(%q, %q) = %v; want %v", tc.queue, tc.client, err, tc.want)
		}
	}
	q, err := c.Queue("invoices", "acme")
	if err != nil || q.Table() != "queues" || q.QueueName() != "invoices" || q.ClientID() != "acme" || q.Err() != nil {
		t.Fatalf("Queue = %v, %v", q, err)
	}
}

// TestUseSettersRejectBadValuesAtTheCall: a setter given an invalid value leaves the setting
// unchanged, logs a warning at the call, and makes Err and every operation of the handle fail
// with an error naming the setter, without writing anything, until it is called again with a
// valid value. The chained seed style keeps compiling.
func TestUseSettersRejectBadValuesAtTheCall(t *testing.T) {
	t.Parallel()
	base := newQueue(t, "setters", "c")
	for _, tc := range []struct {
		setter string
		bad    func(*dynamodbqueue.DynamoDBQueue) *dynamodbqueue.DynamoDBQueue
		want   error
	}{
		{"UseShards", func(q *dynamodbqueue.DynamoDBQueue) *dynamodbqueue.DynamoDBQueue { return q.UseShards(0) }, dynamodbqueue.ErrInvalidArgument},
		{"UseVisibilityTimeout", func(q *dynamodbqueue.DynamoDBQueue) *dynamodbqueue.DynamoDBQueue {
			return q.UseVisibilityTimeout(-time.Second)
		}, dynamodbqueue.ErrInvalidArgument},
		{"UseDelay", func(q *dynamodbqueue.DynamoDBQueue) *dynamodbqueue.DynamoDBQueue { return q.UseDelay(time.Hour) }, dynamodbqueue.ErrInvalidArgument},
		{"UseTTL", func(q *dynamodbqueue.DynamoDBQueue) *dynamodbqueue.DynamoDBQueue { return q.UseTTL(-time.Hour) }, dynamodbqueue.ErrInvalidArgument},
		{"UseMaxMessageSize", func(q *dynamodbqueue.DynamoDBQueue) *dynamodbqueue.DynamoDBQueue { return q.UseMaxMessageSize(0) }, dynamodbqueue.ErrInvalidArgument},
		{"UseReceiveWaitTime", func(q *dynamodbqueue.DynamoDBQueue) *dynamodbqueue.DynamoDBQueue {
			return q.UseReceiveWaitTime(-time.Second)
		}, dynamodbqueue.ErrInvalidArgument},
		{"UseLongPollInterval", func(q *dynamodbqueue.DynamoDBQueue) *dynamodbqueue.DynamoDBQueue {
			return q.UseLongPollInterval(time.Second, time.Millisecond)
		}, dynamodbqueue.ErrInvalidArgument},
		{"UseExpiredDeletionMargin", func(q *dynamodbqueue.DynamoDBQueue) *dynamodbqueue.DynamoDBQueue {
			return q.UseExpiredDeletionMargin(-time.Second)
		}, dynamodbqueue.ErrInvalidArgument},
		{"MaxReceiveCount", func(q *dynamodbqueue.DynamoDBQueue) *dynamodbqueue.DynamoDBQueue {
			return q.UseDeadLetterQueue(&dynamodbqueue.DeadLetterConfig{MaxReceiveCount: 0})
		}, dynamodbqueue.ErrInvalidArgument},
		{"UseTable", func(q *dynamodbqueue.DynamoDBQueue) *dynamodbqueue.DynamoDBQueue { return q.UseTable("a/b") }, dynamodbqueue.ErrInvalidName},
		{"UseQueueName", func(q *dynamodbqueue.DynamoDBQueue) *dynamodbqueue.DynamoDBQueue { return q.UseQueueName("a|b") }, dynamodbqueue.ErrInvalidName},
		{"UseClientID", func(q *dynamodbqueue.DynamoDBQueue) *dynamodbqueue.DynamoDBQueue { return q.UseClientID("c c") }, dynamodbqueue.ErrInvalidName},
	} {
		var logs bytes.Buffer
		q := base.Clone().UseLogger(slog.New(slog.NewTextHandler(&logs, nil)))
		before := q.Shards()
		if got := tc.bad(q); got != q {
			t.Fatalf("%s: the setter did not return its handle", tc.setter)
		}
		err := q.Err()
		var ia *dynamodbqueue.InvalidArgumentError
		if !errors.Is(err, tc.want) || (tc.want == dynamodbqueue.ErrInvalidArgument && (!errors.As(err, &ia) || ia.Name != tc.setter)) {
			t.Errorf("%s: Err() = %v; want %v naming the setter", tc.setter, err, tc.want)
		}
		if !strings.Contains(logs.String(), "level=WARN") {
			t.Errorf("%s: nothing logged at the call: %q", tc.setter, logs.String())
		}
		if q.Shards() != before || q.Table() != base.Table() || q.QueueName() != "setters" || q.ClientID() != "c" {
			t.Errorf("%s: the rejected value was applied", tc.setter)
		}
		if _, err := q.PushMessages(ctxT(t), 0, events.SQSMessage{Body: "x"}); !errors.Is(err, tc.want) {
			t.Errorf("%s: push after the rejected call = %v; want %v", tc.setter, err, tc.want)
		}
		if _, err := q.ReceiveMessages(ctxT(t), dynamodbqueue.ReceiveOptions{}); !errors.Is(err, tc.want) {
			t.Errorf("%s: receive after the rejected call = %v", tc.setter, err)
		}
	}
	if n := itemCount(t, base); n != 0 {
		t.Fatalf("handles with rejected settings wrote %d items", n)
	}
	q := base.Clone().UseLogger(nil).UseShards(0)
	if q.UseShards(2).Err() != nil || q.Shards() != 2 {
		t.Fatalf("a valid call after the rejected one: Err() = %v, shards %d", q.Err(), q.Shards())
	}
	push(t, q, events.SQSMessage{Body: "fine"})
}

// TestOptionsReachTheHandles: the signing key and the clock given in Options are the handles':
// a receipt handle signed with another key is refused before any request, and a clock an hour
// ahead is corrected by DynamoDB's.
func TestOptionsReachTheHandles(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	_, table := newTable(t)
	ahead := func() time.Time { return time.Now().Add(time.Hour) }
	c, err := dynamodbqueue.New(dynamodbqueue.Options{API: testenv.Client(t), Table: table, SigningKey: []byte("k1"), Clock: ahead})
	if err != nil {
		t.Fatal(err)
	}
	q := mustQueue(t, c, "opts", "c")
	push(t, q, events.SQSMessage{Body: "signed"})
	// The correction is exact to the Date header's second: later responses may move it back
	// by up to 1 s, making the message visible that much later; a long poll waits for it.
	msgs, err := q.PollMessages(ctx, 10*time.Second, time.Minute, 1)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("received %d, %v", len(msgs), err)
	}
	if off := q.ClockOffset(); off > -time.Hour+5*time.Second || off < -time.Hour-5*time.Second {
		t.Errorf("clock offset %v with a clock an hour ahead; want about -1h", off)
	}
	other, err := dynamodbqueue.New(dynamodbqueue.Options{API: testenv.Client(t), Table: table, SigningKey: []byte("k2")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mustQueue(t, other, "opts", "c").DeleteMessages(ctx, msgs[0].ReceiptHandle); !errors.Is(err, dynamodbqueue.ErrInvalidReceiptHandle) {
		t.Errorf("delete with a handle signed by another key: %v", err)
	}
	if _, err := q.DeleteMessages(ctx, msgs[0].ReceiptHandle); err != nil {
		t.Errorf("delete with the same key: %v", err)
	}
}
