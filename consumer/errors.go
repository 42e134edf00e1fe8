package consumer

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// Errors returned by New and Run, and carried by the errors a consumer reports to its hooks.
// Branch on them with errors.Is; the message says what exactly was wrong.
var (
	// ErrNilQueue: New was given a nil queue, or Options.Sources holds a nil queue.
	ErrNilQueue = errors.New("consumer: queue is nil")
	// ErrNilHandler: New was given a nil Handler (or a nil HandlerFunc).
	ErrNilHandler = errors.New("consumer: handler is nil")
	// ErrInvalidOptions: an Options field is out of range. Every validation error of New
	// that is not about the queue itself wraps it.
	ErrInvalidOptions = errors.New("consumer: invalid options")
	// ErrDuplicateSource: two sources of one consumer name the same (table, queue, client).
	// Errors wrapping it also wrap ErrInvalidOptions.
	ErrDuplicateSource = errors.New("consumer: duplicate source")
	// ErrAlreadyRunning: Run was called while another Run of the same Consumer was active.
	ErrAlreadyRunning = errors.New("consumer: already running")
	// ErrHandlerPanic: the handler panicked (or called runtime.Goexit). The error reported to
	// the hooks is a *PanicError that wraps it.
	ErrHandlerPanic = errors.New("consumer: handler panicked")
	// ErrShutdownTimeout: Run gave up waiting for handlers that kept running after their
	// context was cancelled at the end of the shutdown grace period.
	ErrShutdownTimeout = errors.New("consumer: handlers did not return in time")
	// ErrShutdown is the cause (context.Cause) of the cancellation of handler contexts when
	// the shutdown grace period is over.
	ErrShutdown = errors.New("consumer: shutting down, grace period over")
)

// RetryAfterError asks the consumer to make the message visible again after Delay instead of
// after the exponential backoff. A handler returns it through RetryAfter, alone or wrapped
// (fmt.Errorf("rate limited: %w", consumer.RetryAfter(time.Minute))); the consumer finds it
// with errors.As.
//
// The retry is still a failed delivery: it counts as an error for the hooks, and the next
// receive raises ApproximateReceiveCount, which the queue's dead-letter limit
// (DeadLetterConfig.MaxReceiveCount) counts too.
type RetryAfterError struct {
	// Delay is how long the message stays invisible: clamped to
	// 0..dynamodbqueue.MaxVisibilityTimeout. 0 makes it visible again at once.
	Delay time.Duration
	// Err is an optional cause.
	Err error
}

// RetryAfter returns an error that makes the consumer retry the message after d (see
// RetryAfterError), like a snooze: return it from a handler that cannot do its work yet.
func RetryAfter(d time.Duration) error { return &RetryAfterError{Delay: d} }

// Error describes the requested retry.
func (e *RetryAfterError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("consumer: retry after %v: %v", e.Delay, e.Err)
	}
	return fmt.Sprintf("consumer: retry after %v", e.Delay)
}

// Unwrap returns the cause, if any.
func (e *RetryAfterError) Unwrap() error { return e.Err }

// PanicError is the error a consumer reports when a handler panicked: the recovered value
// and the stack of the panicking goroutine. It wraps ErrHandlerPanic, and the panic value
// too when that is an error.
type PanicError struct {
	// Value is what the handler passed to panic.
	Value any
	// Stack is the goroutine's stack trace at the point of recovery (runtime/debug.Stack).
	Stack []byte
}

// Error describes the panic, without the stack.
func (e *PanicError) Error() string { return fmt.Sprintf("%v: %v", ErrHandlerPanic, e.Value) }

// Unwrap returns ErrHandlerPanic and, if the panic value is an error, that error.
func (e *PanicError) Unwrap() []error {
	if err, ok := e.Value.(error); ok {
		return []error{ErrHandlerPanic, err}
	}
	return []error{ErrHandlerPanic}
}

// ReceiveCount returns the message's ApproximateReceiveCount attribute: 1 for the first
// delivery, 2 for the first retry and so on. It returns 1 if the attribute is missing or
// malformed.
func ReceiveCount(msg events.SQSMessage) int {
	n, err := strconv.Atoi(msg.Attributes[dynamodbqueue.AttributeApproximateReceiveCount])
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// permanent reports whether a queue operation failed in a way a retry cannot fix: the
// library classifies it as the caller's fault (a stale, foreign or invalid handle, a wrong
// configuration, denied access).
func permanent(err error) bool { return dynamodbqueue.IsSenderFault(err) }

// fatalPollError reports whether a receive error means the consumer cannot work at all, so
// Run should stop and return it rather than retry forever: the table is missing or the
// queue's settings are invalid. Denied access is retried (with the poll back-off), since a
// policy may be attached after the consumer starts.
func fatalPollError(err error) bool {
	switch dynamodbqueue.Classify(err) {
	case dynamodbqueue.ClassInvalid, dynamodbqueue.ClassNotFound:
		return true
	}
	return false
}
