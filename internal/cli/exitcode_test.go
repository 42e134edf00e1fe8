package cli

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/aws/smithy-go"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// Exit codes follow the library's classification, so a new sentinel needs no list here:
// every sender fault about the input is a usage error, whatever is missing is "not found",
// and DynamoDB's own failures (denied, throttled) are runtime errors.
func TestExitCodeFollowsClassification(t *testing.T) {
	wrapped := func(err error) error { return &commandError{err: fmt.Errorf("op: %w", err)} }
	for _, c := range []struct {
		err  error
		want int
	}{
		{wrapped(dynamodbqueue.ErrNotAttempted), ExitUsage},
		{wrapped(dynamodbqueue.ErrInvalidCursor), ExitUsage},
		{wrapped(dynamodbqueue.ErrForeignReceiptHandle), ExitUsage},
		{wrapped(dynamodbqueue.ErrTableSchemaMismatch), ExitUsage},
		{wrapped(&dynamodbqueue.InvalidArgumentError{Name: "MaxMessages"}), ExitUsage},
		{wrapped(&dynamodbqueue.MessageTooLargeError{Size: 2, Limit: 1}), ExitUsage},
		{wrapped(&smithy.GenericAPIError{Code: "ValidationException"}), ExitUsage},
		{wrapped(dynamodbqueue.ErrMessageNotFound), ExitNotFound},
		{wrapped(dynamodbqueue.ErrStaleReceiptHandle), ExitError},
		{wrapped(&smithy.GenericAPIError{Code: "AccessDeniedException"}), ExitError},
		{wrapped(&smithy.GenericAPIError{Code: "ThrottlingException"}), ExitError},
	} {
		if got := ExitCode(c.err); got != c.want {
			t.Errorf("ExitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

// A missing table is reported by the name the error carries, not the one configured.
func TestMissingTableNamedFromError(t *testing.T) {
	var stderr bytes.Buffer
	a := newApp(nil, &stderr, &stderr, func(string) string { return "" })
	a.g.table = "configured"
	err := &commandError{err: fmt.Errorf("op: %w", &dynamodbqueue.TableNotFoundError{Table: "queues-dlq"})}
	code, msg, hint := a.describe(err)
	if code != ExitNotFound || msg != `table "queues-dlq" not found` || hint != "create it with: ddbq table create -t queues-dlq" {
		t.Errorf("describe = %d, %q, %q; want the table of the error", code, msg, hint)
	}
}
