package dynamodbqueue

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamodbqueue/dynamodbqueue/internal/handle"
	"github.com/dynamodbqueue/dynamodbqueue/internal/keys"
)

// maxUpdateAttempts bounds the read-modify-write rounds of a last-writer-wins UpdateQueue that
// keeps losing to concurrent writers.
const maxUpdateAttempts = 10

// defOps is tableOps that also checks the queue name.
func (c *Client) defOps(queue string) (*DynamoDBQueue, error) {
	q, err := c.tableOps()
	if err != nil {
		return nil, err
	}
	if queue == "" {
		return nil, ErrQueueNameNotSet
	}
	if err := keys.ValidateName("queue name", queue); err != nil {
		return nil, err
	}
	return q, nil
}

// tableOps returns an internal handle for the client's table, after checking the table.
func (c *Client) tableOps() (*DynamoDBQueue, error) {
	if c.table == "" {
		return nil, ErrTableNotSet
	}
	if err := validateTableName(c.table); err != nil {
		return nil, err
	}
	return c.handle(), nil
}

// defWrite checks what a definition write needs (table, name, attributes with their defaults
// filled in) and learns DynamoDB's time, which the definition's timestamps use.
func (c *Client) defWrite(ctx context.Context, queue string, attrs QueueAttributes) (*DynamoDBQueue, QueueAttributes, error) {
	q, err := c.defOps(queue)
	if err != nil {
		return nil, QueueAttributes{}, err
	}
	a := attrs.withDefaults()
	if err := a.validate(queue); err != nil {
		return nil, QueueAttributes{}, err
	}
	q.syncClock(ctx, q.snapshot())
	return q, a, nil
}

// CreateQueue stores the definition of queue with attrs (zero fields: see QueueAttributes) and
// returns it. It is idempotent: when the queue already exists with the same attributes it
// returns the stored definition; with other attributes it fails with a
// *QueueAttributesMismatchError naming each difference (errors.Is ErrQueueAttributesMismatch)
// and changes nothing. Invalid attributes fail with ErrInvalidArgument before any request.
func (c *Client) CreateQueue(ctx context.Context, queue string, attrs QueueAttributes) (QueueDefinition, error) {
	q, a, err := c.defWrite(ctx, queue, attrs)
	if err != nil {
		return QueueDefinition{}, err
	}
	now := q.core.now().UTC().Truncate(time.Millisecond)
	d := QueueDefinition{Name: queue, QueueAttributes: a, MaxShards: a.Shards, Created: now, Modified: now, Version: 1}
	// The list entry and the reverse link go first: a crash before the definition leaves
	// entries that ListQueues and ListDeadLetterSourceQueues verify against the definition.
	if err := q.putListEntry(ctx, queue); err != nil {
		return QueueDefinition{}, err
	}
	if err := q.putSourceLink(ctx, d); err != nil {
		return QueueDefinition{}, err
	}
	tok := handle.NewToken()
	_, err = q.core.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(c.table),
		Item:                encodeDefinition(d, tok),
		ConditionExpression: aws.String("attribute_not_exists(PK)"),
	})
	if err == nil {
		q.core.defs.invalidate(c.table, queue)
		return d, nil
	}
	if !isConditionFailed(err) {
		return QueueDefinition{}, wrapAPI("PutItem (queue definition)", c.table, err)
	}
	item, err := q.getItem(ctx, c.table, key(defPK(queue), defSK))
	if err != nil {
		return QueueDefinition{}, err
	}
	switch {
	case item == nil:
		return QueueDefinition{}, fmt.Errorf("%w: %q was deleted while it was being created; create it again", ErrVersionConflict, queue)
	case str(item[attrDefWriter]) == tok: // our own write, applied by an earlier attempt
		q.core.defs.invalidate(c.table, queue)
		return d, nil
	case str(item[attrDefState]) == defDeleting:
		return QueueDefinition{}, fmt.Errorf("%w: %q is being deleted; run DeleteQueue again to finish, then create it", ErrVersionConflict, queue)
	}
	stored := decodeDefinition(item)
	if diff := stored.QueueAttributes.differences(a); len(diff) > 0 {
		return QueueDefinition{}, &QueueAttributesMismatchError{Queue: queue, Fields: diff}
	}
	return stored, nil
}

// GetQueue returns the stored definition of queue, or an error wrapping ErrQueueDoesNotExist.
// It reads DynamoDB (strongly consistent), not the cache.
func (c *Client) GetQueue(ctx context.Context, queue string) (QueueDefinition, error) {
	q, err := c.defOps(queue)
	if err != nil {
		return QueueDefinition{}, err
	}
	d, _, err := q.readQueue(ctx, queue)
	return d, err
}

// readQueue reads a definition and its write token.
func (q *DynamoDBQueue) readQueue(ctx context.Context, queue string) (QueueDefinition, string, error) {
	table := q.snapshot().table
	item, err := q.getItem(ctx, table, key(defPK(queue), defSK))
	if err != nil {
		return QueueDefinition{}, "", err
	}
	if item == nil || str(item[attrDefState]) == defDeleting {
		return QueueDefinition{}, "", fmt.Errorf("%w: %q in table %q", ErrQueueDoesNotExist, queue, table)
	}
	return decodeDefinition(item), str(item[attrDefWriter]), nil
}

// UpdateQueue replaces the attributes of queue's definition with attrs (zero fields: see
// QueueAttributes) and returns the new definition; to change one field, GetQueue, change it,
// and pass the version read. With ifVersion > 0 the write is conditional on the stored version
// being ifVersion, else it fails with a *VersionConflictError (errors.Is ErrVersionConflict)
// and changes nothing. With ifVersion 0 the last writer wins: the update applies on top of
// whatever version it reads, retrying when a concurrent write lands between its read and its
// write. Every process sees the change within its Options.DefinitionStaleness (this client
// at once). Lowering Shards never strands messages: MaxShards keeps the highest count, and
// consumers keep draining the shards above the new one.
func (c *Client) UpdateQueue(ctx context.Context, queue string, attrs QueueAttributes, ifVersion int64) (QueueDefinition, error) {
	if ifVersion < 0 {
		return QueueDefinition{}, argError("ifVersion", "version %d, must be 0 (last writer wins) or a stored version", ifVersion)
	}
	q, a, err := c.defWrite(ctx, queue, attrs)
	if err != nil {
		return QueueDefinition{}, err
	}
	for attempt := 1; ; attempt++ {
		cur, _, err := q.readQueue(ctx, queue)
		if err != nil {
			return QueueDefinition{}, err
		}
		if ifVersion != 0 && cur.Version != ifVersion {
			return QueueDefinition{}, &VersionConflictError{Queue: queue, Expected: ifVersion, Actual: cur.Version}
		}
		next := cur
		next.QueueAttributes = a
		next.MaxShards = max(cur.MaxShards, cur.Shards, a.Shards)
		next.Modified = q.core.now().UTC().Truncate(time.Millisecond)
		if next.Modified.Before(cur.Modified) {
			next.Modified = cur.Modified // a clock behind the last writer's never goes back
		}
		next.Version = cur.Version + 1
		won, err := q.writeDefinition(ctx, next, cur.Version)
		if err != nil {
			return QueueDefinition{}, err
		}
		if won {
			q.core.defs.invalidate(c.table, queue)
			if old := cur.RedrivePolicy; old != nil && (a.RedrivePolicy == nil || a.RedrivePolicy.DeadLetterQueue != old.DeadLetterQueue) {
				q.dropSourceLink(ctx, old.DeadLetterQueue, queue, next.Version)
			}
			return next, nil
		}
		if ifVersion != 0 || attempt == maxUpdateAttempts {
			actual, _, _ := q.readQueue(ctx, queue)
			return QueueDefinition{}, &VersionConflictError{Queue: queue, Expected: cur.Version, Actual: actual.Version}
		}
	}
}

// writeDefinition writes d over the stored version prev. It reports false when another write
// got there first; a retry of a write DynamoDB already applied is recognised by its token.
func (q *DynamoDBQueue) writeDefinition(ctx context.Context, d QueueDefinition, prev int64) (bool, error) {
	if err := q.putSourceLink(ctx, d); err != nil {
		return false, err
	}
	table := q.snapshot().table
	tok := handle.NewToken()
	_, err := q.core.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(table),
		Item:                      encodeDefinition(d, tok),
		ConditionExpression:       aws.String("ver = :prev AND attribute_not_exists(dstate)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":prev": avN(prev)},
	})
	if err == nil {
		return true, nil
	}
	if !isConditionFailed(err) {
		return false, wrapAPI("PutItem (queue definition)", table, err)
	}
	item, err := q.getItem(ctx, table, key(defPK(d.Name), defSK))
	if err != nil {
		return false, err
	}
	return item != nil && str(item[attrDefWriter]) == tok, nil
}

// putListEntry writes the entry ListQueues reads (idempotent).
func (q *DynamoDBQueue) putListEntry(ctx context.Context, queue string) error {
	table := q.snapshot().table
	item := key(defListPK, queue)
	item[attrDefName] = avS(queue)
	if _, err := q.core.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		return wrapAPI("PutItem (queue list)", table, err)
	}
	return nil
}

// putSourceLink records under the dead-letter queue's definition partition that d redrives to
// it, before d is written. The link carries d's version and never goes back to an older one, so
// dropSourceLink (conditional on an older version) cannot remove a link a newer write needs.
func (q *DynamoDBQueue) putSourceLink(ctx context.Context, d QueueDefinition) error {
	if d.RedrivePolicy == nil {
		return nil
	}
	table := q.snapshot().table
	item := key(defPK(d.RedrivePolicy.DeadLetterQueue), defSourceSK+d.Name)
	item[attrDefName] = avS(d.Name)
	item[attrDefVer] = avN(d.Version)
	_, err := q.core.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(table),
		Item:                      item,
		ConditionExpression:       aws.String("attribute_not_exists(PK) OR ver <= :v"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": avN(d.Version)},
	})
	if err != nil && !isConditionFailed(err) { // failed condition: a newer write keeps the link
		return wrapAPI("PutItem (dead-letter source link)", table, err)
	}
	return nil
}

// dropSourceLink deletes source's link under dlq once version no longer redrives there, unless
// a newer write put it back. Best effort: ListDeadLetterSourceQueues verifies every link
// against the source's definition, so a link left behind is never reported.
func (q *DynamoDBQueue) dropSourceLink(ctx context.Context, dlq, source string, version int64) {
	s := q.snapshot()
	_, err := q.core.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(defPK(dlq), defSourceSK+source),
		ConditionExpression:       aws.String("ver < :v"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": avN(version)},
	})
	if err != nil && !isConditionFailed(err) {
		s.logger.DebugContext(ctx, "dynamodbqueue: could not drop a dead-letter source link", "dlq", dlq, "source", source, "error", err)
	}
}

// SetClientOverride stores clientID's own values for the settings that may differ per client
// of queue (see ClientOverride); nil removes them. The last writer wins. Every process sees the
// change within its Options.DefinitionStaleness (this client at once). The queue must exist.
func (c *Client) SetClientOverride(ctx context.Context, queue, clientID string, o *ClientOverride) error {
	q, err := c.defOps(queue)
	if err != nil {
		return err
	}
	if err := validatePair(queue, clientID); err != nil {
		return err
	}
	if o != nil {
		if err := o.validate(); err != nil {
			return err
		}
	}
	if _, _, err := q.readQueue(ctx, queue); err != nil {
		return err
	}
	defer q.core.defs.invalidate(c.table, queue)
	if o == nil {
		_, err = q.core.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(c.table), Key: key(defPK(queue), defClientSK+clientID)})
		return wrapAPI("DeleteItem (client override)", c.table, err)
	}
	_, err = q.core.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(c.table), Item: encodeOverride(queue, clientID, *o)})
	return wrapAPI("PutItem (client override)", c.table, err)
}

// ClientOverride returns clientID's override of queue, or nil when it has none.
func (c *Client) ClientOverride(ctx context.Context, queue, clientID string) (*ClientOverride, error) {
	q, err := c.defOps(queue)
	if err != nil {
		return nil, err
	}
	if err := validatePair(queue, clientID); err != nil {
		return nil, err
	}
	item, err := q.getItem(ctx, c.table, key(defPK(queue), defClientSK+clientID))
	if err != nil || item == nil {
		return nil, err
	}
	o := decodeOverride(item)
	return &o, nil
}
