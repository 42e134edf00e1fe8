package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dynamodbqueue/dynamodbqueue/internal/bench"
)

func (a *app) benchCommand() *cobra.Command {
	d := bench.DefaultConfig()
	cfg := d
	var (
		workloads, inFlight, bodySizes string
		idleTenants, watchIntervals    string
		useAWS, progress               bool
		viaSQS                         *viaSQSFlags // --via-sqs (bench_viasqs.go)
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure throughput, latency and capacity per message against DynamoDB",
		Long: `Run the benchmark workloads and print a report: text tables, or JSON with --json. Workloads:

  throughput    producers push, consumers receive and delete; msgs/s end to end, next to
                the "floor" of the bare DynamoDB request mix at the same concurrency
  head-of-line  poll cost while K messages are held in flight (--in-flight)
  latency       push-to-receive latency of an idle long-polling consumer
  tenants       mixed, skewed traffic of many (queue, client) pairs in one table; the
                consumers poll only the tenants their table watcher wakes
  sizes         capacity per message by body size (--body-sizes)

Run only when named (minutes at their default sizes):

  tenants-consumer  the tenants traffic, served by one multi-tenant consumer process
  tenants-idle  one process serving 1 to 10,000 tenants: idle requests/s, and push-to-handle
                latency of single messages pushed by another process (--idle-tenants), and
                the watcher tick trade-off (--watch-intervals)
  fairness      one tenant with a backlog next to quiet tenants pushing 1 msg/s each
                (--fairness-backlog, --fairness-quiet, --fairness-window)

Every DynamoDB request is counted per operation, with the consumed capacity.

Where: --endpoint / --local, or else a private dynalite started for the run (and stopped
after it); --aws runs against AWS DynamoDB (--region, --profile), which creates tables and
costs money.

Without -t (DDBQ_TABLE is ignored here) the run creates a table ddbq-bench-<random> and drops
it at the end; a table given with -t is used, and dropped at the end only if the run created it
and --keep-table is not set.`,
		Example: `  ddbq bench --workloads throughput --messages 500
  ddbq bench --local --workloads latency,head-of-line --in-flight 0,1000 --json`,
		Args: noArgs,
		RunE: a.run(func(cmd *cobra.Command, _ []string) error {
			c := cfg
			var err error
			if c.Workloads, err = bench.ParseWorkloads(workloads); err != nil {
				return usageError("--workloads: %v", err)
			}
			if inFlight != "" {
				if c.InFlight, err = bench.ParseInts(inFlight); err != nil {
					return usageError("--in-flight: %v", err)
				}
				if len(c.InFlight) == 0 {
					c.InFlight = []int{-1}
				}
			}
			if bodySizes != "" {
				if c.BodySizes, err = bench.ParseInts(bodySizes); err != nil {
					return usageError("--body-sizes: %v", err)
				}
			}
			if idleTenants != "" {
				if c.Many.Counts, err = bench.ParseInts(idleTenants); err != nil {
					return usageError("--idle-tenants: %v", err)
				}
			}
			if watchIntervals != "" {
				if c.Many.Intervals, err = bench.ParseDurations(watchIntervals); err != nil {
					return usageError("--watch-intervals: %v", err)
				}
			}
			if cmd.Flags().Changed("table") {
				// Only an explicit -t: DDBQ_TABLE may well name a production table.
				c.Table = a.g.table
			}
			c.Shards = a.g.shards
			c.JSON = a.g.json
			c.Progress = io.Discard
			if progress || isTerminal(a.stderr) {
				c.Progress = a.stderr
			}
			if useAWS && (a.g.local || a.g.endpoint != "") {
				return usageError("--aws runs against AWS DynamoDB: drop --local and --endpoint (or %s, %s)", EnvEndpoint, EnvEndpoint2)
			}
			if useAWS || a.g.local || a.g.endpoint != "" {
				awsCfg, err := a.awsConfig(cmd.Context())
				if err != nil {
					return err
				}
				if awsCfg.BaseEndpoint != nil && *awsCfg.BaseEndpoint == a.endpoint && (a.g.local || a.g.profile == "") {
					c.Endpoint, c.Region = a.endpoint, awsCfg.Region // a local endpoint: bench sets it up
				} else {
					c.AWSConfig = &awsCfg
				}
			}
			if err := c.Validate(); err != nil {
				return usageError("%v", err)
			}
			if viaSQS.enabled {
				return a.benchViaSQS(cmd.Context(), c, viaSQS)
			}
			_, err = bench.Run(cmd.Context(), c, a.stdout)
			if errors.Is(err, bench.ErrLost) {
				return withHint(ExitError, err, "the report above shows which workload lost messages")
			}
			return err
		}),
	}
	fl := cmd.Flags()
	viaSQS = addViaSQSFlags(fl)
	fl.StringVar(&workloads, "workloads", "all", "comma-separated workloads: "+strings.Join(bench.AllWorkloads, ", ")+", floor, or all")
	fl.IntVar(&cfg.Producers, "producers", d.Producers, "producers of the throughput and tenants workloads")
	fl.IntVar(&cfg.Consumers, "consumers", d.Consumers, "consumers of the throughput and tenants workloads")
	fl.BoolVar(&cfg.ConsumerProcesses, "consumer-processes", false, "throughput: a queue client per consumer, as separate processes have")
	fl.IntVar(&cfg.Messages, "messages", d.Messages, "messages of the throughput and tenants workloads")
	fl.IntVar(&cfg.BodySize, "body-size", d.BodySize, "message body size in bytes")
	fl.IntVar(&cfg.BatchSize, "batch-size", d.BatchSize, "messages per push call")
	fl.IntVar(&cfg.ReceiveBatch, "receive-batch", d.ReceiveBatch, "messages per receive call")
	fl.StringVar(&inFlight, "in-flight", "", fmt.Sprintf("head-of-line: messages held in flight, comma-separated (default %s)", joinInts(d.InFlight)))
	fl.IntVar(&cfg.Polls, "polls", d.Polls, "head-of-line: timed polls per in-flight count")
	fl.IntVar(&cfg.LatencyMessages, "latency-messages", d.LatencyMessages, "latency: messages pushed one at a time")
	fl.DurationVar(&cfg.LatencyGap, "latency-gap", d.LatencyGap, "latency: mean pause between pushes")
	fl.IntVar(&cfg.Tenants, "tenants", d.Tenants, "tenants: (queue, client) pairs")
	fl.StringVar(&bodySizes, "body-sizes", "", fmt.Sprintf("sizes: body sizes, comma-separated, with k/Ki/M/Mi suffixes (default %s)", joinInts(d.BodySizes)))
	fl.IntVar(&cfg.SizeMessages, "size-messages", d.SizeMessages, "sizes: messages per body size")
	fl.IntVar(&cfg.Rounds, "rounds", d.Rounds, "throughput: rounds of floor and queue, the median is reported")
	fl.BoolVar(&cfg.FloorIndex, "floor-index", d.FloorIndex, "throughput: give the floor's table the queue's index, to isolate the cost of the queue logic")
	fl.DurationVar(&cfg.LongPollMax, "long-poll-max", d.LongPollMax, "latency: the consumer's long-poll re-poll max interval (0 = the queue's default)")
	dm := d.Many
	fl.StringVar(&idleTenants, "idle-tenants", "", fmt.Sprintf("tenants-idle: tenant counts, comma-separated (default %s)", joinInts(dm.Counts)))
	fl.DurationVar(&cfg.Many.Settle, "idle-settle", dm.Settle, "tenants-idle: how long the consumers run after the seed messages before idle requests are counted")
	fl.DurationVar(&cfg.Many.IdleWindow, "idle-window", dm.IdleWindow, "tenants-idle: how long idle requests are counted")
	fl.IntVar(&cfg.Many.Messages, "tenant-messages", dm.Messages, "tenants-idle: single messages pushed to random idle tenants")
	fl.DurationVar(&cfg.Many.Gap, "tenant-gap", dm.Gap, "tenants-idle: mean pause between those pushes")
	fl.DurationVar(&cfg.Many.Drain, "tenant-drain", dm.Drain, "tenants-idle, fairness: wait for the last messages at most this long")
	fl.DurationVar(&cfg.Many.Interval, "watch-interval", 0, "tenants-idle, fairness: the watcher's tick interval (0 = the library's default)")
	fl.Float64Var(&cfg.Many.FallbackRate, "watch-fallback-rate", 0, "tenants-idle, fairness: the watcher's fallback requests/s per process (0 = the library's default)")
	fl.StringVar(&watchIntervals, "watch-intervals", "", "tenants-idle: tick intervals of the trade-off runs, comma-separated, or none (default 50ms,100ms,250ms,500ms)")
	fl.IntVar(&cfg.Many.TradeoffTenants, "tradeoff-tenants", dm.TradeoffTenants, "tenants-idle: tenants of the trade-off runs")
	fl.IntVar(&cfg.Many.Processes, "tenant-processes", dm.Processes, "tenants-idle: consumer processes each serving all tenants")
	fl.IntVar(&cfg.Many.Concurrency, "tenant-concurrency", dm.Concurrency, "tenants-idle, fairness: concurrency of each consumer")
	fl.IntVar(&cfg.Many.Backlog, "fairness-backlog", dm.Backlog, "fairness: messages waiting for the noisy tenant")
	fl.IntVar(&cfg.Many.Quiet, "fairness-quiet", dm.Quiet, "fairness: quiet tenants, 1 message/s each")
	fl.DurationVar(&cfg.Many.Window, "fairness-window", dm.Window, "fairness: how long the quiet tenants push (capacity is measured for a third of it first)")
	fl.StringVar(&cfg.Charts, "charts", "", "write SVG charts of the run into this directory")
	fl.DurationVar(&cfg.Timeout, "timeout", d.Timeout, "time limit of each workload")
	fl.BoolVar(&cfg.KeepTable, "keep-table", false, "keep the table given with -t instead of dropping it")
	fl.BoolVar(&progress, "progress", false, "show live progress even when stderr is not a terminal")
	fl.BoolVar(&useAWS, "aws", false, "run against AWS DynamoDB (--region, --profile); creates tables, costs money")
	return cmd
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ",")
}
