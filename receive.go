package dynamodbqueue

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamodbqueue/dynamodbqueue/internal/handle"
	"github.com/dynamodbqueue/dynamodbqueue/internal/keys"
	"github.com/dynamodbqueue/dynamodbqueue/internal/message"
	"github.com/dynamodbqueue/dynamodbqueue/internal/store"
)

// Receive limits.
const (
	// MaxReceiveMessages is the most messages one receive returns.
	MaxReceiveMessages = 1000
	// MaxWaitTime is the longest a receive waits for messages.
	MaxWaitTime = time.Hour
	// claimConcurrency bounds the conditional writes one receive or delete has in flight.
	claimConcurrency = 16
)

// ReceiveOptions tunes ReceiveMessages. The zero value receives one message without waiting.
type ReceiveOptions struct {
	// MaxMessages is the most messages to return (1..MaxReceiveMessages; 0 means 1).
	MaxMessages int
	// MinMessages makes the call return as soon as it holds at least this many messages
	// (1..MaxMessages; 0 means 1), or when WaitTime is over. While it waits for more, the
	// messages it holds stay claimed: it extends their visibility before it runs out, so it
	// never claims or returns a message twice. With a VisibilityTimeout under one second it
	// returns as soon as it holds any message instead.
	MinMessages int
	// WaitTime is how long to wait for MinMessages (0..MaxWaitTime). 0 makes one pass over
	// the queue and returns at once.
	WaitTime time.Duration
	// VisibilityTimeout hides the received messages from other consumers this long from the
	// moment the call returns (0..MaxVisibilityTimeout); 0 means the queue's default
	// (UseVisibilityTimeout). Messages claimed early in a long poll have their timeout
	// restarted when the call returns, at the cost of one write each.
	VisibilityTimeout time.Duration
}

// PollMessages claims up to maxMessages visible messages and hides them for visibilityTimeout
// (0 = the queue's default). With timeout 0 it makes one pass and returns at once, with
// whatever it found (possibly nothing). With a positive timeout it keeps trying until it holds
// maxMessages or the timeout is over, and returns what it holds then. Messages it holds while
// it waits stay hidden (see ReceiveOptions.MinMessages): each message is returned once, and
// its visibility timeout runs from the moment the call returns.
//
// Each returned message carries a ReceiptHandle for DeleteMessages and ChangeVisibility, and
// the SentTimestamp, ApproximateReceiveCount and ApproximateFirstReceiveTimestamp attributes.
func (q *DynamoDBQueue) PollMessages(ctx context.Context, timeout, visibilityTimeout time.Duration, maxMessages int) ([]events.SQSMessage, error) {
	res, err := q.receive(ctx, ReceiveOptions{
		MaxMessages:       maxMessages,
		MinMessages:       maxMessages,
		WaitTime:          timeout,
		VisibilityTimeout: visibilityTimeout,
	}, true)
	return res.Messages, err
}

// ReceiveMessages is the SQS-style receive with long polling: it returns as soon as it holds
// at least opts.MinMessages messages (at most opts.MaxMessages), or when opts.WaitTime is
// over. While the queue is empty it waits on the table's watcher (Client.Watch, shared by every
// long poll of the process), which wakes it when another process pushes; a push from this
// process wakes it at once. A handle given its own UseLongPollInterval also asks DynamoDB again
// at that interval, as does every long poll of a client without a watcher
// (Options.WatchInterval < 0). It never sleeps while messages are available.
//
// If ctx ends while messages are already claimed, they are returned without an error: they
// are the caller's to process or release. Otherwise the context's error is returned. When
// another error stops the receive after some messages were claimed, those messages are
// returned together with the error: process or release them, they are claimed.
//
// A WaitTime of 0 means the queue's receive wait time (QueueAttributes.ReceiveWaitTime or
// UseReceiveWaitTime; 0 unless set: one pass).
func (q *DynamoDBQueue) ReceiveMessages(ctx context.Context, opts ReceiveOptions) ([]events.SQSMessage, error) {
	res, err := q.receive(ctx, opts, false)
	return res.Messages, err
}

// ReceiveResult is what ReceiveWithResult returns.
type ReceiveResult struct {
	// Messages are the claimed messages, as ReceiveMessages returns them.
	Messages []events.SQSMessage
	// Drained reports that the receive's last look read every shard of the pair to its end (or
	// knew it empty, see Client.Watch): when it looked, nothing else was visible there that this
	// process was not claiming. What becomes visible later (a push, a release, a claim that
	// lapses) is announced by the table watcher's wake-ups, so a consumer woken by them (the
	// consumer package, or Client.Watch) need not poll a drained pair again before the next
	// one. False says nothing: more may be visible (a batch that came back full, a failure).
	// The reads are eventually consistent: on AWS a message stored a moment before may be
	// missing from them, which the watcher's second wake-up for a push, 100 ms after its
	// first, covers.
	Drained bool
}

// ReceiveWithResult is ReceiveMessages that also reports whether the pair was drained
// (ReceiveResult.Drained).
func (q *DynamoDBQueue) ReceiveWithResult(ctx context.Context, opts ReceiveOptions) (ReceiveResult, error) {
	return q.receive(ctx, opts, false)
}

// receive is ReceiveWithResult; explicitWait says that opts.WaitTime is the caller's even when
// 0 (PollMessages' timeout), so the queue's receive wait time does not apply.
func (q *DynamoDBQueue) receive(ctx context.Context, opts ReceiveOptions, explicitWait bool) (res ReceiveResult, err error) {
	s := q.resolved(ctx)
	if err := s.checkQueue(); err != nil {
		return res, err
	}
	msgs, drained, err := q.receiveLoop(ctx, s, opts, explicitWait)
	return ReceiveResult{Messages: msgs, Drained: drained}, err
}

// receiveLoop is receive once the settings are resolved; drained is that of its last look,
// false whenever it returns an error.
func (q *DynamoDBQueue) receiveLoop(ctx context.Context, s *settings, opts ReceiveOptions, explicitWait bool) (_ []events.SQSMessage, drained bool, _ error) {
	maxN, minN := cmp.Or(opts.MaxMessages, 1), cmp.Or(opts.MinMessages, 1)
	if maxN < 1 || maxN > MaxReceiveMessages {
		return nil, false, argError("MaxMessages", "maxMessages %d, must be 1..%d", opts.MaxMessages, MaxReceiveMessages)
	}
	if minN < 1 || minN > maxN {
		return nil, false, argError("MinMessages", "minMessages %d, must be 1..maxMessages (%d)", opts.MinMessages, maxN)
	}
	if opts.WaitTime < 0 || opts.WaitTime > MaxWaitTime {
		return nil, false, argError("WaitTime", "wait time %v, must be 0..%v", opts.WaitTime, MaxWaitTime)
	}
	if opts.WaitTime == 0 && !explicitWait {
		opts.WaitTime = s.receiveWait
	}
	vt := opts.VisibilityTimeout
	if vt == 0 {
		vt = s.visibilityTimeout
	}
	if vt < 0 || vt > MaxVisibilityTimeout {
		return nil, false, argError("VisibilityTimeout", "visibility timeout %v, must be 0..%v", vt, MaxVisibilityTimeout)
	}

	q.syncClock(ctx, s)
	deadline := time.Now().Add(opts.WaitTime)
	wakeKey := pairKey(s.table, s.queue, s.client)
	interval := s.pollMin
	lp := q.startLongPoll(s, opts.WaitTime) // wait.go: the table's watcher wakes this poll
	defer lp.done()
	var held heldClaims
	// renew keeps what is held from lapsing while collecting more (see receive_hold.go); false
	// means an extension failed. It runs before every pass and before every shard of a pass:
	// time passes within a pass too, and a claim that lapsed before a later shard is read would
	// be claimed again there (one more receive counted, towards the dead-letter queue).
	renew := func() bool {
		return held.len() == 0 || q.core.now().Before(held.renewAt(vt)) ||
			q.extend(ctx, s, &held, vt, func(int) bool { return true })
	}
	// What this receive claimed has its visibility rewritten (extended, restarted on return),
	// which no hint announces: marks of the pair made meanwhile lapse (receive_mark.go).
	defer func() {
		if held.len() > 0 {
			q.core.touchPair(s.table, s.queue, s.client)
		}
	}()
	woken := false
	for pass := 0; ; pass++ {
		wake := q.core.wake.channel(wakeKey)
		// A checked-empty mark (receive_mark.go) spares the pass of an idle pair: a new long
		// poll goes straight to waiting, and one that waited until its deadline returns without
		// a last look (it makes the mark if there is none). A wake-up always looks.
		skip := false
		if held.len() == 0 && !woken {
			skip = lp.useMark() || (pass > 0 && !time.Now().Before(deadline) && lp.makeMark(ctx) == markSet)
		}
		woken = false
		var batch []events.SQSMessage
		drained = skip // a valid mark: the pair was found empty, and nothing woke it since
		if !skip {
			lp.nextVis = time.Time{}
			// If renewing fails, return what is held while the claims are still good.
			if !renew() {
				return held.msgs, false, nil
			}
			start := q.core.now()
			var err error
			batch, drained, err = q.receivePass(ctx, s, maxN-held.len(), vt, renew)
			q.core.noteClaims(s, len(batch), vt)
			held.add(s, batch, start, vt, pass)
			if err != nil {
				got := q.finish(ctx, s, &held, vt, pass)
				if len(got) > 0 && ctx.Err() != nil {
					return got, false, nil
				}
				return got, false, err
			}
		}
		left := time.Until(deadline)
		if held.len() >= minN || opts.WaitTime == 0 || left <= 0 || (held.len() > 0 && vt < minHoldVisibility) {
			return q.finish(ctx, s, &held, vt, pass), drained, nil
		}
		if len(batch) > 0 {
			interval = s.pollMin
		}
		// Nothing more is visible now: wait for a push from this process or a wake-up from the
		// watcher (a push from another process), the next retry if this handle polls on its
		// own, the deadline, the renewal of what is held, or the end of ctx.
		d := min(lp.retry(interval), left)
		// Before its first wait, a poll marks its pair checked empty (receive_mark.go), so the
		// pair's next polls skip their query; later waits (after a wake-up) do not probe again.
		if held.len() == 0 && !skip && pass == 0 && lp.makeMark(ctx) == markVisible {
			continue // work came since the pass: look again at once
		}
		if held.len() > 0 {
			d = max(min(d, held.renewAt(vt).Sub(q.core.now())), 0)
		}
		if !lp.nextVis.IsZero() {
			// The mark it used lapses then: a claim or delay runs out, and no hint says so.
			d = max(min(d, lp.nextVis.Sub(q.core.now())), 0)
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			if held.len() > 0 {
				return q.finish(ctx, s, &held, vt, pass+1), false, nil
			}
			return nil, false, ctx.Err()
		case <-wake:
			interval, woken = s.pollMin, true
		case <-t.C:
			interval = min(interval*2, s.pollMax)
		}
		t.Stop()
	}
}

// receivePass makes one pass over the shards, starting at the shard after the one the pair's
// previous pass in this process started at (passStart: random at first, so consumers spread
// out; then in turn, so every shard is first once in any s.shards passes, and a quiet fair
// group's shard is reached however full the others are), and claims up to want messages. It
// reads every shard of s.shards: the ones producers write to now (writeShards) and those
// above, which a lowered shard count gave up and which still hold messages pushed before
// (QueueDefinition.MaxShards). Those are drained
// in the same rotation, so they are not starved under load, and once found empty each is
// skipped for the definition staleness bound (a producer that has not seen the lower count yet
// may still write there within it).
//
// renew runs before each shard after the first; when it fails the pass ends with what it has.
// drained reports that every shard was read to its end or skipped as found empty a moment ago
// (ReceiveResult.Drained).
func (q *DynamoDBQueue) receivePass(ctx context.Context, s *settings, want int, vt time.Duration, renew func() bool) (got []events.SQSMessage, drained bool, err error) {
	drained = true
	n, active := s.shards, s.writeShards()
	start := q.passStart(s, n)
	now := q.core.now()
	// Marks made by this pass lapse early when the pair is woken after this point (idleMark):
	// the channel is taken before any shard is read, so a push that a read missed wakes it.
	// Only sharded pairs make marks; others keep no channel for it.
	var woken <-chan struct{}
	if n > 1 {
		woken = q.core.wake.channel(pairKey(s.table, s.queue, s.client))
	}
	// Skip shards found empty a moment ago, unless that would leave no active shard to ask.
	skipIdle := false
	for i := 0; i < active && !skipIdle; i++ {
		skipIdle = !q.shardIdle(s.table, s.pk(i), now)
	}
	for i := 0; i < n; i++ {
		shard := (start + i) % n
		pk := s.pk(shard)
		givenUp := shard >= active
		if (givenUp || (active > 1 && skipIdle)) && q.shardIdle(s.table, pk, now) {
			continue
		}
		if len(got) >= want || (i > 0 && !renew()) {
			return got, false, nil // shards left unread
		}
		batch, ended, err := q.claimFromShard(ctx, s, pk, want-len(got), vt)
		got = append(got, batch...)
		drained = drained && ended
		if err != nil {
			return got, false, err
		}
		if n > 1 && len(batch) == 0 {
			idleFor := s.pollMax
			if givenUp {
				idleFor = max(idleFor, q.core.defs.staleness)
			}
			mark := idleMark{until: now.Add(idleFor), woken: woken}
			if givenUp {
				// No producer writes there once it knows the lower count, and wake-ups of the
				// pair (its pushes elsewhere) say nothing about it: only the time voids it.
				mark.woken = nil
			}
			q.core.shardHint.Store(s.table+"\x00"+pk, mark)
		}
	}
	return got, drained, nil
}

// shardIdle reports whether a shard was found empty within the last long-poll interval
// (UseLongPollInterval's max), so a pass can skip it instead of paying a query for nothing. A
// push from this process clears the mark; any wake-up of the pair since the mark was made (a
// push or release here, the watcher's signal of another process's hint) voids it.
func (q *DynamoDBQueue) shardIdle(table, pk string, now time.Time) bool {
	v, ok := q.core.shardHint.Load(table + "\x00" + pk)
	if !ok {
		return false
	}
	m := v.(idleMark)
	return now.Before(m.until) && !m.wokenSince()
}

// candidate is an item read from the ready index, and what claiming it produced.
type candidate struct {
	rec      record
	keysOnly bool // rec holds only what a keys-only ready query reads (store.Ready.KeysOnly)
	msg      *events.SQSMessage
	chunk    *record // record whose body lives in chunks, to fetch after the claims
	err      error
}

// claimFromShard reads visible items of one shard from the ready index, in the configured
// order, and claims them. The key condition vis < now reads only items that are visible now,
// so the cost does not depend on how many messages are in flight or delayed.
func (q *DynamoDBQueue) claimFromShard(ctx context.Context, s *settings, pk string, want int, vt time.Duration) (_ []events.SQSMessage, ended bool, _ error) {
	var out []events.SQSMessage
	var startKey map[string]types.AttributeValue
	var expired []record
	defer func() { q.dropExpired(ctx, s, expired) }()
	lost := 0
	defer func() { q.core.adaptSpread(lost) }()
	skipped := false // some read started after another receive's, not where this one's was
	// Receives of this process working the shard read consecutive pages (receive_window.go).
	chain := q.core.chains.join(s.table + "\x00" + pk)
	defer chain.leave()
	for len(out) < want {
		need := want - len(out)
		spread := int(q.core.spread.Load())
		now := q.core.now()
		// Under contention (spread > 1) most candidates read are not claimed: read only their
		// keys, and let the claims return the items they win.
		keysOnly := spread > 1
		// One item more than the candidates: a page without it shows that the shard had
		// nothing else visible (ReceiveResult.Drained), where a page of exactly the limit says
		// nothing (DynamoDB then returns a LastEvaluatedKey whether more follows or not). The
		// extra item is no candidate, and the next page (this receive's, or the read chain's)
		// starts at it.
		limit := min(need*spread, MaxReceiveMessages)
		var next map[string]types.AttributeValue
		more := false
		recs, chained, err := chain.read(ctx, startKey, s.order == FIFO, now, func(start map[string]types.AttributeValue) (recs []record, err error) {
			recs, next, err = q.store(s.table).ReadyPage(ctx, store.Ready{PK: pk, Now: now, Forward: s.order == FIFO,
				Limit: limit + 1, Start: start, Op: "Query", KeysOnly: keysOnly})
			if len(recs) > limit {
				recs, more = recs[:limit], true
				next = store.IndexKey(recs[limit-1])
			}
			return recs, err
		})
		if err != nil {
			return out, false, err
		}
		skipped = skipped || chained // what it read past is another receive's to claim, or not
		pool := make([]candidate, 0, len(recs))
		for _, r := range recs {
			// An expired group lock is not dropped here: a push may have extended it since
			// this read. claimGroup deletes it once the group is empty and untouched.
			if r.Expired(now) && keys.IsMessageSK(r.SK) {
				expired = append(expired, r)
				continue
			}
			pool = append(pool, candidate{rec: r, keysOnly: keysOnly})
		}
		if err := ctx.Err(); err != nil {
			return out, false, err // nothing claimed from this page yet
		}
		// Claim need candidates; each one lost to another consumer is replaced by the next
		// unclaimed one of the page.
		order := claimOrder(len(pool), need, spread)
		claimed, pos := 0, 0
		var firstErr error
		for pos < len(order) && claimed < need && firstErr == nil {
			// Skip what another goroutine of this process is claiming right now: racing it
			// would only waste a write.
			var batch []*candidate
			var claiming []string
			for ; pos < len(order) && len(batch) < need-claimed; pos++ {
				c := &pool[order[pos]]
				k := s.table + "\x00" + c.rec.PK + "\x00" + c.rec.SK
				if _, busy := q.core.claiming.LoadOrStore(k, struct{}{}); !busy {
					batch = append(batch, c)
					claiming = append(claiming, k)
				}
			}
			q.claimAndFetch(ctx, s, batch, vt, now)
			for _, k := range claiming {
				q.core.claiming.Delete(k)
			}
			for _, c := range batch {
				switch {
				case c.err != nil && firstErr == nil:
					firstErr = c.err
				case c.msg != nil:
					claimed++
				case c.err == nil:
					lost++
				}
			}
		}
		for i := range pool { // in index order, whatever order they were claimed in
			if pool[i].msg != nil {
				out = append(out, *pool[i].msg)
			}
		}
		if firstErr != nil {
			return out, false, firstErr
		}
		// Every candidate of a last page read from where this receive's reads began was tried
		// (won, lost to another consumer, or being claimed by another receive of this
		// process): nothing else was visible.
		if next == nil && !more {
			return out, pos == len(order) && !skipped, nil
		}
		startKey = next
	}
	return out, false, nil
}

// Contention between consumers of one shard. Every consumer's query returns the same head of
// the ready index, so consumers that claim it in order collide, and all but one lose each
// race (a wasted, billed write). The spread is how many times more candidates than it needs a
// consumer reads; it claims a random subset of them, keeping the rest as replacements. It
// doubles after a pass that lost races and shrinks by one after a pass that lost none, so a
// lone consumer stays at 1 and keeps strict order; contending consumers trade a little order
// (which they never had between them) for fewer collisions.
const maxSpread = 8

// adaptSpread updates the spread after a pass that lost `lost` claims. Races between
// concurrent updates only blur the adaptation.
func (c *core) adaptSpread(lost int) {
	cur := c.spread.Load()
	switch {
	case lost > 0 && cur < maxSpread:
		c.spread.Store(min(cur*2, maxSpread))
	case lost == 0 && cur > 1:
		c.spread.Store(cur - 1)
	}
}

// claimOrder returns the order in which to try n candidates when need are wanted: with a
// spread of 1 (or no surplus) the index order; otherwise a random need of them, in index
// order, then the rest in index order as replacements.
func claimOrder(n, need, spread int) []int {
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	if spread <= 1 || n <= need {
		return order
	}
	picked := make([]bool, n)
	for _, i := range rand.Perm(n)[:need] {
		picked[i] = true
	}
	k := 0
	for _, first := range []bool{true, false} {
		for i := 0; i < n; i++ {
			if picked[i] == first {
				order[k] = i
				k++
			}
		}
	}
	return order
}

// claimTimeout bounds the claim writes and body reads of one page, which run on after the
// caller's context ends (see claimAndFetch).
const claimTimeout = 30 * time.Second

// claimAndFetch claims the candidates and reads the bodies of the large ones. It does not stop
// when ctx ends: a claim already sent may be applied by DynamoDB, and abandoning it would hide
// a message that nobody holds for a whole visibility timeout. Finishing the page (bounded by
// claimTimeout) lets the caller return every message it claimed.
func (q *DynamoDBQueue) claimAndFetch(ctx context.Context, s *settings, cands []*candidate, vt time.Duration, now time.Time) {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), claimTimeout)
	defer cancel()
	q.claimAll(wctx, s, cands, vt, now)
	if err := q.fetchBodies(wctx, s, cands); err != nil {
		// The small messages of the page are fine; give the large ones back at once.
		var release []string
		for _, c := range cands {
			if c.chunk != nil && c.msg != nil {
				release = append(release, c.msg.ReceiptHandle)
				c.msg, c.err = nil, err
			}
		}
		q.releaseHandles(wctx, s, release)
	}
}

// releaseHandles makes claimed messages visible again at once, best effort: if it fails they
// come back at the end of their visibility timeout.
func (q *DynamoDBQueue) releaseHandles(ctx context.Context, s *settings, hs []string) {
	for _, raw := range hs {
		h, err := s.signer.Parse(raw)
		if err == nil {
			err = q.changeOne(ctx, s, h, 0)
		}
		if err != nil {
			s.logger.DebugContext(ctx, "dynamodbqueue: could not release message", "error", err)
		}
	}
}

// claimAll claims the candidates concurrently; results stay in candidate order.
func (q *DynamoDBQueue) claimAll(ctx context.Context, s *settings, cands []*candidate, vt time.Duration, now time.Time) {
	store.Parallel(len(cands), claimConcurrency, func(i int) {
		c := cands[i]
		if keys.IsMessageSK(c.rec.SK) {
			c.msg, c.chunk, c.err = q.claimMessage(ctx, s, c.rec, c.keysOnly, vt, now)
		} else {
			c.msg, c.chunk, c.err = q.claimGroup(ctx, s, c.rec, vt, now)
		}
	})
}

// claimMessage claims one message outside any group with a conditional write on the vis it
// was read with: of all consumers that read the same vis, exactly one succeeds. The claim
// writes a fresh random token, so an SDK retry of a claim that DynamoDB already applied
// (its condition now fails) is recognised as our own success rather than a lost race.
//
// With keysOnly, r holds only the keys the ready query read, and the claim returns the item as
// it was before (the condition on vis makes it the item that was read).
func (q *DynamoDBQueue) claimMessage(ctx context.Context, s *settings, r record, keysOnly bool, vt time.Duration, now time.Time) (*events.SQSMessage, *record, error) {
	_, seq, err := keys.ParseVis(r.Vis)
	if err != nil {
		return nil, nil, fmt.Errorf("dynamodbqueue: item %s/%s: %w", r.PK, r.SK, err)
	}
	tok := handle.NewToken()
	newVis := keys.Vis(now.Add(vt), seq)
	values := store.CounterValues(now, map[string]types.AttributeValue{":old": avS(r.Vis), ":vis": avS(newVis)})
	if !keysOnly {
		won, err := q.conditionalClaim(ctx, s, r.PK, r.SK, tok, "vis = :old", store.ClaimMessage, values)
		if !won || err != nil {
			return nil, nil, err
		}
	} else {
		won, old, err := q.store(s.table).ClaimItem(ctx, r.PK, r.SK, tok, "vis = :old", store.ClaimMessage, values)
		if !won || err != nil {
			return nil, nil, err
		}
		var ok bool
		if r, ok, err = q.claimedItem(ctx, s, r, old); !ok || err != nil {
			return nil, nil, err
		}
	}
	r.Vis, r.Token = newVis, tok
	return q.afterClaim(ctx, s, r, "", now)
}

// claimedItem returns the whole record of a message claimed from a keys-only candidate k: old,
// the item before the claim, or, when an earlier attempt of the claim won and its response was
// lost (old is nil), the item read back, which already counts this receive: afterClaim counts
// it, so it is taken off here. ok is false if the message was deleted since (a purge).
func (q *DynamoDBQueue) claimedItem(ctx context.Context, s *settings, k record, old map[string]types.AttributeValue) (r record, ok bool, err error) {
	if old != nil {
		return decodeRecord(old), true, nil
	}
	item, err := q.getItem(ctx, s.table, key(k.PK, k.SK))
	if err != nil || item == nil {
		return record{}, false, err
	}
	r = decodeRecord(item)
	r.ReceiveCount--
	return r, true, nil
}

// conditionalClaim runs a claim (see store.Store.Claim) in s's table.
func (q *DynamoDBQueue) conditionalClaim(ctx context.Context, s *settings, pk, sk, tok, cond, update string, values map[string]types.AttributeValue) (bool, error) {
	return q.store(s.table).Claim(ctx, pk, sk, tok, cond, update, values)
}

// afterClaim turns a claimed record into a delivered message, or moves it to the dead-letter
// queue when it has been received too often. groupSK is the group lock it was claimed under.
func (q *DynamoDBQueue) afterClaim(ctx context.Context, s *settings, r record, groupSK string, now time.Time) (*events.SQSMessage, *record, error) {
	r.ReceiveCount++
	if r.FirstReceive == 0 {
		r.FirstReceive = ms(now)
	}
	r.LastReceive = ms(now)
	if s.dlq != nil && r.ReceiveCount > s.dlq.MaxReceiveCount {
		return nil, nil, q.deadLetter(ctx, s, r)
	}
	// The handle carries what a delete must know (chunk count, whether there is a deduplication
	// ID), so the delete need not read the item back.
	h := s.signer.Encode(handle.Handle{Table: s.table, PK: r.PK, SK: r.SK, Group: groupSK, Token: r.Token,
		Chunks: r.Chunks, Dedup: r.Dedup != ""})
	if r.Chunks > 0 {
		rc := r
		return &events.SQSMessage{ReceiptHandle: h}, &rc, nil
	}
	m, err := q.toMessage(r, r.Event, h)
	return m, nil, err
}

// toMessage decodes a stored event and adds the delivery attributes.
func (q *DynamoDBQueue) toMessage(r record, event []byte, receiptHandle string) (*events.SQSMessage, error) {
	m, err := message.Decode(event)
	if err != nil {
		return nil, fmt.Errorf("dynamodbqueue: message %s/%s: %w", r.PK, r.SK, err)
	}
	m.ReceiptHandle = receiptHandle
	if m.Attributes == nil {
		m.Attributes = map[string]string{}
	}
	// The compact stored form leaves the ID and the send time to the item (mid, st).
	if m.MessageId == "" {
		m.MessageId = r.ID
	}
	if _, ok := m.Attributes[AttributeSentTimestamp]; !ok && r.Sent > 0 {
		m.Attributes[AttributeSentTimestamp] = strconv.FormatInt(r.Sent, 10)
	}
	if r.ReceiveCount > 0 {
		m.Attributes[AttributeApproximateReceiveCount] = strconv.Itoa(r.ReceiveCount)
		m.Attributes[AttributeApproximateFirstReceiveTimestamp] = strconv.FormatInt(r.FirstReceive, 10)
	}
	if r.Origin != "" {
		m.Attributes[AttributeDeadLetterSource] = r.Origin
	}
	return &m, nil
}

// fetchBodies reads the chunks of every claimed large message in one batch and assembles them.
// A message whose chunks are missing or malformed gets its own error; an error returned means
// the read itself failed.
func (q *DynamoDBQueue) fetchBodies(ctx context.Context, s *settings, cands []*candidate) error {
	var keyList []map[string]types.AttributeValue
	for _, c := range cands {
		if c.chunk != nil {
			keyList = append(keyList, chunkKeys(*c.chunk)...)
		}
	}
	if len(keyList) == 0 {
		return nil
	}
	found, err := q.batchGet(ctx, s.table, keyList)
	if err != nil {
		return err
	}
	for _, c := range cands {
		if c.chunk == nil {
			continue
		}
		event, err := store.Assemble(*c.chunk, found)
		if err == nil {
			c.msg, err = q.toMessage(*c.chunk, event, c.msg.ReceiptHandle)
		}
		if err != nil {
			c.msg, c.err = nil, err
		}
	}
	return nil
}

func chunkKeys(r record) []map[string]types.AttributeValue { return store.ChunkKeys(r) }

// deleteRequests returns the batch deletes that remove a message item and its body chunks.
func (q *DynamoDBQueue) deleteRequests(r record) []types.WriteRequest { return store.DeleteRequests(r) }
