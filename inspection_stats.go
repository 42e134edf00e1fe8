package dynamodbqueue

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue/internal/keys"
)

// PairStats is the Stats of one (queue, client) pair.
type PairStats struct {
	QueueAndClientID
	Stats
	// OldestVisible is when the oldest visible message was sent (its SentTimestamp), zero
	// when none is visible: now minus it is the age of the oldest message waiting, the
	// backlog signal an operator alerts on. Read in the same pass as the counts, at no cost.
	OldestVisible time.Time
}

// DeadLetterSource is a (queue, client) pair whose dead letters are in the inspected queue.
type DeadLetterSource struct {
	QueueAndClientID
	// DeadLetters is how many of the inspected queue's messages came from this pair.
	DeadLetters int
	// Stats are the pair's own counts (its shards as the inspecting queue's UseShards).
	Stats Stats
}

// Pairs returns every (queue, client) pair of the table, as List, sorted by queue and client.
func (ins *Inspector) Pairs(ctx context.Context) ([]QueueAndClientID, error) {
	pairs, err := ins.q.List(ctx)
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].QueueName != pairs[j].QueueName {
			return pairs[i].QueueName < pairs[j].QueueName
		}
		return pairs[i].ClientID < pairs[j].ClientID
	})
	return pairs, err
}

// QueueStats returns the Stats of every client of this queue name, sorted by client, with
// the queue's settings (shards, dead-letter queue) applied to each.
func (ins *Inspector) QueueStats(ctx context.Context) ([]PairStats, error) {
	s := ins.q.resolved(ctx)
	if err := s.checkQueue(); err != nil {
		return nil, err
	}
	pairs, err := ins.Pairs(ctx)
	if err != nil {
		return nil, err
	}
	var out []PairStats
	for _, p := range pairs {
		if p.QueueName != s.queue {
			continue
		}
		st, oldest, err := ins.q.Clone().UseClientID(p.ClientID).statsAndOldest(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, PairStats{QueueAndClientID: p, Stats: st, OldestVisible: oldest})
	}
	return out, nil
}

// TableStats returns the Stats of every pair of the table, sorted by queue and client. Each
// pair is read with its own queue's stored definition (every shard it ever had), or, for a
// queue nobody defined, with this handle's shard count. DeadLettered counts the messages of any pair of
// the table that were dead-lettered from the pair (by their DeadLetterSourceQueue), so it
// needs no dead-letter configuration and ignores UseDeadLetterQueue; dead letters kept in
// another table are not counted. It reads every message item of the table's pairs.
func (ins *Inspector) TableStats(ctx context.Context) ([]PairStats, error) {
	s := ins.q.snapshot()
	if err := s.checkTable(); err != nil {
		return nil, err
	}
	pairs, err := ins.Pairs(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]PairStats, len(pairs))
	index := map[QueueAndClientID]int{}
	origins := map[QueueAndClientID]int{}
	for i, p := range pairs {
		ps := *s
		ps.queue, ps.client, ps.dlq = p.QueueName, p.ClientID, nil
		// Each pair with its own queue's stored definition (its shard counts), under this
		// handle's explicit settings.
		e, err := ins.q.definitionFor(ctx, &ps)
		if err != nil {
			return nil, err
		}
		rs := ps.apply(e)
		rs.dlq = nil // dead letters are counted by their source below, not per target
		st, oldest, from, err := ins.q.pairStats(ctx, rs)
		if err != nil {
			return nil, err
		}
		out[i], index[p] = PairStats{QueueAndClientID: p, Stats: st, OldestVisible: oldest}, i
		for src, n := range from {
			origins[src] += n
		}
	}
	for src, n := range origins {
		if i, ok := index[src]; ok {
			out[i].DeadLettered += n
		}
	}
	return out, nil
}

// DeadLetterSources returns the pairs whose dead letters are in this (queue, client), with how
// many each sent and their own Stats, sorted by queue and client: what SQS's
// ListDeadLetterSourceQueues lists, found from the dead letters themselves. It reads every
// message item of this pair, then each source's.
func (ins *Inspector) DeadLetterSources(ctx context.Context) ([]DeadLetterSource, error) {
	s := ins.q.resolved(ctx)
	if err := s.checkQueue(); err != nil {
		return nil, err
	}
	_, _, from, err := ins.q.pairStats(ctx, s)
	if err != nil {
		return nil, err
	}
	out := make([]DeadLetterSource, 0, len(from))
	for src, n := range from {
		ps := *s
		ps.queue, ps.client, ps.dlq = src.QueueName, src.ClientID, nil
		st, _, _, err := ins.q.pairStats(ctx, &ps)
		if err != nil {
			return nil, err
		}
		out = append(out, DeadLetterSource{QueueAndClientID: src, DeadLetters: n, Stats: st})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].QueueAndClientID, out[j].QueueAndClientID
		return a.QueueName < b.QueueName || (a.QueueName == b.QueueName && a.ClientID < b.ClientID)
	})
	return out, nil
}

// pairStats counts one pair's messages by state (DeadLettered left 0), finds when its oldest
// visible message was sent (zero if none) and, for the dead letters among them, the pairs
// they came from. It only reads.
func (q *DynamoDBQueue) pairStats(ctx context.Context, s *settings) (Stats, time.Time, map[QueueAndClientID]int, error) {
	q.syncClock(ctx, s)
	now := q.core.now()
	var st Stats
	var oldest int64 // ms; legacy items without a send time (0) do not count
	count := func(r *record, lock *record) {
		state := classifyOnly(r, lock, now)
		st.add(state)
		if state == StateVisible && r.Sent > 0 && (oldest == 0 || r.Sent < oldest) {
			oldest = r.Sent
		}
	}
	from := map[QueueAndClientID]int{}
	for pk := range s.partitions() {
		locks := map[string]*record{} // group SK -> lock item
		var grouped []record
		err := q.scanPartition(ctx, s.table, pk, keys.GroupPrefix, "SK, vis, tok, rc, va, grp, orig, st, #ttl", func(r record) {
			switch {
			case r.Expired(now):
			case strings.HasPrefix(r.SK, keys.GroupPrefix):
				locks[r.SK] = &r
			case strings.HasPrefix(r.SK, keys.GroupMsgPrefix):
				grouped = append(grouped, r)
			case strings.HasPrefix(r.SK, keys.MessagePrefix):
				count(&r, nil)
				if queue, client, _, ok := keys.SplitPartitionKey(r.Origin); ok {
					from[QueueAndClientID{QueueName: queue, ClientID: client}]++
				}
			}
		})
		if err != nil {
			return Stats{}, time.Time{}, nil, err
		}
		groups := map[string]bool{}
		for _, r := range grouped {
			if r.Group == "" { // written before grp was stored: the key names the group
				r.Group, _ = keys.GroupFromSK(r.SK)
			}
			gsk := keys.GroupSK(r.Group)
			groups[gsk] = true
			count(&r, locks[gsk])
		}
		st.Groups += len(groups)
	}
	var at time.Time
	if oldest > 0 {
		at = time.UnixMilli(oldest)
	}
	return st, at, from, nil
}

func classifyOnly(r, lock *record, now time.Time) MessageState {
	st, _ := classify(r, lock, now)
	return st
}

func (st *Stats) add(s MessageState) {
	switch s {
	case StateVisible:
		st.Visible++
	case StateInFlight:
		st.InFlight++
	case StateDelayed:
		st.Delayed++
	}
}
