package consumer_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/dynamodbqueue/dynamodbqueue/internal/dynalite"
	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
)

// awsConfig points at the local DynamoDB; the examples use it, as a program would use the
// config of config.LoadDefaultConfig.
var awsConfig aws.Config

// TestMain does what testenv.Main does, and starts the server up front rather than on first
// use, because the examples have no testing.TB to ask testenv for it: without
// DYNAMODBQUEUE_ENDPOINT it starts a dynalite for this binary, points
// DYNAMODBQUEUE_ENDPOINT (and so testenv) at it, and stops it by its process at the end.
func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	endpoint := os.Getenv(testenv.EnvEndpoint)
	if endpoint == "" {
		srv, err := startDynalite()
		if err != nil {
			fmt.Fprintf(os.Stderr, "consumer tests: no local DynamoDB: %v\n"+
				"Start one with `make dynalite` or `scripts/dynalite.sh start` and set %s to the endpoint it prints.\n",
				err, testenv.EnvEndpoint)
			return 1
		}
		defer func() {
			if err := srv.Stop(); err != nil {
				fmt.Fprintln(os.Stderr, "consumer tests: stopping dynalite:", err)
			}
		}()
		endpoint = srv.Endpoint()
		if err := os.Setenv(testenv.EnvEndpoint, endpoint); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	awsConfig = dynalite.AWSConfig(endpoint)
	return m.Run()
}

func startDynalite() (*dynalite.Server, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // may run npm install
	defer cancel()
	root, err := dynalite.FindRepoRoot()
	if err != nil {
		return nil, err
	}
	dir := dynalite.InstallDir(root)
	if err := dynalite.Install(ctx, dir); err != nil {
		return nil, err
	}
	return dynalite.Start(ctx, dynalite.Options{Dir: dir})
}
