package dynamodbqueue

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamodbqueue/dynamodbqueue/internal/keys"
	"github.com/dynamodbqueue/dynamodbqueue/internal/store"
)

// maxMessageIDLen bounds the message IDs accepted for a lookup (the queue's are 36-character
// UUIDs; SQS allows up to 100 characters).
const maxMessageIDLen = 100

// GetMessage returns the message with this ID, with its whole body, from this (queue, client)
// or, with UseDeadLetterQueue, its dead-letter queue. ErrMessageNotFound if there is none.
//
// How it is found, and what it costs: message IDs are random, and the table has no index on
// them, so the lookup queries every shard of the pair (and then the dead-letter pair) with a
// filter on the ID: it reads the pair's message items, about one read unit per 8 KB of them,
// like Count. That suits an operator looking at one message; a caller that has a
// MessageInfo from ListMessages already holds everything it would return.
func (ins *Inspector) GetMessage(ctx context.Context, messageID string) (MessageInfo, error) {
	s, r, dead, err := ins.find(ctx, messageID)
	if err != nil {
		return MessageInfo{}, err
	}
	event := r.Event
	if r.Chunks > 0 {
		found, err := ins.q.batchGet(ctx, s.table, chunkKeys(r))
		if err != nil {
			return MessageInfo{}, err
		}
		if event, err = store.Assemble(r, found); err != nil {
			return MessageInfo{}, err
		}
	}
	st, at, err := ins.state(ctx, s, r, dead)
	if err != nil {
		return MessageInfo{}, err
	}
	return ins.q.info(r, event, st, at)
}

// state classifies a record read by find; dead is set for one of the dead-letter pair.
func (ins *Inspector) state(ctx context.Context, s *settings, r record, dead bool) (MessageState, time.Time, error) {
	var lock *record
	if r.Group != "" {
		item, err := ins.q.getItem(ctx, s.table, key(r.PK, keys.GroupSK(r.Group)))
		if err != nil {
			return 0, time.Time{}, err
		}
		if item != nil {
			g := decodeRecord(item)
			lock = &g
		}
	}
	st, at := classify(&r, lock, ins.q.core.now())
	if dead && st != StateInFlight { // held by a consumer of the dead-letter queue or a redrive
		st = StateDeadLettered
	}
	return st, at, nil
}

// find returns the live message with the ID, the settings of the pair it is in, and whether
// that is the dead-letter pair.
func (ins *Inspector) find(ctx context.Context, messageID string) (*settings, record, bool, error) {
	q := ins.q
	s := q.resolved(ctx)
	if err := s.checkQueue(); err != nil {
		return nil, record{}, false, err
	}
	if messageID == "" || len(messageID) > maxMessageIDLen {
		return nil, record{}, false, argError("messageID", "message ID %q, must be 1..%d characters", messageID, maxMessageIDLen)
	}
	q.syncClock(ctx, s)
	pairs := []*settings{s}
	if s.dlq != nil {
		pairs = append(pairs, s.deadLetterSettings())
	}
	for i, ps := range pairs {
		for shard := 0; shard < ps.shards; shard++ {
			r, ok, err := q.findInShard(ctx, ps, shard, messageID)
			if err != nil || ok {
				return ps, r, i == 1, err
			}
		}
	}
	return nil, record{}, false, fmt.Errorf("%w: %q in queue %s, client %s", ErrMessageNotFound, messageID, s.queue, s.client)
}

// findInShard queries one shard's messages (g#... and m#..., adjacent in sort order) for the ID.
func (q *DynamoDBQueue) findInShard(ctx context.Context, s *settings, shard int, id string) (record, bool, error) {
	now := q.core.now()
	var found record
	ok := false
	err := q.store(s.table).EachRecord(ctx, "Query (message ID)", &dynamodb.QueryInput{
		KeyConditionExpression:   aws.String("PK = :pk AND SK BETWEEN :first AND :last"),
		FilterExpression:         aws.String("#mid = :id"),
		ExpressionAttributeNames: map[string]string{"#mid": attrID},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": avS(s.pk(shard)), ":first": avS(keys.GroupMsgPrefix), ":last": avS("m$"), ":id": avS(id),
		},
	}, func(r record) bool {
		if !r.Expired(now) {
			found, ok = r, true
		}
		return !ok
	})
	return found, ok, err
}

// deleteAttempts bounds how often DeleteMessage re-reads a message that changed under it
// without being claimed (released, redriven...) before it gives up.
const deleteAttempts = 3

// DeleteMessage deletes the message with this ID (found as GetMessage finds it, at the same
// cost) and its body chunks. A message a consumer holds is not deleted: ErrMessageInFlight.
//
// The delete is conditional on the message being exactly as it was read (its claim token, and
// outside groups its visibility), so a consumer that claims it in between keeps it: the delete
// fails its condition, the message is read again and reported in flight. A message that is
// gone after a failed condition was deleted by this call's own earlier attempt (an SDK retry),
// by its holder, by another delete or by a purge: either way it is gone, which is what the
// caller asked for, so that is success. A message not found at the start is
// ErrMessageNotFound.
func (ins *Inspector) DeleteMessage(ctx context.Context, messageID string) error {
	s, r, dead, err := ins.find(ctx, messageID)
	if err != nil {
		return err
	}
	for range deleteAttempts {
		st, _, err := ins.state(ctx, s, r, dead)
		if err != nil {
			return err
		}
		if st == StateInFlight {
			return fmt.Errorf("%w: %q", ErrMessageInFlight, messageID)
		}
		err = ins.deleteAsRead(ctx, s, r)
		if err == nil || !isConditionFailed(err) {
			return err
		}
		item, err := ins.q.getItem(ctx, s.table, key(r.PK, r.SK))
		if err != nil {
			return err
		}
		if item == nil {
			return nil
		}
		r = decodeRecord(item)
	}
	return fmt.Errorf("dynamodbqueue: message %q changed %d times while being deleted; nothing was deleted", messageID, deleteAttempts)
}

// deleteAsRead deletes a message item if it is still as read, then its body chunks.
func (ins *Inspector) deleteAsRead(ctx context.Context, s *settings, r record) error {
	cond := "#mid = :id AND attribute_not_exists(tok)"
	values := map[string]types.AttributeValue{":id": avS(r.ID)}
	if r.Token != "" {
		cond = "#mid = :id AND tok = :tok"
		values[":tok"] = avS(r.Token)
	}
	if r.Vis != "" {
		cond += " AND vis = :vis"
		values[":vis"] = avS(r.Vis)
	}
	_, err := ins.q.core.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(r.PK, r.SK),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  map[string]string{"#mid": attrID},
		ExpressionAttributeValues: values,
	})
	if err != nil {
		if isConditionFailed(err) {
			return err
		}
		return wrapAPI("DeleteItem (by message ID)", s.table, err)
	}
	ins.q.markDedupConsumed(ctx, s, r.Dedup, r.SK) // a later push of its ID must not bring it back
	if r.Chunks > 0 {
		if _, err := ins.q.batchWrite(ctx, s.table, ins.q.deleteRequests(r)[1:]); err != nil {
			// The message is gone; orphaned chunks expire with their TTL.
			s.logger.DebugContext(ctx, "dynamodbqueue: could not delete body chunks", "error", err)
		}
	}
	return nil
}
