package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// pairStats is one row of `ddbq stats`.
type pairStats struct {
	Queue        string `json:"queue"`
	Client       string `json:"client"`
	Count        int    `json:"count"`
	Visible      int    `json:"visible"`
	InFlight     int    `json:"inFlight"`
	Delayed      int    `json:"delayed"`
	DeadLettered int    `json:"deadLettered"`
	Groups       int    `json:"groups"`
}

func (a *app) statsCommand() *cobra.Command {
	var (
		all, clients bool
		dlq          dlqFlags
		watch        watchFlags // watch.go
	)
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Count messages by state: visible, in flight, delayed, dead-lettered",
		Long: `Count the messages of the (queue, client) pair by state, of every client of the queue
with --all-clients, or of every pair of the table with --all:

  COUNT          messages in the queue (visible + in flight + delayed)
  VISIBLE        can be received now
  IN FLIGHT      received, within their visibility timeout
  DELAYED        pushed with a delay that has not passed yet
  DEAD-LETTERED  in the dead-letter queue (--dlq-queue, default <queue>-dlq); with --all,
                 the messages of any pair of the table dead-lettered from this one
  GROUPS         message groups with messages

The counts read every message item of the pair, so they cost in proportion to its size.

With --watch the counts are read again every --interval until interrupted (Ctrl-C) or
--count times: redrawn in place on a terminal, printed one after the other otherwise.`,
		Example: `  ddbq stats -t queues -q orders -c acme
  ddbq stats -t queues -q orders --all-clients
  ddbq stats -t queues --all --json
  ddbq stats -t queues --all --watch --interval 5s`,
		Args: noArgs,
		RunE: a.run(a.watching(&watch, func(cmd *cobra.Command, _ []string) error {
			if all && (dlq != dlqFlags{}) {
				return usageError("--all counts each pair's dead letters wherever they are in the table; --dlq-queue, --dlq-client and --dlq-table apply to one pair")
			}
			q, err := a.newQueue(cmd.Context())
			if err != nil {
				return err
			}
			q.UseDeadLetterQueue(dlq.config(1)) // the receive count does not matter here
			var stats []dynamodbqueue.PairStats
			switch ins := q.Inspector(); {
			case all:
				stats, err = ins.TableStats(cmd.Context())
			case clients:
				stats, err = ins.QueueStats(cmd.Context())
			default:
				var st dynamodbqueue.Stats
				st, err = q.Stats(cmd.Context())
				stats = []dynamodbqueue.PairStats{{QueueAndClientID: dynamodbqueue.QueueAndClientID{QueueName: q.QueueName(), ClientID: q.ClientID()}, Stats: st}}
			}
			if err != nil {
				return err
			}
			rows := make([]pairStats, 0, len(stats))
			for _, p := range stats {
				rows = append(rows, pairStats{
					Queue: p.QueueName, Client: p.ClientID, Count: p.Total(), Visible: p.Visible,
					InFlight: p.InFlight, Delayed: p.Delayed, DeadLettered: p.DeadLettered, Groups: p.Groups,
				})
			}
			if a.g.json {
				for _, r := range rows {
					if err := a.printJSON(r); err != nil {
						return err
					}
				}
				return nil
			}
			if len(rows) == 0 {
				a.printf("no queues in table %s\n", q.Table())
				return nil
			}
			tw := newTable(a.stdout)
			fmt.Fprintln(tw, "QUEUE\tCLIENT\tCOUNT\tVISIBLE\tIN FLIGHT\tDELAYED\tDEAD-LETTERED\tGROUPS")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\n",
					r.Queue, r.Client, r.Count, r.Visible, r.InFlight, r.Delayed, r.DeadLettered, r.Groups)
			}
			return tw.Flush()
		})),
	}
	cmd.Flags().BoolVar(&all, "all", false, "every (queue, client) pair of the table")
	cmd.Flags().BoolVar(&clients, "all-clients", false, "every client of the queue")
	dlq.addLocation(cmd.Flags())
	watch.add(cmd.Flags())
	return cmd
}

func (a *app) purgeCommand() *cobra.Command {
	var all, yes bool
	cmd := &cobra.Command{
		Use:   "purge",
		Short: "Delete every message of the queue, or of the whole table with --all (needs --yes)",
		Long: `Delete every message of the (queue, client) pair, in every state, with its groups and
deduplication records. With --all, delete every item of the table: all queues, all clients
and the registry that 'ddbq queues' reads. Both need --yes.`,
		Example: `  ddbq purge -t queues -q orders -c acme --yes
  ddbq purge -t queues --all --yes`,
		Args: noArgs,
		RunE: a.run(func(cmd *cobra.Command, _ []string) error {
			if !yes {
				if all {
					return errNeedsYes("purge --all (every queue of the table)")
				}
				return errNeedsYes("purge")
			}
			q, err := a.newQueue(cmd.Context())
			if err != nil {
				return err
			}
			if all {
				if err := q.PurgeAll(cmd.Context()); err != nil {
					return err
				}
				if a.g.json {
					return a.printJSON(map[string]any{"table": q.Table(), "purged": "all"})
				}
				a.printf("purged every queue of table %s\n", q.Table())
				return nil
			}
			if err := q.Purge(cmd.Context()); err != nil {
				return err
			}
			if a.g.json {
				return a.printJSON(map[string]any{"table": q.Table(), "queue": q.QueueName(), "client": q.ClientID(), "purged": "queue"})
			}
			a.printf("purged queue %s, client %s (table %s)\n", q.QueueName(), q.ClientID(), q.Table())
			return nil
		}),
	}
	cmd.Flags().BoolVar(&all, "all", false, "purge the whole table: every queue and client")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "confirm deleting the messages")
	return cmd
}

func (a *app) dlqCommand() *cobra.Command {
	var dlq dlqFlags
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "List dead letters or move them back to the queue",
		Long: `Work with the dead-letter queue of the (queue, client) pair: by default the pair
(<queue>-dlq, <client>) in the same table, as the library's UseDeadLetterQueue names it;
--dlq-queue, --dlq-client and --dlq-table name another.`,
	}
	dlq.addLocation(cmd.PersistentFlags())
	cmd.PersistentFlags().IntVar(&dlq.maxReceives, "max-receives", 1, "MaxReceiveCount of the queue (1..1000); list and redrive do not need it, it is accepted\nso that one set of dead-letter flags works with receive too")
	var list listFlags
	listCmd := &cobra.Command{
		Use:   "list",
		Short: "Show dead letters without moving them",
		Long: `List up to --max dead letters of the (queue, client) pair, oldest first (--newest: newest
first), without moving or claiming them. When there are more, the command prints
"more: --cursor C" on stderr: pass that to get the next page.`,
		Example: `  ddbq dlq list -t queues -q orders -c acme
  ddbq dlq list -t queues -q orders -c acme --json --max 100`,
		Args: noArgs,
		RunE: a.run(func(cmd *cobra.Command, _ []string) error {
			return a.listMessages(cmd, func() (*dynamodbqueue.DynamoDBQueue, error) {
				q, err := a.newQueue(cmd.Context())
				if err == nil {
					q.UseDeadLetterQueue(dlq.config(dlq.maxReceives))
				}
				return q, err
			}, dynamodbqueue.StateDeadLettered, list)
		}),
	}
	list.add(listCmd.Flags(), "dead letters")
	var maxMove int
	redrive := &cobra.Command{
		Use:   "redrive",
		Short: "Move dead letters back to the queue, oldest first",
		Long: `Move up to --max dead letters (0: all) back to the (queue, client) pair. A moved message
starts over: receive count 0, visible at once, back in its message group if it had one.`,
		Example: `  ddbq dlq redrive -t queues -q orders -c acme --max 100`,
		Args:    noArgs,
		RunE: a.run(func(cmd *cobra.Command, _ []string) error {
			if maxMove < 0 {
				return usageError("--max %d, must be 0 (all) or positive", maxMove)
			}
			q, err := a.newQueue(cmd.Context())
			if err != nil {
				return err
			}
			q.UseDeadLetterQueue(dlq.config(dlq.maxReceives))
			moved, err := q.RedriveDeadLetters(cmd.Context(), maxMove)
			if err != nil && moved == 0 {
				return err
			}
			if a.g.json {
				if err := a.printJSON(map[string]any{"moved": moved}); err != nil {
					return err
				}
			} else {
				a.printf("moved %d %s back to queue %s, client %s\n", moved, plural(moved, "message", "messages"), q.QueueName(), q.ClientID())
			}
			if err != nil {
				return &exitError{code: ExitPartial, err: fmt.Errorf("redrive stopped after %d messages: %w", moved, err)}
			}
			return nil
		}),
	}
	redrive.Flags().IntVarP(&maxMove, "max", "n", 0, "most dead letters to move (0: all)")
	cmd.AddCommand(listCmd, redrive)
	return group(cmd)
}

func (a *app) iamPolicyCommand() *cobra.Command {
	var (
		arn      string
		readOnly bool
		withDLQ  bool
		dlq      dlqFlags
	)
	cmd := &cobra.Command{
		Use:   "iam-policy",
		Short: "Print an IAM policy that confines a principal to the (queue, client) pair",
		Long: `Print an IAM policy document (JSON) that lets a principal use only the (queue, client)
pair given with -q and -c: push, receive, delete and change visibility (or only peek, count
and stats with --read-only), by a dynamodb:LeadingKeys condition. With --dlq it also grants
the pair's dead-letter queue, which receive --max-receives moves messages to. Nothing is
sent to AWS.

Without --table-arn the ARN is arn:aws:dynamodb:REGION:*:table/TABLE, REGION being --region
or *; pass the full ARN to pin region and account.`,
		Example: `  ddbq iam-policy -q orders -c acme --table-arn arn:aws:dynamodb:eu-west-1:123456789012:table/queues
  ddbq iam-policy -q orders -c acme --table-arn arn:aws:dynamodb:eu-west-1:123456789012:table/queues --dlq`,
		Args: noArgs,
		RunE: a.run(func(cmd *cobra.Command, _ []string) error {
			if arn == "" {
				if a.g.table == "" {
					return withHint(ExitUsage, errors.New("no table: give --table-arn or -t"),
						"e.g. --table-arn arn:aws:dynamodb:eu-west-1:123456789012:table/queues")
				}
				region := a.g.region
				if region == "" {
					region = "*"
				}
				arn = fmt.Sprintf("arn:aws:dynamodb:%s:*:table/%s", region, a.g.table)
				fmt.Fprintf(a.stderr, "note: no --table-arn; using %s\n", arn)
			}
			opts := dynamodbqueue.PolicyOptions{TableARN: arn, QueueName: a.g.queue, ClientID: a.g.client, ReadOnly: readOnly}
			if withDLQ || dlq != (dlqFlags{}) {
				opts.DeadLetterQueue = dlq.config(0)
			}
			doc, err := dynamodbqueue.IAMPolicy(opts)
			if err != nil {
				if a.g.queue == "" {
					return withHint(ExitUsage, err, "set the queue with --queue/-q or "+EnvQueue)
				}
				if a.g.client == "" {
					return withHint(ExitUsage, err, "set the client ID with --client/-c or "+EnvClient)
				}
				return err
			}
			a.printf("%s\n", doc)
			return nil
		}),
	}
	cmd.Flags().StringVar(&arn, "table-arn", "", "ARN of the table")
	cmd.Flags().BoolVar(&readOnly, "read-only", false, "grant only reads (peek, count, stats)")
	cmd.Flags().BoolVar(&withDLQ, "dlq", false, "also grant the dead-letter queue (needed with receive --max-receives);\nimplied by --dlq-queue, --dlq-client and --dlq-table")
	dlq.addLocation(cmd.Flags())
	return cmd
}
