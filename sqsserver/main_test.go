package sqsserver

import (
	"testing"

	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
)

// TestMain starts dynalite when no DynamoDB endpoint is given (see internal/testenv). It is the
// package's only TestMain: other test files of the package share it.
func TestMain(m *testing.M) { testenv.Main(m) }
