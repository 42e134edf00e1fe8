package cli

import (
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// listFlags are the paging flags of the commands that list messages (peek, dlq list).
type listFlags struct {
	max    int
	newest bool
	cursor string
}

func (f *listFlags) add(fs *pflag.FlagSet, what string) {
	fs.IntVarP(&f.max, "max", "n", 10, maxUsage("most "+what+" to show"))
	fs.BoolVar(&f.newest, "newest", false, "newest first (default oldest first)")
	fs.StringVar(&f.cursor, "cursor", "", "continue after the page that printed this cursor")
}

// listed is one message as peek and dlq list print it with --json: the SQS message (no
// receipt handle) and what the inspection API knows about it.
type listed struct {
	events.SQSMessage
	State         dynamodbqueue.MessageState `json:"state"`
	VisibleAt     time.Time                  `json:"visibleAt"`
	ReceiveCount  int                        `json:"receiveCount"`
	FirstReceived *time.Time                 `json:"firstReceived,omitempty"`
	LastReceived  *time.Time                 `json:"lastReceived,omitempty"`
	BodyOmitted   bool                       `json:"bodyOmitted,omitempty"`
	Shard         int                        `json:"shard"`
}

// listMessages prints one page of the messages in state of the queue newQueue returns, and the
// cursor of the next page on stderr (stdout stays one message per line). --max is checked
// before anything else, so a bad value is reported as such even without an endpoint.
func (a *app) listMessages(cmd *cobra.Command, newQueue func() (*dynamodbqueue.DynamoDBQueue, error), state dynamodbqueue.MessageState, f listFlags) error {
	if err := checkMax(f.max); err != nil {
		return err
	}
	q, err := newQueue()
	if err != nil {
		return err
	}
	page, err := q.Inspector().ListMessages(cmd.Context(), dynamodbqueue.ListOptions{
		State: state, Limit: f.max, NewestFirst: f.newest, Cursor: f.cursor,
	})
	if err != nil {
		return err
	}
	if err := a.printListed(page.Messages); err != nil {
		return err
	}
	if page.NextCursor != "" {
		fmt.Fprintf(a.stderr, "more: --cursor %s\n", page.NextCursor)
	}
	return nil
}

func (a *app) printListed(msgs []dynamodbqueue.MessageInfo) error {
	if a.g.json {
		for _, m := range msgs {
			l := listed{SQSMessage: m.Message, State: m.State, VisibleAt: m.VisibleAt.UTC(),
				ReceiveCount: m.ReceiveCount, BodyOmitted: m.BodyOmitted, Shard: m.Shard}
			if !m.FirstReceived.IsZero() {
				t := m.FirstReceived.UTC()
				l.FirstReceived = &t
			}
			if !m.LastReceived.IsZero() {
				t := m.LastReceived.UTC()
				l.LastReceived = &t
			}
			if err := a.printJSON(l); err != nil {
				return err
			}
		}
		return nil
	}
	if len(msgs) == 0 {
		a.printf("no messages\n")
		return nil
	}
	tw := newTable(a.stdout)
	fmt.Fprintln(tw, "MESSAGE ID\tSTATE\tSENT\tRECEIVES\tGROUP\tBODY")
	for _, m := range msgs {
		body := abbreviate(m.Message.Body, 60)
		if m.BodyOmitted {
			body = fmt.Sprintf("(large body, %d %s)", m.BodyChunks, plural(m.BodyChunks, "part", "parts"))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", m.Message.MessageId, m.State, sentTime(m.Message),
			dash(receives(m.ReceiveCount)), dash(m.GroupID), body)
	}
	return tw.Flush()
}

func receives(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

func (a *app) peekCommand() *cobra.Command {
	var (
		f     listFlags
		state string
	)
	cmd := &cobra.Command{
		Use:   "peek",
		Short: "List messages by state without receiving them",
		Long: `List up to --max messages of the (queue, client) pair in --state (visible, in-flight,
delayed, dead-lettered or any; default visible) without claiming them: nothing changes, they
get no receipt handle. Messages outside groups come in push order across all shards, then
grouped ones, group by group; --newest reverses it. When there are more, the command prints
"more: --cursor C" on stderr: pass that to get the next page. Large bodies are not read.
Text by default; --json prints one JSON line per message, with its state, visibleAt and
receiveCount.`,
		Example: `  ddbq peek -t queues -q orders -c acme --max 5
  ddbq peek -t queues -q orders -c acme --state in-flight --json`,
		Args: noArgs,
		RunE: a.run(func(cmd *cobra.Command, _ []string) error {
			st, err := dynamodbqueue.ParseMessageState(state)
			if err != nil {
				return usageError("--state: %v", err)
			}
			return a.listMessages(cmd, func() (*dynamodbqueue.DynamoDBQueue, error) {
				q, err := a.newQueue(cmd.Context())
				if err == nil && st == dynamodbqueue.StateDeadLettered {
					q.UseDeadLetterQueue(&dynamodbqueue.DeadLetterConfig{MaxReceiveCount: 1})
				}
				return q, err
			}, st, f)
		}),
	}
	f.add(cmd.Flags(), "messages")
	cmd.Flags().StringVar(&state, "state", "visible", "visible, in-flight, delayed, dead-lettered (in <queue>-dlq) or any")
	return cmd
}
