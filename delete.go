package dynamodbqueue

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamodbqueue/dynamodbqueue/internal/handle"
	"github.com/dynamodbqueue/dynamodbqueue/internal/keys"
	"github.com/dynamodbqueue/dynamodbqueue/internal/store"
)

// ToReceiptHandles returns the receipt handles of msgs, in order.
func ToReceiptHandles(msgs []events.SQSMessage) []string {
	hs := make([]string, len(msgs))
	for i := range msgs {
		hs[i] = msgs[i].ReceiptHandle
	}
	return hs
}

// DeleteMessages deletes the messages whose receipt handles are given and returns the handles
// that deleted nothing, with an error per handle joined into err: ErrInvalidReceiptHandle
// (malformed or tampered; nothing was sent), ErrForeignReceiptHandle (another table, queue or
// client), ErrStaleReceiptHandle (the message was claimed again since), or a DynamoDB error.
// DeleteEntries gives the same as one result per handle.
//
// A delete is a conditional write on the claim token inside the handle, so only the current
// holder deletes. Deleting a message that is already gone (deleted before, by this handle or a
// newer one) succeeds, as in SQS, so a retried delete is harmless.
func (q *DynamoDBQueue) DeleteMessages(ctx context.Context, handles ...string) ([]string, error) {
	res, err := q.deleteEntries(ctx, handles)
	return failedHandles(handles, res, err)
}

// DeleteEntries deletes messages like DeleteMessages and returns one result per handle,
// aligned with handles (see EntryResult). err is nil when every handle deleted its message, a
// *PartialError when some did not (the results say which and why), and any other error when
// the call failed as a whole (no queue set; every result carries it too).
func (q *DynamoDBQueue) DeleteEntries(ctx context.Context, handles ...string) ([]EntryResult, error) {
	res, err := q.deleteEntries(ctx, handles)
	return res, entriesError("delete", res, err)
}

func (q *DynamoDBQueue) deleteEntries(ctx context.Context, handles []string) ([]EntryResult, error) {
	var mu sync.Mutex
	var chunks []types.WriteRequest
	var s *settings
	res, err := q.forEachHandle(ctx, handles, func(snap *settings, h handle.Handle) error {
		c, err := q.deleteOne(ctx, snap, h)
		mu.Lock()
		s, chunks = snap, append(chunks, c...)
		mu.Unlock()
		return err
	})
	if s != nil {
		q.core.touchPair(s.table, s.queue, s.client) // receive_mark.go: a FIFO group may be free now
	}
	// The body chunks of all deleted messages go in shared batches: 0.1 requests per message
	// rather than one per message.
	if len(chunks) > 0 {
		if _, cerr := q.batchWrite(ctx, s.table, chunks); cerr != nil {
			// The messages are gone; orphaned chunks expire with their TTL.
			s.logger.DebugContext(ctx, "dynamodbqueue: could not delete body chunks", "error", cerr)
		}
	}
	return res, err
}

// ChangeVisibility sets the visibility timeout of messages this consumer holds to d from now
// (0..MaxVisibilityTimeout): extend it for long work, shorten it, or 0 to release the message
// at once (a "nack"). The handle stays valid for DeleteMessages. For a message of a FIFO group
// the change applies to the group's claim, and only while that message is still held: the
// handle of a deleted message is stale. Failed handles are reported as in DeleteMessages;
// ChangeVisibilityEntries gives one result per handle.
func (q *DynamoDBQueue) ChangeVisibility(ctx context.Context, d time.Duration, handles ...string) ([]string, error) {
	res, err := q.changeEntries(ctx, d, handles)
	return failedHandles(handles, res, err)
}

// ChangeVisibilityEntries changes visibility timeouts like ChangeVisibility and returns one
// result per handle, aligned with handles (see EntryResult); err as in DeleteEntries.
func (q *DynamoDBQueue) ChangeVisibilityEntries(ctx context.Context, d time.Duration, handles ...string) ([]EntryResult, error) {
	res, err := q.changeEntries(ctx, d, handles)
	return res, entriesError("change visibility", res, err)
}

// ReleaseMessages makes held messages visible again at once: ChangeVisibility with 0.
func (q *DynamoDBQueue) ReleaseMessages(ctx context.Context, handles ...string) ([]string, error) {
	return q.ChangeVisibility(ctx, 0, handles...)
}

// ReleaseEntries makes held messages visible again at once (ChangeVisibilityEntries with 0)
// and returns one result per handle, aligned with handles.
func (q *DynamoDBQueue) ReleaseEntries(ctx context.Context, handles ...string) ([]EntryResult, error) {
	res, err := q.changeEntries(ctx, 0, handles)
	return res, entriesError("release", res, err)
}

func (q *DynamoDBQueue) changeEntries(ctx context.Context, d time.Duration, handles []string) ([]EntryResult, error) {
	if d < 0 || d > MaxVisibilityTimeout {
		err := argError("VisibilityTimeout", "visibility timeout %v, must be 0..%v", d, MaxVisibilityTimeout)
		return entryResults(handles, err), err
	}
	res, err := q.forEachHandle(ctx, handles, func(s *settings, h handle.Handle) error {
		return q.changeOne(ctx, s, h, d)
	})
	if d == 0 {
		q.hintReleased(ctx, res) // hint.go: wake the pair's watchers in every process
	} else {
		s := q.snapshot()
		q.core.touchPair(s.table, s.queue, s.client) // receive_mark.go: the next visibility moved
	}
	return res, err
}

// forEachHandle parses and checks every handle before sending anything, then applies fn to the
// valid ones concurrently. It returns one result per handle, in input order, and an error
// only when the call failed as a whole (then every result carries it too).
func (q *DynamoDBQueue) forEachHandle(ctx context.Context, hs []string, fn func(*settings, handle.Handle) error) ([]EntryResult, error) {
	s := q.snapshot()
	if err := s.checkQueue(); err != nil {
		return entryResults(hs, err), err
	}
	res := entryResults(hs, nil)
	parsed := make([]handle.Handle, len(hs))
	var valid []int
	for i, raw := range hs {
		h, err := s.signer.Parse(raw)
		if err == nil {
			err = s.owns(h)
		}
		if err != nil {
			res[i].Err = err
			continue
		}
		parsed[i] = h
		valid = append(valid, i)
	}
	store.Parallel(len(valid), claimConcurrency, func(j int) {
		i := valid[j]
		res[i].Err = fn(s, parsed[i])
	})
	return res, nil
}

// owns checks that a handle names a message of this table, queue and client.
func (s *settings) owns(h handle.Handle) error {
	queue, client, shard, ok := keys.SplitPartitionKey(h.PK)
	switch {
	case h.Table != s.table:
		return fmt.Errorf("%w: it is for table %q, not %q", ErrForeignReceiptHandle, h.Table, s.table)
	case !ok || queue != s.queue || client != s.client:
		return fmt.Errorf("%w: it is for %q, not this queue and client", ErrForeignReceiptHandle, h.PK)
	case shard >= MaxShards || !keys.IsMessageSK(h.SK):
		return &InvalidReceiptHandleError{Reason: "it names no message"}
	case h.Group != groupOfMessage(h.SK):
		// The group is part of the message's key: a handle that names another group (or none
		// for a grouped message) was altered, whatever its MAC says.
		return &InvalidReceiptHandleError{Reason: "its group does not match its message"}
	}
	return nil
}

// groupOfMessage returns the sort key of the lock of the group a message sort key belongs
// to, or "" for a message outside groups (and for a malformed one, which fails elsewhere).
func groupOfMessage(sk string) string {
	if !strings.HasPrefix(sk, keys.GroupMsgPrefix) {
		return ""
	}
	group, ok := keys.GroupFromSK(sk)
	if !ok {
		return "\x00" // matches no handle's group
	}
	return keys.GroupSK(group)
}

// deleteOne deletes the message if the handle's token still holds it, then releases its group
// so the group's next message can go out. It returns the deletes of the message's body chunks,
// which the caller batches.
//
// The handle says how many chunks the body has and whether the message has a deduplication ID,
// so the delete reads the item back (ReturnValues ALL_OLD) only for the deduplication ID, and
// for handles issued before handles said so (Legacy).
func (q *DynamoDBQueue) deleteOne(ctx context.Context, s *settings, h handle.Handle) ([]types.WriteRequest, error) {
	old, err := q.store(s.table).DeleteIfToken(ctx, h.PK, h.SK, h.Token, h.Legacy || h.Dedup)
	if err != nil {
		if !isConditionFailed(err) {
			return nil, err
		}
		if err := q.checkGone(ctx, s, h, err); err != nil {
			return nil, err
		}
	}
	// The handle's chunk count also covers an SDK retry of an applied delete, whose
	// response (and read-back item) was lost: its chunks are deleted all the same.
	r := record{PK: h.PK, SK: h.SK, Chunks: h.Chunks}
	if old != nil {
		r = decodeRecord(old)
	}
	var chunks []types.WriteRequest
	if r.Chunks > 0 {
		chunks = q.deleteRequests(r)[1:]
	}
	q.markDedupConsumed(ctx, s, r.Dedup, r.SK)
	if h.Group != "" {
		q.releaseDeletedGroup(ctx, s, h)
	}
	return chunks, nil
}

// releaseDeletedGroup offers the group of a deleted message again at once (to the back of the
// ready index), if the handle's token still holds it, and drops the token: the deleted
// message's handle must not move the group any more (see changeOne). Failing is harmless: the
// claim then ends at its visibility timeout. A retry of an applied release fails its condition.
func (q *DynamoDBQueue) releaseDeletedGroup(ctx context.Context, s *settings, h handle.Handle) {
	err := q.store(s.table).UpdateIfToken(ctx, "UpdateItem (group)", h.PK, h.Group, h.Token, "", "SET vis = :vis REMOVE tok",
		map[string]types.AttributeValue{":vis": avS(keys.Vis(q.core.now(), q.core.seq.Next()))})
	if err != nil && !isConditionFailed(err) {
		s.logger.DebugContext(ctx, "dynamodbqueue: could not release group", "group", h.Group, "error", err)
	}
}

// checkGone interprets a failed delete condition: nil if the message no longer exists (deleted
// already, possibly by an earlier attempt of this very request), ErrStaleReceiptHandle if it
// exists under another claim.
func (q *DynamoDBQueue) checkGone(ctx context.Context, s *settings, h handle.Handle, condErr error) error {
	var ccf *types.ConditionalCheckFailedException
	var item map[string]types.AttributeValue
	if asCCF(condErr, &ccf) && ccf.Item != nil {
		item = ccf.Item
	} else {
		var err error
		if item, err = q.getItem(ctx, s.table, key(h.PK, h.SK)); err != nil {
			return err
		}
	}
	if item == nil {
		return nil
	}
	return ErrStaleReceiptHandle
}

// changeOne moves the visibility of a held message (or of its group's claim).
//
// A grouped message's visibility is its group's lock, which carries the claim token too; the
// message itself must also still carry it, or a handle of a message deleted (or claimed anew)
// could still hide its group. The lock write cannot be conditioned on the message, so the
// message is read first; a delete racing in between is covered by releaseDeletedGroup, which
// drops the token from the lock, so the lock write then fails.
func (q *DynamoDBQueue) changeOne(ctx context.Context, s *settings, h handle.Handle, d time.Duration) error {
	q.syncClock(ctx, s)
	at := q.core.now().Add(d)
	if h.Group != "" {
		item, err := q.getItem(ctx, s.table, key(h.PK, h.SK))
		if err != nil {
			return err
		}
		if item == nil || str(item[attrToken]) != h.Token {
			return ErrStaleReceiptHandle
		}
		err = q.setGroupVisibility(ctx, s, h.PK, h.Group, h.Token, at)
		if isConditionFailed(err) {
			return ErrStaleReceiptHandle
		}
		return err
	}
	seq, _ := keys.SeqFromSK(h.SK)
	// Only an indexed message has vis: a grouped one must never get it (it would become
	// deliverable outside its group), whatever the handle says.
	err := q.store(s.table).UpdateIfToken(ctx, "UpdateItem (visibility)", h.PK, h.SK, h.Token, "attribute_exists(vis)",
		"SET vis = :vis", map[string]types.AttributeValue{":vis": avS(keys.Vis(at, seq))})
	if isConditionFailed(err) {
		// Setting the same visibility twice is harmless, so a failed condition is never our own
		// retry: the message was claimed again or deleted.
		return ErrStaleReceiptHandle
	}
	return err
}
