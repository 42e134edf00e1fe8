// Package bench measures the queue end to end against a DynamoDB endpoint (a local dynalite by
// default): throughput against the floor of a bare SDK request mix, the cost of polls while
// many messages are in flight, push-to-receive latency of a long poll, mixed traffic of many
// tenants in one table, and the capacity used per message for several body sizes.
//
// Every workload counts the DynamoDB requests per operation and the consumed capacity with SDK
// middleware (see Meter). Run is what `ddbq bench` calls.
package bench

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Workload names, for Config.Workloads.
const (
	// WorkloadThroughput: P producers push N messages in batches, C consumers receive (batch
	// 10) and delete; msgs/s end to end, no message lost. It also runs the floor with the same
	// P, C and N, and reports the ratio.
	WorkloadThroughput = "throughput"
	// WorkloadFloor: only the floor (see WorkloadThroughput): the bare request mix per 10
	// messages, one BatchWriteItem, one Query, ten conditional UpdateItems and ten conditional
	// DeleteItems, on a plain table without index.
	WorkloadFloor = "floor"
	// WorkloadHeadOfLine: with K messages received and held in flight (Config.InFlight), time
	// polls for the next messages and count their requests and capacity.
	WorkloadHeadOfLine = "head-of-line"
	// WorkloadLatency: an idle long-polling consumer (ReceiveMessages with WaitTime); messages
	// pushed one at a time; push-to-receive percentiles.
	WorkloadLatency = "latency"
	// WorkloadTenants: many (queue, client) pairs in one table with mixed, skewed traffic; the
	// consumers poll only the tenants their table watcher wakes.
	WorkloadTenants = "tenants"
	// WorkloadSizes: the life cycle (push in batches, receive in batches, delete) for each of
	// Config.BodySizes, to show the capacity used per message by body size.
	WorkloadSizes = "sizes"
)

// AllWorkloads lists the workloads in the order Run runs them. WorkloadFloor is not listed:
// WorkloadThroughput runs it.
var AllWorkloads = []string{WorkloadThroughput, WorkloadHeadOfLine, WorkloadLatency, WorkloadTenants, WorkloadSizes}

// Config says what to run and where. The zero value of a field means its default (see
// DefaultConfig), so a CLI can map its flags onto a Config and leave unset ones at zero.
type Config struct {
	// Endpoint is the DynamoDB endpoint URL, e.g. "http://127.0.0.1:8000". Empty starts a
	// private dynalite (installed with npm on first use) for the run and stops it afterwards.
	Endpoint string `json:"endpoint"`
	// Region is the signing region (default us-east-1; dynalite ignores it).
	Region string `json:"region"`
	// AWSConfig, if set, is used as is (e.g. loaded by the CLI for real AWS): Endpoint and
	// Region are then ignored and no dynalite is started. Credentials must allow creating and
	// deleting the bench tables.
	AWSConfig *aws.Config `json:"-"`
	// Table is the queue table. Empty: a fresh table "ddbq-bench-<random>" that is dropped at
	// the end. A named table is created if missing (and then dropped unless KeepTable). The
	// floor uses "<Table>-floor", always created and dropped by the run.
	Table     string `json:"table"`
	KeepTable bool   `json:"keep_table"`
	// Workloads to run, in AllWorkloads order; empty means all.
	Workloads []string `json:"workloads"`

	// Producers and Consumers of the throughput, floor and tenants workloads (2 and 4).
	Producers int `json:"producers"`
	Consumers int `json:"consumers"`
	// ConsumerProcesses gives each throughput consumer its own queue client, as a separate
	// process has (its own claim bookkeeping, contention spread, shard hints and clock
	// estimate), instead of goroutines sharing one. They share the bench's HTTP connections.
	ConsumerProcesses bool `json:"consumer_processes,omitempty"`
	// Messages of the throughput, floor and tenants workloads (2000).
	Messages int `json:"messages"`
	// BodySize in bytes of the throughput, floor, tenants, head-of-line and latency messages (256).
	BodySize int `json:"body_size"`
	// BatchSize is the number of messages per push call (10).
	BatchSize int `json:"batch_size"`
	// ReceiveBatch is the MaxMessages of each receive (10).
	ReceiveBatch int `json:"receive_batch"`
	// Rounds of the throughput workload (3): the floor and the queue run alternately this
	// often, and the median round of each is reported.
	Rounds int `json:"rounds"`
	// FloorIndex gives the floor's table the queue's local secondary index (the put adds an
	// entry, the claim changes its key, the delete removes it), to separate the cost of the
	// index from that of the queue's logic. The targets are judged against the plain floor.
	FloorIndex bool `json:"floor_index,omitempty"`
	// Shards is passed to UseShards for the throughput and tenants queues (1).
	Shards int `json:"shards"`

	// InFlight are the head-of-line K values: messages received and held while the timed
	// polls run (0, 1000, 10000). Use -1 for an explicit empty list.
	InFlight []int `json:"in_flight"`
	// Polls is the number of timed polls per K (50).
	Polls int `json:"polls"`

	// LatencyMessages is the number of messages pushed one at a time per latency variant (100).
	LatencyMessages int `json:"latency_messages"`
	// LatencyGap is the mean pause between latency pushes (100ms; each pause is drawn
	// uniformly from 0.5x to 1.5x), long enough for the consumer to be idle.
	LatencyGap time.Duration `json:"latency_gap"`

	// LongPollMax, if set, is the max re-poll interval of the latency consumers
	// (UseLongPollInterval(5ms, LongPollMax)); 0 keeps the library's default (50ms). It bounds
	// the latency of a push from another process, and sets the idle query rate.
	LongPollMax time.Duration `json:"long_poll_max,omitempty"`

	// Tenants is the number of (queue, client) pairs of the tenants workload (50).
	Tenants int `json:"tenants"`

	// BodySizes of the sizes workload (256, 4096, 65536, 262144, 1048576).
	BodySizes []int `json:"body_sizes"`
	// SizeMessages per body size (20).
	SizeMessages int `json:"size_messages"`

	// Many configures the tenants-idle and fairness workloads (tenants_config.go).
	Many ManyTenants `json:"many_tenants"`
	// Charts, if set, is a directory the run writes its charts to (chart.go).
	Charts string `json:"charts,omitempty"`

	// Timeout bounds each workload (10m).
	Timeout time.Duration `json:"timeout"`
	// JSON writes the report as JSON instead of text tables.
	JSON bool `json:"-"`
	// Progress receives the live progress display; nil means os.Stderr, io.Discard silences it.
	Progress io.Writer `json:"-"`
}

// DefaultConfig returns the defaults that Run applies to zero fields.
func DefaultConfig() Config {
	return Config{
		Region:          "us-east-1",
		Workloads:       slices.Clone(AllWorkloads),
		Producers:       2,
		Consumers:       4,
		Messages:        2000,
		BodySize:        256,
		BatchSize:       10,
		ReceiveBatch:    10,
		Rounds:          3,
		Shards:          1,
		InFlight:        []int{0, 1000, 10000},
		Polls:           50,
		LatencyMessages: 100,
		LatencyGap:      100 * time.Millisecond,
		Tenants:         50,
		BodySizes:       []int{256, 4 << 10, 64 << 10, 256 << 10, 1 << 20},
		SizeMessages:    20,
		Timeout:         10 * time.Minute,
	}
}

// withDefaults fills zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	or := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	if c.Region == "" {
		c.Region = d.Region
	}
	if len(c.Workloads) == 0 {
		c.Workloads = d.Workloads
	}
	or(&c.Producers, d.Producers)
	or(&c.Consumers, d.Consumers)
	or(&c.Messages, d.Messages)
	or(&c.BodySize, d.BodySize)
	or(&c.BatchSize, d.BatchSize)
	or(&c.ReceiveBatch, d.ReceiveBatch)
	or(&c.Shards, d.Shards)
	or(&c.Rounds, d.Rounds)
	or(&c.Polls, d.Polls)
	or(&c.LatencyMessages, d.LatencyMessages)
	or(&c.Tenants, d.Tenants)
	or(&c.SizeMessages, d.SizeMessages)
	if len(c.InFlight) == 0 {
		c.InFlight = d.InFlight
	} else if len(c.InFlight) == 1 && c.InFlight[0] < 0 {
		c.InFlight = nil
	}
	if len(c.BodySizes) == 0 {
		c.BodySizes = d.BodySizes
	}
	if c.LatencyGap == 0 {
		c.LatencyGap = d.LatencyGap
	}
	if c.Timeout == 0 {
		c.Timeout = d.Timeout
	}
	c.Many = c.Many.withDefaults()
	return c
}

// Validate reports the first setting that is out of range, after defaults are applied.
func (c Config) Validate() error {
	c = c.withDefaults()
	for _, w := range c.Workloads {
		if w != WorkloadFloor && !slices.Contains(AllWorkloads, w) && !slices.Contains(ManyTenantsWorkloads, w) {
			return fmt.Errorf("bench: unknown workload %q (known: %s, %s)", w, strings.Join(AllWorkloads, ", "), WorkloadFloor)
		}
	}
	checks := []struct {
		name      string
		v, lo, hi int
	}{
		{"producers", c.Producers, 1, 256},
		{"consumers", c.Consumers, 1, 256},
		{"messages", c.Messages, 1, 10_000_000},
		{"body size", c.BodySize, 1, 1 << 20},
		{"batch size", c.BatchSize, 1, 1000},
		{"receive batch", c.ReceiveBatch, 1, 1000},
		{"shards", c.Shards, 1, 1000},
		{"rounds", c.Rounds, 1, 100},
		{"polls", c.Polls, 1, 100_000},
		{"latency messages", c.LatencyMessages, 1, 100_000},
		{"tenants", c.Tenants, 1, 10_000},
		{"size messages", c.SizeMessages, 1, 100_000},
	}
	for _, ch := range checks {
		if ch.v < ch.lo || ch.v > ch.hi {
			return fmt.Errorf("bench: %s %d out of range %d..%d", ch.name, ch.v, ch.lo, ch.hi)
		}
	}
	for _, k := range c.InFlight {
		if k < 0 || k > 1_000_000 {
			return fmt.Errorf("bench: in-flight K %d out of range 0..1000000", k)
		}
	}
	for _, s := range c.BodySizes {
		if s < 1 || s > 1<<20 {
			return fmt.Errorf("bench: body size %d out of range 1..%d", s, 1<<20)
		}
	}
	if c.LongPollMax != 0 && (c.LongPollMax < 5*time.Millisecond || c.LongPollMax > time.Minute) {
		return fmt.Errorf("bench: long-poll max %v out of range 5ms..1m", c.LongPollMax)
	}
	if c.LatencyGap < 0 || c.Timeout < 0 {
		return fmt.Errorf("bench: negative duration")
	}
	return c.Many.validate()
}

func (c Config) has(w string) bool { return slices.Contains(c.Workloads, w) }

// ParseInts parses a comma-separated list of integers with optional k/Ki/M/Mi suffixes
// ("0,1k,10k" or "256,4Ki,64Ki,1Mi"), for CLI flags such as --in-flight and --body-sizes.
func ParseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		mult := 1
		for _, suf := range []struct {
			s string
			m int
		}{{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"k", 1000}, {"K", 1000}, {"M", 1_000_000}} {
			if strings.HasSuffix(f, suf.s) {
				f, mult = strings.TrimSuffix(f, suf.s), suf.m
				break
			}
		}
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("bench: %q is not a number", f)
		}
		out = append(out, n*mult)
	}
	return out, nil
}

// ParseWorkloads splits a comma-separated workload list ("all" means AllWorkloads) and checks
// the names.
func ParseWorkloads(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		switch {
		case f == "":
		case f == "all":
			out = append(out, AllWorkloads...)
		case f == WorkloadFloor || slices.Contains(AllWorkloads, f) || slices.Contains(ManyTenantsWorkloads, f):
			out = append(out, f)
		default:
			return nil, fmt.Errorf("bench: unknown workload %q (known: all, %s, %s)", f, strings.Join(AllWorkloads, ", "), WorkloadFloor)
		}
	}
	return out, nil
}
