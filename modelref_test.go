package dynamodbqueue_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// The reference model of TestModel: what the queue promises, tracked per message, with
// "maybe" states wherever the semantics allow either outcome (an injected failure whose write
// may or may not have been applied, a push racing a purge). Every time is a reading of the
// injected clock of the process that acted; modelSlack absorbs the duration of one operation
// (its clock readings come from somewhere between the start and the end of the call).

// modelSlack is the uncertainty of every time comparison: an outcome within this of a boundary
// (a visibility timeout, a delay, a TTL, the deduplication window) may go either way.
const modelSlack = 15 * time.Second

// goneState says whether a message was removed (deleted or purged).
type goneState int

const (
	present   goneState = iota
	maybeGone           // a delete or purge failed ambiguously, or raced the push
	isGone              // an acknowledged delete or purge removed it
)

// refMsg is one pushed message as the model knows it.
type refMsg struct {
	body, group, dedup string
	pair, seq          int
	proc               int       // the process that pushed it
	pushedAt           time.Time // when, in reference time
	id                 string    // the MessageId its push reported (or its first delivery showed)
	acked              bool      // must be delivered unless removed or expired
	maybe              bool      // its push failed: it may or may not exist
	everMaybe          bool      // it was maybe once: its place in its group is unknown
	ambiguous          bool      // reported a duplicate of a push the model never saw succeed
	concurrent         bool      // pushed while another operation ran: no order claims
	dup                *refMsg
	visibleAt          time.Time
	expiresAt          time.Time
	gone               goneState
	handle             string    // the receipt handle of its newest known claim
	claimUntil         time.Time // that claim holds at least until then, by the claimer's own clock
	phantom            bool      // a failed receive may have claimed it with a token nobody knows
	delivered          int
	rc                 int  // deliveries since its push or redrive (a lower bound of its receive count)
	deadMaybe          bool // a receive may have moved it to the dead-letter queue
}

// dedupEntry is one deduplication window the model knows of.
type dedupEntry struct {
	start   time.Time
	certain bool    // a push with this ID was stored then; false after a failure or a purge
	orig    *refMsg // the message stored (certain entries)
}

// dedupExpect is what a push with a deduplication ID must report.
type dedupExpect int

const (
	expectEither dedupExpect = iota
	expectDuplicate
	expectNew
)

// refModel is the state of every (queue, client) pair of one test case.
type refModel struct {
	msgs    []*refMsg
	byBody  map[string]*refMsg
	byID    map[string]*refMsg
	dedup   map[string][]*dedupEntry // pair|dedup ID
	seq     int
	errs    []string
	phantom []time.Time   // per pair: unknown claims of failed receives hold at most until then
	skew    time.Duration // the largest difference between two processes' clocks so far
}

// loose is the slack of comparisons between times read on different clocks (TTLs, delays,
// deduplication windows): with skewed clocks only the claim promise stays exact.
func (m *refModel) loose() time.Duration { return modelSlack + m.skew }

func newRefModel(pairs int) *refModel {
	return &refModel{byBody: map[string]*refMsg{}, byID: map[string]*refMsg{}, dedup: map[string][]*dedupEntry{}, phantom: make([]time.Time, pairs)}
}

// violation records a broken promise; the driver fails the case with all of them.
func (m *refModel) violation(format string, args ...any) {
	m.errs = append(m.errs, fmt.Sprintf(format, args...))
}

// newMsg registers a message about to be pushed, in push order.
func (m *refModel) newMsg(pair int, body, group, dedup string) *refMsg {
	m.seq++
	r := &refMsg{body: body, group: group, dedup: dedup, pair: pair, seq: m.seq}
	m.msgs = append(m.msgs, r)
	m.byBody[body] = r
	return r
}

func dedupKey(pair int, id string) string { return fmt.Sprintf("%d|%s", pair, id) }

// expectDedup says what a push of id into pair at t must do.
func (m *refModel) expectDedup(pair int, id string, t time.Time) (dedupExpect, *refMsg) {
	entries := m.dedup[dedupKey(pair, id)]
	allOver := true
	for _, e := range entries {
		end := e.start.Add(dynamodbqueue.DedupWindow)
		if e.certain && t.Before(end.Add(-m.loose())) {
			return expectDuplicate, e.orig
		}
		if !t.After(end.Add(m.loose())) {
			allOver = false
		}
	}
	if allOver {
		return expectNew, nil
	}
	return expectEither, nil
}

func (m *refModel) addDedup(pair int, id string, e *dedupEntry) {
	k := dedupKey(pair, id)
	m.dedup[k] = append(m.dedup[k], e)
}

// pushed applies the outcome of a push of r at [s, e]: stored under MessageId id (which may be
// another message's, a duplicate), or failed. unknownDups is how many of the call's duplicates
// the model cannot attribute to a message it knows.
func (m *refModel) pushed(r *refMsg, stored bool, id string, s time.Time, delay, ttl time.Duration, unknownDups int) {
	r.pushedAt, r.visibleAt, r.expiresAt = s, s.Add(delay), s.Add(ttl)
	if !stored {
		r.maybe, r.everMaybe = true, true
		if r.dedup != "" {
			m.addDedup(r.pair, r.dedup, &dedupEntry{start: s})
		}
		return
	}
	r.id = id
	exp, orig := expectNew, (*refMsg)(nil)
	if r.dedup != "" {
		exp, orig = m.expectDedup(r.pair, r.dedup, s)
	}
	if o := m.byID[id]; o != nil && o != r {
		// A duplicate of a message the model knows.
		switch {
		case o.pair != r.pair || o.dedup != r.dedup || r.dedup == "":
			m.violation("push of %s (pair %d, dedup %q) reported MessageId %s of %s (pair %d, dedup %q)", r.body, r.pair, r.dedup, id, o.body, o.pair, o.dedup)
		case exp == expectNew:
			m.violation("push of %s reported a duplicate of %s, but dedup ID %q has no open window", r.body, o.body, r.dedup)
		case exp == expectDuplicate && orig != nil && orig != o:
			m.violation("push of %s reported a duplicate of %s, but the window of %q belongs to %s", r.body, o.body, r.dedup, orig.body)
		}
		r.dup = o
		return
	}
	if exp == expectDuplicate {
		m.violation("push of %s stored a new message (MessageId %s) within the dedup window of %q opened by %s", r.body, id, r.dedup, orig.body)
	}
	if r.dedup != "" && unknownDups > 0 {
		// Either new, or a repeat of a push whose success the model never saw.
		r.ambiguous, r.maybe, r.everMaybe = true, true, true
		m.addDedup(r.pair, r.dedup, &dedupEntry{start: s})
		return
	}
	r.acked = true
	m.byID[id] = r
	for _, a := range m.msgs { // an earlier ambiguous push that reported this ID repeated r
		if a.ambiguous && a.id == id && a != r {
			m.resolveDup(a, r)
		}
	}
	if r.dedup != "" {
		m.addDedup(r.pair, r.dedup, &dedupEntry{start: s, certain: true, orig: r})
	}
}

// resolveDup records that ambiguous push a turned out to be a duplicate of o.
func (m *refModel) resolveDup(a, o *refMsg) {
	a.ambiguous, a.maybe, a.dup = false, false, o
	if a.delivered > 0 {
		m.violation("%s was reported a duplicate of %s (MessageId %s), yet it was delivered", a.body, o.body, o.id)
	}
}

// checkDelivery checks one message a receive (pair, reference-clock readings s..e, and own: e
// on the receiving process's clock) returned, before the model records the claim.
//
// A claim is an instant the claimer wrote by its own clock, and a receiver compares it with its
// own: with skewed clocks a receiver ahead by x takes a message whose claim has less than x left
// (docs/RELIABILITY.md, "Clocks"). Claims are therefore kept and compared on the clocks of the
// processes, exactly (within modelSlack), while TTLs and delays are compared in reference time,
// widened by the skew.
func (m *refModel) checkDelivery(pair int, body, msgID string, s, e, own time.Time) *refMsg {
	r := m.byBody[body]
	switch {
	case r == nil:
		m.violation("received %q, which was never pushed", body)
		return nil
	case r.pair != pair:
		m.violation("pair %d received %s of pair %d (isolation)", pair, body, r.pair)
		return nil
	case r.dup != nil:
		m.violation("received %s, which its push reported as a duplicate of %s", body, r.dup.body)
	case r.gone == isGone:
		m.violation("received %s after an acknowledged delete or purge removed it", body)
	case r.expiresAt.Add(m.loose()).Before(s):
		m.violation("received %s after its TTL ended (%v ago)", body, s.Sub(r.expiresAt))
	case e.Before(r.visibleAt.Add(-m.loose())):
		m.violation("received %s %v before its delay ended", body, r.visibleAt.Sub(e))
	case r.handle != "" && r.claimUntil.Add(-modelSlack).After(own):
		m.violation("received %s again while a claim holds for %v more (delivered %d times before)", body, r.claimUntil.Sub(own), r.delivered)
	case pair == modelDLQPair && r.rc >= modelMaxReceives:
		m.violation("received %s a %dth time; MaxReceiveCount %d sends it to the dead-letter queue", body, r.rc+1, modelMaxReceives)
	}
	if r.id != "" && msgID != r.id {
		m.violation("received %s with MessageId %s, but its push reported %s", body, msgID, r.id)
	}
	if r.group != "" {
		m.checkGroup(r, e, own)
	}
	return r
}

// checkGroup checks one in flight per group and push order within the group.
func (m *refModel) checkGroup(r *refMsg, e, own time.Time) {
	for _, o := range m.msgs {
		if o == r || o.pair != r.pair || o.group != r.group || o.dup != nil || o.gone != present || o.deadMaybe {
			continue
		}
		if o.handle != "" && o.claimUntil.Add(-modelSlack).After(own) {
			m.violation("received %s of group %s while %s of that group is in flight", r.body, r.group, o.body)
			continue
		}
		// A group is ordered by sequence numbers, which carry their producer's clock: two
		// producers' messages pushed closer together than their clocks' difference may come
		// out either way (docs/RELIABILITY.md, "Clocks").
		ordered := !o.everMaybe && !o.concurrent && !r.everMaybe && !r.concurrent &&
			(o.proc == r.proc || r.pushedAt.Sub(o.pushedAt) > m.loose())
		if ordered && o.acked && o.seq < r.seq && o.expiresAt.After(e.Add(m.loose())) && o.visibleAt.Add(m.loose()).Before(e) {
			m.violation("received %s of group %s before the earlier %s (group order)", r.body, r.group, o.body)
		}
	}
}

// claimed records a delivery: r is held through h until at least until.
func (m *refModel) claimed(r *refMsg, h, msgID string, until time.Time) {
	if r.id == "" {
		r.id = msgID
		if m.byID[msgID] == nil {
			m.byID[msgID] = r
		}
		for _, a := range m.msgs {
			if a.ambiguous && a.id == msgID && a != r {
				m.resolveDup(a, r)
			}
		}
	}
	r.handle, r.claimUntil, r.phantom = h, until, false
	if r.dup == nil && !r.ambiguous {
		r.maybe, r.acked = false, true
	}
	if r.gone == maybeGone {
		r.gone = present
	}
	r.delivered++
	r.rc++
	r.deadMaybe = false
}

// receiveFailed records that a failed receive on pair may have claimed any other message of it
// until at most until.
func (m *refModel) receiveFailed(pair int, returned map[*refMsg]bool, until time.Time) {
	for _, r := range m.msgs {
		if r.pair == pair && !returned[r] {
			r.phantom = true
		}
	}
	m.mayDeadLetter(pair, returned)
	if until.After(m.phantom[pair]) {
		m.phantom[pair] = until
	}
}

// purged records a purge of pair: acknowledged (removes everything) or failed (maybe).
func (m *refModel) purged(pair int, ok bool) {
	for _, r := range m.msgs {
		if r.pair != pair || r.gone == isGone {
			continue
		}
		switch {
		case r.concurrent && r.gone == present:
			r.gone = maybeGone
		case ok && !r.concurrent:
			r.gone = isGone
		case !ok:
			r.gone = maybeGone
		}
	}
	m.forgetDedup(pair)
}

// forgetDedup makes every deduplication window of pair uncertain: a purge (running or done)
// may have removed the records.
func (m *refModel) forgetDedup(pair int) {
	for k, es := range m.dedup {
		if strings.HasPrefix(k, fmt.Sprintf("%d|", pair)) {
			for _, e := range es {
				e.certain = false
			}
		}
	}
}

// countBounds returns the range Count must fall in for pair at clock readings s..e.
func (m *refModel) countBounds(pair int, s, e time.Time) (lo, hi int) {
	for _, r := range m.msgs {
		if r.pair != pair || r.dup != nil || r.gone == isGone || !(r.acked || r.maybe) {
			continue
		}
		if !r.expiresAt.Add(m.loose()).After(s) {
			continue
		}
		hi++
		if r.acked && !r.maybe && !r.deadMaybe && r.gone == present && r.expiresAt.After(e.Add(m.loose())) {
			lo++
		}
	}
	return lo, hi
}

// alive reports whether r's TTL is surely not over at t. A message past its TTL is never
// delivered, and a receive may delete it (past the expired-deletion margin) or step over it, so
// its handles may stop working even while its claim would still hold.
func (m *refModel) alive(r *refMsg, t time.Time) bool {
	return r.expiresAt.After(t.Add(m.loose()))
}

// mustDeliver reports whether r has to come out of a final drain that ends at t.
func (m *refModel) mustDeliver(r *refMsg, t time.Time) bool {
	return r.acked && !r.maybe && !r.deadMaybe && r.dup == nil && r.gone == present && m.alive(r, t)
}

// The dead-letter queue of TestModel: pair modelDLQPair sends a message there on the receive
// after modelMaxReceives.
const (
	modelDLQPair     = 0
	modelMaxReceives = 2
)

// mayDeadLetter records that a receive on pair (which returned returned) may have moved any
// message received modelMaxReceives times (or claimed by an unknown receive) to the
// dead-letter queue.
func (m *refModel) mayDeadLetter(pair int, returned map[*refMsg]bool) {
	if pair != modelDLQPair {
		return
	}
	for _, r := range m.msgs {
		if r.pair == pair && !returned[r] && r.gone != isGone && (r.rc >= modelMaxReceives || r.phantom) {
			r.deadMaybe = true
		}
	}
}

// redriven records a redrive of every dead letter (ok) or of some (failed): a message that
// may have been dead-lettered is back, or may be, with its receive count reset, and its place
// in its group is unknown.
func (m *refModel) redriven(ok bool) {
	for _, r := range m.msgs {
		if r.pair == modelDLQPair && r.deadMaybe {
			r.rc, r.everMaybe, r.deadMaybe = 0, true, !ok
		}
	}
}

// settleAt is when every claim, delay and unknown claim of the model has run out.
func (m *refModel) settleAt() time.Time {
	var t time.Time
	later := func(u time.Time) {
		if u.After(t) {
			t = u
		}
	}
	for _, r := range m.msgs {
		later(r.claimUntil)
		later(r.visibleAt)
	}
	for _, p := range m.phantom {
		later(p)
	}
	return t
}

// modelTally sums what the cases did, so a run shows it exercised the queue.
type modelTally struct{ Cases, Messages, Acked, Deliveries, Maybe, Duplicates int }

func (t *modelTally) add(m *refModel) {
	t.Cases++
	for _, r := range m.msgs {
		t.Messages++
		t.Deliveries += r.delivered
		switch {
		case r.dup != nil:
			t.Duplicates++
		case r.everMaybe:
			t.Maybe++
		case r.acked:
			t.Acked++
		}
	}
}

// describePair lists the model's messages of pair, for failure reports.
func (m *refModel) describePair(pair int) string {
	var b strings.Builder
	for _, r := range m.msgs {
		if r.pair == pair {
			fmt.Fprintf(&b, "%s{g=%s d=%s acked=%v maybe=%v dup=%v gone=%d dead?=%v rc=%d delivered=%d} ", r.body, r.group, r.dedup, r.acked, r.maybe, r.dup != nil, r.gone, r.deadMaybe, r.rc, r.delivered)
		}
	}
	return b.String()
}
