package dynamodbqueue_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
)

// readBackAPI adds up the attribute bytes that writes return: the old item of a delete or
// update, and the item a failed condition returns.
type readBackAPI struct {
	*dynamodb.Client
	deleteBytes, claimBytes, failedBytes, failedClaims, queryBytes atomic.Int64
}

func (a *readBackAPI) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	out, err := a.Client.Query(ctx, in, o...)
	if out != nil {
		for _, it := range out.Items {
			a.queryBytes.Add(attrBytes(it))
		}
	}
	return out, err
}

func (a *readBackAPI) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	out, err := a.Client.DeleteItem(ctx, in, o...)
	if out != nil {
		a.deleteBytes.Add(attrBytes(out.Attributes))
	}
	a.failedBytes.Add(failedItemBytes(err))
	return out, err
}

func (a *readBackAPI) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	out, err := a.Client.UpdateItem(ctx, in, o...)
	if out != nil {
		a.claimBytes.Add(attrBytes(out.Attributes))
	}
	if err != nil {
		a.failedClaims.Add(1)
	}
	a.failedBytes.Add(failedItemBytes(err))
	return out, err
}

func failedItemBytes(err error) int64 {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return attrBytes(ccf.Item)
	}
	return 0
}

// attrBytes approximates the size of an item as DynamoDB counts it: names plus values.
func attrBytes(item map[string]types.AttributeValue) int64 {
	var n int64
	for k, v := range item {
		n += int64(len(k))
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			n += int64(len(v.Value))
		case *types.AttributeValueMemberN:
			n += int64(len(v.Value))
		case *types.AttributeValueMemberB:
			n += int64(len(v.Value))
		default:
			n += 8
		}
	}
	return n
}

// TestDeletesAndLostClaimsReadBackNothing: four consumers (clones sharing one process, and a
// second process) race for 200 messages of 256 bytes and delete what they get. The deletes read
// nothing back (the receipt handle carries what a delete must know), nor do failed conditions
// (a claim lost on its first attempt needs nothing of the item); a won claim returns at most
// its one item (when its consumer read only keys, under contention).
func TestDeletesAndLostClaimsReadBackNothing(t *testing.T) {
	t.Parallel()
	_, table := newTable(t)
	var apis []*readBackAPI
	var consumers []*dynamodbqueue.DynamoDBQueue
	for p := 0; p < 2; p++ { // two processes (clients), two consumers each
		api := &readBackAPI{Client: testenv.Client(t)}
		apis = append(apis, api)
		q := dynamodbqueue.NewFromClient(api, 0).UseTable(table).UseQueueName("rb").UseClientID("c").UseLogger(nil)
		consumers = append(consumers, q, q.Clone())
	}
	msgs := make([]events.SQSMessage, 200)
	for i := range msgs {
		msgs[i].Body = strings.Repeat("x", 256)
	}
	push(t, consumers[0], msgs...)
	var got atomic.Int64
	var wg sync.WaitGroup
	for _, q := range consumers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for empty := 0; empty < 3; {
				batch, err := q.ReceiveMessages(ctxT(t), dynamodbqueue.ReceiveOptions{MaxMessages: 10, VisibilityTimeout: time.Minute})
				if err != nil {
					t.Errorf("receive: %v", err)
					return
				}
				if len(batch) == 0 {
					empty++
					continue
				}
				empty = 0
				if failed, err := q.DeleteMessages(ctxT(t), toHandles(batch)...); err != nil || len(failed) > 0 {
					t.Errorf("delete: %d failed, %v", len(failed), err)
					return
				}
				got.Add(int64(len(batch)))
			}
		}()
	}
	wg.Wait()
	if got.Load() != 200 {
		t.Fatalf("received and deleted %d messages, want 200", got.Load())
	}
	var claimed int64
	for i, api := range apis {
		if d, f := api.deleteBytes.Load(), api.failedBytes.Load(); d != 0 || f != 0 {
			t.Errorf("process %d: deletes read back %d bytes, failed conditions %d bytes (%d failed writes); want 0",
				i, d, f, api.failedClaims.Load())
		}
		claimed += api.claimBytes.Load()
	}
	if per := claimed / 200; per > 600 {
		t.Errorf("won claims read back %d bytes per message, more than one item each", per)
	}
}

// TestDeleteRemovesChunksAndDedupFromTheHandle: a large message's delete removes its body
// chunks with the chunk count the handle carries, without reading the item back, and a message
// with a deduplication ID is still marked consumed (its delete reads the item back for the
// ID), so a push retried with that ID stores nothing.
func TestDeleteRemovesChunksAndDedupFromTheHandle(t *testing.T) {
	t.Parallel()
	_, table := newTable(t)
	api := &readBackAPI{Client: testenv.Client(t)}
	q := dynamodbqueue.NewFromClient(api, 0).UseTable(table).UseQueueName("big").UseClientID("c").UseLogger(nil)
	push(t, q, events.SQSMessage{Body: strings.Repeat("b", 800_000)})
	got := mustPoll(t, q, time.Minute, 1)
	if len(got) != 1 {
		t.Fatalf("received %d messages, want 1", len(got))
	}
	if failed, err := q.DeleteMessages(ctxT(t), toHandles(got)...); err != nil || len(failed) > 0 {
		t.Fatalf("delete: %d failed, %v", len(failed), err)
	}
	if n := api.deleteBytes.Load(); n != 0 {
		t.Errorf("the delete of a large message read back %d bytes, want 0", n)
	}
	if n := itemCount(t, q); n != 1 { // the registry item only: the message and its chunks are gone
		t.Errorf("after the delete the table holds %d items, want 1 (the registry item)", n)
	}

	dd := events.SQSMessage{Body: "once", Attributes: map[string]string{"MessageDeduplicationId": "d-1"}}
	push(t, q, dd)
	got = mustPoll(t, q, time.Minute, 1)
	if len(got) != 1 {
		t.Fatalf("received %d messages, want 1", len(got))
	}
	if failed, err := q.DeleteMessages(ctxT(t), toHandles(got)...); err != nil || len(failed) > 0 {
		t.Fatalf("delete: %d failed, %v", len(failed), err)
	}
	push(t, q, dd) // a retry of the push: deduplicated, not delivered again
	if again := mustPoll(t, q, time.Minute, 1); len(again) != 0 {
		t.Fatalf("a push retried after the delete delivered %v again", bodyList(again))
	}
}

// TestVersion1HandleStillDeletesChunks: a receipt handle in the layout issued before handles
// carried the chunk count still deletes its message and the body chunks (it reads them back).
func TestVersion1HandleStillDeletesChunks(t *testing.T) {
	t.Parallel()
	q := newQueue(t, "legacy", "c")
	push(t, q, events.SQSMessage{Body: strings.Repeat("l", 800_000)})
	got := mustPoll(t, q, time.Minute, 1)
	if len(got) != 1 {
		t.Fatalf("received %d messages, want 1", len(got))
	}
	old, err := dynamodbqueue.LegacyHandle(q, got[0].ReceiptHandle)
	if err != nil {
		t.Fatal(err)
	}
	if failed, err := q.DeleteMessages(ctxT(t), old); err != nil || len(failed) > 0 {
		t.Fatalf("delete by a version 1 handle: %d failed, %v", len(failed), err)
	}
	if n := itemCount(t, q); n != 1 {
		t.Errorf("after the delete the table holds %d items, want 1 (the registry item)", n)
	}
}

// TestKeysOnlyCandidatesDeliverWholeMessages: a consumer under contention reads its candidates
// keys-only and takes each item from its claim. The messages come out whole (body, message
// attributes, digests, ID, send time, receive count, a chunked body), the query read no stored
// message, and a second receive counts the receive again.
func TestKeysOnlyCandidatesDeliverWholeMessages(t *testing.T) {
	t.Parallel()
	_, table := newTable(t)
	api := &readBackAPI{Client: testenv.Client(t)}
	q := dynamodbqueue.NewFromClient(api, 0).UseTable(table).UseQueueName("ko").UseClientID("c").UseLogger(nil)
	attrs := map[string]events.SQSMessageAttribute{"k": {DataType: "String", StringValue: aws.String("v")}}
	big := strings.Repeat("B", 800_000)
	sent := []events.SQSMessage{{Body: "one", MessageAttributes: attrs}, {Body: "two"}, {Body: big}}
	failed, err := q.PushMessages(ctxT(t), 0, sent...)
	if err != nil || len(failed) > 0 {
		t.Fatalf("push: %d failed, %v", len(failed), err)
	}
	for round := 1; round <= 2; round++ {
		dynamodbqueue.SetSpread(q, 4)
		api.queryBytes.Store(0)
		got, err := q.ReceiveMessages(ctxT(t), dynamodbqueue.ReceiveOptions{MaxMessages: 3, VisibilityTimeout: time.Minute})
		if err != nil || len(got) != 3 {
			t.Fatalf("round %d: received %d messages, %v", round, len(got), err)
		}
		if n := api.queryBytes.Load(); n > 3*200 {
			t.Errorf("round %d: the keys-only query read %d bytes for 3 candidates", round, n)
		}
		byBody := map[string]events.SQSMessage{}
		for _, m := range got {
			byBody[m.Body] = m
		}
		one, ok := byBody["one"]
		if !ok || byBody["two"].Body == "" || byBody[big].Body != big {
			t.Fatalf("round %d: bodies %v", round, len(byBody))
		}
		if one.MessageId != sent[0].MessageId && sent[0].MessageId != "" {
			t.Errorf("round %d: message ID %q, pushed as %q", round, one.MessageId, sent[0].MessageId)
		}
		if one.MessageId == "" || one.Md5OfBody == "" || one.Md5OfMessageAttributes == "" ||
			*one.MessageAttributes["k"].StringValue != "v" || one.Attributes["SentTimestamp"] == "" {
			t.Errorf("round %d: message not whole: %+v", round, one)
		}
		if rc := one.Attributes["ApproximateReceiveCount"]; rc != strconv.Itoa(round) {
			t.Errorf("round %d: ApproximateReceiveCount %q", round, rc)
		}
		if _, err := q.ReleaseMessages(ctxT(t), toHandles(got)...); err != nil {
			t.Fatalf("release: %v", err)
		}
	}
}
