package dynamodbqueue

import (
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dynamodbqueue/dynamodbqueue/internal/keys"
	"github.com/dynamodbqueue/dynamodbqueue/internal/message"
)

// ReceiptHandleOwner returns the table and the (queue, client) pair a receipt handle belongs
// to, after checking its integrity with the client's signing key. A protocol server uses it to
// tell a handle of another tenant (refused as such) from one of another queue of the same
// tenant, before any request is sent. Errors wrap ErrInvalidReceiptHandle.
func (c *Client) ReceiptHandleOwner(receiptHandle string) (table string, pair QueueAndClientID, err error) {
	h, err := c.core.base.signer.Parse(receiptHandle)
	if err != nil {
		return "", QueueAndClientID{}, err
	}
	queue, client, _, ok := keys.SplitPartitionKey(h.PK)
	if !ok {
		return "", QueueAndClientID{}, fmt.Errorf("%w: it names no message partition", ErrInvalidReceiptHandle)
	}
	return h.Table, QueueAndClientID{QueueName: queue, ClientID: client}, nil
}

// MD5OfMessageAttributes returns SQS's digest of message attributes (hex MD5 over the
// attributes sorted by name, each as name, data type, transport type and value, with lengths),
// or "" for none. A server returning a subset of a message's attributes computes it for that
// subset, as SQS does, so that clients verifying it accept the response.
func MD5OfMessageAttributes(attrs map[string]events.SQSMessageAttribute) string {
	return message.MD5OfAttributes(attrs)
}
