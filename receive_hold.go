package dynamodbqueue

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dynamodbqueue/dynamodbqueue/internal/store"
)

// Messages held while a receive collects more.
//
// A receive that waits for MinMessages holds what it has claimed so far. If it let those claims
// lapse, its next pass would claim the same messages again and return them twice (once with a
// stale handle) and count extra receives towards the dead-letter queue. So it extends every
// held claim when half of it is left, and when it returns it restarts the visibility timeout of
// the messages it claimed in earlier passes: each returned message is hidden for the full
// timeout from the moment the call returns. This costs one write per held message per half
// timeout of waiting, and one per message held across a wait; a call that returns after one
// pass (the usual case) pays nothing extra.

// minHoldVisibility is the shortest visibility timeout a receive keeps claims alive for while
// it waits: shorter claims would need extending faster than a round trip can be relied on, so
// such a receive returns as soon as it holds a message.
const minHoldVisibility = time.Second

// heldClaims are the messages one receive call holds.
type heldClaims struct {
	msgs  []events.SQSMessage
	keys  []string       // table, PK and SK of msgs[i]: a message claimed twice is held once
	index map[string]int // keys[i] -> i
	lapse []time.Time    // when the claim of msgs[i] ends, by this process's clock (or earlier)
	pass  []int          // the pass that claimed msgs[i]
}

func (h *heldClaims) len() int { return len(h.msgs) }

// add records a pass's messages, claimed with visibility timeout vt at or after start. A
// message held already (its claim lapsed after all, say a failed extension) replaces the old
// entry: only the newest handle is valid.
func (h *heldClaims) add(s *settings, batch []events.SQSMessage, start time.Time, vt time.Duration, pass int) {
	for _, m := range batch {
		k := m.ReceiptHandle
		if hd, err := s.signer.Parse(m.ReceiptHandle); err == nil {
			k = hd.Table + "\x00" + hd.PK + "\x00" + hd.SK
		}
		if i, ok := h.index[k]; ok {
			h.msgs[i], h.lapse[i], h.pass[i] = m, start.Add(vt), pass
			continue
		}
		if h.index == nil {
			h.index = map[string]int{}
		}
		h.index[k] = len(h.msgs)
		h.msgs = append(h.msgs, m)
		h.keys = append(h.keys, k)
		h.lapse = append(h.lapse, start.Add(vt))
		h.pass = append(h.pass, pass)
	}
}

// renewAt is when the earliest held claim has half of vt left; zero when nothing is held.
func (h *heldClaims) renewAt(vt time.Duration) time.Time {
	var at time.Time
	for _, l := range h.lapse {
		if r := l.Add(-vt / 2); at.IsZero() || r.Before(at) {
			at = r
		}
	}
	return at
}

// extend restarts the visibility timeout of the held messages that pick selects. A message
// whose claim is gone (ErrStaleReceiptHandle: another consumer or a purge has it) is dropped,
// so it is never returned. ok is false when some extension failed otherwise; those messages
// are kept (their claims still run for a while) and the caller stops collecting.
//
// Like the claims themselves, the extensions run on after ctx ends, bounded by claimTimeout:
// the messages are about to be returned and must stay hidden as promised.
func (q *DynamoDBQueue) extend(ctx context.Context, s *settings, h *heldClaims, vt time.Duration, pick func(i int) bool) (ok bool) {
	var idx []int
	for i := range h.msgs {
		if pick(i) {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return true
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), claimTimeout)
	defer cancel()
	start := q.core.now()
	errs := make([]error, len(idx))
	store.Parallel(len(idx), claimConcurrency, func(j int) {
		hd, err := s.signer.Parse(h.msgs[idx[j]].ReceiptHandle)
		if err == nil {
			err = q.changeOne(wctx, s, hd, vt)
		}
		errs[j] = err
	})
	ok = true
	drop := map[int]bool{}
	for j, err := range errs {
		i := idx[j]
		switch {
		case err == nil:
			h.lapse[i] = start.Add(vt)
		case errors.Is(err, ErrStaleReceiptHandle):
			drop[i] = true
		default:
			ok = false
			s.logger.DebugContext(ctx, "dynamodbqueue: could not extend a held message", "error", err)
		}
	}
	if len(drop) > 0 {
		h.remove(drop)
	}
	return ok
}

// remove drops the entries whose index is in drop.
func (h *heldClaims) remove(drop map[int]bool) {
	n := 0
	for i := range h.msgs {
		if drop[i] {
			delete(h.index, h.keys[i])
			continue
		}
		h.msgs[n], h.keys[n], h.lapse[n], h.pass[n] = h.msgs[i], h.keys[i], h.lapse[i], h.pass[i]
		h.index[h.keys[n]] = n
		n++
	}
	h.msgs, h.keys, h.lapse, h.pass = h.msgs[:n], h.keys[:n], h.lapse[:n], h.pass[:n]
}

// finish returns the held messages after restarting the timeout of those claimed before the
// last pass, so that each is hidden for vt from now.
func (q *DynamoDBQueue) finish(ctx context.Context, s *settings, h *heldClaims, vt time.Duration, lastPass int) []events.SQSMessage {
	q.extend(ctx, s, h, vt, func(i int) bool { return h.pass[i] < lastPass })
	return h.msgs
}
