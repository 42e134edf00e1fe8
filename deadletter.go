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
	"github.com/dynamodbqueue/dynamodbqueue/internal/store"
)

// Dead letters.
//
// A move between queues is a copy followed by a delete, each a single-item write: no
// transactions. The copy goes first and has a key derived from the message's own sequence
// number, so repeating it after a crash overwrites rather than duplicates; the delete is
// conditional on the mover's claim token, so it only removes the message the mover holds. A
// process that dies between the two leaves the original claimed; it becomes visible after its
// visibility timeout and is moved again, onto the same key.

// deadLetterSettings returns the settings of the dead-letter (queue, client) pair.
func (s *settings) deadLetterSettings() *settings {
	d := *s
	d.table, d.queue, d.client = s.dlqTarget()
	d.dlq, d.shards, d.delay = nil, 1, 0
	return &d
}

// deadLetter moves a message that this process has just claimed (r.Token) to the dead-letter
// queue, keeping its body, attributes, receive count and first-receive time. For a grouped
// message the caller still holds the group and moves on to the group's next message.
func (q *DynamoDBQueue) deadLetter(ctx context.Context, s *settings, r record) error {
	ds := s.deadLetterSettings()
	seq, ok := keys.SeqFromSK(r.SK)
	if !ok {
		return fmt.Errorf("dynamodbqueue: malformed message key %s/%s", r.PK, r.SK)
	}
	now := q.core.now()
	if err := q.register(ctx, ds); err != nil {
		return err
	}
	dst := r
	dst.PK, dst.SK = ds.pk(0), keys.MessageSK(seq)
	dst.Vis = keys.Vis(now, seq)
	dst.Token = ""
	dst.Origin = r.PK
	dst.DeadAt = ms(now)
	dst.TTL = ttlSeconds(now.Add(s.ttl))
	// The dead-letter pair's activity hint goes first, as a push's does (hint.go), so the long
	// polls and watchers of the dead-letter queue in every process wake for the move.
	if err := q.writeHints(ctx, ds, now, []time.Time{now}); err != nil {
		return err
	}
	if err := q.copyMessage(ctx, s.table, ds.table, r, dst, false); err != nil {
		return err
	}
	q.core.notifyLocal(ds.table, ds.queue, ds.client)
	if err := q.deleteClaimed(ctx, s.table, r); err != nil {
		return err
	}
	q.markDedupConsumed(ctx, s, r.Dedup, r.SK)
	s.logger.WarnContext(ctx, "dynamodbqueue: message moved to dead-letter queue",
		"message_id", r.ID, "receive_count", r.ReceiveCount, "from", r.PK, "to", dst.PK, "table", ds.table)
	return nil
}

// copyMessage writes dst, a copy of the message src (read from srcTable) with new key and
// bookkeeping, including its body chunks. With onlyNew, an existing dst is left alone.
func (q *DynamoDBQueue) copyMessage(ctx context.Context, srcTable, dstTable string, src, dst record, onlyNew bool) error {
	if src.Chunks > 0 {
		found, err := q.batchGet(ctx, srcTable, chunkKeys(src))
		if err != nil {
			return err
		}
		event, err := store.Assemble(src, found)
		if err != nil {
			return err
		}
		if _, err := q.batchWrite(ctx, dstTable, store.ChunkPuts(dst.PK, dst.SK, event, dst.TTL)); err != nil {
			return err
		}
	}
	in := &dynamodb.PutItemInput{TableName: aws.String(dstTable), Item: encodeRecord(dst)}
	if onlyNew {
		in.ConditionExpression = aws.String("attribute_not_exists(PK)")
	}
	_, err := q.core.api.PutItem(ctx, in)
	if err != nil && !(onlyNew && isConditionFailed(err)) {
		return wrapAPI("PutItem (move)", dstTable, err)
	}
	return nil
}

// deleteClaimed deletes a message this process holds (r.Token) and its body chunks.
func (q *DynamoDBQueue) deleteClaimed(ctx context.Context, table string, r record) error {
	_, err := q.core.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(table),
		Key:                       key(r.PK, r.SK),
		ConditionExpression:       aws.String("tok = :tok"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":tok": avS(r.Token)},
	})
	if err != nil && !isConditionFailed(err) {
		return wrapAPI("DeleteItem (move)", table, err)
	}
	if r.Chunks > 0 {
		_, err := q.batchWrite(ctx, table, q.deleteRequests(r)[1:])
		return err
	}
	return nil
}

// encodeRecord is the inverse of decodeRecord for the attributes a moved message keeps.
func encodeRecord(r record) map[string]types.AttributeValue {
	item := key(r.PK, r.SK)
	setS := func(name, v string) {
		if v != "" {
			item[name] = avS(v)
		}
	}
	setN := func(name string, v int64) {
		if v != 0 {
			item[name] = avN(v)
		}
	}
	setS(attrVis, r.Vis)
	setS(attrToken, r.Token)
	setN(attrReceiveCount, int64(r.ReceiveCount))
	setN(attrFirstReceive, r.FirstReceive)
	setN(attrLastReceive, r.LastReceive)
	setN(attrSent, r.Sent)
	setN(attrVisibleAfter, r.VisibleAfter)
	setN(attrTTL, r.TTL)
	setS(attrID, r.ID)
	if r.Chunks > 0 {
		setN(attrChunks, int64(r.Chunks))
	} else {
		item[attrEvent] = avB(r.Event)
	}
	setS(attrGroup, r.Group)
	setS(attrDedup, r.Dedup)
	setS(attrOrigin, r.Origin)
	setN(attrDeadAt, r.DeadAt)
	return item
}

// redriveClaim is how long a redrive holds a dead letter while moving it.
const redriveClaim = 5 * time.Minute

// RedriveDeadLetters moves up to max messages (0 = all) from the dead-letter queue back to this
// queue, oldest first in each of the dead-letter queue's shards, and returns how many it moved.
// A moved message starts over: receive count 0, visible at once, and back in its message group
// if it had one. Messages a consumer of the dead-letter queue holds right now are left alone.
func (q *DynamoDBQueue) RedriveDeadLetters(ctx context.Context, max int) (moved int, err error) {
	s := q.resolved(ctx)
	if err := s.checkQueue(); err != nil {
		return 0, err
	}
	if s.dlq == nil {
		return 0, ErrNoDeadLetterQueue
	}
	if max < 0 {
		return 0, argError("max", "max %d, must be 0 (all) or positive", max)
	}
	q.syncClock(ctx, s)
	ds := s.deadLetterSettings()
	// Dead-lettering writes shard 0, but messages sent to the dead-letter queue directly are
	// spread over its shards: read every shard its definition ever had.
	e, err := q.definitionFor(ctx, ds)
	if err != nil {
		return 0, err
	}
	shards := ds.apply(e).shards
	shard := 0
	var startKey map[string]types.AttributeValue
	for shard < shards && (max == 0 || moved < max) {
		now := q.core.now()
		page := 100
		if max > 0 {
			page = min(100, max-moved)
		}
		recs, next, err := q.store(ds.table).ReadyPage(ctx, store.Ready{PK: ds.pk(shard), Now: now, Forward: true,
			Limit: page, Start: startKey, Op: "Query (dead letters)"})
		if err != nil {
			return moved, err
		}
		for _, r := range recs {
			if !keys.IsMessageSK(r.SK) || r.Expired(now) {
				continue
			}
			if err := ctx.Err(); err != nil {
				return moved, err
			}
			// A cancellation between one message's claim and its delete would leave it hidden
			// in the dead-letter queue until the claim lapses: once claimed, it is finished
			// (bounded by redriveClaim), and ctx is checked only between messages.
			mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), redriveClaim)
			ok, err := q.redriveOne(mctx, s, ds, r, now)
			cancel()
			if err != nil {
				return moved, err
			}
			if ok {
				moved++
			}
			if max > 0 && moved >= max {
				break
			}
		}
		if next == nil { // this shard is done: the next one
			shard++
		}
		startKey = next
	}
	if moved > 0 {
		q.hintNow(ctx, s) // hint.go: wake the pair's watchers in every process
	}
	return moved, nil
}

// redriveOne claims one dead letter, copies it back and deletes it from the dead-letter queue.
func (q *DynamoDBQueue) redriveOne(ctx context.Context, s, ds *settings, r record, now time.Time) (bool, error) {
	_, seq, err := keys.ParseVis(r.Vis)
	if err != nil {
		return false, err
	}
	tok := handle.NewToken()
	won, err := q.conditionalClaim(ctx, ds, r.PK, r.SK, tok, "vis = :old", "SET vis = :vis, tok = :tok",
		map[string]types.AttributeValue{":old": avS(r.Vis), ":vis": avS(keys.Vis(now.Add(redriveClaim), seq))})
	if err != nil || !won {
		return false, err
	}
	r.Token = tok
	dst := r
	dst.Token, dst.Origin, dst.DeadAt, dst.ReceiveCount, dst.FirstReceive, dst.LastReceive = "", "", 0, 0, 0, 0
	dst.TTL = ttlSeconds(now.Add(s.ttl))
	dst.PK = s.pk(s.placement(r.Group, fairGroupOf(r)))
	if r.Group != "" {
		dst.SK, dst.Vis = keys.GroupMessageSK(r.Group, seq), ""
	} else {
		dst.SK, dst.Vis = keys.MessageSK(seq), keys.Vis(now, seq)
	}
	if err := q.register(ctx, s); err != nil {
		return false, err
	}
	if err := q.copyMessage(ctx, ds.table, s.table, r, dst, true); err != nil {
		return false, err
	}
	if r.Group != "" {
		if err := q.touchGroup(ctx, s, dst.PK, r.Group, keys.Vis(now, seq), dst.TTL); err != nil {
			return false, err
		}
	}
	return true, q.deleteClaimed(ctx, ds.table, r)
}
