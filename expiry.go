package dynamodbqueue

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Expired messages.
//
// A message past its TTL (by this process's corrected clock) is never delivered or counted. It
// is deleted only once it is expired by more than the margin (UseExpiredDeletionMargin), so
// that no clock error smaller than the margin can ever delete a live message. Until then it is
// stepped over and left where it is, also for other processes: moving it out of the way would
// hide it from a process whose clock is right, should this one's be wrong. The price is that
// polls read it again until the margin has passed.

// pastMargin reports whether r is expired by more than the margin, so this process may delete it.
func (s *settings) pastMargin(r *record, now time.Time) bool {
	return r.Expired(now.Add(-s.expiredMargin))
}

// dropExpired deletes the messages a poll found expired by more than the margin, so each is
// read at most once more before DynamoDB's own sweeper would have removed it; the others are
// left alone (see above). Failures only cost a later re-read.
func (q *DynamoDBQueue) dropExpired(ctx context.Context, s *settings, expired []record) {
	now := q.core.now()
	var reqs []types.WriteRequest
	for _, r := range expired {
		if s.pastMargin(&r, now) {
			reqs = append(reqs, q.deleteRequests(r)...)
		}
	}
	if len(reqs) == 0 {
		return
	}
	if _, err := q.batchWrite(ctx, s.table, reqs); err != nil {
		s.logger.DebugContext(ctx, "dynamodbqueue: could not delete expired messages", "error", err)
	}
}
