package dynamodbqueue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamodbqueue/dynamodbqueue/internal/handle"
	"github.com/dynamodbqueue/dynamodbqueue/internal/keys"
)

// Deduplication.
//
// A push with a deduplication ID first claims the ID: a conditional put of a record
// d#<hash(id)> on the pair's home shard (so the scope is the pair, whatever the shard count or
// the group), in state pending, holding a copy of the message item. Then it writes the message
// item (its large body's chunks were written before the record), offers its group, and marks the
// record done. No step is a transaction, so:
//
//   - A push of the ID that finds the record done is a repeat: accepted, reporting the
//     original's MessageId, not stored.
//   - One that finds it pending cannot tell a dead first writer from a slow one, so it completes
//     the first writer's write from the copy: same key, body, MessageId, group and TTL. Both
//     writers then write the same item (create-if-absent), whichever comes first, so a crash
//     between the steps never loses a message whose push may have been reported stored, and the
//     message delivered is always the one reported as the original.
//   - The record is marked done only while it is still this message's record: a purge in
//     between deletes it for good instead of having it recreated without a window end.
//   - A push whose step fails after the claim repeats the completion once (each step
//     recognises its own earlier success), so a lost response does not leave a grouped message
//     stored but not offered. If it fails again, the record stays pending and the next push of
//     the ID completes the write.
//
// One window remains: a first writer stalled between its record and its message write for
// longer than another push takes to complete that write and a consumer takes to receive and
// delete the message writes it a second time.

// maxDedupClaims bounds the attempts to claim an ID whose record disappears (a purge) between
// the failed put and the read that follows it.
const maxDedupClaims = 3

// writeDeduplicated stores one message with a deduplication ID, or recognises it as a repeat
// (o.duplicate, o.msg.MessageId set to the original's).
func (q *DynamoDBQueue) writeDeduplicated(ctx context.Context, s *settings, o *outgoing, now time.Time) error {
	if len(o.chunks) > 0 {
		if _, err := q.batchWrite(ctx, s.table, o.chunks); err != nil {
			return err
		}
	}
	dk := dedupKey(s, o.dedupID)
	tok := handle.NewToken()
	cur, err := q.claimDedupID(ctx, s, dk, o, tok, now)
	if err != nil {
		return err
	}
	if cur != nil && str(cur[attrToken]) != tok { // not our own earlier success: a repeat
		q.dropChunks(ctx, s, o)
		o.duplicate = true
		o.msg.MessageId = str(cur[attrID])
		if str(cur[attrDedupState]) != dedupPending { // done, or its message consumed
			return nil
		}
		if err := o.adopt(cur); err != nil {
			return err
		}
	}
	// Only the first completion of a push's own item cannot find its message consumed: the
	// message did not exist before it.
	err = q.completeDeduplicated(ctx, s, o, dk, o.duplicate)
	if err != nil && ctx.Err() == nil {
		// Once the ID is claimed, only this push (or a later push of the ID) finishes the
		// write, and a grouped message stored but not yet offered would be stranded until
		// then. Every step recognises its own earlier success, so the whole completion is
		// repeated once, as an SDK retry would repeat the failed request.
		err = q.completeDeduplicated(ctx, s, o, dk, true)
	}
	return err
}

// completeDeduplicated writes the message item of a claimed ID (create-if-absent, so an applied
// earlier attempt or the other writer's copy counts as written), offers its group, and marks
// the record done. A failure leaves the record pending, with the message copy a later push of
// the ID completes the write from. With mayBeConsumed (a repeated or adopted completion), a put
// that created the item checks that the message was not consumed in the meantime.
func (q *DynamoDBQueue) completeDeduplicated(ctx context.Context, s *settings, o *outgoing, dk map[string]types.AttributeValue, mayBeConsumed bool) error {
	_, err := q.core.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(s.table),
		Item:                o.item,
		ConditionExpression: aws.String("attribute_not_exists(PK)"),
	})
	if err != nil && !isConditionFailed(err) { // exists: stored by us (SDK retry) or the other writer
		return wrapAPI("PutItem (message)", s.table, err)
	}
	if err == nil && mayBeConsumed {
		if consumed, err := q.takeBackConsumed(ctx, s, o, dk); consumed || err != nil {
			return err
		}
	}
	if o.group != "" {
		if err := q.touchGroup(ctx, s, o.pk, o.group, o.groupVis, o.ttl); err != nil {
			return err
		}
	}
	_, err = q.core.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       dk,
		ConditionExpression:       aws.String("msk = :msk"),
		UpdateExpression:          aws.String("SET #st = :done"),
		ExpressionAttributeNames:  map[string]string{"#st": attrDedupState},
		ExpressionAttributeValues: map[string]types.AttributeValue{":done": avS("done"), ":msk": avS(o.sk)},
	})
	if isConditionFailed(err) {
		return nil // purged meanwhile: the message is stored, the ID no longer remembered
	}
	return wrapAPI("UpdateItem (dedup)", s.table, err)
}

// dedupPending and dedupConsumed are states of a deduplication record besides "done".
const (
	dedupPending  = "pending"
	dedupConsumed = "consumed"
)

// dedupKey is the key of the deduplication record of dedupID in the pair of s: on the home
// shard, so the scope is the pair whatever the shard count or group.
func dedupKey(s *settings, dedupID string) map[string]types.AttributeValue {
	sum := sha256.Sum256([]byte(dedupID))
	return key(s.pk(keys.HomeShard), keys.DedupSK(hex.EncodeToString(sum[:16])))
}

// takeBackConsumed reads the record of a message whose put just created it again: if the
// message was consumed since its first write (deleted or dead-lettered, which marks a pending
// record consumed), it deletes the new copy, unless a consumer has claimed it already, and
// reports consumed.
func (q *DynamoDBQueue) takeBackConsumed(ctx context.Context, s *settings, o *outgoing, dk map[string]types.AttributeValue) (consumed bool, err error) {
	rec, err := q.getItem(ctx, s.table, dk)
	if err != nil || rec == nil || str(rec[attrDedupState]) != dedupConsumed || str(rec[attrDedupMsgSK]) != o.sk {
		return false, err
	}
	_, err = q.core.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:           aws.String(s.table),
		Key:                 key(o.pk, o.sk),
		ConditionExpression: aws.String("attribute_not_exists(tok)"),
	})
	if err != nil && !isConditionFailed(err) { // claimed already: delivered twice, at least once
		return true, wrapAPI("DeleteItem (consumed duplicate)", s.table, err)
	}
	return true, nil
}

// markDedupConsumed records that the message msgSK of a deduplication ID was deleted or moved
// while its record was still pending, so a later push of the ID does not store it again. It is
// best effort (see the windows above) and a no-op for a record that is done, gone or another
// message's, and for a message without a deduplication ID (no request then).
func (q *DynamoDBQueue) markDedupConsumed(ctx context.Context, s *settings, dedupID, msgSK string) {
	if dedupID == "" {
		return
	}
	_, err := q.core.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       dedupKey(s, dedupID),
		ConditionExpression:       aws.String("#st = :pending AND msk = :msk"),
		UpdateExpression:          aws.String("SET #st = :consumed"),
		ExpressionAttributeNames:  map[string]string{"#st": attrDedupState},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pending": avS(dedupPending), ":consumed": avS(dedupConsumed), ":msk": avS(msgSK)},
	})
	if err != nil && !isConditionFailed(err) {
		s.logger.DebugContext(ctx, "dynamodbqueue: could not mark a deduplication record consumed", "error", err)
	}
}

// claimDedupID puts the pending record for o. It returns nil when the put succeeded, else the
// record that holds the ID (possibly ours, from an applied attempt the SDK retried).
//
// The put also takes over a record without a window end (left by a purge racing an earlier
// version of this code) and a pending record without a message copy (an earlier version's
// writer, which cannot be completed from it).
func (q *DynamoDBQueue) claimDedupID(ctx context.Context, s *settings, dk map[string]types.AttributeValue, o *outgoing, tok string, now time.Time) (map[string]types.AttributeValue, error) {
	until := now.Add(DedupWindow)
	rec := key(str(dk[attrPK]), str(dk[attrSK]))
	rec[attrDedupUntil] = avN(ms(until))
	rec[attrDedupMsgSK] = avS(o.sk)
	rec[attrID] = avS(o.msg.MessageId)
	rec[attrDedupState] = avS(dedupPending)
	rec[attrToken] = avS(tok)
	rec[attrTTL] = avN(ttlSeconds(until))
	rec[attrDedupItem] = &types.AttributeValueMemberM{Value: o.item}
	if o.groupVis != "" {
		rec[attrDedupVis] = avS(o.groupVis)
	}
	for range maxDedupClaims {
		_, err := q.core.api.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(s.table),
			Item:      rec,
			ConditionExpression: aws.String("attribute_not_exists(PK) OR attribute_not_exists(ddu) OR ddu < :now" +
				" OR (#st = :pending AND attribute_not_exists(#msg))"),
			ExpressionAttributeNames: map[string]string{"#st": attrDedupState, "#msg": attrDedupItem},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":now": avN(ms(now)), ":pending": avS(dedupPending),
			},
		})
		if err == nil {
			return nil, nil
		}
		if !isConditionFailed(err) {
			return nil, wrapAPI("PutItem (dedup)", s.table, err)
		}
		cur, err := q.getItem(ctx, s.table, dk)
		if err != nil || cur != nil {
			return cur, err
		}
		// Deleted between the put and the read (a purge): claim the ID again.
	}
	return nil, fmt.Errorf("dynamodbqueue: deduplication record of %q deleted %d times during the push; retry", o.dedupID, maxDedupClaims)
}

// adopt turns o into the first push of its ID, as its pending record describes it, so that
// completing the write stores that message and not o's.
func (o *outgoing) adopt(rec map[string]types.AttributeValue) error {
	m, ok := rec[attrDedupItem].(*types.AttributeValueMemberM)
	if !ok {
		return fmt.Errorf("dynamodbqueue: deduplication record %s/%s holds no message", str(rec[attrPK]), str(rec[attrSK]))
	}
	o.item = m.Value
	o.pk, o.sk = str(o.item[attrPK]), str(o.item[attrSK])
	o.group, o.groupVis = str(o.item[attrGroup]), str(rec[attrDedupVis])
	o.ttl = num(o.item[attrTTL])
	o.chunks = nil // the first push wrote its own before its record
	return nil
}

// dropChunks deletes the body chunks a repeat wrote before it found out, best effort: they
// expire with their TTL anyway.
func (q *DynamoDBQueue) dropChunks(ctx context.Context, s *settings, o *outgoing) {
	if len(o.chunks) == 0 {
		return
	}
	if _, err := q.batchWrite(ctx, s.table, o.chunkDeletes()); err != nil {
		s.logger.DebugContext(ctx, "dynamodbqueue: could not delete the body of a deduplicated push", "error", err)
	}
}
