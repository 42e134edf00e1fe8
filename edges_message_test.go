package dynamodbqueue_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// TestNumberAttributeRejectsNaNAndInf is issue 9, bug 13: Number attributes NaN, Inf and -Inf
// were accepted, which SQS rejects. A push of one fails with ErrInvalidMessage naming the
// attribute, and stores nothing.
func TestNumberAttributeRejectsNaNAndInf(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	q := newQueue(t, "numbers", "c")
	for _, v := range []string{"NaN", "Inf", "-Inf", "+Inf", "infinity", "nan", "0x1p3", "1_000", "1e400"} {
		msg := events.SQSMessage{Body: "b", MessageAttributes: map[string]events.SQSMessageAttribute{
			"price": {DataType: "Number", StringValue: aws.String(v)},
		}}
		if err := dynamodbqueue.ValidateMessage(msg); !errors.Is(err, dynamodbqueue.ErrInvalidMessage) || !strings.Contains(err.Error(), `"price"`) {
			t.Errorf("ValidateMessage with Number %q: %v; want ErrInvalidMessage naming \"price\"", v, err)
		}
		failed, err := q.PushMessages(ctx, 0, msg)
		if len(failed) != 1 || !errors.Is(err, dynamodbqueue.ErrInvalidMessage) {
			t.Errorf("push with Number %q: %d failed, %v; want it refused with ErrInvalidMessage", v, len(failed), err)
		}
	}
	for _, v := range []string{"0", "-12", "+3.5", ".5", "5.", "1e10", "-2.5E-3", "00012"} {
		msg := events.SQSMessage{Body: "b", MessageAttributes: map[string]events.SQSMessageAttribute{
			"price": {DataType: "Number.custom", StringValue: aws.String(v)},
		}}
		if err := dynamodbqueue.ValidateMessage(msg); err != nil {
			t.Errorf("ValidateMessage with Number %q: %v; want it accepted", v, err)
		}
	}
	if n, err := q.Count(ctx); err != nil || n != 0 {
		t.Fatalf("Count = %d, %v after refused pushes; want 0", n, err)
	}
}
