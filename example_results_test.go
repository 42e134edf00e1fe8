package dynamodbqueue_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// Push, delete and visibility calls report each entry at its input position: here one
// invalid message stops the push before anything is written, the valid ones are sent again,
// and a delete reports the handle that was no longer current.
func Example_resultsPerEntry() {
	ctx := context.Background()
	q, drop := exampleQueue(ctx)
	defer drop()
	q.UseQueueName("orders").UseClientID("acme")

	msgs := []events.SQSMessage{{Body: "order 1"}, {Body: ""}, {Body: "order 2"}}
	results, err := q.SendMessages(ctx, dynamodbqueue.PushOptions{}, msgs...)
	fmt.Println("sender fault:", dynamodbqueue.IsSenderFault(err))
	var again []events.SQSMessage
	for i, r := range results {
		switch {
		case errors.Is(r.Err, dynamodbqueue.ErrNotAttempted):
			again = append(again, msgs[i])
		case r.Err != nil:
			fmt.Printf("message %d: %v\n", i, dynamodbqueue.Classify(r.Err))
		}
	}
	results, err = q.SendMessages(ctx, dynamodbqueue.PushOptions{}, again...)
	fmt.Println("sent again:", len(results), err)

	received, _ := q.ReceiveMessages(ctx, dynamodbqueue.ReceiveOptions{MaxMessages: 2})
	q.ReleaseEntries(ctx, received[1].ReceiptHandle) // given up: another receive takes it
	q.ReceiveMessages(ctx, dynamodbqueue.ReceiveOptions{MaxMessages: 1})
	deleted, err := q.DeleteEntries(ctx, dynamodbqueue.ToReceiptHandles(received)...)
	var partial *dynamodbqueue.PartialError
	fmt.Println("partial:", errors.As(err, &partial), partial.Failed, "of", partial.Total)
	for i, r := range deleted {
		fmt.Printf("handle %d: deleted %v, stale %v\n", i, r.Err == nil, errors.Is(r.Err, dynamodbqueue.ErrStaleReceiptHandle))
	}
	// Output:
	// sender fault: true
	// message 1: invalid
	// sent again: 2 <nil>
	// partial: true 1 of 2
	// handle 0: deleted true, stale false
	// handle 1: deleted false, stale true
}
