package dynamodbqueue

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamodbqueue/dynamodbqueue/internal/keys"
)

// DeleteQueue deletes queue: the messages of every client (all states, with their groups,
// deduplication records and large bodies), the clients' registry entries and overrides, the
// definition and its list entry. It works in pages and is resumable: it first marks the
// definition as being deleted (from then on the queue counts as undefined, and CreateQueue
// refuses it), and every later step is idempotent, so when it stops half-way (a crash, an
// error, ctx) running it again finishes the job. Links of other queues that redrive to this one
// stay, so ListDeadLetterSourceQueues still finds them if the queue is created again.
//
// Finding the messages scans the whole table (every client of the queue, including tenants
// whose pushes were not registered). Stop producers first: messages pushed while it runs may
// survive. A queue with neither a definition nor a half-done deletion fails with
// ErrQueueDoesNotExist and nothing is deleted.
func (c *Client) DeleteQueue(ctx context.Context, queue string) error {
	q, err := c.defOps(queue)
	if err != nil {
		return err
	}
	defKey := key(defPK(queue), defSK)
	item, err := q.getItem(ctx, c.table, defKey)
	if err != nil {
		return err
	}
	var d QueueDefinition
	if item != nil {
		d = decodeDefinition(item)
		if err := q.markDeleting(ctx, queue); err != nil {
			return err
		}
	} else if listed, err := q.getItem(ctx, c.table, key(defListPK, queue)); err != nil {
		return err
	} else if listed == nil {
		return fmt.Errorf("%w: %q in table %q", ErrQueueDoesNotExist, queue, c.table)
	}
	q.core.defs.invalidate(c.table, queue)
	if err := q.deleteQueueItems(ctx, queue); err != nil {
		return err
	}
	if rp := d.RedrivePolicy; rp != nil {
		q.dropSourceLink(ctx, rp.DeadLetterQueue, queue, d.Version+1)
	}
	reqs := []types.WriteRequest{deleteReq(defPK(queue), defSK), deleteReq(defListPK, queue)}
	if _, err := q.batchWrite(ctx, c.table, reqs[:1]); err != nil {
		return err
	}
	// The list entry goes last: while it exists, DeleteQueue can be run again to finish.
	if _, err := q.batchWrite(ctx, c.table, reqs[1:]); err != nil {
		return err
	}
	q.core.defs.invalidate(c.table, queue)
	return nil
}

// markDeleting flags the definition as being deleted (idempotent).
func (q *DynamoDBQueue) markDeleting(ctx context.Context, queue string) error {
	table := q.snapshot().table
	_, err := q.core.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(table),
		Key:                       key(defPK(queue), defSK),
		UpdateExpression:          aws.String("SET dstate = :d"),
		ConditionExpression:       aws.String("attribute_exists(PK)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":d": avS(defDeleting)},
	})
	if err != nil && !isConditionFailed(err) { // gone meanwhile: another run finished it
		return wrapAPI("UpdateItem (queue definition)", table, err)
	}
	return nil
}

// deleteQueueItems deletes, page by page, every item of every client of queue, the registry
// entries of its pairs, and its client overrides.
func (q *DynamoDBQueue) deleteQueueItems(ctx context.Context, queue string) error {
	table := q.snapshot().table
	prefix := queue + "|" // the start of every partition key of the queue's pairs (keys.PairPrefix)
	scan := dynamodb.NewScanPaginator(q.core.api, &dynamodb.ScanInput{
		TableName:                 aws.String(table),
		ProjectionExpression:      aws.String("PK, SK"),
		FilterExpression:          aws.String("begins_with(PK, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": avS(prefix)},
		ConsistentRead:            aws.Bool(true),
	})
	for scan.HasMorePages() {
		page, err := scan.NextPage(ctx)
		if err != nil {
			return wrapAPI("Scan (delete queue)", table, err)
		}
		if err := q.deleteItems(ctx, page.Items); err != nil {
			return err
		}
	}
	for _, part := range []struct{ pk, prefix string }{
		{keys.RegistryPK, prefix},   // the registry entries of the queue's pairs
		{defPK(queue), defClientSK}, // the clients' overrides
	} {
		p := dynamodb.NewQueryPaginator(q.core.api, &dynamodb.QueryInput{
			TableName:                 aws.String(table),
			KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :p)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": avS(part.pk), ":p": avS(part.prefix)},
			ProjectionExpression:      aws.String("PK, SK"),
			ConsistentRead:            aws.Bool(true),
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return wrapAPI("Query (delete queue)", table, err)
			}
			if err := q.deleteItems(ctx, page.Items); err != nil {
				return err
			}
		}
	}
	return nil
}

// deleteItems batch-deletes items by their keys.
func (q *DynamoDBQueue) deleteItems(ctx context.Context, items []map[string]types.AttributeValue) error {
	reqs := make([]types.WriteRequest, 0, len(items))
	for _, it := range items {
		reqs = append(reqs, deleteReq(str(it[attrPK]), str(it[attrSK])))
	}
	_, err := q.batchWrite(ctx, q.snapshot().table, reqs)
	return err
}
