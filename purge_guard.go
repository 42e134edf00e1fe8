package dynamodbqueue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamodbqueue/dynamodbqueue/internal/handle"
)

// ErrPurgeInProgress: PurgeAtMostEvery found a purge of the same (queue, client) begun, by any
// process, less than its interval before; nothing was deleted (SQS's PurgeQueueInProgress).
var ErrPurgeInProgress = errors.New("dynamodbqueue: a purge of the queue began within the interval")

// Purge marks: PK @def|<queue>, SK purge|<client>, pt = when the last purge began (ms, the
// purging process's clock), ptok = that purge's write token (a retried write recognises itself).
const (
	purgeSK      = "purge|"
	attrPurgeAt  = "pt"
	attrPurgeTok = "ptok"
)

// PurgeAtMostEvery purges the queue's messages (see Purge) unless a purge of the same (queue,
// client) began less than interval before now, in this or any other process sharing the table:
// then it fails with an error wrapping ErrPurgeInProgress and deletes nothing. The begin time is
// recorded in the table with a conditional write, so of two processes racing, one purges. A zero
// now means the process's clock (corrected towards DynamoDB's, see ClockOffset).
func (q *DynamoDBQueue) PurgeAtMostEvery(ctx context.Context, interval time.Duration, now time.Time) error {
	s := q.snapshot()
	if err := s.checkQueue(); err != nil {
		return err
	}
	if interval < 0 {
		return argError("interval", "interval %v, must not be negative", interval)
	}
	if now.IsZero() {
		q.syncClock(ctx, s)
		now = q.core.now()
	}
	tok := handle.NewToken()
	item := key(defPK(s.queue), purgeSK+s.client)
	item[attrPurgeAt] = avN(ms(now))
	item[attrPurgeTok] = avS(tok)
	st := q.store(s.table)
	_, applied, err := st.WriteIf(ctx, "UpdateItem (purge mark)", item,
		"attribute_not_exists(pt) OR pt <= :cut", map[string]types.AttributeValue{":cut": avN(ms(now.Add(-interval)))})
	if err != nil {
		return err
	}
	if !applied {
		cur, err := st.GetItem(ctx, key(defPK(s.queue), purgeSK+s.client))
		if err != nil {
			return err
		}
		if str(cur[attrPurgeTok]) != tok { // not a retry of our own applied write
			began := time.UnixMilli(num(cur[attrPurgeAt])).UTC()
			return fmt.Errorf("%w: queue %q, client %q: the last purge began at %s", ErrPurgeInProgress, s.queue, s.client, began.Format(time.RFC3339Nano))
		}
	}
	return q.Purge(ctx)
}
