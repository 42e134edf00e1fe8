package dynamodbqueue

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamodbqueue/dynamodbqueue/internal/handle"
	"github.com/dynamodbqueue/dynamodbqueue/internal/keys"
	"github.com/dynamodbqueue/dynamodbqueue/internal/store"
)

// FIFO message groups.
//
// A group is one lock item G#<group> in the ready index plus its messages g#<group>#<seq>,
// which are not in the index. Claiming a group is a conditional write on the lock item, so one
// consumer at a time holds a group, and it holds exactly one message of it: the oldest, found
// with one strongly consistent query of Limit 1 on the group's key prefix. Deleting that message
// and then releasing the lock (vis = now, to the back of the ready index, which makes groups
// take turns) lets the next message out. A poll therefore costs one index read plus, per group it
// serves, one query and two writes, however many messages or groups the queue holds; a stuck
// group only ever blocks itself, and dead-lettering unblocks it.

// maxHeadSkips bounds how many expired or dead-lettered heads one claim steps over.
const maxHeadSkips = 10

// claimGroup claims the group behind a lock item read from the ready index and returns its
// oldest message, or nothing when the group is empty, delayed, or taken by another consumer.
func (q *DynamoDBQueue) claimGroup(ctx context.Context, s *settings, g record, vt time.Duration, now time.Time) (*events.SQSMessage, *record, error) {
	head, err := q.groupHead(ctx, s, g)
	if err != nil || head == nil {
		return nil, nil, err
	}
	_, gseq, err := keys.ParseVis(g.Vis)
	if err != nil {
		return nil, nil, fmt.Errorf("dynamodbqueue: group item %s/%s: %w", g.PK, g.SK, err)
	}
	if head.VisibleAfter > ms(now) {
		// The head is delayed: park the group until then instead of polling it.
		_, err := q.core.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:           aws.String(s.table),
			Key:                 key(g.PK, g.SK),
			ConditionExpression: aws.String("vis = :old"),
			UpdateExpression:    aws.String("SET vis = :vis"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":old": avS(g.Vis), ":vis": avS(keys.Vis(time.UnixMilli(head.VisibleAfter), gseq)),
			},
		})
		if err != nil && !isConditionFailed(err) {
			return nil, nil, wrapAPI("UpdateItem (group delay)", s.table, err)
		}
		return nil, nil, nil
	}
	tok := handle.NewToken()
	won, err := q.conditionalClaim(ctx, s, g.PK, g.SK, tok, "vis = :old", "SET vis = :vis, tok = :tok",
		map[string]types.AttributeValue{":old": avS(g.Vis), ":vis": avS(keys.Vis(now.Add(vt), gseq))})
	if !won || err != nil {
		return nil, nil, err
	}
	for range maxHeadSkips {
		// Holding the group, take its head: mark it with our token and count the receive.
		// The token condition makes an SDK retry of an applied head claim fail its condition
		// (and be recognised as ours) instead of counting the receive twice.
		won, err := q.conditionalClaim(ctx, s, head.PK, head.SK, tok, "attribute_exists(PK) AND (attribute_not_exists(tok) OR tok <> :tok)",
			store.ClaimHead, store.CounterValues(now, map[string]types.AttributeValue{}))
		if err != nil {
			return nil, nil, err
		}
		if won {
			head.Token = tok
			msg, chunk, err := q.afterClaim(ctx, s, *head, g.SK, now)
			if err != nil || msg != nil {
				return msg, chunk, err
			}
			// Dead-lettered: the next message is the head now.
		}
		if head, err = q.groupHead(ctx, s, g); err != nil || head == nil {
			q.releaseGroup(ctx, s, g.PK, g.SK, tok)
			return nil, nil, err
		}
	}
	q.releaseGroup(ctx, s, g.PK, g.SK, tok)
	return nil, nil, nil
}

// groupHead returns the oldest live message of a group. Heads expired by more than the margin
// are deleted on the way; heads expired by less are stepped over, since only a clock error might
// make them look expired (expiry.go). When the group has no messages, its lock item is deleted,
// unless a push touched it since it was read (the lp token changed) or it was claimed
// meanwhile; when it has only heads expired within the margin, the lock stays.
func (q *DynamoDBQueue) groupHead(ctx context.Context, s *settings, g record) (*record, error) {
	group, ok := keys.GroupFromSK(g.SK)
	if !ok {
		return nil, fmt.Errorf("dynamodbqueue: malformed group item %s/%s", g.PK, g.SK)
	}
	now := q.core.now()
	var after map[string]types.AttributeValue // past the heads stepped over
	for range maxHeadSkips {
		resp, err := q.core.api.Query(ctx, &dynamodb.QueryInput{
			TableName:              aws.String(s.table),
			KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :prefix)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":pk": avS(g.PK), ":prefix": avS(keys.GroupMessagePrefix(group)),
			},
			ConsistentRead:    aws.Bool(true),
			Limit:             aws.Int32(1),
			ExclusiveStartKey: after,
		})
		if err != nil {
			return nil, wrapAPI("Query (group head)", s.table, err)
		}
		if len(resp.Items) == 0 {
			if after == nil {
				q.deleteEmptyGroup(ctx, s, g)
			}
			return nil, nil
		}
		head := decodeRecord(resp.Items[0])
		switch {
		case !head.Expired(now):
			return &head, nil
		case s.pastMargin(&head, now):
			if _, err := q.batchWrite(ctx, s.table, q.deleteRequests(head)); err != nil {
				return nil, err
			}
		default:
			after = key(head.PK, head.SK)
		}
	}
	return nil, nil
}

func (q *DynamoDBQueue) deleteEmptyGroup(ctx context.Context, s *settings, g record) {
	err := q.deleteGroupLock(ctx, s, g, true)
	if err != nil && !isConditionFailed(err) {
		s.logger.DebugContext(ctx, "dynamodbqueue: could not delete empty group", "group", g.SK, "error", err)
	}
}

// deleteGroupLock deletes a group's lock item g as it was read, unless a push touched it since
// (its lp token changed): that push's message would be left without a lock and never be
// offered. With sameVis the lock must not have been claimed or moved either. A failed
// condition is returned as it is (isConditionFailed); it also covers an SDK retry of an applied
// delete, since the item is gone.
func (q *DynamoDBQueue) deleteGroupLock(ctx context.Context, s *settings, g record, sameVis bool) error {
	cond := "lp = :lp"
	values := map[string]types.AttributeValue{":lp": avS(g.LastPush)}
	if g.LastPush == "" {
		cond, values = "attribute_exists(PK) AND attribute_not_exists(lp)", map[string]types.AttributeValue{}
	}
	if sameVis {
		cond += " AND vis = :vis"
		values[":vis"] = avS(g.Vis)
	}
	_, err := q.core.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(g.PK, g.SK),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeValues: values,
	})
	if err != nil && !isConditionFailed(err) {
		return wrapAPI("DeleteItem (group)", s.table, err)
	}
	return err
}

// touchGroup makes sure a group's lock item exists and offers the group to polls. It keeps a
// claimed or already offered group as it is (vis is set only if absent) and records a new
// push token, which tells a consumer about to delete an empty-looking group, or a purge, that
// a push came in. Setting the same values twice is harmless, so an SDK retry needs no care.
//
// The lock's TTL only ever grows: it must outlive every message of the group, or a push with a
// shorter TTL would let the lock expire under older messages and strand them. Update
// expressions have no max(), so the TTL is set under a condition that it does not shrink; when
// it would (rare: a later push normally expires later), the rest is set under the condition
// that the TTL is longer. Each failed condition means another writer changed the lock in
// between, so a bounded number of rounds always ends.
func (q *DynamoDBQueue) touchGroup(ctx context.Context, s *settings, pk, group, vis string, ttl int64) error {
	values := map[string]types.AttributeValue{
		":vis": avS(vis), ":lp": avS(handle.NewToken()), ":grp": avS(group), ":ttl": avN(ttl),
	}
	const set = "SET vis = if_not_exists(vis, :vis), lp = :lp, grp = :grp"
	var err error
	for range 4 {
		for _, u := range [...]struct{ update, cond string }{
			{set + ", #ttl = :ttl", "attribute_not_exists(#ttl) OR #ttl <= :ttl"},
			{set, "#ttl > :ttl"},
		} {
			_, err = q.core.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
				TableName:                 aws.String(s.table),
				Key:                       key(pk, keys.GroupSK(group)),
				UpdateExpression:          aws.String(u.update),
				ConditionExpression:       aws.String(u.cond),
				ExpressionAttributeNames:  map[string]string{"#ttl": attrTTL},
				ExpressionAttributeValues: values,
			})
			if !isConditionFailed(err) {
				return wrapAPI("UpdateItem (group)", s.table, err)
			}
		}
	}
	return wrapAPI("UpdateItem (group)", s.table, err)
}

// releaseGroup offers a group again at once (to the back of the ready index), if tok still
// holds it. Failing is harmless: the claim then simply ends at its visibility timeout.
func (q *DynamoDBQueue) releaseGroup(ctx context.Context, s *settings, pk, groupSK, tok string) {
	err := q.setGroupVisibility(ctx, s, pk, groupSK, tok, q.core.now())
	if err != nil && !isConditionFailed(err) {
		s.logger.DebugContext(ctx, "dynamodbqueue: could not release group", "group", groupSK, "error", err)
	}
}

// setGroupVisibility moves a held group's lock to become visible at `at`, keeping the token so
// the holder's handle still deletes its message.
func (q *DynamoDBQueue) setGroupVisibility(ctx context.Context, s *settings, pk, groupSK, tok string, at time.Time) error {
	return q.store(s.table).UpdateIfToken(ctx, "UpdateItem (group)", pk, groupSK, tok, "", "SET vis = :vis",
		map[string]types.AttributeValue{":vis": avS(keys.Vis(at, q.core.seq.Next()))})
}
