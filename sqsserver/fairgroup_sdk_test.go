package sqsserver_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/sqstest"
)

// TestSDKFairQueueGroups: the Go SDK sends MessageGroupId on a standard queue (SQS fair queues)
// to a queue whose definition has 4 shards. The noisy tenant's 300 messages fill its shard; the
// quiet tenant's one message, sent after them, is received within 4 ReceiveMessage calls of 10
// (one turn of the receive passes over the 4 shards: see the root package's
// TestFairGroupsQuietGroupIsNotStarved) and comes back with its MessageGroupId. With one shard
// (the default) it waits behind the backlog: not among the first 4 receives.
func TestSDKFairQueueGroups(t *testing.T) {
	t.Parallel()
	env := sqstest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), sqstest.Patience)
	defer cancel()
	c := sqs.New(sqs.Options{Region: "us-east-1", BaseEndpoint: aws.String(env.Endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(sqstest.KeyA.AccessKeyID, sqstest.KeyA.Secret, "")})
	const shards, backlog, bound = 4, 300, 4
	noisy, quiet := "noisy", ""
	for i := 0; quiet == ""; i++ {
		if g := fmt.Sprintf("quiet-%d", i); dynamodbqueue.FairGroupShard(g, shards) != dynamodbqueue.FairGroupShard(noisy, shards) {
			quiet = g
		}
	}
	for _, n := range []int{shards, 1} {
		name := fmt.Sprintf("fair-%d", n)
		created, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		url := created.QueueUrl
		// Shards are not an SQS attribute: the operator sets them on the definition (ddbq queue update).
		if _, err := env.Client.UpdateQueue(ctx, name, dynamodbqueue.QueueAttributes{Shards: n}, 0); err != nil {
			t.Fatal(err)
		}
		for b := range backlog / 10 {
			entries := make([]types.SendMessageBatchRequestEntry, 10)
			for i := range entries {
				entries[i] = types.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)),
					MessageBody: aws.String(fmt.Sprintf("noisy-%d-%d", b, i)), MessageGroupId: aws.String(noisy)}
			}
			out, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: url, Entries: entries})
			if err != nil || len(out.Failed) > 0 {
				t.Fatalf("SendMessageBatch: %v, %+v", err, out)
			}
		}
		if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: url, MessageBody: aws.String("quiet"),
			MessageGroupId: aws.String(quiet)}); err != nil {
			t.Fatal(err)
		}
		at := 0
		for i := 1; i <= bound && at == 0; i++ {
			out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: url, MaxNumberOfMessages: 10,
				VisibilityTimeout: 3600, MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameMessageGroupId}})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Messages) == 0 {
				t.Fatalf("%d shards: receive %d returned nothing; the backlog should last", n, i)
			}
			for _, m := range out.Messages {
				want := noisy
				if aws.ToString(m.Body) == "quiet" {
					at, want = i, quiet
				}
				if g := m.Attributes["MessageGroupId"]; g != want {
					t.Errorf("%d shards: %s has MessageGroupId %q, want %q", n, aws.ToString(m.Body), g, want)
				}
			}
		}
		switch {
		case n > 1 && at == 0:
			t.Errorf("%d shards: the quiet tenant's message not among the first %d receives", n, bound)
		case n == 1 && at != 0:
			t.Errorf("1 shard: the quiet tenant's message came at receive %d, before the backlog", at)
		}
		t.Logf("%d shards: quiet message at receive %d (0: not within %d)", n, at, bound)
	}
}
