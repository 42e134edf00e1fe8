package store

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
)

// TestCountAttemptsCountsOneAttempt checks that the per-call attempt counter sees exactly one
// attempt for a request that succeeds at once; otherwise every lost race would cost a read.
func TestCountAttemptsCountsOneAttempt(t *testing.T) {
	var n atomic.Int32
	_, err := testenv.Client(t).ListTables(context.Background(), &dynamodb.ListTablesInput{Limit: aws.Int32(1)}, countAttempts(&n))
	if err != nil {
		t.Fatal(err)
	}
	if n.Load() != 1 {
		t.Fatalf("attempts = %d, want 1", n.Load())
	}
}

func TestMain(m *testing.M) { testenv.Main(m) }
