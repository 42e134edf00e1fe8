package dynamodbqueue

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamodbqueue/dynamodbqueue/internal/keys"
)

// MaxListQueues is the most definitions one ListQueues page returns.
const MaxListQueues = 1000

// ListQueuesOptions select a page of ListQueues.
type ListQueuesOptions struct {
	// Prefix keeps only queues whose name starts with it.
	Prefix string
	// Limit is the most queues per page (1..MaxListQueues; 0 means 100).
	Limit int
	// Cursor continues after the page that returned it; "" starts at the first queue.
	Cursor string
}

// QueuePage is one page of ListQueues.
type QueuePage struct {
	// Queues are the definitions of the page, in name order.
	Queues []QueueDefinition
	// Cursor is where the next page starts; "" when this was the last page.
	Cursor string
}

// ListQueues returns the defined queues of the client's table in name order, a page at a time.
// A page may hold fewer than Limit queues while a cursor says more may follow (an entry whose
// definition is gone or half-created is skipped).
func (c *Client) ListQueues(ctx context.Context, opts ListQueuesOptions) (QueuePage, error) {
	q, err := c.tableOps()
	if err != nil {
		return QueuePage{}, err
	}
	limit := opts.Limit
	if limit == 0 {
		limit = 100
	}
	if limit < 1 || limit > MaxListQueues {
		return QueuePage{}, argError("Limit", "limit %d, must be 1..%d", opts.Limit, MaxListQueues)
	}
	if opts.Prefix != "" {
		if bad := keys.FirstInvalid(opts.Prefix, keys.NameChar); bad != "" {
			return QueuePage{}, fmt.Errorf("%w: prefix %q has %s", ErrInvalidName, opts.Prefix, bad)
		}
	}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(c.table),
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": avS(defListPK)},
		Limit:                     aws.Int32(int32(limit)),
		ConsistentRead:            aws.Bool(true),
	}
	if opts.Prefix != "" { // an empty string is not a valid key condition value
		in.KeyConditionExpression = aws.String("PK = :pk AND begins_with(SK, :prefix)")
		in.ExpressionAttributeValues[":prefix"] = avS(opts.Prefix)
	}
	if opts.Cursor != "" {
		after, err := base64.RawURLEncoding.DecodeString(opts.Cursor)
		if err != nil || !strings.HasPrefix(string(after), opts.Prefix) || keys.ValidateName("cursor", string(after)) != nil {
			return QueuePage{}, argError("Cursor", "%w: %q is not a cursor of this listing", ErrInvalidCursor, opts.Cursor)
		}
		in.ExclusiveStartKey = key(defListPK, string(after))
	}
	out, err := q.core.api.Query(ctx, in)
	if err != nil {
		return QueuePage{}, wrapAPI("Query (queue list)", c.table, err)
	}
	names := make([]string, 0, len(out.Items))
	for _, item := range out.Items {
		names = append(names, str(item[attrSK]))
	}
	defs, err := q.readDefinitions(ctx, names)
	if err != nil {
		return QueuePage{}, err
	}
	var page QueuePage
	for _, n := range names {
		if d, ok := defs[n]; ok {
			page.Queues = append(page.Queues, d)
		}
	}
	if out.LastEvaluatedKey != nil && len(names) > 0 {
		page.Cursor = base64.RawURLEncoding.EncodeToString([]byte(names[len(names)-1]))
	}
	return page, nil
}

// readDefinitions reads the definitions of the named queues (strongly consistent); queues
// without one, or being deleted, are absent from the result.
func (q *DynamoDBQueue) readDefinitions(ctx context.Context, names []string) (map[string]QueueDefinition, error) {
	keyList := make([]map[string]types.AttributeValue, len(names))
	for i, n := range names {
		keyList[i] = key(defPK(n), defSK)
	}
	found := map[string]map[string]types.AttributeValue{}
	if err := q.store(q.snapshot().table).BatchGetInto(ctx, keyList, true, found); err != nil {
		return nil, err
	}
	defs := make(map[string]QueueDefinition, len(found))
	for _, item := range found {
		if str(item[attrDefState]) != defDeleting {
			d := decodeDefinition(item)
			defs[d.Name] = d
		}
	}
	return defs, nil
}

// ListDeadLetterSourceQueues returns the names of the queues whose redrive policy names dlq as
// their dead-letter queue, in name order. It reads the reverse links kept under dlq's
// definition partition and checks each against the source's current definition, so a link
// left by an interrupted write is never reported.
func (c *Client) ListDeadLetterSourceQueues(ctx context.Context, dlq string) ([]string, error) {
	q, err := c.defOps(dlq)
	if err != nil {
		return nil, err
	}
	p := dynamodb.NewQueryPaginator(q.core.api, &dynamodb.QueryInput{
		TableName:                 aws.String(c.table),
		KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :src)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": avS(defPK(dlq)), ":src": avS(defSourceSK)},
		ConsistentRead:            aws.Bool(true),
	})
	var names []string
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, wrapAPI("Query (dead-letter sources)", c.table, err)
		}
		for _, item := range page.Items {
			names = append(names, strings.TrimPrefix(str(item[attrSK]), defSourceSK))
		}
	}
	defs, err := q.readDefinitions(ctx, names)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range names {
		if d, ok := defs[n]; ok && d.RedrivePolicy != nil && d.RedrivePolicy.DeadLetterQueue == dlq {
			out = append(out, n)
		}
	}
	return out, nil
}
