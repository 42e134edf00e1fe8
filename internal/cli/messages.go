package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// dlqFlags locate the dead-letter queue of the current pair.
type dlqFlags struct {
	queue, client, table string
	maxReceives          int
}

func (f *dlqFlags) addLocation(fs *pflag.FlagSet) {
	fs.StringVar(&f.queue, "dlq-queue", "", "dead-letter queue name (default <queue>-dlq)")
	fs.StringVar(&f.client, "dlq-client", "", "dead-letter client ID (default the client)")
	fs.StringVar(&f.table, "dlq-table", "", "table of the dead-letter queue (default the table)")
}

// config returns the dead-letter configuration with maxReceives.
func (f *dlqFlags) config(maxReceives int) *dynamodbqueue.DeadLetterConfig {
	return &dynamodbqueue.DeadLetterConfig{
		MaxReceiveCount: maxReceives, Table: f.table, QueueName: f.queue, ClientID: f.client,
	}
}

func (a *app) receiveCommand() *cobra.Command {
	var (
		maxN       int
		wait       time.Duration
		visibility time.Duration
		del        bool
		exitEmpty  bool
		dlq        dlqFlags
	)
	cmd := &cobra.Command{
		Use:   "receive",
		Short: "Receive messages and print them as JSON lines",
		Long: `Receive (claim) up to --max messages and print each as one line of JSON, an SQS message
with its receiptHandle. The messages stay invisible to other consumers for --visibility
(default 30s); delete them with 'ddbq delete' (which reads this output), or pass --delete.

With --wait the command waits up to that long for the first message (long polling).
With --exit-empty, receiving nothing exits with code 5 instead of 0, for scripts.
With --max-receives N, a message received more than N times moves to the dead-letter queue
instead of being delivered.`,
		Example: `  ddbq receive -t queues -q orders -c acme --max 10 --wait 5s
  ddbq receive -q orders -c acme --max 10 | ddbq delete -q orders -c acme`,
		Args: noArgs,
		RunE: a.run(func(cmd *cobra.Command, _ []string) error {
			if err := checkMax(maxN); err != nil {
				return err
			}
			q, err := a.newQueue(cmd.Context())
			if err != nil {
				return err
			}
			if dlq.maxReceives > 0 {
				q.UseDeadLetterQueue(dlq.config(dlq.maxReceives))
			}
			msgs, err := q.ReceiveMessages(cmd.Context(), dynamodbqueue.ReceiveOptions{
				MaxMessages: maxN, WaitTime: wait, VisibilityTimeout: visibility,
			})
			if err != nil {
				return err
			}
			if err := a.printMessages(msgs); err != nil {
				return err
			}
			if len(msgs) == 0 && !a.g.json {
				fmt.Fprintln(a.stderr, "no messages")
			}
			if len(msgs) == 0 && exitEmpty {
				return &exitError{code: ExitEmpty, err: errors.New("no messages"), quiet: true}
			}
			if !del || len(msgs) == 0 {
				return nil
			}
			hs := dynamodbqueue.ToReceiptHandles(msgs)
			res, err := q.DeleteEntries(cmd.Context(), hs...)
			return a.handleFailures("delete", res, err, true)
		}),
	}
	fl := cmd.Flags()
	fl.IntVarP(&maxN, "max", "n", 1, maxUsage("most messages to receive"))
	fl.DurationVarP(&wait, "wait", "w", 0, "wait up to this long for a message (0: one pass, no waiting)")
	fl.DurationVar(&visibility, "visibility", 0, "hide the received messages this long (default 30s)")
	fl.BoolVar(&del, "delete", false, "delete the messages once printed")
	fl.BoolVar(&exitEmpty, "exit-empty", false, "exit with code 5 when no message was received")
	fl.IntVar(&dlq.maxReceives, "max-receives", 0, "move messages received more than N times to the dead-letter queue (0: off)")
	dlq.addLocation(fl)
	return cmd
}

// checkMax validates the --max of the commands that return messages (receive, peek, dlq
// list): one rule, 1..MaxReceiveMessages, checked before any request. 0 is rejected, not
// taken to mean 1 as ReceiveOptions.MaxMessages would.
func checkMax(n int) error {
	if n < 1 || n > dynamodbqueue.MaxReceiveMessages {
		return usageError("--max %d, must be 1..%d", n, dynamodbqueue.MaxReceiveMessages)
	}
	return nil
}

// maxUsage is the help text of a --max flag that checkMax validates.
func maxUsage(what string) string {
	return fmt.Sprintf("%s (1..%d)", what, dynamodbqueue.MaxReceiveMessages)
}

// handlesFrom returns the receipt handles of args, or of stdin when there are none.
func (a *app) handlesFrom(args []string) ([]string, error) {
	if len(args) > 0 {
		return args, nil
	}
	if isTerminal(a.stdin) {
		return nil, usageError("no receipt handles: give them as arguments or on stdin")
	}
	hs, err := ParseHandles(a.stdin)
	if err != nil {
		return nil, usageError("%v", err)
	}
	if len(hs) == 0 {
		return nil, usageError("no receipt handles: give them as arguments or on stdin")
	}
	return hs, nil
}

// handleFailures reports the per-handle results of a call on receipt handles (delete, change
// visibility, release) and returns the error that sets the exit code: ExitUsage when every
// handle was invalid, ExitPartial when some failed. With toStderr (receive --delete, whose
// stdout holds the messages) the report goes to stderr, as text.
func (a *app) handleFailures(verb string, res []dynamodbqueue.EntryResult, err error, toStderr bool) error {
	var partial *dynamodbqueue.PartialError
	if err != nil && !errors.As(err, &partial) {
		return err // the whole call failed (no queue set, invalid timeout, ...)
	}
	type failure struct {
		ReceiptHandle string `json:"receiptHandle"`
		Error         string `json:"error"`
	}
	failures := []failure{}
	allInvalid := true
	for i, r := range res {
		if r.Err == nil {
			continue
		}
		failures = append(failures, failure{ReceiptHandle: r.ReceiptHandle, Error: fmt.Sprintf("receipt handle %d: %v", i, r.Err)})
		if dynamodbqueue.Classify(r.Err) != dynamodbqueue.ClassInvalid {
			allInvalid = false
		}
	}
	done := len(res) - len(failures)
	if a.g.json && !toStderr {
		key := map[string]string{"delete": "deleted", "change": "changed", "release": "released"}[verb]
		if err := a.printJSON(map[string]any{key: done, "failed": failures}); err != nil {
			return err
		}
	} else {
		past := map[string]string{"delete": "deleted", "change": "changed the visibility of", "release": "released"}[verb]
		if done > 0 || len(failures) == 0 {
			w := a.stdout
			if toStderr {
				w = a.stderr
			}
			fmt.Fprintf(w, "%s %d %s\n", past, done, plural(done, "message", "messages"))
		}
		for _, f := range failures {
			fmt.Fprintf(a.stderr, "failed: %s: %s\n", abbreviate(f.ReceiptHandle, 24), a.clean(f.Error))
		}
	}
	if len(failures) == 0 {
		return nil
	}
	e := fmt.Errorf("%d of %d receipt %s failed", len(failures), len(res), plural(len(res), "handle", "handles"))
	if allInvalid && len(failures) == len(res) {
		return withHint(ExitUsage, e, "the handles are malformed or belong to another table, queue or client")
	}
	return &exitError{code: ExitPartial, err: e}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func (a *app) deleteCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "delete [HANDLE...]",
		Short: "Delete received messages by receipt handle (arguments or stdin)",
		Long: `Delete messages by their receipt handles, given as arguments or on stdin, one per line.
A stdin line that is a JSON message (as 'ddbq receive' prints it) gives its receiptHandle.
Deleting a message that is already gone succeeds. Exit code 4 when some handles failed
(stale: the message was received again since), 2 when all were malformed.`,
		Example: `  ddbq delete -t queues -q orders -c acme "$HANDLE"
  ddbq receive -q orders -c acme --max 10 | ddbq delete -q orders -c acme`,
		RunE: a.onHandles("delete", func(ctx context.Context, q *dynamodbqueue.DynamoDBQueue, hs []string) ([]dynamodbqueue.EntryResult, error) {
			return q.DeleteEntries(ctx, hs...)
		}),
	}
}

func (a *app) visibilityCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "visibility",
		Short: "Change the visibility timeout of received messages, or release them",
	}
	var timeout time.Duration
	change := &cobra.Command{
		Use:   "change --timeout D [HANDLE...]",
		Short: "Hide received messages for D from now (extend or shorten their timeout)",
		Long: `Set the visibility timeout of held messages to --timeout from now (0..12h): extend it for
long work or shorten it. Handles as arguments or on stdin, as for delete.`,
		Example: `  ddbq visibility change -t queues -q orders -c acme --timeout 5m "$HANDLE"`,
		RunE: a.onHandles("change", func(ctx context.Context, q *dynamodbqueue.DynamoDBQueue, hs []string) ([]dynamodbqueue.EntryResult, error) {
			return q.ChangeVisibilityEntries(ctx, timeout, hs...)
		}),
	}
	change.Flags().DurationVar(&timeout, "timeout", 0, "new visibility timeout from now (required)")
	_ = change.MarkFlagRequired("timeout")
	release := &cobra.Command{
		Use:   "release [HANDLE...]",
		Short: "Make received messages visible again at once (a negative acknowledgement)",
		Example: `  ddbq visibility release -t queues -q orders -c acme "$HANDLE"
  ddbq receive -q orders -c acme | ddbq visibility release -q orders -c acme`,
		RunE: a.onHandles("release", func(ctx context.Context, q *dynamodbqueue.DynamoDBQueue, hs []string) ([]dynamodbqueue.EntryResult, error) {
			return q.ReleaseEntries(ctx, hs...)
		}),
	}
	cmd.AddCommand(change, release)
	return group(cmd)
}

// onHandles is the body of the commands that act on receipt handles (delete, visibility
// change, release): read the handles, apply op, report the handles that failed.
func (a *app) onHandles(name string, op func(context.Context, *dynamodbqueue.DynamoDBQueue, []string) ([]dynamodbqueue.EntryResult, error)) func(*cobra.Command, []string) error {
	return a.run(func(cmd *cobra.Command, args []string) error {
		hs, err := a.handlesFrom(args)
		if err != nil {
			return err
		}
		q, err := a.newQueue(cmd.Context())
		if err != nil {
			return err
		}
		res, err := op(cmd.Context(), q, hs)
		return a.handleFailures(name, res, err, false)
	})
}
