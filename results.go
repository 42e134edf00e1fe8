package dynamodbqueue

import (
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/events"
)

// SendResult is what SendMessages did with one message. Results are aligned with the input:
// the i-th result is about the i-th message.
type SendResult struct {
	// MessageID is the message's ID: a new one, or for a Duplicate the ID of the message it
	// repeats. Empty when Err is set.
	MessageID string
	// Duplicate reports a repeat within DedupWindow of a message with the same deduplication
	// ID: accepted, not stored again (the original is delivered once).
	Duplicate bool
	// Message is the message as stored, with MessageId, Md5OfBody, Md5OfMessageAttributes and
	// the SentTimestamp attribute assigned. Zero when Err is set.
	Message events.SQSMessage
	// Err says why the message was not stored, or its storing could not be confirmed (see
	// PushResult.Failed): ErrNotAttempted when another message of the call was invalid,
	// otherwise the cause itself (ErrInvalidMessage, *MessageTooLargeError, a DynamoDB error,
	// ...). Classify, IsSenderFault and Retryable tell what to do about it.
	Err error
}

// EntryResult is what DeleteEntries, ChangeVisibilityEntries or ReleaseEntries did with one
// receipt handle. Results are aligned with the input: the i-th result is about the i-th
// handle.
type EntryResult struct {
	// ReceiptHandle is the handle, as given.
	ReceiptHandle string
	// Err is nil when the operation applied (a delete of a message that is already gone
	// applies too), else why not: *InvalidReceiptHandleError (malformed or tampered; nothing
	// was sent), ErrForeignReceiptHandle (another table, queue or client),
	// ErrStaleReceiptHandle (the message was claimed again since), a DynamoDB error, or the
	// error of the whole call (an unset queue, an invalid visibility timeout).
	Err error
}

// entryResults returns one result per handle, each failed with err (nil: all succeed).
func entryResults(hs []string, err error) []EntryResult {
	res := make([]EntryResult, len(hs))
	for i, h := range hs {
		res[i] = EntryResult{ReceiptHandle: h, Err: err}
	}
	return res
}

// PartialError is the error of a per-entry call (SendMessages, DeleteEntries,
// ChangeVisibilityEntries, ReleaseEntries) that went ahead but some of whose entries failed;
// the results say which and why. Any other error of those calls means the call failed as a
// whole. errors.Is, errors.As and Classify see the first failure (Err); decide per entry from
// the entries' own errors.
type PartialError struct {
	// Op is the operation: "push", "delete", "change visibility" or "release".
	Op string
	// Failed is how many of Total entries failed.
	Failed, Total int
	// Err is the error of the first failed entry.
	Err error
}

// Error says how many entries failed and why the first did.
func (e *PartialError) Error() string {
	if e.Op == "push" {
		return fmt.Sprintf("dynamodbqueue: push: %d of %d messages not stored: %v", e.Failed, e.Total, e.Err)
	}
	return fmt.Sprintf("dynamodbqueue: %s: %d of %d receipt handles failed: %v", e.Op, e.Failed, e.Total, e.Err)
}

// Unwrap returns the first failure.
func (e *PartialError) Unwrap() error { return e.Err }

// entriesError summarises the failed entries of a per-entry call: nil when all succeeded,
// the call's own error when it failed as a whole, else a *PartialError.
func entriesError(op string, res []EntryResult, callErr error) error {
	if callErr != nil {
		return callErr
	}
	failed, first := 0, -1
	for i, r := range res {
		if r.Err != nil {
			failed++
			if first < 0 {
				first = i
			}
		}
	}
	if failed == 0 {
		return nil
	}
	return &PartialError{Op: op, Failed: failed, Total: len(res), Err: fmt.Errorf("receipt handle %d: %w", first, res[first].Err)}
}

// failedHandles turns per-entry results into the older form: the handles that failed and
// their errors joined, each naming its position; or all handles with the call's own error.
func failedHandles(hs []string, res []EntryResult, callErr error) ([]string, error) {
	if callErr != nil {
		return hs, callErr
	}
	var failed []string
	var all []error
	for i, r := range res {
		if r.Err != nil {
			failed = append(failed, hs[i])
			all = append(all, fmt.Errorf("receipt handle %d: %w", i, r.Err))
		}
	}
	return failed, errors.Join(all...)
}
