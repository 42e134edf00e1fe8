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
	"syscall"

	"github.com/dynamodbqueue/dynamodbqueue/internal/bench"
)

func main() {
	d := bench.DefaultConfig()
	var cfg bench.Config
	var workloads, inFlight, sizes string
	flag.StringVar(&cfg.Endpoint, "endpoint", os.Getenv("DYNAMODBQUEUE_ENDPOINT"), "DynamoDB endpoint; empty starts a private dynalite")
	flag.StringVar(&cfg.Table, "table", "", "queue table (default: a fresh one, dropped afterwards)")
	flag.BoolVar(&cfg.KeepTable, "keep-table", false, "do not drop the queue table")
	flag.StringVar(&workloads, "workloads", "all", "comma-separated: all, throughput, floor, head-of-line, latency, tenants, sizes")
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
	flag.DurationVar(&cfg.Timeout, "timeout", d.Timeout, "limit per workload")
	flag.BoolVar(&cfg.JSON, "json", false, "write the report as JSON")
	flag.Parse()

	var err error
	if cfg.Workloads, err = bench.ParseWorkloads(workloads); err != nil {
		fail(err)
	}
	if cfg.InFlight, err = bench.ParseInts(inFlight); err != nil {
		fail(err)
	}
	if cfg.BodySizes, err = bench.ParseInts(sizes); err != nil {
		fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := bench.Run(ctx, cfg, os.Stdout); err != nil {
		if errors.Is(err, bench.ErrLost) {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
