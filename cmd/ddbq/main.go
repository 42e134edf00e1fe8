// Command ddbq manages message queues kept by dynamodbqueue in a DynamoDB table: create and
// inspect tables, push, receive and delete messages, handle dead letters, print IAM policies,
// run benchmarks and a demo, and run a local DynamoDB (dynalite) for development.
//
// Run `ddbq --help` for the commands; docs/CLI.md documents each with examples.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/dynamodbqueue/dynamodbqueue/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
