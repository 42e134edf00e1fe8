package cli

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// queueFlags are the attribute flags of queue create and update; update applies only those
// given.
type queueFlags struct {
	visibility, delay, retention, wait time.Duration
	maxSize, maxReceives               int
	contentDedup, noDLQ                bool
	dlq                                string
	tags                               []string
}

func (f *queueFlags) register(fl *pflag.FlagSet, update bool) {
	fl.DurationVar(&f.visibility, "visibility", 0, "default visibility timeout of a receive (default 30s)")
	fl.DurationVar(&f.delay, "delay", 0, "delivery delay of pushed messages (up to 15m)")
	fl.DurationVar(&f.retention, "retention", 0, "retention of pushed messages (default 14 days)")
	fl.DurationVar(&f.wait, "wait", 0, "long-poll wait of a receive that sets none")
	fl.IntVar(&f.maxSize, "max-size", 0, "largest message (body plus attributes) in bytes (default 1 MiB)")
	fl.BoolVar(&f.contentDedup, "content-dedup", false, "deduplicate pushes without an ID by the body's SHA-256")
	fl.StringVar(&f.dlq, "dlq", "", "dead-letter queue of the redrive policy")
	fl.IntVar(&f.maxReceives, "max-receives", 0, "receives before a message goes to the dead-letter queue (with --dlq)")
	fl.StringArrayVar(&f.tags, "tag", nil, "a `key=value` tag (repeatable; on update they replace all tags)")
	if update {
		fl.BoolVar(&f.noDLQ, "no-dlq", false, "remove the redrive policy")
	}
}

// apply sets the attributes whose flags were given (all of them for create).
func (f *queueFlags) apply(fl *pflag.FlagSet, a *dynamodbqueue.QueueAttributes, shards int) error {
	set := func(name string, fn func()) { ifChanged(fl, name, fn) }
	set("visibility", func() { a.VisibilityTimeout = f.visibility })
	set("delay", func() { a.Delay = f.delay })
	set("retention", func() { a.Retention = f.retention })
	set("wait", func() { a.ReceiveWaitTime = f.wait })
	set("max-size", func() { a.MaxMessageSize = f.maxSize })
	set("content-dedup", func() { a.ContentBasedDeduplication = f.contentDedup })
	set("shards", func() { a.Shards = shards })
	if fl.Changed("dlq") || fl.Changed("max-receives") {
		rp := dynamodbqueue.RedrivePolicy{}
		if a.RedrivePolicy != nil {
			rp = *a.RedrivePolicy
		}
		set("dlq", func() { rp.DeadLetterQueue = f.dlq })
		set("max-receives", func() { rp.MaxReceiveCount = f.maxReceives })
		if rp.DeadLetterQueue == "" {
			return usageError("--max-receives needs --dlq: a redrive policy names its dead-letter queue")
		}
		a.RedrivePolicy = &rp
	}
	if f.noDLQ {
		if fl.Changed("dlq") || fl.Changed("max-receives") {
			return usageError("--no-dlq excludes --dlq and --max-receives")
		}
		a.RedrivePolicy = nil
	}
	if fl.Changed("tag") {
		a.Tags = map[string]string{}
		for _, t := range f.tags {
			k, v, ok := strings.Cut(t, "=")
			if !ok {
				return usageError("--tag %q: want key=value", t)
			}
			a.Tags[k] = v
		}
	}
	return nil
}

// ifChanged runs fn when the flag was given.
func ifChanged(fl *pflag.FlagSet, name string, fn func()) {
	if fl.Changed(name) {
		fn()
	}
}

func (a *app) queueCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "queue",
		Short: "Define queues in the table: create, get, update, delete, list",
		Long: `A queue's definition (visibility timeout, delay, retention, maximum size, receive wait
time, shards, content-based deduplication, redrive policy, tags) is stored in the table, and
every process and every ddbq command uses it. A queue without one uses the defaults. The
queue is the one set with -q; the shard count is the global --shards.`,
	}
	var create, update queueFlags
	createCmd := &cobra.Command{
		Use:   "create",
		Short: "Define the queue (idempotent when the attributes match)",
		Args:  noArgs,
		RunE: a.run(func(cmd *cobra.Command, _ []string) error {
			var attrs dynamodbqueue.QueueAttributes
			if err := create.apply(cmd.Flags(), &attrs, a.g.shards); err != nil {
				return err
			}
			q, err := a.newQueue(cmd.Context())
			if err != nil {
				return err
			}
			d, err := q.Client().CreateQueue(cmd.Context(), q.QueueName(), attrs)
			if err != nil {
				return err
			}
			return a.printDefinition(d, nil)
		}),
	}
	create.register(createCmd.Flags(), false)

	var ifVersion int64
	var forClient string
	updateCmd := &cobra.Command{
		Use:   "update",
		Short: "Change the given attributes of the queue, or a client's overrides",
		Long: `Change the attributes given as flags and keep the others. With --if-version the change
applies only to that version of the definition (exit code 1 if it changed meanwhile);
without it the last writer wins. With --for-client ID it sets that client's own visibility
timeout, delay, retention, receive wait time and max receives instead (0 keeps the queue's).
Every process sees a change within 5 seconds.`,
		Args: noArgs,
		RunE: a.run(func(cmd *cobra.Command, _ []string) error {
			q, err := a.newQueue(cmd.Context())
			if err != nil {
				return err
			}
			c := q.Client()
			if forClient != "" {
				return a.updateOverride(cmd, c, q.QueueName(), forClient, &update)
			}
			d, err := c.GetQueue(cmd.Context(), q.QueueName())
			if err != nil {
				return err
			}
			if ifVersion != 0 && d.Version != ifVersion {
				return &dynamodbqueue.VersionConflictError{Queue: d.Name, Expected: ifVersion, Actual: d.Version}
			}
			if err := update.apply(cmd.Flags(), &d.QueueAttributes, a.g.shards); err != nil {
				return err
			}
			d, err = c.UpdateQueue(cmd.Context(), d.Name, d.QueueAttributes, d.Version)
			if err != nil {
				return err
			}
			return a.printDefinition(d, nil)
		}),
	}
	update.register(updateCmd.Flags(), true)
	updateCmd.Flags().Int64Var(&ifVersion, "if-version", 0, "apply only to this version of the definition")
	updateCmd.Flags().StringVar(&forClient, "for-client", "", "set this client's overrides instead of the queue's attributes")

	getCmd := &cobra.Command{
		Use:   "get",
		Short: "Show the queue's definition (and a client's overrides with --for-client)",
		Args:  noArgs,
		RunE: a.run(func(cmd *cobra.Command, _ []string) error {
			q, err := a.newQueue(cmd.Context())
			if err != nil {
				return err
			}
			d, err := q.Client().GetQueue(cmd.Context(), q.QueueName())
			if err != nil {
				return err
			}
			var o *dynamodbqueue.ClientOverride
			if forClient != "" {
				if o, err = q.Client().ClientOverride(cmd.Context(), d.Name, forClient); err != nil {
					return err
				}
			}
			return a.printDefinition(d, o)
		}),
	}
	getCmd.Flags().StringVar(&forClient, "for-client", "", "also show this client's overrides")

	var yes bool
	deleteCmd := &cobra.Command{
		Use:   "delete",
		Short: "Delete the queue: its definition and the messages of every client (needs --yes)",
		Long: `Delete the queue's messages of every client, its clients' overrides and its definition.
It scans the table. When it stops half-way, run it again: it finishes the job.`,
		Args: noArgs,
		RunE: a.run(func(cmd *cobra.Command, _ []string) error {
			if !yes {
				return errNeedsYes("queue delete")
			}
			q, err := a.newQueue(cmd.Context())
			if err != nil {
				return err
			}
			if err := q.Client().DeleteQueue(cmd.Context(), q.QueueName()); err != nil {
				return err
			}
			if a.g.json {
				return a.printJSON(map[string]any{"queue": q.QueueName(), "deleted": true})
			}
			a.printf("deleted queue %s\n", q.QueueName())
			return nil
		}),
	}
	deleteCmd.Flags().BoolVarP(&yes, "yes", "y", false, "confirm deleting the queue and its messages")

	var lopts dynamodbqueue.ListQueuesOptions
	listCmd := &cobra.Command{
		Use:   "list",
		Short: "List the defined queues, a page at a time",
		Args:  noArgs,
		RunE: a.run(func(cmd *cobra.Command, _ []string) error {
			q, err := a.newQueue(cmd.Context())
			if err != nil {
				return err
			}
			page, err := q.Client().ListQueues(cmd.Context(), lopts)
			if err != nil {
				return err
			}
			return a.printQueuePage(page)
		}),
	}
	lf := listCmd.Flags()
	lf.StringVar(&lopts.Prefix, "prefix", "", "only queues whose name starts with this")
	lf.IntVar(&lopts.Limit, "limit", 100, "most queues per page (1..1000)")
	lf.StringVar(&lopts.Cursor, "cursor", "", "continue after the page that printed this cursor")

	cmd.AddCommand(createCmd, getCmd, updateCmd, deleteCmd, listCmd)
	return group(cmd)
}

// updateOverride sets a client's overrides from the flags given (the others keep their value).
func (a *app) updateOverride(cmd *cobra.Command, c *dynamodbqueue.Client, queue, client string, f *queueFlags) error {
	fl := cmd.Flags()
	for _, name := range []string{"max-size", "content-dedup", "dlq", "no-dlq", "tag", "shards", "if-version"} {
		if fl.Changed(name) {
			return usageError("--%s is the queue's, not a client's: drop it or --for-client", name)
		}
	}
	o, err := c.ClientOverride(cmd.Context(), queue, client)
	if err != nil {
		return err
	}
	if o == nil {
		o = &dynamodbqueue.ClientOverride{}
	}
	set := func(name string, fn func()) { ifChanged(fl, name, fn) }
	set("visibility", func() { o.VisibilityTimeout = f.visibility })
	set("delay", func() { o.Delay = f.delay })
	set("retention", func() { o.Retention = f.retention })
	set("wait", func() { o.ReceiveWaitTime = f.wait })
	set("max-receives", func() { o.MaxReceiveCount = f.maxReceives })
	if err := c.SetClientOverride(cmd.Context(), queue, client, o); err != nil {
		return err
	}
	d, err := c.GetQueue(cmd.Context(), queue)
	if err != nil {
		return err
	}
	return a.printDefinition(d, o)
}

// defTimeFormat prints a definition's times in UTC to the millisecond they are stored with.
const defTimeFormat = "2006-01-02T15:04:05.000Z07:00"

// definitionJSON is the JSON form of a definition (durations as Go durations, e.g. "30s").
func definitionJSON(d dynamodbqueue.QueueDefinition, o *dynamodbqueue.ClientOverride) map[string]any {
	m := map[string]any{
		"queue": d.Name, "version": d.Version, "visibilityTimeout": d.VisibilityTimeout.String(),
		"delay": d.Delay.String(), "retention": d.Retention.String(), "maxMessageSize": d.MaxMessageSize,
		"receiveWaitTime": d.ReceiveWaitTime.String(), "shards": d.Shards, "maxShards": d.MaxShards,
		"contentBasedDeduplication": d.ContentBasedDeduplication, "tags": d.Tags,
		"created": d.Created.Format(defTimeFormat), "modified": d.Modified.Format(defTimeFormat),
	}
	if d.Tags == nil {
		m["tags"] = map[string]string{}
	}
	if rp := d.RedrivePolicy; rp != nil {
		m["redrivePolicy"] = map[string]any{"deadLetterQueue": rp.DeadLetterQueue, "maxReceiveCount": rp.MaxReceiveCount}
	}
	if o != nil {
		m["clientOverride"] = map[string]any{
			"visibilityTimeout": o.VisibilityTimeout.String(), "delay": o.Delay.String(), "retention": o.Retention.String(),
			"receiveWaitTime": o.ReceiveWaitTime.String(), "maxReceiveCount": o.MaxReceiveCount,
		}
	}
	return m
}

// printDefinition prints a definition, and a client's overrides when o is not nil.
func (a *app) printDefinition(d dynamodbqueue.QueueDefinition, o *dynamodbqueue.ClientOverride) error {
	if a.g.json {
		return a.printJSON(definitionJSON(d, o))
	}
	tw := newTable(a.stdout)
	row := func(k string, v any) { fmt.Fprintf(tw, "%s:\t%v\n", k, v) }
	row("queue", d.Name)
	row("version", d.Version)
	row("visibility timeout", d.VisibilityTimeout)
	row("delay", d.Delay)
	row("retention", d.Retention)
	row("max message size", d.MaxMessageSize)
	row("receive wait time", d.ReceiveWaitTime)
	row("shards", fmt.Sprintf("%d (drained up to %d)", d.Shards, d.MaxShards))
	row("content-based dedup", yesNo(d.ContentBasedDeduplication))
	redrive := "none"
	if rp := d.RedrivePolicy; rp != nil {
		redrive = fmt.Sprintf("to %s after %d receives", rp.DeadLetterQueue, rp.MaxReceiveCount)
	}
	row("redrive", redrive)
	var tags []string
	for _, k := range slices.Sorted(maps.Keys(d.Tags)) {
		tags = append(tags, k+"="+d.Tags[k])
	}
	row("tags", dash(strings.Join(tags, ",")))
	row("created", d.Created.Format(defTimeFormat))
	row("modified", d.Modified.Format(defTimeFormat))
	if o != nil {
		row("client overrides", fmt.Sprintf("visibility %v, delay %v, retention %v, wait %v, max receives %d (0: the queue's)",
			o.VisibilityTimeout, o.Delay, o.Retention, o.ReceiveWaitTime, o.MaxReceiveCount))
	}
	return tw.Flush()
}

// printQueuePage prints one page of ListQueues, and the cursor of the next.
func (a *app) printQueuePage(page dynamodbqueue.QueuePage) error {
	if a.g.json {
		for _, d := range page.Queues {
			if err := a.printJSON(definitionJSON(d, nil)); err != nil {
				return err
			}
		}
		if page.Cursor != "" {
			return a.printJSON(map[string]any{"cursor": page.Cursor})
		}
		return nil
	}
	tw := newTable(a.stdout)
	fmt.Fprintln(tw, "QUEUE\tSHARDS\tVISIBILITY\tREDRIVE\tVERSION")
	for _, d := range page.Queues {
		redrive := "-"
		if rp := d.RedrivePolicy; rp != nil {
			redrive = fmt.Sprintf("%s/%d", rp.DeadLetterQueue, rp.MaxReceiveCount)
		}
		fmt.Fprintf(tw, "%s\t%d\t%v\t%s\t%d\n", d.Name, d.Shards, d.VisibilityTimeout, redrive, d.Version)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if page.Cursor != "" {
		a.printf("next page: --cursor %s\n", page.Cursor)
	}
	return nil
}
