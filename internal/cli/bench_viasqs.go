package cli

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/spf13/pflag"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/bench"
	"github.com/dynamodbqueue/dynamodbqueue/internal/dynalite"
)

// viaSQSFlags are the flags of `ddbq bench --via-sqs`.
type viaSQSFlags struct {
	enabled         bool
	idle            string
	idleWindow      time.Duration
	idleSettle      time.Duration
	latencyMessages int
	latencyGap      time.Duration
}

func addViaSQSFlags(fl *pflag.FlagSet) *viaSQSFlags {
	f := &viaSQSFlags{}
	fl.BoolVar(&f.enabled, "via-sqs", false, "instead of the workloads: throughput through the SQS endpoint (ddbq serve) with the Go SDK next to the library, then idle long-polling SQS clients")
	fl.StringVar(&f.idle, "sqs-idle-clients", "1,1000", "via-sqs: counts of idle SQS clients, each long-polling its own tenant's queue")
	fl.DurationVar(&f.idleWindow, "sqs-idle-window", 20*time.Second, "via-sqs: how long the server's DynamoDB requests are counted while the clients wait")
	fl.DurationVar(&f.idleSettle, "sqs-idle-settle", 12*time.Second, "via-sqs: how long the clients wait before their requests are counted (past their first polls and the 10 s linger of the phases before)")
	fl.IntVar(&f.latencyMessages, "sqs-latency-messages", 100, "via-sqs: messages sent one at a time to idle clients, timed to their receive")
	fl.DurationVar(&f.latencyGap, "sqs-latency-gap", 100*time.Millisecond, "via-sqs: pause between those messages")
	return f
}

// benchViaSQS runs `ddbq bench --via-sqs` with the throughput settings of c.
func (a *app) benchViaSQS(ctx context.Context, c bench.Config, f *viaSQSFlags) (err error) {
	idle, err := bench.ParseInts(f.idle)
	if err != nil {
		return usageError("--sqs-idle-clients: %v", err)
	}
	var cfg aws.Config
	switch {
	case c.AWSConfig != nil:
		cfg = *c.AWSConfig
	case c.Endpoint != "":
		cfg = dynalite.AWSConfig(c.Endpoint)
	default:
		srv, err := a.privateDynalite(ctx)
		if err != nil {
			return err
		}
		defer func() {
			if serr := srv.Stop(); serr != nil && err == nil {
				err = serr
			}
		}()
		cfg = dynalite.AWSConfig(srv.Endpoint())
	}
	table := c.Table
	if table == "" {
		table = dynamodbqueue.RandomPostfix("ddbq-bench-sqs")
	}
	_, err = bench.RunViaSQS(ctx, bench.ViaSQSConfig{
		AWS: cfg, Table: table,
		Messages: c.Messages, Producers: c.Producers, Consumers: c.Consumers, BatchSize: c.BatchSize,
		BodySize: c.BodySize, Rounds: c.Rounds,
		IdleClients: idle, IdleWindow: f.idleWindow, IdleSettle: f.idleSettle, LatencyMessages: f.latencyMessages, LatencyGap: f.latencyGap,
		Progress: c.Progress,
	}, a.stdout, a.g.json)
	return err
}
