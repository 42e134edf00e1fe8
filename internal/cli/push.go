package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// pushChunk is how many messages one PushWithOptions call gets; the progress bar moves on
// after each.
const pushChunk = 250

// progressThreshold is the input size from which push shows a progress bar on a terminal.
const progressThreshold = 500

type pushFlags struct {
	file         string
	raw          bool
	group        string
	dedupID      string
	contentDedup bool
	delay        time.Duration
	ttl          time.Duration
	attrs        []string
	progress     bool
	noProgress   bool
}

func (a *app) pushCommand() *cobra.Command {
	var f pushFlags
	cmd := &cobra.Command{
		Use:   "push [BODY...]",
		Short: "Push messages: bodies from arguments, a file, or JSON lines on stdin",
		Long: `Push messages to the queue. The messages come from, in this order of precedence:

  arguments        each argument is one message body
  --file PATH      a .json/.jsonl/.ndjson file holds JSON messages (an array, or one
                   object per line); any other file holds one message body per line
  stdin            JSON lines: each line an SQS message as 'ddbq receive' prints it, or
                   {"body": ...}; with --raw, one message body per line

A JSON message may carry "attributes" (MessageGroupId, MessageDeduplicationId, DelaySeconds),
"messageAttributes", and the shortcuts "group", "dedupId" and "delaySeconds". A body that is
not a string (an object, say) is pushed as its JSON text.

All input is read and checked before anything is written: invalid input pushes nothing.
--group, --dedup-id and --attr apply to every message that does not set them itself.`,
		Example: `  ddbq push -t queues -q orders -c acme 'first order' 'second order'
  ddbq push -q orders -c acme --group customer-7 --attr priority=Number:5 'order 3'
  printf '{"body":"a"}\n{"body":{"id":2},"group":"g1"}\n' | ddbq push -q orders -c acme
  ddbq push -q orders -c acme --file orders.jsonl --progress`,
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			return a.push(cmd, args, &f)
		}),
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.file, "file", "f", "", "read messages from `PATH` (JSON by extension, else one body per line)")
	fl.BoolVar(&f.raw, "raw", false, "stdin holds one message body per line, not JSON")
	fl.StringVar(&f.group, "group", "", "message group `ID` (FIFO within the group)")
	fl.StringVar(&f.dedupID, "dedup-id", "", "deduplication `ID` (one message only)")
	fl.BoolVar(&f.contentDedup, "content-dedup", false, "deduplicate by the SHA-256 of the body")
	fl.DurationVar(&f.delay, "delay", 0, "keep the messages invisible this long (up to 15m)")
	fl.DurationVar(&f.ttl, "ttl", 0, "retention of the messages (default 14 days)")
	fl.StringArrayVar(&f.attrs, "attr", nil, "message attribute `name=type:value` (type String, Number or Binary; repeatable)")
	fl.BoolVar(&f.progress, "progress", false, "show a progress bar even when stderr is not a terminal")
	fl.BoolVar(&f.noProgress, "no-progress", false, "never show a progress bar")
	return cmd
}

// readPushInput returns the messages to push from arguments, --file or stdin.
func (a *app) readPushInput(args []string, f *pushFlags) ([]events.SQSMessage, error) {
	switch {
	case len(args) > 0 && f.file != "":
		return nil, usageError("give message bodies as arguments or with --file, not both")
	case len(args) > 0:
		msgs := make([]events.SQSMessage, len(args))
		for i, b := range args {
			msgs[i].Body = b
		}
		return msgs, nil
	case f.file != "":
		file, err := os.Open(f.file)
		if err != nil {
			return nil, withHint(ExitUsage, err, "")
		}
		defer file.Close()
		switch strings.ToLower(filepath.Ext(f.file)) {
		case ".json", ".jsonl", ".ndjson":
			return ParseJSONMessages(file, f.file)
		default:
			return ParseLines(file, f.file)
		}
	case f.raw:
		return ParseLines(a.stdin, "stdin")
	default:
		if isTerminal(a.stdin) {
			return nil, nil
		}
		msgs, err := ParseJSONMessages(a.stdin, "stdin")
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, withHint(ExitUsage, err, `stdin is read as JSON lines such as {"body":"hello"}; for plain text, one body per line, add --raw`)
		}
		return msgs, err
	}
}

func (a *app) push(cmd *cobra.Command, args []string, f *pushFlags) error {
	if f.progress && f.noProgress {
		return usageError("--progress and --no-progress exclude each other")
	}
	if f.raw && (f.file != "" || len(args) > 0) {
		return usageError("--raw is for stdin: drop it with --file or arguments")
	}
	msgs, err := a.readPushInput(args, f)
	if err != nil {
		var ee *exitError
		if !errors.As(err, &ee) {
			err = &exitError{code: ExitUsage, err: err}
		}
		return err
	}
	if len(msgs) == 0 {
		return usageError("no messages: give bodies as arguments, --file PATH, or JSON lines on stdin")
	}
	if f.dedupID != "" && len(msgs) > 1 {
		return usageError("--dedup-id with %d messages: each message needs its own ID (use --content-dedup, or \"dedupId\" in JSON input)", len(msgs))
	}
	attrs, err := ParseAttrs(f.attrs)
	if err != nil {
		return usageError("%v", err)
	}
	for i := range msgs {
		m := &msgs[i]
		if f.group != "" && m.Attributes[dynamodbqueue.AttributeMessageGroupID] == "" {
			setAttr(m, dynamodbqueue.AttributeMessageGroupID, f.group)
		}
		if f.dedupID != "" {
			setAttr(m, dynamodbqueue.AttributeMessageDeduplicationID, f.dedupID)
		}
		for name, v := range attrs {
			if _, ok := m.MessageAttributes[name]; ok {
				continue
			}
			if m.MessageAttributes == nil {
				m.MessageAttributes = map[string]events.SQSMessageAttribute{}
			}
			m.MessageAttributes[name] = v
		}
		// Check everything before writing anything, as one library call would.
		// ValidateMessage works on its argument's maps (it strips DelaySeconds, adds SentTimestamp):
		// give it copies.
		c := *m
		c.Attributes, c.MessageAttributes = maps.Clone(m.Attributes), maps.Clone(m.MessageAttributes)
		if err := dynamodbqueue.ValidateMessage(c); err != nil {
			return fmt.Errorf("message %d: %w", i+1, err)
		}
	}
	q, err := a.newQueue(cmd.Context())
	if err != nil {
		return err
	}
	if f.contentDedup { // else the queue's definition decides
		q.UseContentBasedDeduplication(true)
	}
	opts := dynamodbqueue.PushOptions{TTL: f.ttl, Delay: f.delay}

	var bar *progressbar.ProgressBar
	if f.progress || (!f.noProgress && len(msgs) >= progressThreshold && isTerminal(a.stderr)) {
		bar = progressbar.NewOptions(len(msgs),
			progressbar.OptionSetWriter(a.stderr),
			progressbar.OptionSetDescription("pushing"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("msg"),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetWidth(30),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(a.stderr) }),
		)
	}
	var (
		ids        []string
		duplicates int
		failed     []events.SQSMessage
		firstErr   error
	)
	for start := 0; start < len(msgs); start += pushChunk {
		chunk := msgs[start:min(start+pushChunk, len(msgs))]
		res, err := q.PushWithOptions(cmd.Context(), opts, chunk...)
		for _, m := range res.Pushed {
			ids = append(ids, m.MessageId)
		}
		duplicates += res.Duplicates
		failed = append(failed, res.Failed...)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		if bar != nil {
			_ = bar.Add(len(chunk))
		}
		if cmd.Context().Err() != nil {
			// The rest was never tried.
			failed = append(failed, msgs[start+len(chunk):]...)
			break
		}
	}
	if bar != nil {
		_ = bar.Finish()
	}
	if err := a.reportPush(ids, duplicates, len(failed)); err != nil {
		return err
	}
	if firstErr == nil && len(failed) > 0 {
		firstErr = cmd.Context().Err()
	}
	if firstErr == nil {
		return nil
	}
	if len(ids) == 0 {
		return firstErr
	}
	for _, m := range failed {
		fmt.Fprintf(a.stderr, "not pushed: %s\n", abbreviate(m.Body, 70))
	}
	return &exitError{code: ExitPartial, err: fmt.Errorf("%d of %d messages not pushed: %w", len(failed), len(msgs), firstErr)}
}

// reportPush prints what a push did: accepted holds the message IDs of the accepted messages,
// of which duplicates were repeats within the deduplication window (reported with the ID of
// the message they repeat) and were not stored again.
func (a *app) reportPush(accepted []string, duplicates, failed int) error {
	stored := len(accepted) - duplicates
	if a.g.json {
		return a.printJSON(map[string]any{
			"stored": stored, "duplicates": duplicates, "failed": failed, "messageIds": nonNil(accepted),
		})
	}
	switch {
	case len(accepted) == 0:
		return nil
	case duplicates == 0 && stored == 1:
		a.printf("pushed 1 message: %s\n", accepted[0])
	case duplicates == 0:
		a.printf("pushed %d messages\n", stored)
	case stored == 0 && duplicates == 1:
		a.printf("not stored again: a duplicate of message %s within the deduplication window\n", accepted[0])
	default:
		a.printf("pushed %d %s; %d %s not stored again (within the deduplication window)\n",
			stored, plural(stored, "message", "messages"), duplicates, plural(duplicates, "duplicate was", "duplicates were"))
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
