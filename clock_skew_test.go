package dynamodbqueue_test

import (
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
)

// Clock skew (issue 9). Each test runs two processes over one table: each is its own
// NewFromClient instance, with its own clock, offset estimate, sequencer and caches. A shared
// world clock stands for true time (DynamoDB's clock); a correct process reads it, a skewed one
// reads it plus a skew. Advancing the world moves both.

// newProcess returns a new process (its own NewFromClient) on table, for the pair (queue, client).
func newProcess(t *testing.T, table, queue, client string) *dynamodbqueue.DynamoDBQueue {
	t.Helper()
	return dynamodbqueue.NewFromClient(testenv.Client(t), 0).UseTable(table).UseQueueName(queue).UseClientID(client).UseLogger(nil)
}

// skewPair returns two processes on a fresh table, for the same pair: a correct one and one
// whose clock is skew ahead of the world (behind when negative).
func skewPair(t *testing.T, skew time.Duration) (correct, skewed *dynamodbqueue.DynamoDBQueue, world *dynamodbqueue.Clock) {
	t.Helper()
	_, table := newTable(t)
	world = &dynamodbqueue.Clock{}
	correct = dynamodbqueue.WithClock(newProcess(t, table, "skew", "c"), world)
	skewed = newProcess(t, table, "skew", "c")
	dynamodbqueue.WithSkewedClock(skewed, world, skew)
	return correct, skewed, world
}

// plainAndGrouped is one message outside any group and one in group g.
func plainAndGrouped() []events.SQSMessage {
	return []events.SQSMessage{
		{Body: "plain"},
		{Body: "grouped", Attributes: map[string]string{dynamodbqueue.AttributeMessageGroupID: "g"}},
	}
}

func receiveBodies(t *testing.T, q *dynamodbqueue.DynamoDBQueue, vt time.Duration) []string {
	t.Helper()
	msgs, err := q.ReceiveMessages(ctxT(t), dynamodbqueue.ReceiveOptions{MaxMessages: 10, VisibilityTimeout: vt})
	if err != nil {
		t.Fatalf("ReceiveMessages: %v", err)
	}
	return sortedBodies(msgs)
}

func liveCount(t *testing.T, q *dynamodbqueue.DynamoDBQueue) int {
	t.Helper()
	n, err := q.Count(ctxT(t))
	if err != nil {
		t.Fatalf("Count: %v", err)
	}
	return n
}

var bothBodies = []string{"grouped", "plain"}

// TestConsumerAheadDeletesNoUnexpiredMessage: a consumer 60 s ahead read messages whose 30 s TTL
// was not over as expired, deleted them, and deleted the group with its message (loss).
func TestConsumerAheadDeletesNoUnexpiredMessage(t *testing.T) {
	t.Parallel()
	producer, consumer, _ := skewPair(t, 60*time.Second)
	pushWith(t, producer, dynamodbqueue.PushOptions{TTL: 30 * time.Second}, plainAndGrouped()...)
	got := receiveBodies(t, consumer, time.Minute)
	if n := liveCount(t, producer); n != 2 {
		t.Fatalf("after a poll by a consumer 60 s ahead, %d of 2 unexpired messages are left (it received %v)", n, got)
	}
	if !slices.Equal(got, bothBodies) {
		t.Fatalf("the consumer 60 s ahead received %v; both messages are within their TTL, want %v", got, bothBodies)
	}
}

// TestConsumerAheadDoesNotStealHeldMessage: a consumer 60 s ahead took messages another consumer
// held under a 30 s visibility timeout.
func TestConsumerAheadDoesNotStealHeldMessage(t *testing.T) {
	t.Parallel()
	holder, thief, world := skewPair(t, 60*time.Second)
	pushWith(t, holder, dynamodbqueue.PushOptions{}, plainAndGrouped()...)
	if got := receiveBodies(t, holder, 30*time.Second); !slices.Equal(got, bothBodies) {
		t.Fatalf("holder received %v, want %v", got, bothBodies)
	}
	hiddenFor(t, thief, world, 30*time.Second, "held by another consumer for 30 s, as seen by a consumer 60 s ahead")
}

// TestProducerBehindKeepsDelay: a producer 60 s behind wrote a 30 s delay that had already
// passed, so the messages were delivered at once.
func TestProducerBehindKeepsDelay(t *testing.T) {
	t.Parallel()
	consumer, producer, world := skewPair(t, -60*time.Second)
	pushWith(t, producer, dynamodbqueue.PushOptions{Delay: 30 * time.Second}, plainAndGrouped()...)
	hiddenFor(t, consumer, world, 30*time.Second, "pushed with a 30 s delay by a producer 60 s behind")
}

// hiddenFor checks that consumer receives neither message now, and both once the world is d
// (and a second) later.
func hiddenFor(t *testing.T, consumer *dynamodbqueue.DynamoDBQueue, world *dynamodbqueue.Clock, d time.Duration, what string) {
	t.Helper()
	if got := receiveBodies(t, consumer, time.Minute); len(got) > 0 {
		t.Fatalf("received %v at once; they are %s", got, what)
	}
	world.Advance(d + time.Second)
	if got := receiveBodies(t, consumer, time.Minute); !slices.Equal(got, bothBodies) {
		t.Fatalf("%v later received %v, want %v; they were %s", d+time.Second, got, bothBodies, what)
	}
}

// TestProducerAheadDoesNotHideMessages: a producer 60 s ahead made its messages visible only at
// its own now, hiding them from every consumer for 60 s.
func TestProducerAheadDoesNotHideMessages(t *testing.T) {
	t.Parallel()
	consumer, producer, _ := skewPair(t, 60*time.Second)
	pushWith(t, producer, dynamodbqueue.PushOptions{}, plainAndGrouped()...)
	if got := receiveBodies(t, consumer, time.Minute); !slices.Equal(got, bothBodies) {
		t.Fatalf("messages of a producer 60 s ahead: the consumer received %v at once, want %v", got, bothBodies)
	}
}

// TestProducerAheadKeepsDedupWindow: a producer 6 min ahead saw another producer's 5 min
// deduplication window as over and stored a repeat.
func TestProducerAheadKeepsDedupWindow(t *testing.T) {
	t.Parallel()
	first, ahead, world := skewPair(t, 6*time.Minute)
	dedup := func(body string) events.SQSMessage {
		return events.SQSMessage{Body: body, Attributes: map[string]string{dynamodbqueue.AttributeMessageDeduplicationID: "payment-7781"}}
	}
	orig := pushWith(t, first, dynamodbqueue.PushOptions{}, dedup("original"))
	world.Advance(time.Minute)
	res := pushWith(t, ahead, dynamodbqueue.PushOptions{}, dedup("repeat"))
	if res.Duplicates != 1 || res.Pushed[0].MessageId != orig.Pushed[0].MessageId {
		t.Fatalf("a repeat 1 min later by a producer 6 min ahead: duplicates=%d, MessageId %q; want 1 and the original's %q",
			res.Duplicates, res.Pushed[0].MessageId, orig.Pushed[0].MessageId)
	}
	if got := receiveBodies(t, first, time.Minute); !slices.Equal(got, []string{"original"}) {
		t.Fatalf("received %v, want only the original", got)
	}
}
