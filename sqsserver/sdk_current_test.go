package sqsserver_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/dynamodbqueue/dynamodbqueue/internal/sqstest"
	"github.com/dynamodbqueue/dynamodbqueue/sqsserver/compat/scenario"
)

// TestSDKCurrent drives every served action with the current AWS SDK for Go v2 (service/sqs,
// JSON protocol) through SigV4, and the refusals. The same scenario runs at v1.26.0 (query
// protocol) in the module sqsserver/compat/sdkv1260.
func TestSDKCurrent(t *testing.T) {
	scenario.Run(t, sqstest.Start(t), scenario.JSON)
}

// MessageSystemAttributeNames replaced AttributeNames in ReceiveMessage after v1.26.0, so the
// shared scenario cannot use it.
func TestSDKCurrentMessageSystemAttributeNames(t *testing.T) {
	env := sqstest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), sqstest.Patience)
	defer cancel()
	c := sqs.New(sqs.Options{Region: "us-east-1", BaseEndpoint: aws.String(env.Endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(sqstest.KeyA.AccessKeyID, sqstest.KeyA.Secret, "")})
	q, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("system-attrs")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String("x")}); err != nil {
		t.Fatal(err)
	}
	out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, WaitTimeSeconds: 5,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{
			types.MessageSystemAttributeNameApproximateReceiveCount, types.MessageSystemAttributeNameSentTimestamp,
		}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) != 1 {
		t.Fatalf("received %d messages, want 1", len(out.Messages))
	}
	attrs := out.Messages[0].Attributes
	if len(attrs) != 2 || attrs["ApproximateReceiveCount"] != "1" || attrs["SentTimestamp"] == "" {
		t.Fatalf("attributes %v, want ApproximateReceiveCount 1 and SentTimestamp only", attrs)
	}
}
