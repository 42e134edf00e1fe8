package dynamodbqueue

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue/internal/keys"
	"github.com/dynamodbqueue/dynamodbqueue/internal/message"
)

// AttributeFairGroupID names the fair group of a message outside FIFO groups: SQS's
// MessageGroupId on a standard queue (fair queues, 2025), typically a tenant of the caller's
// own. It orders nothing and locks nothing (unlike AttributeMessageGroupID); it only places the
// message: within a (queue, client) pair with several shards, every message of a fair group goes
// to the shard FairGroupShard names, so one group's backlog fills one shard, and receives, which
// take turns starting at each shard, reach the other groups' messages within a few receives
// however large that backlog is. The value follows the rules of a group ID (1..128 ASCII
// letters, digits and punctuation; else ErrInvalidGroup and nothing is written), is stored
// with the message and delivered back, also after dead-lettering and redrive. A message that
// carries AttributeMessageGroupID too stays in its FIFO group's home shard.
const AttributeFairGroupID = "FairMessageGroupId"

// FairGroupShard returns the shard, in [0, shards), that messages of fair group `group` are
// pushed to when a pair's producers write to `shards` shards: the 64-bit FNV-1a hash of the
// group's bytes modulo shards (0 when shards <= 1). It is a pure function, fixed across
// processes and versions, so every producer of a pair agrees without coordination. Groups may
// share a shard (with 8 shards and many groups, each shard holds about an eighth of them).
// When the shard count changes, messages already stored stay where they are (receives drain
// every shard, see QueueDefinition.MaxShards) and new ones follow the new count.
func FairGroupShard(group string, shards int) int {
	if shards <= 1 {
		return 0
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(group)) // a hash.Hash never fails to write
	return int(h.Sum64() % uint64(shards))
}

// validateFairGroup checks the fair group of a message about to be pushed.
func validateFairGroup(group string) error {
	if err := keys.ValidateGroup(group); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrInvalidMessage, AttributeFairGroupID, err)
	}
	return nil
}

// fairGroupOf returns the fair group of a stored message whose body is inline in r, for a move
// that places it again (redrive). A message whose body lives in chunks, or that does not
// decode, is placed as one without a group: it is still moved whole, attribute included.
func fairGroupOf(r record) string {
	if len(r.Event) == 0 {
		return ""
	}
	m, err := message.Decode(r.Event)
	if err != nil {
		return ""
	}
	return m.Attributes[AttributeFairGroupID]
}

// passStart returns the shard a receive pass of s's pair starts at, among n. Successive passes
// of this process take successive shards, from a random first one (so processes and consumers
// spread out): every shard is first in one of any n consecutive passes, so a message alone in
// its shard (a quiet fair group next to another group's backlog) is received within n receives
// of the process, where a random start only makes that likely. The cursor is one entry per
// pair this process receives from, like the idle marks.
func (q *DynamoDBQueue) passStart(s *settings, n int) int {
	if n <= 1 {
		return 0
	}
	k := pairKey(s.table, s.queue, s.client)
	v, ok := q.core.passCursor.Load(k)
	if !ok {
		c := new(atomic.Uint64)
		c.Store(rand.Uint64())
		v, _ = q.core.passCursor.LoadOrStore(k, c)
	}
	return int(v.(*atomic.Uint64).Add(1) % uint64(n))
}

// idleMark is a shard found empty by a receive pass: skipped until `until`, or until the pair
// is woken (woken closes: a push of this process, or the watcher's signal of a hint written by
// another process), whichever comes first. Without the wake-up, a message pushed by another
// process into a shard marked idle a moment ago (the quiet fair group's shard) would wait out
// the mark although the watcher announced it.
type idleMark struct {
	until time.Time
	woken <-chan struct{}
}

// wokenSince reports whether the pair was woken after the mark was made.
func (m idleMark) wokenSince() bool {
	select {
	case <-m.woken:
		return true
	default:
		return false
	}
}
