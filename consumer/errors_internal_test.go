package consumer

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/smithy-go"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// The consumer's decisions follow the library's classification: a sender fault is not
// retried; only a missing table or an invalid configuration stops Run (denied access and
// transient failures are polled again).
func TestConsumerDecisionsFollowClassification(t *testing.T) {
	for _, tc := range []struct {
		name             string
		err              error
		permanent, fatal bool
	}{
		{"stale handle", dynamodbqueue.ErrStaleReceiptHandle, true, false},
		{"invalid handle", &dynamodbqueue.InvalidReceiptHandleError{Reason: "empty"}, true, true},
		{"foreign handle", dynamodbqueue.ErrForeignReceiptHandle, true, true},
		{"missing table", &dynamodbqueue.TableNotFoundError{Table: "t"}, true, true},
		{"no queue name", dynamodbqueue.ErrQueueNameNotSet, true, true},
		{"invalid argument", &dynamodbqueue.InvalidArgumentError{Name: "VisibilityTimeout"}, true, true},
		{"access denied", &smithy.GenericAPIError{Code: "AccessDeniedException"}, true, false},
		{"throttled", &smithy.GenericAPIError{Code: "ThrottlingException"}, false, false},
		{"canceled", context.Canceled, false, false},
		{"deadline", context.DeadlineExceeded, false, false},
	} {
		err := fmt.Errorf("dynamodbqueue: op: %w", tc.err)
		if got := permanent(err); got != tc.permanent || got != dynamodbqueue.IsSenderFault(err) {
			t.Errorf("%s: permanent = %v, want %v (IsSenderFault %v)", tc.name, got, tc.permanent, dynamodbqueue.IsSenderFault(err))
		}
		if got := fatalPollError(err); got != tc.fatal {
			t.Errorf("%s: fatalPollError = %v, want %v", tc.name, got, tc.fatal)
		}
	}
}
