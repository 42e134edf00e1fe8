package cli

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"
)

// errNeedsYes is returned by destructive commands run without --yes.
func errNeedsYes(what string) error {
	return withHint(ExitUsage, fmt.Errorf("%s needs --yes", what), "add --yes to confirm; this cannot be undone")
}

func (a *app) tableCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "table",
		Short: "Create, drop or describe the queue table",
	}
	create := &cobra.Command{
		Use:   "create",
		Short: "Create the table (idempotent) and wait until it is active",
		Long: `Create the table set with -t: on-demand billing, the key and index the queues need,
and time to live. An existing table is left alone (exit code 0).`,
		Args: noArgs,
		RunE: a.run(func(cmd *cobra.Command, _ []string) error {
			q, err := a.newQueue(cmd.Context())
			if err != nil {
				return err
			}
			if !a.g.verbose {
				// The TTL warning is told below, in plain words.
				q.UseLogger(slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelError})))
			}
			created, err := q.CreateQueueTable(cmd.Context())
			if err != nil {
				return err
			}
			ttl := "UNKNOWN"
			if info, err := q.DescribeQueueTable(cmd.Context()); err == nil {
				ttl = info.TTLStatus
			}
			if a.g.json {
				return a.printJSON(map[string]any{"table": q.Table(), "created": created, "ttlStatus": ttl})
			}
			if created {
				a.printf("created table %s\n", q.Table())
			} else {
				a.printf("table %s already exists\n", q.Table())
			}
			if ttl != "ENABLED" && ttl != "ENABLING" {
				fmt.Fprintf(a.stderr, "note: time to live is %s on this endpoint: expired messages are never delivered,\n"+
					"but they are not deleted automatically either\n", ttl)
			}
			return nil
		}),
	}
	var yes bool
	drop := &cobra.Command{
		Use:   "drop",
		Short: "Delete the table with every queue in it (needs --yes)",
		Args:  noArgs,
		RunE: a.run(func(cmd *cobra.Command, _ []string) error {
			if !yes {
				return errNeedsYes("table drop")
			}
			q, err := a.newQueue(cmd.Context())
			if err != nil {
				return err
			}
			if err := q.DropQueueTable(cmd.Context()); err != nil {
				return err
			}
			if a.g.json {
				return a.printJSON(map[string]any{"table": q.Table(), "dropped": true})
			}
			a.printf("dropped table %s\n", q.Table())
			return nil
		}),
	}
	drop.Flags().BoolVarP(&yes, "yes", "y", false, "confirm deleting the table")
	describe := &cobra.Command{
		Use:   "describe",
		Short: "Show the table's status, size estimate, index and time-to-live status",
		Args:  noArgs,
		RunE: a.run(func(cmd *cobra.Command, _ []string) error {
			q, err := a.newQueue(cmd.Context())
			if err != nil {
				return err
			}
			info, err := q.DescribeQueueTable(cmd.Context())
			if err != nil {
				return err
			}
			if a.g.json {
				return a.printJSON(map[string]any{
					"table": info.Name, "status": info.Status, "itemCount": info.ItemCount,
					"sizeBytes": info.SizeBytes, "readyIndex": info.ReadyIndex, "ttlStatus": info.TTLStatus,
				})
			}
			tw := newTable(a.stdout)
			fmt.Fprintf(tw, "table:\t%s\n", info.Name)
			fmt.Fprintf(tw, "status:\t%s\n", info.Status)
			fmt.Fprintf(tw, "items:\t%d (estimate)\n", info.ItemCount)
			fmt.Fprintf(tw, "size:\t%d bytes (estimate)\n", info.SizeBytes)
			fmt.Fprintf(tw, "ready index:\t%s\n", yesNo(info.ReadyIndex))
			fmt.Fprintf(tw, "time to live:\t%s\n", info.TTLStatus)
			if err := tw.Flush(); err != nil {
				return err
			}
			if !info.ReadyIndex {
				return withHint(ExitError, errors.New("the table lacks the \"vis\" index the queues need"),
					"it was not created by dynamodbqueue; create a new table with: ddbq table create -t NAME")
			}
			return nil
		}),
	}
	cmd.AddCommand(create, drop, describe)
	return group(cmd)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func (a *app) queuesCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "queues",
		Short: "List the (queue, client) pairs of the table",
		Long: `List every (queue, client) pair that ever had a message pushed in the table (from its
registry, not by scanning messages), sorted by queue and client.`,
		Args: noArgs,
		RunE: a.run(func(cmd *cobra.Command, _ []string) error {
			q, err := a.newQueue(cmd.Context())
			if err != nil {
				return err
			}
			pairs, err := q.Inspector().Pairs(cmd.Context())
			if err != nil {
				return err
			}
			if a.g.json {
				for _, p := range pairs {
					if err := a.printJSON(map[string]string{"queue": p.QueueName, "client": p.ClientID}); err != nil {
						return err
					}
				}
				return nil
			}
			if len(pairs) == 0 {
				a.printf("no queues in table %s\n", q.Table())
				return nil
			}
			tw := newTable(a.stdout)
			fmt.Fprintln(tw, "QUEUE\tCLIENT")
			for _, p := range pairs {
				fmt.Fprintf(tw, "%s\t%s\n", p.QueueName, p.ClientID)
			}
			return tw.Flush()
		}),
	}
}
