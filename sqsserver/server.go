package sqsserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/tracing"
)

// DefaultMaxBodyBytes bounds a request body when Options.MaxBodyBytes is 0: a 1 MiB message
// plus its attributes and the protocol's overhead (a query-protocol SendMessageBatch of ten
// messages is bounded by SQS's own 1 MiB batch limit before encoding).
const DefaultMaxBodyBytes = 4 << 20

// Principal is who signed a request: an admin, or a key confined to some client IDs.
type Principal struct {
	// AccessKeyID is the key that signed the request (never its secret).
	AccessKeyID string
	// Admin may use every client ID.
	Admin bool
	// ClientIDs are the client IDs (tenants) a non-admin key may use.
	ClientIDs []string
}

// Allows reports whether p may act on queues of clientID.
func (p Principal) Allows(clientID string) bool {
	return p.Admin || slices.Contains(p.ClientIDs, clientID)
}

// Authenticator verifies a request and returns who signed it. The server has read the body
// already (bounded by Options.MaxBodyBytes) and passes it, because a signature covers it; r.Body
// must not be read again. An error should implement ErrorCoder, so the client gets SQS's code
// (InvalidClientTokenId, SignatureDoesNotMatch, RequestExpired, IncompleteSignature,
// MissingAuthenticationToken, AccessDenied ...); any other error is answered with
// InvalidClientTokenId (403), revealing nothing.
type Authenticator interface {
	Authenticate(r *http.Request, body []byte) (Principal, error)
}

// ErrorCoder is an error that carries an SQS error code: the code as the query protocol spells
// it (e.g. "InvalidClientTokenId", "AWS.SimpleQueueService.NonExistentQueue") and whether it is
// the sender's fault. *Error implements it; an error that also has a method HTTPStatus() int
// chooses its status, else the server picks SQS's status for the code (400 by default).
type ErrorCoder interface {
	error
	ErrorCode() string
	SenderFault() bool
}

// Metrics receives what the server measures; the CLI backs it with Prometheus. Its methods are
// called concurrently and must be quick.
type Metrics interface {
	// Request is called once per request when the response is written: the action ("" when
	// the request named none or an unknown one is counted under its name as sent, see
	// UnknownAction), the SQS error code ("" on success) and the time the request took.
	Request(action, code string, d time.Duration)
	// LongPolls is called with +1 when a ReceiveMessage starts waiting for messages and -1
	// when it stops, so the sum is the number of long polls waiting now.
	LongPolls(delta int)
}

// UnknownAction is the action name given to Metrics for requests whose action is missing or not
// an SQS action, so a client sending random names cannot grow a metric's label set.
const UnknownAction = "Unknown"

// Options configure a Server. Client is required; so is Auth unless Insecure.
type Options struct {
	// Client is the queue client: its table holds the queues, its signing key signs receipt
	// handles (so every server on the table must share it, for handles to work on each).
	Client *dynamodbqueue.Client
	// Auth verifies each request. Nil is refused unless Insecure.
	Auth Authenticator
	// Insecure serves requests without authentication, as an admin principal: tests and local
	// demos only.
	Insecure bool
	// BaseURL returns the scheme and host queue URLs are built on, e.g. "http://127.0.0.1:9324",
	// without a trailing slash. Nil: "http://" + r.Host (https when r.TLS is set).
	BaseURL func(r *http.Request) string
	// Logger receives a record per failed request (debug for sender faults, error otherwise).
	// Nil: slog.Default().
	Logger *slog.Logger
	// MaxBodyBytes bounds a request body (0: DefaultMaxBodyBytes). Larger requests get 413
	// with an SQS error and are not read further.
	MaxBodyBytes int64
	// Metrics, when not nil, is told about every request and long poll.
	Metrics Metrics
	// Region is the region queue ARNs name ("": "us-east-1"); SQS clients only display it.
	Region string
	// DefaultClientID is the client ID that CreateQueue, GetQueueUrl and ListQueues act for
	// when the principal has no ClientIDs (an admin key, or Insecure mode) and the request
	// names no QueueOwnerAWSAccountId ("": "default"). A principal with ClientIDs acts for
	// its first one by default.
	DefaultClientID string
	// Now is the clock PurgeQueue's 60-second window is measured on (nil: the Client's clock,
	// corrected towards DynamoDB's). Every server on a table should use the same time.
	Now func() time.Time
	// MoveTaskStaleAfter is how long a RUNNING message move task may go without a progress
	// write before a server that lists it, or starts one on its queue, resumes it (0:
	// DefaultMoveTaskStaleAfter).
	MoveTaskStaleAfter time.Duration
	// Tracer, if set, starts an OpenTelemetry producer span "send <queue>" for every message a
	// SendMessage or SendMessageBatch pushes: the child of the client's span that the message
	// carries (AWSTraceHeader system attribute or W3C traceparent message attribute), and when
	// it carries none, its context is written into the message's AWSTraceHeader so consumers
	// link to it (package tracing). nil: no spans, messages stored as sent.
	Tracer *tracing.Tracer
}

// Server is the SQS-compatible http.Handler. It is safe for concurrent use and holds no queue
// state of its own besides the waiting long polls: any number of Servers, in any processes,
// serve the same table.
type Server struct {
	opts   Options
	logger *slog.Logger

	mu       sync.Mutex
	draining bool
	polls    map[*longPoll]struct{}
	pollsWG  sync.WaitGroup

	moves    moveRunners
	attempts attempts
}

// longPoll is one waiting ReceiveMessage; Drain cancels it.
type longPoll struct{ cancel context.CancelFunc }

// New validates opts and returns a Server.
func New(opts Options) (*Server, error) {
	if opts.Client == nil {
		return nil, errors.New("sqsserver: Options.Client is required")
	}
	if opts.Auth == nil && !opts.Insecure {
		return nil, errors.New("sqsserver: Options.Auth is required (or set Insecure for tests and demos)")
	}
	if opts.MaxBodyBytes < 0 {
		return nil, fmt.Errorf("sqsserver: Options.MaxBodyBytes %d is negative", opts.MaxBodyBytes)
	}
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	return &Server{opts: opts, logger: logger, polls: map[*longPoll]struct{}{}}, nil
}

// Drain ends every waiting long poll with what it holds (an empty result when nothing came),
// releases nothing it did not claim and leaves nothing hidden, and makes later ReceiveMessage
// calls return at once. It then stops the message move tasks this server runs and releases
// them to other servers (a task started later still runs here). It returns when the polls have answered, or with ctx's error. Call it
// before http.Server.Shutdown, which then finds no request waiting.
func (s *Server) Drain(ctx context.Context) error {
	s.mu.Lock()
	s.draining = true
	for p := range s.polls {
		p.cancel()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.pollsWG.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	// Message move tasks running here are handed over: another server resumes them at once.
	return s.stopMoves(ctx, true)
}
