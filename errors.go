package dynamodbqueue

import (
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/dynamodbqueue/dynamodbqueue/internal/handle"
	"github.com/dynamodbqueue/dynamodbqueue/internal/keys"
	"github.com/dynamodbqueue/dynamodbqueue/internal/message"
	"github.com/dynamodbqueue/dynamodbqueue/internal/store"
)

// Sentinel errors. Every error the package returns wraps one of these or a DynamoDB error, so
// callers branch with errors.Is and errors.As; the message says what exactly was wrong.
var (
	// ErrTableNotSet: no table name was configured (UseTable).
	ErrTableNotSet = errors.New("dynamodbqueue: table name not set")
	// ErrQueueNameNotSet: no queue name was configured (UseQueueName).
	ErrQueueNameNotSet = errors.New("dynamodbqueue: queue name not set")
	// ErrClientIDNotSet: no client ID was configured (UseClientID).
	ErrClientIDNotSet = errors.New("dynamodbqueue: client ID not set")
	// ErrInvalidName: a table, queue or client name breaks the naming rules.
	ErrInvalidName = keys.ErrInvalidName
	// ErrInvalidGroup: a message group ID breaks the SQS rules.
	ErrInvalidGroup = keys.ErrInvalidGroup
	// ErrInvalidMessage: a message body or attribute breaks the SQS rules.
	ErrInvalidMessage = message.ErrInvalidMessage
	// ErrMessageTooLarge: body plus attributes exceed the configured maximum (UseMaxMessageSize).
	ErrMessageTooLarge = message.ErrTooLarge
	// ErrInvalidArgument: a timeout, count or other argument is out of range.
	ErrInvalidArgument = errors.New("dynamodbqueue: invalid argument")
	// ErrInvalidReceiptHandle: a receipt handle is empty, malformed, tampered with or signed
	// with another key. Nothing was sent to DynamoDB for it.
	ErrInvalidReceiptHandle = handle.ErrInvalid
	// ErrForeignReceiptHandle: a well-formed receipt handle of another table, queue or client.
	ErrForeignReceiptHandle = errors.New("dynamodbqueue: receipt handle belongs to another table, queue or client")
	// ErrStaleReceiptHandle: the claim behind the handle is over: the message was claimed again
	// after its visibility timeout, or changed by another holder. Nothing was changed.
	ErrStaleReceiptHandle = errors.New("dynamodbqueue: receipt handle is stale (message was claimed again)")
	// ErrTableNotFound: the table does not exist (create it with CreateQueueTable).
	ErrTableNotFound = errors.New("dynamodbqueue: table not found")
	// ErrTableSchemaMismatch: the table exists but its keys or its "vis" index are not the
	// ones the queue needs (it was made for something else); nothing was changed on it.
	ErrTableSchemaMismatch = errors.New("dynamodbqueue: table schema does not match a queue table")
	// ErrTTLNotEnabled: the table was created but the endpoint refused to enable TTL on it, so
	// expired messages are not removed automatically (they are still never delivered).
	ErrTTLNotEnabled = errors.New("dynamodbqueue: time to live could not be enabled")
	// ErrNoDeadLetterQueue: a dead-letter operation was called without UseDeadLetterQueue.
	ErrNoDeadLetterQueue = errors.New("dynamodbqueue: no dead-letter queue configured")
	// ErrNotAttempted: the entry is valid but was not sent, because another entry of the same
	// call was invalid and a call with invalid input writes nothing. Send it again without the
	// invalid entries.
	ErrNotAttempted = errors.New("dynamodbqueue: not attempted: another entry of the call is invalid")
)

// TableNotFoundError is returned when the table does not exist. It matches ErrTableNotFound
// with errors.Is, and unwraps to DynamoDB's error (a *types.ResourceNotFoundException).
type TableNotFoundError struct {
	// Table is the name of the missing table.
	Table string
	// Err is DynamoDB's error.
	Err error
}

// Error names the table.
func (e *TableNotFoundError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("%v: %q", ErrTableNotFound, e.Table)
	}
	return fmt.Sprintf("%v: %q: %v", ErrTableNotFound, e.Table, e.Err)
}

// Is reports whether target is ErrTableNotFound.
func (e *TableNotFoundError) Is(target error) bool { return target == ErrTableNotFound }

// Unwrap returns DynamoDB's error.
func (e *TableNotFoundError) Unwrap() error { return e.Err }

// InvalidArgumentError is an argument, option or setting out of range. It matches
// ErrInvalidArgument with errors.Is.
type InvalidArgumentError struct {
	// Name is the argument as the API spells it: "TTL", "MaxMessages", "UseShards", ...
	Name string
	// Reason gives the value and what is allowed, e.g. "TTL -1s, must be 0 (default) or up to ...".
	Reason string
	// cause is an error Reason wraps (a more specific sentinel such as ErrInvalidCursor), if any.
	cause error
}

// Error says what is wrong.
func (e *InvalidArgumentError) Error() string { return ErrInvalidArgument.Error() + ": " + e.Reason }

// Is reports whether target is ErrInvalidArgument.
func (e *InvalidArgumentError) Is(target error) bool { return target == ErrInvalidArgument }

// Unwrap returns the more specific error the reason wraps, if any.
func (e *InvalidArgumentError) Unwrap() error { return e.cause }

// InvalidReceiptHandleError is a receipt handle that cannot be used: empty, malformed,
// tampered with, signed with another key, or naming no message. Reason says which. It matches
// ErrInvalidReceiptHandle with errors.Is. Nothing was sent to DynamoDB for it.
type InvalidReceiptHandleError = handle.InvalidError

// MessageTooLargeError is a message whose body and attributes exceed the maximum size
// (UseMaxMessageSize); Size and Limit are in bytes, counted as SQS does. It matches
// ErrMessageTooLarge with errors.Is.
type MessageTooLargeError = message.TooLargeError

// wrapAPI adds the operation to a DynamoDB error and maps a missing table to ErrTableNotFound,
// keeping the SDK error reachable through errors.As.
func wrapAPI(op, table string, err error) error {
	if err == nil {
		return nil
	}
	var rnf *types.ResourceNotFoundException
	if errors.As(err, &rnf) {
		return fmt.Errorf("dynamodbqueue: %s: %w", op, &TableNotFoundError{Table: table, Err: err})
	}
	return fmt.Errorf("dynamodbqueue: %s on table %q: %w", op, table, err)
}

// isConditionFailed reports whether err is a failed condition: a lost race, not a fault.
func isConditionFailed(err error) bool { return store.IsConditionFailed(err) }

func isAccessDenied(err error) bool {
	var api smithy.APIError
	return errors.As(err, &api) && api.ErrorCode() == "AccessDeniedException"
}

// argError returns an *InvalidArgumentError for the argument name; format and args give the
// value and what is allowed, and may wrap a more specific error with %w.
func argError(name, format string, args ...any) error {
	reason := fmt.Errorf(format, args...)
	e := &InvalidArgumentError{Name: name, Reason: reason.Error()}
	switch reason.(type) {
	case interface{ Unwrap() error }, interface{ Unwrap() []error }:
		e.cause = reason
	}
	return e
}

func asCCF(err error, target **types.ConditionalCheckFailedException) bool {
	return errors.As(err, target)
}
