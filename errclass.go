package dynamodbqueue

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
)

// ErrorClass says what an error means to a caller deciding what to do next: fix the request
// (a sender fault, as SQS calls it), try again, or give up. Classify gives it; IsSenderFault
// and Retryable are its two questions. The consumer, ddbq's exit codes and any server built
// on this package use it, so an error is judged the same way everywhere.
type ErrorClass int

// The classes of Classify. Invalid, NotFound, Conflict and Denied are sender faults;
// Transient is the only retryable class.
const (
	// ClassNone: no error.
	ClassNone ErrorClass = iota
	// ClassInvalid: the request or the queue's configuration is invalid: a bad argument,
	// name, message, group or receipt handle, a missing setting, a table made for something
	// else, a queue created again with other attributes, or DynamoDB refusing the request as
	// malformed (ValidationException). Sending the same request again fails the same way.
	ClassInvalid
	// ClassNotFound: the table, the queue's definition, or the message asked for by ID does
	// not exist.
	ClassNotFound
	// ClassConflict: the request's view is out of date: the receipt handle's claim is over
	// (ErrStaleReceiptHandle), the message is held by a consumer (ErrMessageInFlight), the queue
	// definition changed since it was read (ErrVersionConflict), or a conditional write found
	// the item changed by someone else.
	ClassConflict
	// ClassDenied: the credentials are missing, invalid, or not allowed to do this.
	ClassDenied
	// ClassTransient: throttling, a DynamoDB server error (5xx), a network failure or a
	// timeout (including a context deadline): the same request may succeed later.
	ClassTransient
	// ClassCanceled: the caller's context was canceled; the caller stopped the work.
	ClassCanceled
	// ClassInternal: anything else: a failure that is neither the caller's fault nor known
	// to be transient (e.g. a stored item that cannot be decoded, or an endpoint without TTL).
	ClassInternal
)

var classNames = [...]string{"none", "invalid", "not found", "conflict", "denied", "transient", "canceled", "internal"}

// String names the class.
func (c ErrorClass) String() string {
	if c < 0 || int(c) >= len(classNames) {
		return "unknown"
	}
	return classNames[c]
}

// SenderFault reports whether the class is the caller's fault: the request must change
// before it can succeed (SQS's SenderFault).
func (c ErrorClass) SenderFault() bool {
	return c == ClassInvalid || c == ClassNotFound || c == ClassConflict || c == ClassDenied
}

// Retryable reports whether sending the same request again may succeed.
func (c ErrorClass) Retryable() bool { return c == ClassTransient }

// IsSenderFault reports whether err is the caller's fault (see ErrorClass.SenderFault): an
// invalid request, a missing table, a stale or foreign receipt handle, denied credentials.
// It is false for nil.
func IsSenderFault(err error) bool { return Classify(err).SenderFault() }

// Retryable reports whether sending the same request again may succeed: throttling, server
// errors, network failures and timeouts. It is false for nil, for sender faults and for a
// canceled context. IsSenderFault and Retryable are never both true.
func Retryable(err error) bool { return Classify(err).Retryable() }

// sentinelClasses gives the class of every exported Err* of the package
// (TestClassifyCoversEverySentinel checks that none is missing).
var sentinelClasses = []struct {
	err   error
	class ErrorClass
}{
	{ErrTableNotFound, ClassNotFound},
	{ErrStaleReceiptHandle, ClassConflict},
	{ErrTableNotSet, ClassInvalid},
	{ErrQueueNameNotSet, ClassInvalid},
	{ErrClientIDNotSet, ClassInvalid},
	{ErrInvalidName, ClassInvalid},
	{ErrInvalidGroup, ClassInvalid},
	{ErrInvalidMessage, ClassInvalid},
	{ErrMessageTooLarge, ClassInvalid},
	{ErrInvalidArgument, ClassInvalid},
	{ErrInvalidReceiptHandle, ClassInvalid},
	{ErrForeignReceiptHandle, ClassInvalid},
	{ErrTableSchemaMismatch, ClassInvalid},
	{ErrNoDeadLetterQueue, ClassInvalid},
	{ErrNotAttempted, ClassInvalid},
	{ErrInvalidCursor, ClassInvalid},
	{ErrMessageNotFound, ClassNotFound},
	{ErrMessageInFlight, ClassConflict},
	{ErrMessageNotInFlight, ClassConflict},
	{ErrMessageChanged, ClassConflict},
	{ErrQueueDoesNotExist, ClassNotFound},
	{ErrQueueAttributesMismatch, ClassInvalid},
	{ErrVersionConflict, ClassConflict},
	{ErrWatchDisabled, ClassInvalid},  // the client's configuration (Options.WatchInterval < 0)
	{ErrTTLNotEnabled, ClassInternal}, // the endpoint lacks the TTL API: not the caller's fault
	{errUnprocessed, ClassTransient},  // DynamoDB kept leaving a batch unprocessed: throttled
	{ErrMoveTaskActive, ClassConflict},
	{ErrMoveTaskNotFound, ClassNotFound},
	{ErrMoveTaskNotActive, ClassConflict},
	{ErrMoveTaskLost, ClassConflict},
	{ErrPurgeInProgress, ClassConflict}, // retry once the interval has passed
}

// invalidCodes are DynamoDB's error codes for requests it refuses as malformed; the SDK does
// not model them, so their fault is unknown to it.
var invalidCodes = map[string]bool{
	"ValidationException":    true,
	"SerializationException": true,
}

// deniedCodes are DynamoDB's error codes for requests that are not authorised.
var deniedCodes = map[string]bool{
	"AccessDeniedException":       true,
	"UnrecognizedClientException": true,
	"InvalidSignatureException":   true,
	"MissingAuthenticationToken":  true,
	"IncompleteSignature":         true,
	"ExpiredTokenException":       true,
}

// Classify returns the class of err. It looks at the package's sentinels and typed errors,
// then at the AWS SDK's: the SDK's own retry rules (retry.DefaultRetryables: throttling codes,
// 5xx, connection errors, timeouts) decide what is transient. For errors joined with
// errors.Join the class depends on which errors are in it (the package's own first), not on
// their order; per-entry calls (SendMessages, DeleteEntries, ...) give each entry's error to
// classify on its own.
func Classify(err error) ErrorClass {
	switch {
	case err == nil:
		return ClassNone
	case errors.Is(err, context.Canceled):
		return ClassCanceled
	case errors.Is(err, context.DeadlineExceeded):
		return ClassTransient
	}
	for _, s := range sentinelClasses {
		if errors.Is(err, s.err) {
			return s.class
		}
	}
	if isConditionFailed(err) {
		return ClassConflict
	}
	var api smithy.APIError
	isAPI := errors.As(err, &api)
	if isAPI && deniedCodes[api.ErrorCode()] {
		return ClassDenied
	}
	if retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary {
		return ClassTransient
	}
	if isAPI && (invalidCodes[api.ErrorCode()] || api.ErrorFault() == smithy.FaultClient) {
		return ClassInvalid // ValidationException and other requests DynamoDB refuses as wrong
	}
	return ClassInternal
}
