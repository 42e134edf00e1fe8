package dynamodbqueue

import (
	"context"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue/internal/keys"
	"github.com/dynamodbqueue/dynamodbqueue/internal/store"
)

// Activity hints (see docs/SCALING.md, "Thousands of tenants").
//
// Every push batch writes, before its messages, one small item per (queue, client) pair in a
// hint partition of its queue:
//
//	PK @act|<queue>|<k>   SK <client>               work visible now: vis = the push's time
//	PK @act|<queue>|<k>   SK <client>|<due>         delayed work: vis = <due>, the end of the
//	                                                hintDelayStep bucket the messages become
//	                                                visible in
//
// k is hintPartition(client). vis is the attribute the table's ready index ("vis") is keyed by,
// so a watcher finds the hints of a whole queue that fell due since its last look with one
// Query per hint partition, whatever the number of tenants (watcher.go). Hint partitions start
// with '@', which no queue name can, so they are never read as a pair's partition, and their
// sort keys are never message keys: they show up in no listing, count, peek or receive. They
// expire with their TTL (hintRetention after vis).
const (
	hintPKPrefix = keys.HintPrefix
	// hintDelayStep is the granularity of delayed hints: delayed pushes of one pair due in the
	// same step share one item, whose vis is the end of the step (never before the messages are
	// visible), so a pair holds at most one item per step of pending delays.
	hintDelayStep = 100 * time.Millisecond
	// hintRetention is how long a hint outlives its vis before DynamoDB's TTL may delete it: far
	// longer than any watcher looks back (watchOverlap).
	hintRetention = time.Hour
	// MaxHintPartitions bounds Options.HintPartitions.
	MaxHintPartitions = 100
)

// hintPK is the partition key of hint partition k of a queue.
func hintPK(queue string, k int) string { return hintPKPrefix + queue + "|" + strconv.Itoa(k) }

// hintPartition is the hint partition of a client among n: a hash, so every process that uses
// the same n agrees.
func hintPartition(client string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(client))
	return int(h.Sum32() % uint32(n))
}

// hintClient returns the client ID a hint's sort key names.
func hintClient(sk string) string {
	client, _, _ := strings.Cut(sk, "|")
	return client
}

// hints builds the hints of one push of s's pair: one per distinct visibility among the
// messages' (now, or the step a delay ends in). now is the push's corrected time; each hint's
// vis also carries a fresh sequence number, so a later push always writes a vis the watcher has
// not seen (a retried write of the same hint carries the same one).
func (q *DynamoDBQueue) hints(s *settings, now time.Time, visible []time.Time) []store.Hint {
	pk := hintPK(s.queue, hintPartition(s.client, q.core.watch.hintParts))
	seen := map[string]bool{}
	var out []store.Hint
	for _, at := range visible {
		sk, due := s.client, now
		// Work due within a step counts as visible now: the watcher's second signal of a new
		// hint (watchSettle, one step later) comes after it is visible.
		if at.After(now.Add(hintDelayStep)) {
			due = at.Truncate(hintDelayStep)
			if due.Before(at) {
				due = due.Add(hintDelayStep)
			}
			sk = s.client + "|" + strconv.FormatInt(due.UnixMilli(), 36)
		}
		if seen[sk] {
			continue
		}
		seen[sk] = true
		out = append(out, store.Hint{PK: pk, SK: sk, Vis: keys.Vis(due, q.core.seq.Next()), TTL: ttlSeconds(due.Add(hintRetention))})
	}
	return out
}

// writeHints writes the hints of work that becomes visible at the given times, before that work
// is written: a crash between the two leaves a hint without messages (a wake-up that finds
// nothing), never messages without a hint. A push with batched messages sends its hints in
// its first batch instead (pendingHints, push.go). A principal that may not write the hint
// partition (an IAM policy confined to its pair's keys, see IAMPolicy) is logged once and
// skipped: its work is then found by the watchers' bounded fallback (watcher.go) instead.
func (q *DynamoDBQueue) writeHints(ctx context.Context, s *settings, now time.Time, visible []time.Time) error {
	hs := q.pendingHints(s, now, visible)
	if len(hs) == 0 {
		return nil
	}
	err := q.store(s.table).PutHints(ctx, hs)
	if q.hintsRefused(ctx, s, err) {
		return nil
	}
	return err
}

// pendingHints returns the hints of work of s's pair that becomes visible at the given times,
// none when this process found its principal may not write them.
func (q *DynamoDBQueue) pendingHints(s *settings, now time.Time, visible []time.Time) []store.Hint {
	if q.hintWrites(s) == hintsNone || len(visible) == 0 {
		return nil
	}
	return q.hints(s, now, visible)
}

// hintsRefused reports whether err says that the principal may not write s's queue's hints,
// and if so remembers it (pendingHints then returns none) and logs it once.
func (q *DynamoDBQueue) hintsRefused(ctx context.Context, s *settings, err error) bool {
	if err == nil || !isAccessDenied(err) {
		return false
	}
	q.learnHintWrites(ctx, s, hintsNone, err)
	return true
}

// hintWriteMode is how this process's principal may write a queue's hints, as IAM's refusals
// taught it; it only ever goes down the list.
type hintWriteMode int32

const (
	hintsInBatch hintWriteMode = iota // in a push's first BatchWriteItem (IAMPolicy's PushesWithHints)
	hintsApart                        // only in requests of their own (a policy made before that statement)
	hintsNone                         // not at all (a policy without hint grants)
)

// hintWrites returns how s's queue's hints may be written.
func (q *DynamoDBQueue) hintWrites(s *settings) hintWriteMode {
	if v, ok := q.core.watch.hintModes.Load(s.table + "\x00" + s.queue); ok {
		return v.(hintWriteMode)
	}
	return hintsInBatch
}

// learnHintWrites records that s's queue's hints may be written no better than m (err is the
// refusal that says so), and logs the first time it comes down to m.
func (q *DynamoDBQueue) learnHintWrites(ctx context.Context, s *settings, m hintWriteMode, err error) {
	k := s.table + "\x00" + s.queue
	for {
		cur, loaded := q.core.watch.hintModes.LoadOrStore(k, m)
		if !loaded {
			break
		}
		if cur.(hintWriteMode) >= m {
			return
		}
		if q.core.watch.hintModes.CompareAndSwap(k, cur, m) {
			break
		}
	}
	switch m {
	case hintsApart:
		s.logger.WarnContext(ctx, "dynamodbqueue: not allowed to write activity hints in the same request as messages; writing them apart (one request more per push; see IAMPolicy)", "queue", s.queue, "error", err)
	case hintsNone:
		s.logger.WarnContext(ctx, "dynamodbqueue: not allowed to write activity hints; other processes find this process's pushes only by their watchers' fallback", "queue", s.queue, "error", err)
	}
}

// hintNow writes the hint of work of s's pair that is visible now, made so by something other
// than a push (a release, a redrive), and wakes the pair's waiters in this process. A failure
// is logged, not returned: the work is already visible, and the watchers' fallback finds it.
func (q *DynamoDBQueue) hintNow(ctx context.Context, s *settings) {
	now := q.core.now()
	if err := q.writeHints(ctx, s, now, []time.Time{now}); err != nil {
		s.logger.DebugContext(ctx, "dynamodbqueue: activity hint not written", "queue", s.queue, "client", s.client, "error", err)
	}
	q.core.notifyLocal(s.table, s.queue, s.client)
}

// hintReleased writes the hint of a release (a visibility change to 0) that made at least one
// message visible again.
func (q *DynamoDBQueue) hintReleased(ctx context.Context, res []EntryResult) {
	for _, r := range res {
		if r.Err == nil {
			q.hintNow(ctx, q.snapshot())
			return
		}
	}
}

// followUpHint writes a second hint after a slow push's messages are stored. A watcher signals
// a new hint when it first sees it and again watchSettle later (watcher.go); a push whose
// messages were stored more than half of that after its hint was sent may have been looked
// for, and not found, at both signals. Only then, or when its first hint was not written
// (lost: sent in the push's first batch, it stayed unprocessed after the retries), and only
// for work visible now (a delayed hint is signalled when due, after the push), the push
// writes the hint again, after its messages: its signals come when they are there. A failure
// is logged; the watchers' fallback covers it.
func (q *DynamoDBQueue) followUpHint(ctx context.Context, s *settings, prepared []*outgoing, hinted time.Time, lost bool) {
	if !lost && time.Since(hinted) <= watchSettle/2 {
		return
	}
	now := q.core.now()
	for _, o := range prepared {
		if o.err == nil && !o.visible.After(now.Add(hintDelayStep)) {
			if err := q.writeHints(ctx, s, now, []time.Time{now}); err != nil {
				s.logger.DebugContext(ctx, "dynamodbqueue: follow-up activity hint not written", "queue", s.queue, "client", s.client, "error", err)
			}
			q.core.watch.followUps.Add(1)
			return
		}
	}
}
