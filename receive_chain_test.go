package dynamodbqueue_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// TestReceivesOfOneProcessReadPastEachOther checks the read chain (receive_window.go): while
// one receive of a process claims the page it read, a second receive of the same process
// reads the page after it (its one query starts after the first page's last item) instead of
// the same head, and the two get consecutive messages, each read once. A receive alone in the
// shard reads from the head again.
func TestReceivesOfOneProcessReadPastEachOther(t *testing.T) {
	t.Parallel()
	_, table := newTable(t)
	api := newHookAPI(t)
	q := dynamodbqueue.NewFromClient(api, 0).UseTable(table).UseQueueName("chain").UseClientID("c").UseLogger(nil)
	push(t, q, bodies(25, "m")...)

	ctx := ctxT(t)
	var mu sync.Mutex
	var queries []*dynamodb.QueryInput // ready-index queries, in the order sent
	firstRead, secondRead := make(chan struct{}), make(chan struct{})
	api.set(func(op string, in any) error {
		switch in := in.(type) {
		case *dynamodb.QueryInput:
			if in.IndexName == nil {
				return nil
			}
			mu.Lock()
			queries = append(queries, in)
			switch len(queries) {
			case 1:
				close(firstRead)
			case 2:
				close(secondRead)
			}
			mu.Unlock()
		case *dynamodb.UpdateItemInput:
			// Hold the first receive's claims until the second receive has read: it is then
			// working the shard while the second one reads. Bounded by the test's context.
			select {
			case <-secondRead:
			case <-ctx.Done():
			}
		}
		return nil
	})
	receive := func() ([]events.SQSMessage, error) {
		return q.ReceiveMessages(ctx, dynamodbqueue.ReceiveOptions{MaxMessages: 10, VisibilityTimeout: time.Minute})
	}
	var first []events.SQSMessage
	var firstErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		first, firstErr = receive()
	}()
	select {
	case <-firstRead:
	case <-ctx.Done():
		t.Fatal("the first receive sent no query")
	}
	second, err := receive()
	<-done
	if firstErr != nil || err != nil {
		t.Fatalf("receives: %v, %v", firstErr, err)
	}
	if got, want := bodyList(first), bodyList(bodies(10, "m")); !slices.Equal(got, want) {
		t.Errorf("first receive got %v, want %v", got, want)
	}
	if got, want := bodyList(second), bodyList(bodies(20, "m")[10:]); !slices.Equal(got, want) {
		t.Errorf("second receive got %v, want the next page %v", got, want)
	}
	mu.Lock()
	if len(queries) != 2 {
		t.Fatalf("%d ready-index queries for two receives of 10, want 2 (each page read once)", len(queries))
	}
	if queries[0].ExclusiveStartKey != nil {
		t.Errorf("the first receive did not read from the head")
	}
	if queries[1].ExclusiveStartKey == nil {
		t.Errorf("the second receive read from the head while the first claimed it")
	}
	mu.Unlock()

	// Alone in the shard, a receive reads from the head: what is behind the chain (here the
	// first page, given back: released messages go to the back of the index) is not left behind.
	if _, err := q.ReleaseMessages(ctx, toHandles(first)...); err != nil {
		t.Fatal(err)
	}
	third, err := receive()
	if err != nil {
		t.Fatal(err)
	}
	got := bodyList(third)
	if len(got) != 10 || !slices.Equal(got[:5], bodyList(bodies(25, "m")[20:])) {
		t.Errorf("third receive got %v, want m-020..m-024 and then 5 of the released first page", got)
	}
	for _, b := range got[5:] {
		if !slices.Contains(bodyList(first), b) {
			t.Errorf("third receive got %s, not one of the released first page", b)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(queries) != 3 || queries[2].ExclusiveStartKey != nil {
		t.Errorf("the receive alone in the shard did not read from the head (%d queries)", len(queries))
	}
}
