package dynamodbqueue

import (
	"net/url"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Credentials and region of LocalConfig. DynamoDB Local keeps one database per access key and
// region (unless started with -sharedDb), so every tool that should see the same tables must
// use the same pair: ddbq and the tests use these too.
const (
	LocalRegion    = "us-east-1"
	LocalAccessKey = "local"
	LocalSecretKey = "local"
)

// LocalConfig returns an aws.Config for a DynamoDB API at endpoint, such as a local dynalite
// or DynamoDB Local ("http://127.0.0.1:8000"), for NewDynamoDBQueue or dynamodb.NewFromConfig.
// It has static dummy credentials (LocalAccessKey, LocalSecretKey), region LocalRegion and
// BaseEndpoint set, and reads nothing from the environment or ~/.aws: no credential chain is
// searched, so no EC2 metadata lookup can fail or stall. Use config.LoadDefaultConfig for AWS
// itself. An endpoint that is not an absolute http(s) URL with a host is rejected with
// ErrInvalidArgument.
func LocalConfig(endpoint string) (aws.Config, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return aws.Config{}, argError("endpoint", "endpoint %q, want an http(s) URL such as http://127.0.0.1:8000", endpoint)
	}
	return aws.Config{
		Region:       LocalRegion,
		Credentials:  credentials.NewStaticCredentialsProvider(LocalAccessKey, LocalSecretKey, ""),
		BaseEndpoint: aws.String(endpoint),
	}, nil
}
