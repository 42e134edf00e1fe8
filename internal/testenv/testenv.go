// Package testenv gives integration tests a local DynamoDB: the endpoint
// in DYNAMODBQUEUE_ENDPOINT if set, or else one dynalite server per test
// binary, started on first use.
//
// Packages that call Endpoint should stop that server with a TestMain:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dynamodbqueue/dynamodbqueue/internal/dynalite"
)

// EnvEndpoint names the variable that points tests at a running DynamoDB
// API (e.g. "http://127.0.0.1:8000"), so they start no server of their own.
const EnvEndpoint = "DYNAMODBQUEUE_ENDPOINT"

// EnvServer names the variable that says which implementation EnvEndpoint is:
// ServerDynalite (the default) or ServerDynamoDBLocal. scripts/with-servers.sh sets both.
const EnvServer = "DYNAMODBQUEUE_SERVER"

// The DynamoDB implementations the tests run against.
const (
	// ServerDynalite is dynalite, an in-memory Node.js implementation: no TTL API, no
	// transactions, no streams, and no per-index consumed capacity.
	ServerDynalite = "dynalite"
	// ServerDynamoDBLocal is AWS's own emulator, DynamoDB Local.
	ServerDynamoDBLocal = "dynamodb-local"
)

var (
	once     sync.Once
	server   *dynalite.Server
	startErr error
)

// Endpoint returns the DynamoDB endpoint for tests: $DYNAMODBQUEUE_ENDPOINT
// if set, otherwise a dynalite started (and installed, if need be) once
// per test binary. It fails the test if no server can be had: a missing
// database is a broken setup, not a reason to skip.
func Endpoint(tb testing.TB) string {
	tb.Helper()
	if ep := os.Getenv(EnvEndpoint); ep != "" {
		return ep
	}
	once.Do(startServer)
	if startErr != nil {
		tb.Fatalf("testenv: no local DynamoDB: %v\n"+
			"Start one with `make dynalite` or `scripts/dynalite.sh start` and set %s to the endpoint it prints.",
			startErr, EnvEndpoint)
	}
	return server.Endpoint()
}

// Server returns which implementation Endpoint talks to: $DYNAMODBQUEUE_SERVER, or
// ServerDynalite when it is unset (the server the tests start themselves). It fails the test
// on an unknown name, so a typo cannot silently run the wrong expectations.
func Server(tb testing.TB) string {
	tb.Helper()
	switch s := os.Getenv(EnvServer); s {
	case "", ServerDynalite:
		return ServerDynalite
	case ServerDynamoDBLocal:
		return ServerDynamoDBLocal
	default:
		tb.Fatalf("testenv: %s=%q: want %q or %q", EnvServer, s, ServerDynalite, ServerDynamoDBLocal)
		return ""
	}
}

// SupportsTTL reports whether the endpoint implements the time-to-live API
// (UpdateTimeToLive, DescribeTimeToLive): DynamoDB Local and AWS do, dynalite does not.
func SupportsTTL(tb testing.TB) bool {
	tb.Helper()
	return Server(tb) == ServerDynamoDBLocal
}

// MainWithAWSEnvironment is Main for packages whose examples build their client the way users
// do, with config.LoadDefaultConfig: before the tests run it points the AWS environment
// variables (AWS_ENDPOINT_URL_DYNAMODB, dummy credentials, region) at the local DynamoDB.
func MainWithAWSEnvironment(m *testing.M) {
	ep := os.Getenv(EnvEndpoint)
	if ep == "" {
		once.Do(startServer)
		if startErr != nil {
			os.Stderr.WriteString("testenv: no local DynamoDB: " + startErr.Error() +
				"\nStart one with `make dynalite` or `scripts/dynalite.sh start` and set " + EnvEndpoint + ".\n")
			os.Exit(1)
		}
		ep = server.Endpoint()
	}
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_DYNAMODB":   ep,
		"AWS_ACCESS_KEY_ID":           "local",
		"AWS_SECRET_ACCESS_KEY":       "local",
		"AWS_REGION":                  dynalite.Region,
		"AWS_PROFILE":                 "",
		"AWS_CONFIG_FILE":             os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
	} {
		os.Setenv(k, v)
	}
	Main(m)
}

func startServer() {
	// Generous: the first use may run npm install.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	root, err := dynalite.FindRepoRoot()
	if err != nil {
		startErr = err
		return
	}
	dir := dynalite.InstallDir(root)
	if err := dynalite.Install(ctx, dir); err != nil {
		startErr = err
		return
	}
	server, startErr = dynalite.Start(ctx, dynalite.Options{Dir: dir})
}

// Main runs the tests, stops the server this binary started (if any) and
// exits with the tests' code. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if server != nil {
		if err := server.Stop(); err != nil {
			os.Stderr.WriteString("testenv: stopping dynalite: " + err.Error() + "\n")
		}
	}
	os.Exit(code)
}

// AWSConfig returns an aws.Config for Endpoint (static dummy credentials,
// us-east-1).
func AWSConfig(tb testing.TB) aws.Config {
	tb.Helper()
	return dynalite.AWSConfig(Endpoint(tb))
}

// Client returns a DynamoDB client for Endpoint.
func Client(tb testing.TB) *dynamodb.Client {
	tb.Helper()
	return dynamodb.NewFromConfig(AWSConfig(tb))
}

// TableName returns a table name unique to this test and run:
// "t-<test name, sanitised, at most 40 chars>-<8 random hex digits>".
// Tests can share one server without cleaning up after each other.
func TableName(tb testing.TB) string {
	tb.Helper()
	return tableName(tb.Name())
}

func tableName(testName string) string {
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-' {
			return r
		}
		return '-'
	}, testName)
	if len(name) > 40 { // the map left only ASCII, so bytes are runes
		name = name[:40]
	}
	var b [4]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics instead)
	return "t-" + name + "-" + hex.EncodeToString(b[:])
}
