// Command benchmain runs internal/bench with flags, until `ddbq bench` exposes the same:
//
//	go run ./internal/bench/benchmain -workloads throughput,latency -producers 2 -consumers 4
//
// Without -endpoint (or $DYNAMODBQUEUE_ENDPOINT) it starts a private dynalite.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"sync"
	"syscall"

	"github.com/dynamodbqueue/dynamodbqueue/internal/bench"
)

func main() {
	d := bench.DefaultConfig()
	var cfg bench.Config
	var workloads, inFlight, sizes, idleTenants, watchIntervals, compare, chartFormat, cpuProfile string
	flag.StringVar(&cfg.Endpoint, "endpoint", os.Getenv("DYNAMODBQUEUE_ENDPOINT"), "DynamoDB endpoint; empty starts a private dynalite")
	flag.StringVar(&cfg.Table, "table", "", "queue table (default: a fresh one, dropped afterwards)")
	flag.BoolVar(&cfg.KeepTable, "keep-table", false, "do not drop the queue table")
	flag.StringVar(&workloads, "workloads", "all", "comma-separated: all, throughput, floor, head-of-line, latency, tenants, sizes; or tenants-consumer, tenants-idle, fairness (not in all)")
	flag.IntVar(&cfg.Producers, "producers", d.Producers, "producers")
	flag.IntVar(&cfg.Consumers, "consumers", d.Consumers, "consumers")
	flag.BoolVar(&cfg.ConsumerProcesses, "consumer-processes", false, "throughput: a queue client per consumer, as separate processes have")
	flag.IntVar(&cfg.Messages, "messages", d.Messages, "messages of throughput, floor and tenants")
	flag.IntVar(&cfg.BodySize, "body-size", d.BodySize, "body size in bytes")
	flag.IntVar(&cfg.BatchSize, "batch-size", d.BatchSize, "messages per push")
	flag.IntVar(&cfg.ReceiveBatch, "receive-batch", d.ReceiveBatch, "max messages per receive")
	flag.IntVar(&cfg.Rounds, "rounds", d.Rounds, "throughput: floor and queue rounds, median reported")
	flag.BoolVar(&cfg.FloorIndex, "floor-index", false, "throughput: give the floor's table the queue's LSI")
	flag.IntVar(&cfg.Shards, "shards", d.Shards, "UseShards for throughput and tenants")
	flag.StringVar(&inFlight, "in-flight", "0,1k,10k", "head-of-line K values")
	flag.IntVar(&cfg.Polls, "polls", d.Polls, "timed polls per K")
	flag.IntVar(&cfg.LatencyMessages, "latency-messages", d.LatencyMessages, "messages per latency variant")
	flag.DurationVar(&cfg.LatencyGap, "latency-gap", d.LatencyGap, "mean pause between latency pushes")
	flag.DurationVar(&cfg.LongPollMax, "long-poll-max", 0, "latency: max re-poll interval of the consumer (0: library default)")
	flag.IntVar(&cfg.Tenants, "tenants", d.Tenants, "queue/client pairs of the tenants workload")
	flag.StringVar(&sizes, "body-sizes", "256,4Ki,64Ki,256Ki,1Mi", "body sizes of the sizes workload")
	flag.IntVar(&cfg.SizeMessages, "size-messages", d.SizeMessages, "messages per body size")
	dm := d.Many
	flag.StringVar(&idleTenants, "idle-tenants", "1,100,1000,10000", "tenants-idle: tenant counts")
	flag.DurationVar(&cfg.Many.Settle, "idle-settle", dm.Settle, "tenants-idle: how long the consumers run after the seed messages before idle requests are counted")
	flag.DurationVar(&cfg.Many.IdleWindow, "idle-window", dm.IdleWindow, "tenants-idle: how long idle requests are counted")
	flag.IntVar(&cfg.Many.Messages, "tenant-messages", dm.Messages, "tenants-idle: single messages pushed to random idle tenants")
	flag.DurationVar(&cfg.Many.Gap, "tenant-gap", dm.Gap, "tenants-idle: mean pause between those pushes")
	flag.DurationVar(&cfg.Many.Drain, "tenant-drain", dm.Drain, "tenants-idle, fairness: wait for the last messages at most this long")
	flag.DurationVar(&cfg.Many.Interval, "watch-interval", 0, "tenants-idle, fairness: watcher tick interval (0: library default)")
	flag.Float64Var(&cfg.Many.FallbackRate, "watch-fallback-rate", 0, "tenants-idle, fairness: watcher fallback requests/s per process (0: library default)")
	flag.StringVar(&watchIntervals, "watch-intervals", "50ms,100ms,250ms,500ms", "tenants-idle: tick intervals of the trade-off runs, or none")
	flag.IntVar(&cfg.Many.TradeoffTenants, "tradeoff-tenants", dm.TradeoffTenants, "tenants-idle: tenants of the trade-off runs")
	flag.IntVar(&cfg.Many.Processes, "tenant-processes", dm.Processes, "tenants-idle: consumer processes each serving all tenants")
	flag.IntVar(&cfg.Many.Concurrency, "tenant-concurrency", dm.Concurrency, "tenants-idle, fairness: concurrency of each consumer")
	flag.IntVar(&cfg.Many.Backlog, "fairness-backlog", dm.Backlog, "fairness: messages waiting for the noisy tenant")
	flag.IntVar(&cfg.Many.Quiet, "fairness-quiet", dm.Quiet, "fairness: quiet tenants, 1 message/s each")
	flag.DurationVar(&cfg.Many.Window, "fairness-window", dm.Window, "fairness: how long the quiet tenants push")
	flag.StringVar(&cfg.Charts, "charts", "", "write SVG charts of the run into this directory")
	flag.StringVar(&compare, "compare", "", "label=report.json,...: write comparison charts of saved JSON reports into -charts, and run nothing")
	flag.StringVar(&chartFormat, "chart-format", "svg", "-compare: svg or png")
	flag.DurationVar(&cfg.Timeout, "timeout", d.Timeout, "limit per workload")
	flag.BoolVar(&cfg.JSON, "json", false, "write the report as JSON")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run (all workloads, floor included) to this file")
	flag.Parse()
	if cpuProfile != "" {
		stopProfile, err := startCPUProfile(cpuProfile)
		if err != nil {
			fail(err)
		}
		// Flushed before any exit: fail and ErrLost call os.Exit, which skips defers.
		exit = func(code int) { stopProfile(); os.Exit(code) }
		defer stopProfile()
	}

	var err error
	if compare != "" {
		runs, err := bench.ParseChartRuns(compare)
		if err != nil {
			fail(err)
		}
		paths, err := bench.WriteComparisonCharts(cfg.Charts, chartFormat, runs...)
		for _, p := range paths {
			fmt.Println(p)
		}
		if err != nil {
			fail(err)
		}
		return
	}
	if cfg.Workloads, err = bench.ParseWorkloads(workloads); err != nil {
		fail(err)
	}
	if cfg.InFlight, err = bench.ParseInts(inFlight); err != nil {
		fail(err)
	}
	if cfg.BodySizes, err = bench.ParseInts(sizes); err != nil {
		fail(err)
	}
	if cfg.Many.Counts, err = bench.ParseInts(idleTenants); err != nil {
		fail(err)
	}
	if cfg.Many.Intervals, err = bench.ParseDurations(watchIntervals); err != nil {
		fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := bench.Run(ctx, cfg, os.Stdout); err != nil {
		if errors.Is(err, bench.ErrLost) {
			fmt.Fprintln(os.Stderr, err)
			exit(3)
		}
		fail(err)
	}
}

// exit ends the process; with -cpuprofile it first writes the profile.
var exit = os.Exit

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	exit(1)
}

// startCPUProfile starts a CPU profile into path and returns what stops and writes it (idempotent).
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			pprof.StopCPUProfile()
			if err := f.Close(); err != nil {
				fmt.Fprintln(os.Stderr, "cpuprofile:", err)
			}
		})
	}, nil
}
