package dynamodbqueue_test

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
)

// newWatchClient returns a Client of its own (another "process") on table.
func newWatchClient(t testing.TB, api dynamodbqueue.API, table string, opts dynamodbqueue.Options) *dynamodbqueue.Client {
	t.Helper()
	if api == nil {
		api = testenv.Client(t)
	}
	opts.API, opts.Table = api, table
	c, err := dynamodbqueue.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitReady waits for a wake-up of sub, up to d; it reports whether one came.
func waitReady(sub *dynamodbqueue.Subscription, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-sub.Ready():
		return true
	case <-t.C:
		return false
	}
}

func TestWatchWakesOnPushFromAnotherProcess(t *testing.T) {
	_, table := newTable(t)
	watching := newWatchClient(t, nil, table, dynamodbqueue.Options{})
	pushing := newWatchClient(t, nil, table, dynamodbqueue.Options{})
	subA, err := watching.Watch("orders", "a")
	if err != nil {
		t.Fatal(err)
	}
	defer subA.Close()
	subB, err := watching.Watch("orders", "b")
	if err != nil {
		t.Fatal(err)
	}
	defer subB.Close()
	qa, err := pushing.Queue("orders", "a")
	if err != nil {
		t.Fatal(err)
	}
	push(t, qa, bodies(1, "x")...)
	if !waitReady(subA, 10*time.Second) {
		t.Fatal("the subscriber of the pushed pair was not woken")
	}
	if waitReady(subB, 300*time.Millisecond) {
		t.Fatal("the subscriber of another pair was woken")
	}
}

// isHintQuery reports whether a request seen by a hookAPI is a watcher's read of activity
// hints (partition "@act|..."), which runs concurrently with the operation a test observes.
func isHintQuery(op string, in any) bool {
	qi, ok := in.(*dynamodb.QueryInput)
	if op != "Query" || !ok {
		return false
	}
	pk, _ := qi.ExpressionAttributeValues[":pk"].(*types.AttributeValueMemberS)
	return pk != nil && strings.HasPrefix(pk.Value, "@act|")
}
