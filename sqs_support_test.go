package dynamodbqueue_test

import (
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
)

// TestDefinitionView: Definition reports the stored definition and the client's override (nil
// when absent), and sees this client's own changes at once.
func TestDefinitionView(t *testing.T) {
	_, table := newTable(t)
	c, err := dynamodbqueue.New(dynamodbqueue.Options{API: testenv.Client(t), Table: table, DefinitionStaleness: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	q, _ := c.Queue("jobs", "acme")
	ctx := ctxT(t)
	if def, ovr, err := q.Definition(ctx); err != nil || def != nil || ovr != nil {
		t.Fatalf("undefined queue: %v, %v, %v", def, ovr, err)
	}
	if _, err := c.CreateQueue(ctx, "jobs", dynamodbqueue.QueueAttributes{VisibilityTimeout: 40 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if err := c.SetClientOverride(ctx, "jobs", "acme", &dynamodbqueue.ClientOverride{Delay: 3 * time.Second}); err != nil {
		t.Fatal(err)
	}
	def, ovr, err := q.Definition(ctx)
	if err != nil || def == nil || def.VisibilityTimeout != 40*time.Second || ovr == nil || ovr.Delay != 3*time.Second {
		t.Fatalf("Definition = %+v, %+v, %v", def, ovr, err)
	}
	other, _ := c.Queue("jobs", "other")
	if _, ovr, err := other.Definition(ctx); err != nil || ovr != nil {
		t.Errorf("another client's override = %+v, %v; want none", ovr, err)
	}
	if _, _, err := dynamodbqueue.NewFromClient(testenv.Client(t), 0).Definition(ctx); !errors.Is(err, dynamodbqueue.ErrTableNotSet) {
		t.Errorf("Definition without a table: %v", err)
	}
}

// TestReceiptHandleOwner: a handle names its table and pair; a tampered handle or one signed
// with another key is invalid.
func TestReceiptHandleOwner(t *testing.T) {
	_, table := newTable(t)
	c, err := dynamodbqueue.New(dynamodbqueue.Options{API: testenv.Client(t), Table: table, SigningKey: []byte("k1")})
	if err != nil {
		t.Fatal(err)
	}
	q, _ := c.Queue("jobs", "acme")
	push(t, q, events.SQSMessage{Body: "m"})
	msgs := mustPoll(t, q, time.Minute, 1)
	h := msgs[0].ReceiptHandle
	gotTable, pair, err := c.ReceiptHandleOwner(h)
	if err != nil || gotTable != table || pair != (dynamodbqueue.QueueAndClientID{QueueName: "jobs", ClientID: "acme"}) {
		t.Errorf("ReceiptHandleOwner = %q, %+v, %v", gotTable, pair, err)
	}
	other, _ := dynamodbqueue.New(dynamodbqueue.Options{API: testenv.Client(t), Table: table, SigningKey: []byte("k2")})
	for name, bad := range map[string]struct {
		c *dynamodbqueue.Client
		h string
	}{"other key": {other, h}, "tampered": {c, h[:len(h)-2] + "AA"}, "empty": {c, ""}} {
		if _, _, err := bad.c.ReceiptHandleOwner(bad.h); !errors.Is(err, dynamodbqueue.ErrInvalidReceiptHandle) {
			t.Errorf("%s: %v, want ErrInvalidReceiptHandle", name, err)
		}
	}
}

// TestMD5OfMessageAttributes: the digest a push assigns is the one computed for the same
// attributes, and a subset has its own.
func TestMD5OfMessageAttributes(t *testing.T) {
	attrs := map[string]events.SQSMessageAttribute{
		"a": {DataType: "String", StringValue: aws.String("x")},
		"b": {DataType: "Binary", BinaryValue: []byte{1, 2}},
	}
	q := newQueue(t, "jobs", "acme")
	res, err := q.SendMessages(ctxT(t), dynamodbqueue.PushOptions{}, events.SQSMessage{Body: "m", MessageAttributes: attrs})
	if err != nil {
		t.Fatal(err)
	}
	if got := dynamodbqueue.MD5OfMessageAttributes(attrs); got != res[0].Message.Md5OfMessageAttributes || got == "" {
		t.Errorf("MD5OfMessageAttributes = %q, push assigned %q", got, res[0].Message.Md5OfMessageAttributes)
	}
	if sub := dynamodbqueue.MD5OfMessageAttributes(map[string]events.SQSMessageAttribute{"a": attrs["a"]}); sub == res[0].Message.Md5OfMessageAttributes {
		t.Error("a subset has the same digest as the whole")
	}
	if dynamodbqueue.MD5OfMessageAttributes(nil) != "" {
		t.Error("no attributes: want an empty digest")
	}
}
