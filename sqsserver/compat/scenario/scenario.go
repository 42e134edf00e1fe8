// Package scenario drives every SQS action served by sqsserver with the AWS SDK for Go v2
// (service/sqs), through SigV4 authentication, and checks the refusals with SQS's codes. It is
// compiled twice: in the main module against the current service/sqs (the JSON protocol), and
// in the module sqsserver/compat/sdkv1260 against v1.26.0 (the last version that sends the
// query protocol) with the AWS SDK core of its time, so it uses only what both versions have
// and imports nothing of the main module but testkeys.
package scenario

//lint:file-ignore SA1019 ReceiveMessage's AttributeNames is what v1.26.0 has (MessageSystemAttributeNames came later; sqsserver/sdk_current_test.go covers it)

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/dynamodbqueue/dynamodbqueue/sqsserver/compat/testkeys"
)

// Protocol content types, one of which every request of a run must carry.
const (
	JSON  = "application/x-amz-json-1.0"
	Query = "application/x-www-form-urlencoded"
)

// recorder is the SDK's HTTP client: it remembers each request's content type, so the run
// proves which protocol the SDK version spoke.
type recorder struct {
	mu    sync.Mutex
	types map[string]int
}

func (r *recorder) Do(req *http.Request) (*http.Response, error) {
	ct, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
	r.mu.Lock()
	r.types[ct]++
	r.mu.Unlock()
	return http.DefaultClient.Do(req)
}

// Env is the endpoint under test: in process (internal/sqstest) or a `ddbq serve` process.
type Env interface {
	// URL is the endpoint, http://127.0.0.1:PORT.
	URL() string
	// WaitLongPolls returns once n ReceiveMessage calls wait for messages (bounded).
	WaitLongPolls(t testing.TB, n int)
}

// Patience bounds the whole scenario.
const Patience = 2 * time.Minute

type run struct {
	t   *testing.T
	env Env
	rec *recorder
	ctx context.Context
}

func (r *run) client(k testkeys.Key) *sqs.Client {
	return r.clientWith(k.AccessKeyID, k.Secret)
}

func (r *run) clientWith(id, secret string) *sqs.Client {
	return sqs.New(sqs.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(r.env.URL()),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: id, SecretAccessKey: secret}, nil
		}),
		HTTPClient:       r.rec,
		RetryMaxAttempts: 1, // a refusal is seen as sent, not retried
	})
}

// Run runs the scenario against env; every request must be of contentType.
func Run(t *testing.T, env Env, contentType string) {
	ctx, cancel := context.WithTimeout(context.Background(), Patience)
	defer cancel()
	r := &run{t: t, env: env, rec: &recorder{types: map[string]int{}}, ctx: ctx}
	t.Run("Queues", r.queues)
	t.Run("Messages", r.messages)
	t.Run("FIFO", r.fifo)
	t.Run("DeadLetters", r.deadLetters)
	t.Run("Refusals", r.refusals)
	r.rec.mu.Lock()
	defer r.rec.mu.Unlock()
	if len(r.rec.types) != 1 || r.rec.types[contentType] == 0 {
		t.Errorf("the SDK sent content types %v, want only %s", r.rec.types, contentType)
	}
}

// code is the SQS error code of err ("" when err is nil or carries none).
func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func (r *run) wantCode(err error, want, what string) {
	r.t.Helper()
	if got := code(err); got != want {
		r.t.Errorf("%s: error %v (code %q), want code %q", what, err, got, want)
	}
}

func (r *run) must(err error, what string) {
	r.t.Helper()
	if err != nil {
		r.t.Fatalf("%s: %v", what, err)
	}
}

func (r *run) queueURL(clientID, name string) string {
	return r.env.URL() + "/" + clientID + "/" + name
}

func (r *run) createQueue(c *sqs.Client, name string, attrs map[string]string) string {
	r.t.Helper()
	out, err := c.CreateQueue(r.ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	r.must(err, "CreateQueue "+name)
	return aws.ToString(out.QueueUrl)
}

func (r *run) attributes(c *sqs.Client, url string, names ...types.QueueAttributeName) map[string]string {
	r.t.Helper()
	out, err := c.GetQueueAttributes(r.ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: names})
	r.must(err, "GetQueueAttributes")
	return out.Attributes
}

func (r *run) queues(t *testing.T) {
	r.t = t
	a := r.client(testkeys.A)
	url := r.queueURL(testkeys.TenantA, "orders")
	attrs := map[string]string{
		"VisibilityTimeout": "30", "DelaySeconds": "0", "MessageRetentionPeriod": "86400",
		"MaximumMessageSize": "262144", "ReceiveMessageWaitTimeSeconds": "0",
	}
	out, err := a.CreateQueue(r.ctx, &sqs.CreateQueueInput{QueueName: aws.String("orders"), Attributes: attrs,
		Tags: map[string]string{"team": "payments"}})
	r.must(err, "CreateQueue")
	if got := aws.ToString(out.QueueUrl); got != url {
		t.Fatalf("QueueUrl %q, want %q", got, url)
	}
	if got := r.createQueue(a, "orders", attrs); got != url {
		t.Errorf("CreateQueue again with the same attributes: %q, want %q", got, url)
	}
	_, err = a.CreateQueue(r.ctx, &sqs.CreateQueueInput{QueueName: aws.String("orders"), Attributes: map[string]string{"VisibilityTimeout": "31"}})
	r.wantCode(err, "QueueAlreadyExists", "CreateQueue with another VisibilityTimeout")
	_, err = a.CreateQueue(r.ctx, &sqs.CreateQueueInput{QueueName: aws.String("bad name!")})
	r.wantCode(err, "InvalidParameterValue", "CreateQueue with an invalid name")

	got, err := a.GetQueueUrl(r.ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("orders")})
	r.must(err, "GetQueueUrl")
	if aws.ToString(got.QueueUrl) != url {
		t.Errorf("GetQueueUrl = %q, want %q", aws.ToString(got.QueueUrl), url)
	}
	_, err = a.GetQueueUrl(r.ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("no-such-queue")})
	r.wantCode(err, "AWS.SimpleQueueService.NonExistentQueue", "GetQueueUrl of a missing queue")

	// ListQueues: a prefix, two per page.
	for _, n := range []string{"orders-2", "orders-3", "emails"} {
		r.createQueue(a, n, nil)
	}
	var listed []string
	var token *string
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatalf("ListQueues pages do not end: %v", listed)
		}
		page, err := a.ListQueues(r.ctx, &sqs.ListQueuesInput{QueueNamePrefix: aws.String("orders"), MaxResults: aws.Int32(2), NextToken: token})
		r.must(err, "ListQueues")
		if len(page.QueueUrls) > 2 {
			t.Errorf("ListQueues returned %d URLs with MaxResults 2", len(page.QueueUrls))
		}
		listed = append(listed, page.QueueUrls...)
		if token = page.NextToken; token == nil {
			break
		}
	}
	sort.Strings(listed)
	want := []string{url, url + "-2", url + "-3"}
	if !slices.Equal(listed, want) {
		t.Errorf("ListQueues prefix orders = %v, want %v", listed, want)
	}

	all := r.attributes(a, url, types.QueueAttributeNameAll)
	for k, v := range map[string]string{
		"VisibilityTimeout": "30", "MessageRetentionPeriod": "86400", "ApproximateNumberOfMessages": "0",
		"ApproximateNumberOfMessagesNotVisible": "0", "QueueArn": "arn:aws:sqs:us-east-1:" + testkeys.TenantA + ":orders",
	} {
		if all[k] != v {
			t.Errorf("GetQueueAttributes All: %s = %q, want %q (all: %v)", k, all[k], v, all)
		}
	}
	if _, err := strconv.ParseInt(all["CreatedTimestamp"], 10, 64); err != nil {
		t.Errorf("CreatedTimestamp %q is not a number", all["CreatedTimestamp"])
	}
	some := r.attributes(a, url, types.QueueAttributeNameVisibilityTimeout, types.QueueAttributeNameApproximateNumberOfMessagesDelayed)
	if len(some) != 2 || some["VisibilityTimeout"] != "30" || some["ApproximateNumberOfMessagesDelayed"] != "0" {
		t.Errorf("GetQueueAttributes of two names = %v", some)
	}
	_, err = a.SetQueueAttributes(r.ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(url), Attributes: map[string]string{"VisibilityTimeout": "45", "DelaySeconds": "0"}})
	r.must(err, "SetQueueAttributes")
	if v := r.attributes(a, url, types.QueueAttributeNameVisibilityTimeout)["VisibilityTimeout"]; v != "45" {
		t.Errorf("VisibilityTimeout after SetQueueAttributes = %q, want 45", v)
	}
	_, err = a.SetQueueAttributes(r.ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(url), Attributes: map[string]string{"VisibilityTimeout": "43201"}})
	r.wantCode(err, "InvalidAttributeValue", "SetQueueAttributes VisibilityTimeout 43201")

	// Tags.
	_, err = a.TagQueue(r.ctx, &sqs.TagQueueInput{QueueUrl: aws.String(url), Tags: map[string]string{"env": "test"}})
	r.must(err, "TagQueue")
	tags, err := a.ListQueueTags(r.ctx, &sqs.ListQueueTagsInput{QueueUrl: aws.String(url)})
	r.must(err, "ListQueueTags")
	if len(tags.Tags) != 2 || tags.Tags["team"] != "payments" || tags.Tags["env"] != "test" {
		t.Errorf("ListQueueTags = %v, want team and env", tags.Tags)
	}
	_, err = a.UntagQueue(r.ctx, &sqs.UntagQueueInput{QueueUrl: aws.String(url), TagKeys: []string{"team"}})
	r.must(err, "UntagQueue")
	tags, err = a.ListQueueTags(r.ctx, &sqs.ListQueueTagsInput{QueueUrl: aws.String(url)})
	r.must(err, "ListQueueTags")
	if len(tags.Tags) != 1 || tags.Tags["env"] != "test" {
		t.Errorf("ListQueueTags after UntagQueue = %v, want env only", tags.Tags)
	}

	// A FIFO queue, and DeleteQueue.
	fifo := r.createQueue(a, "jobs.fifo", map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "true"})
	if f := r.attributes(a, fifo, types.QueueAttributeNameAll); f["FifoQueue"] != "true" || f["ContentBasedDeduplication"] != "true" {
		t.Errorf("FIFO queue attributes = %v", f)
	}
	_, err = a.CreateQueue(r.ctx, &sqs.CreateQueueInput{QueueName: aws.String("plain"), Attributes: map[string]string{"FifoQueue": "true"}})
	r.wantCode(err, "InvalidAttributeValue", "FifoQueue=true on a name without .fifo")
	emails := url[:strings.LastIndex(url, "/")] + "/emails"
	_, err = a.DeleteQueue(r.ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(emails)})
	r.must(err, "DeleteQueue")
	_, err = a.GetQueueUrl(r.ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("emails")})
	r.wantCode(err, "AWS.SimpleQueueService.NonExistentQueue", "GetQueueUrl of a deleted queue")
}

// receiveAll receives until n messages came (each WaitTimeSeconds 1, at most 30 rounds).
func (r *run) receiveAll(c *sqs.Client, in *sqs.ReceiveMessageInput, n int) []types.Message {
	r.t.Helper()
	var got []types.Message
	for round := 0; len(got) < n; round++ {
		if round == 30 {
			r.t.Fatalf("received %d messages, want %d", len(got), n)
		}
		in := *in
		in.WaitTimeSeconds = 1
		out, err := c.ReceiveMessage(r.ctx, &in)
		r.must(err, "ReceiveMessage")
		got = append(got, out.Messages...)
	}
	if len(got) != n {
		r.t.Fatalf("received %d messages, want %d", len(got), n)
	}
	return got
}

func (r *run) messages(t *testing.T) {
	r.t = t
	a := r.client(testkeys.A)
	url := r.queueURL(testkeys.TenantA, "orders")
	body := "héllo <xml> & \"json\" \u2603"
	sent, err := a.SendMessage(r.ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body),
		MessageAttributes: map[string]types.MessageAttributeValue{
			"attr.color":  {DataType: aws.String("String"), StringValue: aws.String("blue")},
			"attr.count":  {DataType: aws.String("Number"), StringValue: aws.String("42")},
			"other.bytes": {DataType: aws.String("Binary"), BinaryValue: []byte{0, 1, 2, 255}},
		}})
	r.must(err, "SendMessage") // the SDK checks MD5OfMessageBody and MD5OfMessageAttributes
	if aws.ToString(sent.MessageId) == "" {
		t.Fatal("SendMessage returned no MessageId")
	}
	// A message group ID on a standard queue (SQS fair queues) is accepted.
	_, err = a.SendMessage(r.ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("grouped"), MessageGroupId: aws.String("customer-1")})
	r.must(err, "SendMessage with MessageGroupId on a standard queue")
	_, err = a.SendMessage(r.ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("bad \x01 char")})
	r.wantCode(err, "InvalidMessageContents", "SendMessage with a control character")
	_, err = a.SendMessage(r.ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("x"), DelaySeconds: 901})
	r.wantCode(err, "InvalidParameterValue", "SendMessage DelaySeconds 901")

	batch, err := a.SendMessageBatch(r.ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: []types.SendMessageBatchRequestEntry{
		{Id: aws.String("e1"), MessageBody: aws.String("batch 1")},
		{Id: aws.String("e2"), MessageBody: aws.String("batch 2"), DelaySeconds: 0},
		{Id: aws.String("e3"), MessageBody: aws.String("batch 3")},
	}})
	r.must(err, "SendMessageBatch")
	if len(batch.Successful) != 3 || len(batch.Failed) != 0 {
		t.Fatalf("SendMessageBatch: %d successful, %d failed, want 3 and 0", len(batch.Successful), len(batch.Failed))
	}
	_, err = a.SendMessageBatch(r.ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: []types.SendMessageBatchRequestEntry{
		{Id: aws.String("same"), MessageBody: aws.String("1")}, {Id: aws.String("same"), MessageBody: aws.String("2")},
	}})
	r.wantCode(err, "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", "SendMessageBatch with a repeated Id")
	eleven := make([]types.SendMessageBatchRequestEntry, 11)
	for i := range eleven {
		eleven[i] = types.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint("e", i)), MessageBody: aws.String("x")}
	}
	_, err = a.SendMessageBatch(r.ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: eleven})
	r.wantCode(err, "AWS.SimpleQueueService.TooManyEntriesInBatchRequest", "SendMessageBatch of 11")

	// Receive all five, with every attribute.
	msgs := r.receiveAll(a, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, VisibilityTimeout: 60,
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameAll}, MessageAttributeNames: []string{"All"}}, 5)
	var first types.Message
	for _, m := range msgs {
		if aws.ToString(m.MessageId) == aws.ToString(sent.MessageId) {
			first = m
		}
		if m.Attributes["ApproximateReceiveCount"] != "1" || m.Attributes["SentTimestamp"] == "" {
			t.Errorf("message %s system attributes %v", aws.ToString(m.MessageId), m.Attributes)
		}
	}
	if aws.ToString(first.Body) != body {
		t.Fatalf("body %q, want %q", aws.ToString(first.Body), body)
	}
	if v := first.MessageAttributes["attr.count"]; aws.ToString(v.StringValue) != "42" || aws.ToString(v.DataType) != "Number" {
		t.Errorf("attribute attr.count = %+v", v)
	}
	if v := first.MessageAttributes["other.bytes"]; string(v.BinaryValue) != "\x00\x01\x02\xff" {
		t.Errorf("binary attribute = %v", v.BinaryValue)
	}
	// Visibility: one back at once, the rest in a batch with one handle that is not valid.
	_, err = a.ChangeMessageVisibility(r.ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: first.ReceiptHandle, VisibilityTimeout: 0})
	r.must(err, "ChangeMessageVisibility")
	again := r.receiveAll(a, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, VisibilityTimeout: 60,
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeName("ApproximateReceiveCount")}, MessageAttributeNames: []string{"attr.*"}}, 1)[0]
	if aws.ToString(again.MessageId) != aws.ToString(sent.MessageId) || again.Attributes["ApproximateReceiveCount"] != "2" {
		t.Errorf("received again %s with %v, want %s with ApproximateReceiveCount 2", aws.ToString(again.MessageId), again.Attributes, aws.ToString(sent.MessageId))
	}
	if _, ok := again.MessageAttributes["other.bytes"]; ok || len(again.MessageAttributes) != 2 {
		t.Errorf("MessageAttributeNames attr.* returned %v", again.MessageAttributes)
	}
	var vis []types.ChangeMessageVisibilityBatchRequestEntry
	for i, m := range msgs[1:] {
		if aws.ToString(m.MessageId) == aws.ToString(sent.MessageId) {
			m = msgs[0]
		}
		vis = append(vis, types.ChangeMessageVisibilityBatchRequestEntry{Id: aws.String(fmt.Sprint("v", i)), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 120})
	}
	vis = append(vis, types.ChangeMessageVisibilityBatchRequestEntry{Id: aws.String("bogus"), ReceiptHandle: aws.String("not-a-handle"), VisibilityTimeout: 1})
	vr, err := a.ChangeMessageVisibilityBatch(r.ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(url), Entries: vis})
	r.must(err, "ChangeMessageVisibilityBatch")
	if len(vr.Successful) != 4 || len(vr.Failed) != 1 || aws.ToString(vr.Failed[0].Id) != "bogus" || !vr.Failed[0].SenderFault ||
		aws.ToString(vr.Failed[0].Code) != "ReceiptHandleIsInvalid" {
		t.Errorf("ChangeMessageVisibilityBatch: %d successful, failed %+v", len(vr.Successful), vr.Failed)
	}
	// Delete one, then the rest in a batch (with a handle that is not valid).
	_, err = a.DeleteMessage(r.ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: again.ReceiptHandle})
	r.must(err, "DeleteMessage")
	var del []types.DeleteMessageBatchRequestEntry
	for i, e := range vis[:4] {
		del = append(del, types.DeleteMessageBatchRequestEntry{Id: aws.String(fmt.Sprint("d", i)), ReceiptHandle: e.ReceiptHandle})
	}
	del = append(del, types.DeleteMessageBatchRequestEntry{Id: aws.String("bogus"), ReceiptHandle: aws.String("not-a-handle")})
	dr, err := a.DeleteMessageBatch(r.ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(url), Entries: del})
	r.must(err, "DeleteMessageBatch")
	if len(dr.Successful) != 4 || len(dr.Failed) != 1 || !dr.Failed[0].SenderFault {
		t.Errorf("DeleteMessageBatch: %d successful, failed %+v", len(dr.Successful), dr.Failed)
	}
	if n := r.attributes(a, url, types.QueueAttributeNameAll); n["ApproximateNumberOfMessages"] != "0" || n["ApproximateNumberOfMessagesNotVisible"] != "0" {
		t.Errorf("after deleting everything: %v", n)
	}

	// A long poll waits for a message sent while it waits.
	type result struct {
		out *sqs.ReceiveMessageOutput
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := a.ReceiveMessage(r.ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 20})
		done <- result{out, err}
	}()
	r.env.WaitLongPolls(t, 1)
	_, err = a.SendMessage(r.ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("awaited")})
	r.must(err, "SendMessage")
	res := <-done
	r.must(res.err, "long-polling ReceiveMessage")
	if len(res.out.Messages) != 1 || aws.ToString(res.out.Messages[0].Body) != "awaited" {
		t.Fatalf("long poll returned %+v", res.out.Messages)
	}

	// PurgeQueue.
	_, err = a.SendMessage(r.ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("to purge")})
	r.must(err, "SendMessage")
	_, err = a.PurgeQueue(r.ctx, &sqs.PurgeQueueInput{QueueUrl: aws.String(url)})
	r.must(err, "PurgeQueue")
	out, err := a.ReceiveMessage(r.ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 1, MaxNumberOfMessages: 10})
	r.must(err, "ReceiveMessage after PurgeQueue")
	if len(out.Messages) != 0 {
		t.Errorf("received %d messages after PurgeQueue", len(out.Messages))
	}
}

func (r *run) fifo(t *testing.T) {
	r.t = t
	a := r.client(testkeys.A)
	url := r.queueURL(testkeys.TenantA, "jobs.fifo")
	for i, b := range []string{"step 1", "step 2", "step 1", "step 3"} { // the second "step 1" is a duplicate (content-based)
		_, err := a.SendMessage(r.ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(b), MessageGroupId: aws.String("g1")})
		r.must(err, fmt.Sprint("SendMessage FIFO ", i))
	}
	_, err := a.SendMessage(r.ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("no group")})
	r.wantCode(err, "MissingParameter", "SendMessage to a FIFO queue without MessageGroupId")
	b, err := a.SendMessageBatch(r.ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: []types.SendMessageBatchRequestEntry{
		{Id: aws.String("a"), MessageBody: aws.String("other 1"), MessageGroupId: aws.String("g2"), MessageDeduplicationId: aws.String("d1")},
		{Id: aws.String("b"), MessageBody: aws.String("other 2"), MessageGroupId: aws.String("g2"), MessageDeduplicationId: aws.String("d2")},
	}})
	r.must(err, "SendMessageBatch FIFO")
	if len(b.Successful) != 2 || aws.ToString(b.Successful[0].SequenceNumber) == "" {
		t.Errorf("SendMessageBatch FIFO: %+v", b.Successful)
	}
	// A ReceiveMessage retried with its ReceiveRequestAttemptId gets the same message and handle.
	attempt := &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 1, WaitTimeSeconds: 5,
		ReceiveRequestAttemptId: aws.String("retried-attempt")}
	first, err := a.ReceiveMessage(r.ctx, attempt)
	r.must(err, "ReceiveMessage with ReceiveRequestAttemptId")
	retried, err := a.ReceiveMessage(r.ctx, attempt)
	r.must(err, "ReceiveMessage retried with the same ReceiveRequestAttemptId")
	if len(first.Messages) != 1 || len(retried.Messages) != 1 ||
		aws.ToString(first.Messages[0].MessageId) != aws.ToString(retried.Messages[0].MessageId) ||
		aws.ToString(first.Messages[0].ReceiptHandle) != aws.ToString(retried.Messages[0].ReceiptHandle) {
		t.Fatalf("a retried receive attempt got %+v, the first %+v; want the same message and handle", retried.Messages, first.Messages)
	}
	order := []string{aws.ToString(first.Messages[0].Body)}
	_, err = a.DeleteMessage(r.ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: first.Messages[0].ReceiptHandle})
	r.must(err, "DeleteMessage FIFO")
	for round := 0; len(order) < 5; round++ {
		if round == 30 {
			t.Fatalf("received %v, want 5 messages", order)
		}
		out, err := a.ReceiveMessage(r.ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
			ReceiveRequestAttemptId: aws.String(fmt.Sprint("attempt-", round)),
			AttributeNames:          []types.QueueAttributeName{types.QueueAttributeNameAll}})
		r.must(err, "ReceiveMessage FIFO")
		for _, m := range out.Messages {
			if m.Attributes["MessageGroupId"] == "" || m.Attributes["SequenceNumber"] == "" {
				t.Errorf("FIFO message without MessageGroupId or SequenceNumber: %v", m.Attributes)
			}
			order = append(order, aws.ToString(m.Body))
			_, err := a.DeleteMessage(r.ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle})
			r.must(err, "DeleteMessage FIFO")
		}
	}
	var g1, g2 []string
	for _, b := range order {
		if strings.HasPrefix(b, "step") {
			g1 = append(g1, b)
		} else {
			g2 = append(g2, b)
		}
	}
	if !slices.Equal(g1, []string{"step 1", "step 2", "step 3"}) || !slices.Equal(g2, []string{"other 1", "other 2"}) {
		t.Errorf("FIFO order per group: %v and %v", g1, g2)
	}
}

func (r *run) deadLetters(t *testing.T) {
	r.t = t
	a := r.client(testkeys.A)
	dlq := r.createQueue(a, "work-dlq", map[string]string{"RedriveAllowPolicy": `{"redrivePermission":"allowAll"}`})
	dlqArn := r.attributes(a, dlq, types.QueueAttributeNameQueueArn)["QueueArn"]
	work := r.createQueue(a, "work", map[string]string{
		"RedrivePolicy": `{"deadLetterTargetArn":"` + dlqArn + `","maxReceiveCount":1}`,
	})
	if rp := r.attributes(a, work, types.QueueAttributeNameRedrivePolicy)["RedrivePolicy"]; !strings.Contains(rp, dlqArn) {
		t.Errorf("RedrivePolicy = %q", rp)
	}
	_, err := a.SendMessage(r.ctx, &sqs.SendMessageInput{QueueUrl: aws.String(work), MessageBody: aws.String("poison")})
	r.must(err, "SendMessage")
	// Received once and given back (visibility 0): the next receive moves it to the dead-letter queue.
	m := r.receiveAll(a, &sqs.ReceiveMessageInput{QueueUrl: aws.String(work)}, 1)[0]
	_, err = a.ChangeMessageVisibility(r.ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(work), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0})
	r.must(err, "ChangeMessageVisibility")
	out, err := a.ReceiveMessage(r.ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(work), WaitTimeSeconds: 1})
	r.must(err, "ReceiveMessage")
	if len(out.Messages) != 0 {
		t.Fatalf("a message over maxReceiveCount 1 was delivered again: %+v", out.Messages)
	}
	r.waitCount(a, dlq, "1")

	srcs, err := a.ListDeadLetterSourceQueues(r.ctx, &sqs.ListDeadLetterSourceQueuesInput{QueueUrl: aws.String(dlq)})
	r.must(err, "ListDeadLetterSourceQueues")
	if !slices.Equal(srcs.QueueUrls, []string{work}) {
		t.Errorf("ListDeadLetterSourceQueues = %v, want [%s]", srcs.QueueUrls, work)
	}

	task, err := a.StartMessageMoveTask(r.ctx, &sqs.StartMessageMoveTaskInput{SourceArn: aws.String(dlqArn)})
	r.must(err, "StartMessageMoveTask")
	if aws.ToString(task.TaskHandle) == "" {
		t.Fatal("StartMessageMoveTask returned no TaskHandle")
	}
	back := r.receiveAll(a, &sqs.ReceiveMessageInput{QueueUrl: aws.String(work)}, 1)[0]
	if aws.ToString(back.Body) != "poison" {
		t.Errorf("moved back %q", aws.ToString(back.Body))
	}
	tasks, err := a.ListMessageMoveTasks(r.ctx, &sqs.ListMessageMoveTasksInput{SourceArn: aws.String(dlqArn)})
	r.must(err, "ListMessageMoveTasks")
	if len(tasks.Results) == 0 || aws.ToString(tasks.Results[0].SourceArn) != dlqArn || aws.ToString(tasks.Results[0].Status) == "" {
		t.Errorf("ListMessageMoveTasks = %+v", tasks.Results)
	}
	// The task has finished (its one message is back), so cancelling it is refused as SQS
	// refuses a task that is not running: UnsupportedOperation "Only active tasks can be
	// cancelled" (not the answer to an action this endpoint does not serve).
	_, err = a.CancelMessageMoveTask(r.ctx, &sqs.CancelMessageMoveTaskInput{TaskHandle: task.TaskHandle})
	r.wantCode(err, "AWS.SimpleQueueService.UnsupportedOperation", "CancelMessageMoveTask of a finished task")
	if err != nil && strings.Contains(err.Error(), "not supported by this endpoint") {
		t.Errorf("CancelMessageMoveTask is not served: %v", err)
	}
	_, err = a.CancelMessageMoveTask(r.ctx, &sqs.CancelMessageMoveTaskInput{TaskHandle: aws.String("no-such-task")})
	if code(err) == "" {
		t.Errorf("CancelMessageMoveTask of an unknown handle: %v, want an SQS error", err)
	}
}

// waitCount polls (every WaitTimeSeconds-free GetQueueAttributes, at most 100 times 100 ms)
// until the queue holds want visible messages.
func (r *run) waitCount(c *sqs.Client, url, want string) {
	r.t.Helper()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		got := r.attributes(c, url, types.QueueAttributeNameApproximateNumberOfMessages)["ApproximateNumberOfMessages"]
		if got == want {
			return
		}
		if i == 100 {
			r.t.Fatalf("%s holds %s messages, want %s", url, got, want)
		}
		select {
		case <-tick.C:
		case <-r.ctx.Done():
			r.t.Fatal(r.ctx.Err())
		}
	}
}

func (r *run) refusals(t *testing.T) {
	r.t = t
	a, b := r.client(testkeys.A), r.client(testkeys.B)
	urlA := r.queueURL(testkeys.TenantA, "orders")

	_, err := r.clientWith(testkeys.A.AccessKeyID, "wrong-secret-0123456789").ListQueues(r.ctx, &sqs.ListQueuesInput{})
	r.wantCode(err, "SignatureDoesNotMatch", "wrong secret")
	_, err = r.clientWith("UNKNOWNKEY000001", testkeys.A.Secret).ListQueues(r.ctx, &sqs.ListQueuesInput{})
	r.wantCode(err, "InvalidClientTokenId", "unknown key")
	if st, c := r.signedAt(testkeys.A, time.Now().Add(-16*time.Minute)); st != http.StatusForbidden || c != "SignatureDoesNotMatch" {
		t.Errorf("signed 16 minutes ago: status %d, code %q, want 403 SignatureDoesNotMatch", st, c)
	}
	if st, c := r.signedAt(testkeys.A, time.Now().Add(16*time.Minute)); st != http.StatusForbidden || c != "SignatureDoesNotMatch" {
		t.Errorf("signed 16 minutes ahead: status %d, code %q, want 403 SignatureDoesNotMatch", st, c)
	}
	if st, c := r.signedAt(testkeys.A, time.Now().Add(-14*time.Minute)); st != http.StatusOK {
		t.Errorf("signed 14 minutes ago (within SigV4's 15): status %d, code %q", st, c)
	}

	// Presigned URLs (query protocol GET): valid, then expired.
	if st, c := r.presigned(testkeys.A, time.Now(), time.Hour); st != http.StatusOK {
		t.Errorf("valid presigned URL: status %d, code %q", st, c)
	}
	if st, c := r.presigned(testkeys.A, time.Now().Add(-2*time.Hour), time.Hour); st != http.StatusForbidden || c != "RequestExpired" {
		t.Errorf("expired presigned URL: status %d, code %q, want 403 RequestExpired", st, c)
	}

	// Tenant B may not use tenant A's queue URL, existing or not, and learns nothing from it.
	_, err = b.SendMessage(r.ctx, &sqs.SendMessageInput{QueueUrl: aws.String(urlA), MessageBody: aws.String("intrusion")})
	r.wantCode(err, "AccessDenied", "tenant B sends to tenant A's queue")
	_, err = b.GetQueueAttributes(r.ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(r.queueURL(testkeys.TenantA, "no-such-queue"))})
	r.wantCode(err, "AccessDenied", "tenant B reads a missing queue of tenant A")
	_, err = b.ReceiveMessage(r.ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(urlA)})
	r.wantCode(err, "AccessDenied", "tenant B receives from tenant A's queue")

	// Tenant A's receipt handle, presented by tenant B on B's own queue, is refused and
	// changes nothing.
	_, err = a.SendMessage(r.ctx, &sqs.SendMessageInput{QueueUrl: aws.String(urlA), MessageBody: aws.String("A's message")})
	r.must(err, "SendMessage")
	m := r.receiveAll(a, &sqs.ReceiveMessageInput{QueueUrl: aws.String(urlA), VisibilityTimeout: 300}, 1)[0]
	urlB := r.createQueue(b, "b-queue", nil)
	_, err = b.DeleteMessage(r.ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(urlB), ReceiptHandle: m.ReceiptHandle})
	r.wantCode(err, "AccessDenied", "tenant B deletes with tenant A's receipt handle")
	_, err = b.ChangeMessageVisibility(r.ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(urlB), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0})
	r.wantCode(err, "AccessDenied", "tenant B changes visibility with tenant A's receipt handle")
	if n := r.attributes(a, urlA, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible)["ApproximateNumberOfMessagesNotVisible"]; n != "1" {
		t.Errorf("A's message after B's attempts: %s in flight, want 1", n)
	}
	_, err = a.DeleteMessage(r.ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(urlA), ReceiptHandle: m.ReceiptHandle})
	r.must(err, "DeleteMessage by its owner")

	// The admin key may use every tenant's queues.
	admin := r.client(testkeys.Admin)
	if n := r.attributes(admin, urlB, types.QueueAttributeNameApproximateNumberOfMessages)["ApproximateNumberOfMessages"]; n != "0" {
		t.Errorf("admin reads B's queue: %q", n)
	}
	// An action this endpoint does not serve gets SQS's UnsupportedOperation.
	_, err = a.AddPermission(r.ctx, &sqs.AddPermissionInput{QueueUrl: aws.String(urlA), Label: aws.String("l"),
		AWSAccountIds: []string{"123456789012"}, Actions: []string{"SendMessage"}})
	r.wantCode(err, "AWS.SimpleQueueService.UnsupportedOperation", "AddPermission")
}

// presigned sends a presigned query-protocol GET ListQueues signed at `at`, valid for expires,
// and returns the status and the error code of the XML answer.
func (r *run) presigned(k testkeys.Key, at time.Time, expires time.Duration) (int, string) {
	r.t.Helper()
	req, err := http.NewRequestWithContext(r.ctx, http.MethodGet,
		r.env.URL()+"/?Action=ListQueues&Version=2012-11-05&X-Amz-Expires="+strconv.Itoa(int(expires/time.Second)), nil)
	r.must(err, "NewRequest")
	creds := aws.Credentials{AccessKeyID: k.AccessKeyID, SecretAccessKey: k.Secret}
	u, hdr, err := v4.NewSigner().PresignHTTP(r.ctx, creds, req, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "sqs", "us-east-1", at)
	r.must(err, "PresignHTTP")
	pre, err := http.NewRequestWithContext(r.ctx, http.MethodGet, u, nil)
	r.must(err, "NewRequest")
	for name, vs := range hdr {
		if name != "Host" {
			pre.Header[name] = vs
		}
	}
	return r.send(pre)
}

// signedAt sends a query-protocol ListQueues signed (Authorization header) at `at`.
func (r *run) signedAt(k testkeys.Key, at time.Time) (int, string) {
	r.t.Helper()
	body := "Action=ListQueues&Version=2012-11-05"
	req, err := http.NewRequestWithContext(r.ctx, http.MethodPost, r.env.URL()+"/", strings.NewReader(body))
	r.must(err, "NewRequest")
	req.Header.Set("Content-Type", Query)
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: k.AccessKeyID, SecretAccessKey: k.Secret}
	r.must(v4.NewSigner().SignHTTP(r.ctx, creds, req, hex.EncodeToString(sum[:]), "sqs", "us-east-1", at), "SignHTTP")
	return r.send(req)
}

// send sends a hand-signed request and returns the status and the XML error's code.
func (r *run) send(req *http.Request) (int, string) {
	r.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	r.must(err, req.Method+" "+req.URL.Path)
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var e struct {
		Code string `xml:"Error>Code"`
	}
	_ = xml.Unmarshal(data, &e)
	return resp.StatusCode, e.Code
}
