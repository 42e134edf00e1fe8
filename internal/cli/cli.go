// Package cli implements ddbq, the command-line tool for dynamodbqueue: it creates and
// inspects queue tables, pushes, receives and deletes messages, manages dead letters, prints
// IAM policies, runs benchmarks and a demo, and manages a local dynalite for development.
//
// The command tree is built by New; Execute runs it and turns the outcome into an exit code
// (see the Exit* constants), so the whole tool can be driven in-process by tests.
package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/spf13/cobra"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// Exit codes of ddbq. Scripts can rely on them.
const (
	// ExitOK: the command did what it was asked.
	ExitOK = 0
	// ExitError: a runtime or DynamoDB error (network, throttling, access denied, ...).
	ExitError = 1
	// ExitUsage: the command line or the input was invalid (unknown flag, bad duration,
	// invalid name, malformed message or receipt handle, missing --yes, ...).
	ExitUsage = 2
	// ExitNotFound: the table, the queue's definition or the message asked for by ID does not
	// exist, or the local dynalite is not running.
	ExitNotFound = 3
	// ExitPartial: some messages or receipt handles failed while others succeeded, or some
	// handles were stale.
	ExitPartial = 4
	// ExitEmpty: receive --exit-empty received no message.
	ExitEmpty = 5
	// ExitInterrupted: the command was interrupted (Ctrl-C, SIGTERM).
	ExitInterrupted = 130
)

// Environment variables that ddbq reads.
const (
	EnvTable       = "DDBQ_TABLE"             // default for --table
	EnvQueue       = "DDBQ_QUEUE"             // default for --queue
	EnvClient      = "DDBQ_CLIENT"            // default for --client
	EnvEndpoint    = "DDBQ_ENDPOINT"          // default for --endpoint
	EnvEndpoint2   = "DYNAMODBQUEUE_ENDPOINT" // default for --endpoint when DDBQ_ENDPOINT is unset
	EnvRegion      = "AWS_REGION"             // default for --region
	EnvProfile     = "AWS_PROFILE"            // default for --profile
	EnvShards      = "DDBQ_SHARDS"            // default for --shards
	EnvStateDir    = "DDBQ_STATE_DIR"         // where `ddbq local` keeps the dynalite state files
	EnvDynaliteDir = "DDBQ_DYNALITE_DIR"      // where `ddbq local start` and `ddbq demo` install dynalite
	EnvSigningKey  = "DDBQ_SIGNING_KEY"       // receipt-handle signing key (UseSigningKey)
)

// Execute runs ddbq with args (without the program name), reading stdin and writing to
// stdout and stderr, and returns the exit code. The environment is read with os.Getenv.
func Execute(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return ExecuteEnv(ctx, args, stdin, stdout, stderr, os.Getenv)
}

// ExecuteEnv is Execute with the environment given as a lookup function, for tests.
func ExecuteEnv(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	a := newApp(stdin, stdout, stderr, getenv)
	root := a.rootCommand()
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	a.failed = cmd
	if err == nil {
		return ExitOK
	}
	code, msg, hint := a.describe(err)
	if msg != "" {
		fmt.Fprintf(stderr, "ddbq: %s\n", msg)
	}
	if hint != "" {
		fmt.Fprintf(stderr, "  %s\n", strings.ReplaceAll(hint, "\n", "\n  "))
	}
	return code
}

// New returns the ddbq command tree writing to stdout and stderr and reading stdin, with the
// environment read by getenv (nil means os.Getenv). Errors are returned by Execute and not
// printed; ExitCode maps them to exit codes.
func New(stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	if getenv == nil {
		getenv = os.Getenv
	}
	return newApp(stdin, stdout, stderr, getenv).rootCommand()
}

// ExitCode returns the exit code ddbq uses for err (ExitOK for nil).
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	code, _, _ := (&app{}).describe(err)
	return code
}

// exitError carries an exit code and a hint for the user with an error.
type exitError struct {
	code int
	err  error
	hint string
	// quiet errors have been reported already (e.g. a partial failure listed per item):
	// only the hint, if any, is printed.
	quiet bool
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError is an invalid command line or input: exit code 2.
func usageError(format string, args ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, args...)}
}

// withHint adds what to do about err.
func withHint(code int, err error, hint string) error {
	return &exitError{code: code, err: err, hint: hint}
}

// commandError marks the errors of ddbq's own code (the commands and the flag resolution),
// as opposed to those cobra returns while parsing (unknown command or flag, bad flag value,
// wrong number of arguments), which are all usage errors.
type commandError struct{ err error }

func (e *commandError) Error() string { return e.err.Error() }
func (e *commandError) Unwrap() error { return e.err }

// describe returns the exit code, the message and the hint to print for err.
func (a *app) describe(err error) (code int, msg, hint string) {
	var ce *commandError
	if !errors.As(err, &ce) {
		// Cobra's own errors: unknown command or flag, bad flag value, wrong arguments.
		hint = "run 'ddbq --help' for usage"
		if a.failed != nil {
			hint = fmt.Sprintf("run '%s --help' for usage", a.failed.CommandPath())
		}
		return ExitUsage, err.Error(), hint
	}
	err = ce.err
	msg = err.Error()
	msg = a.clean(msg)
	var ee *exitError
	if errors.As(err, &ee) {
		code, hint = ee.code, ee.hint
		if ee.quiet {
			msg = ""
		}
	}
	class := dynamodbqueue.Classify(err)
	var notFound *dynamodbqueue.TableNotFoundError
	switch {
	case class == dynamodbqueue.ClassCanceled:
		return ExitInterrupted, "interrupted", ""
	case errors.As(err, &notFound):
		table := cmp.Or(notFound.Table, a.g.table)
		msg = fmt.Sprintf("table %q not found", table)
		if a.g.verbose {
			msg += ": " + err.Error()
		}
		if hint == "" {
			if table == "" {
				table = "NAME"
			}
			hint = "create it with: ddbq table create -t " + table
		}
		if code == 0 {
			code = ExitNotFound
		}
		return code, msg, hint
	case errors.Is(err, dynamodbqueue.ErrTableNotSet):
		hint = "set the table with --table/-t or " + EnvTable
	case errors.Is(err, dynamodbqueue.ErrQueueNameNotSet):
		hint = "set the queue with --queue/-q or " + EnvQueue
	case errors.Is(err, dynamodbqueue.ErrClientIDNotSet):
		hint = "set the client ID with --client/-c or " + EnvClient
	case errors.Is(err, dynamodbqueue.ErrNoDeadLetterQueue):
		hint = "name the dead-letter queue with --dlq-queue (default <queue>-dlq)"
	}
	switch {
	case code != 0:
		return code, msg, hint
	case class == dynamodbqueue.ClassInvalid: // bad input rather than a DynamoDB failure
		return ExitUsage, msg, hint
	case class == dynamodbqueue.ClassNotFound:
		return ExitNotFound, msg, hint
	}
	if strings.Contains(msg, "failed to retrieve credentials") || strings.Contains(msg, "no EC2 IMDS role found") {
		return ExitError, msg, "no AWS credentials: use --profile/" + EnvProfile + " or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,\n" +
			"or --local / --endpoint for a local DynamoDB"
	}
	if isConnRefused(err) {
		return ExitError, msg, fmt.Sprintf("nothing answers at %s; for a local DynamoDB run: ddbq local start, then use --local", a.endpoint)
	}
	var re *aws.RequestCanceledError
	if errors.As(err, &re) {
		return ExitInterrupted, "interrupted", ""
	}
	return ExitError, msg, hint
}

// clean drops the library's name, which it puts before every layer of an error message,
// unless --verbose asks for everything.
func (a *app) clean(msg string) string {
	if a.g.verbose {
		return msg
	}
	return strings.ReplaceAll(msg, "dynamodbqueue: ", "")
}

// newLogger returns the logger for the library: warnings (without timestamps, so output
// stays readable) by default, debug detail with --verbose.
func newLogger(w io.Writer, verbose bool) *slog.Logger {
	if verbose {
		return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{
		Level: slog.LevelWarn,
		ReplaceAttr: func(groups []string, attr slog.Attr) slog.Attr {
			if len(groups) == 0 && attr.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return attr
		},
	}))
}
