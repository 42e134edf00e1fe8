package dynamodbqueue_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/dynalite"
	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
)

// TestLocalConfigRejectsBadEndpoints: anything but an absolute http(s) URL with a host fails
// with ErrInvalidArgument, naming the endpoint.
func TestLocalConfigRejectsBadEndpoints(t *testing.T) {
	t.Parallel()
	for _, ep := range []string{"", "127.0.0.1:8000", "localhost:8000", "ftp://127.0.0.1:8000", "http://", "http//127.0.0.1", "%zz"} {
		if _, err := dynamodbqueue.LocalConfig(ep); !errors.Is(err, dynamodbqueue.ErrInvalidArgument) {
			t.Errorf("LocalConfig(%q) = %v, want ErrInvalidArgument", ep, err)
		}
	}
}

// TestLocalConfigNeedsNoAWSEnvironment: with no AWS variables at all (no credentials, region,
// profile or endpoint), a queue on LocalConfig creates its table and pushes and counts
// messages; its credentials are those of ddbq and the tests, so DynamoDB Local shows them
// the same tables.
func TestLocalConfigNeedsNoAWSEnvironment(t *testing.T) {
	endpoint := testenv.Endpoint(t)
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION",
		"AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	ctx := ctxT(t)
	cfg, err := dynamodbqueue.LocalConfig(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	q := dynamodbqueue.NewDynamoDBQueue(ctx, cfg, 0).UseTable(testenv.TableName(t)).
		UseQueueName("jobs").UseClientID("acme").UseLogger(nil)
	if _, err := q.CreateQueueTable(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.DropQueueTable(context.Background()) })
	push(t, q, events.SQSMessage{Body: "hello"})
	if n, err := q.Count(ctx); n != 1 || err != nil {
		t.Errorf("Count = %d, %v; want 1", n, err)
	}

	got, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want, err := dynalite.AWSConfig(endpoint).Credentials.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.AccessKeyID != want.AccessKeyID || cfg.Region != dynalite.Region {
		t.Errorf("LocalConfig uses %s in %s; ddbq and the tests use %s in %s", got.AccessKeyID, cfg.Region, want.AccessKeyID, dynalite.Region)
	}
}
