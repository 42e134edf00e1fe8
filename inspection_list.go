package dynamodbqueue

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamodbqueue/dynamodbqueue/internal/keys"
	"github.com/dynamodbqueue/dynamodbqueue/internal/store"
)

// ListOptions selects a page of messages for Inspector.ListMessages.
type ListOptions struct {
	// State selects the messages; StateAny (the zero value) lists every message of the queue
	// itself, StateDeadLettered those of its dead-letter queue.
	State MessageState
	// Limit is the page size, 1..MaxListMessages; 0 means 100.
	Limit int
	// NewestFirst lists the newest message first; the default is oldest first.
	NewestFirst bool
	// Cursor is the NextCursor of the previous page, "" for the first page. A cursor is only
	// valid with the same queue, client, State and NewestFirst.
	Cursor string
	// LargeBodies also reads bodies stored over several items (messages over about 700
	// bytes stored). Off, such a message comes with BodyOmitted, which keeps a page of large
	// messages from reading megabytes.
	LargeBodies bool
}

// MessagePage is one page of ListMessages.
type MessagePage struct {
	Messages []MessageInfo
	// NextCursor resumes right after the last message of this page; "" when there is no more.
	// A page may be shorter than the limit, and the last one may be empty.
	NextCursor string
}

// ListMessages returns a page of this (queue, client)'s messages in the selected state.
//
// Order: messages outside FIFO groups come in push order (the order of their sequence numbers,
// which follow the pushing process's clock), merged across all shards; then the messages of
// FIFO groups (all on shard 0), group by group, each group in push order. NewestFirst is the
// exact reverse. The cursor holds the position of the page's last message, so paging lists
// every message that stays in the selected state exactly once, also across shards; messages
// pushed while paging appear at the end of their part of the order (oldest first).
//
// Cost: per page, each shard reads its messages from the cursor on until it has Limit
// matching ones or runs out: up to shards × Limit items, more when few messages match the
// state. A grouped message also reads its group's lock item (once per group and page).
func (ins *Inspector) ListMessages(ctx context.Context, opts ListOptions) (MessagePage, error) {
	q := ins.q
	s := q.resolved(ctx)
	if err := s.checkQueue(); err != nil {
		return MessagePage{}, err
	}
	if opts.State < StateAny || opts.State > StateDeadLettered {
		return MessagePage{}, argError("State", "message state %d", int(opts.State))
	}
	if opts.Limit == 0 {
		opts.Limit = 100
	}
	if opts.Limit < 1 || opts.Limit > MaxListMessages {
		return MessagePage{}, argError("Limit", "limit %d, must be 1..%d", opts.Limit, MaxListMessages)
	}
	ls := s
	if opts.State == StateDeadLettered {
		if s.dlq == nil {
			return MessagePage{}, ErrNoDeadLetterQueue
		}
		ls = s.deadLetterSettings()
	}
	cur, err := decodeCursor(opts, keys.PairPrefix(ls.queue, ls.client))
	if err != nil {
		return MessagePage{}, err
	}
	q.syncClock(ctx, s)
	l := &lister{q: q, s: ls, opts: opts, now: q.core.now(), locks: map[string]*record{}}
	var found []listed
	for ph := cur.Phase; ph < 2 && len(found) < opts.Limit; ph++ {
		if ph != cur.Phase {
			cur = cursor{Phase: ph}
		}
		got, err := l.phase(ctx, cur, opts.Limit-len(found))
		if err != nil {
			return MessagePage{}, err
		}
		found = append(found, got...)
	}
	page := MessagePage{Messages: make([]MessageInfo, 0, len(found))}
	if err := l.fetchBodies(ctx, found); err != nil {
		return MessagePage{}, err
	}
	for _, f := range found {
		page.Messages = append(page.Messages, f.info)
	}
	if len(found) == opts.Limit {
		last := found[len(found)-1]
		page.NextCursor = encodeCursor(opts, keys.PairPrefix(ls.queue, ls.client), last.pos)
	}
	return page, nil
}

// cursor is a position in the listing order: the phase (0 messages outside groups, 1 grouped
// messages; the other way round for newest first) and the last listed message in it.
type cursor struct {
	V     int    `json:"v"`
	Pair  string `json:"p"`
	State int    `json:"s"`
	Desc  bool   `json:"d,omitempty"`
	Phase int    `json:"ph,omitempty"`
	SK    string `json:"k,omitempty"` // "" = the phase's start
	Shard int    `json:"sh,omitempty"`
}

const cursorVersion = 1

func encodeCursor(opts ListOptions, pair string, pos cursor) string {
	pos.V, pos.Pair, pos.State, pos.Desc = cursorVersion, pair, int(opts.State), opts.NewestFirst
	b, _ := json.Marshal(pos) // a struct of strings and ints always marshals
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor checks that a cursor was made for this pair, state and order, and that its
// position is well formed; "" is the start.
func decodeCursor(opts ListOptions, pair string) (cursor, error) {
	if opts.Cursor == "" {
		return cursor{}, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(opts.Cursor)
	var c cursor
	if err == nil {
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		err = dec.Decode(&c)
	}
	switch {
	case err != nil:
		return cursor{}, wrapCursor("malformed (%v)", err)
	case c.V != cursorVersion:
		return cursor{}, wrapCursor("version %d", c.V)
	case c.Pair != pair:
		return cursor{}, wrapCursor("it is for the queue and client %q, not %q", c.Pair, pair)
	case c.State != int(opts.State) || c.Desc != opts.NewestFirst:
		return cursor{}, wrapCursor("it is for state %s, newest first %v", MessageState(c.State), c.Desc)
	case c.Phase < 0 || c.Phase > 1:
		return cursor{}, wrapCursor("phase %d", c.Phase)
	case c.Shard < 0 || c.Shard >= MaxShards:
		return cursor{}, wrapCursor("shard %d", c.Shard)
	case c.SK == "":
		return c, nil
	}
	if _, ok := keys.SeqFromSK(c.SK); !ok || !strings.HasPrefix(c.SK, phasePrefix(c.Phase, c.Desc)) {
		return cursor{}, wrapCursor("position %q", c.SK)
	}
	return c, nil
}

func wrapCursor(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidCursor}, args...)...)
}

// phasePrefix is the sort-key prefix of a phase: messages outside groups come first oldest
// first, and last newest first.
func phasePrefix(phase int, desc bool) string {
	if (phase == 0) != desc {
		return keys.MessagePrefix
	}
	return keys.GroupMsgPrefix
}

// listed is one message found for a page, with its position for the cursor.
type listed struct {
	rec  record
	info MessageInfo
	pos  cursor
}

// lister reads one page.
type lister struct {
	q     *DynamoDBQueue
	s     *settings
	opts  ListOptions
	now   time.Time
	mu    sync.Mutex
	locks map[string]*record // group lock items read for this page, by PK and SK
}

// phase returns up to want messages of one phase after the cursor position.
func (l *lister) phase(ctx context.Context, cur cursor, want int) ([]listed, error) {
	prefix := phasePrefix(cur.Phase, l.opts.NewestFirst)
	shards := l.s.shards
	if prefix == keys.GroupMsgPrefix {
		shards = 1 // groups live on the home shard only
	}
	per := make([][]listed, shards)
	errs := make([]error, shards)
	store.Parallel(shards, claimConcurrency, func(i int) {
		per[i], errs[i] = l.shard(ctx, i, prefix, cur, want)
	})
	var all []listed
	for i := range per {
		if errs[i] != nil {
			return nil, errs[i]
		}
		all = append(all, per[i]...)
	}
	// Each shard gave its first `want` matches after the cursor, so the first `want` of their
	// union are the first `want` overall. The order is (sort key, shard): the fixed-width
	// sequence number in m#<seq> makes that push order.
	sort.Slice(all, func(i, j int) bool {
		a, b := all[i].pos, all[j].pos
		if l.opts.NewestFirst {
			a, b = b, a
		}
		return a.SK < b.SK || (a.SK == b.SK && a.Shard < b.Shard)
	})
	return all[:min(want, len(all))], nil
}

// shard reads one shard's messages of a phase after the cursor, up to want that match.
func (l *lister) shard(ctx context.Context, shard int, prefix string, cur cursor, want int) ([]listed, error) {
	desc := l.opts.NewestFirst
	lo, hi := prefix, prefix[:1]+"$" // '$' sorts right after '#'
	var exclusive bool               // skip the cursor's own message: the item at the bound
	if cur.SK != "" {
		// A message's sort key does not name its shard: in the other shards an item at the
		// bound comes after the cursor in (sort key, shard) order, or before it.
		if desc {
			hi, exclusive = cur.SK, shard >= cur.Shard
		} else {
			lo, exclusive = cur.SK, shard <= cur.Shard
		}
	}
	pk := l.s.pk(shard)
	p := dynamodb.NewQueryPaginator(l.q.core.api, &dynamodb.QueryInput{
		TableName:              aws.String(l.s.table),
		KeyConditionExpression: aws.String("PK = :pk AND SK BETWEEN :lo AND :hi"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": avS(pk), ":lo": avS(lo), ":hi": avS(hi),
		},
		ScanIndexForward: aws.Bool(!desc),
		Limit:            aws.Int32(int32(min(max(want, 25), MaxListMessages))),
	})
	var out []listed
	for p.HasMorePages() && len(out) < want {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, wrapAPI("Query (list)", l.s.table, err)
		}
		for _, item := range page.Items {
			r := decodeRecord(item)
			if (exclusive && r.SK == cur.SK) || r.Expired(l.now) || !keys.IsMessageSK(r.SK) {
				continue
			}
			f, ok, err := l.match(ctx, r)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
			f.pos = cursor{Phase: cur.Phase, SK: r.SK, Shard: shard}
			if out = append(out, f); len(out) == want {
				break
			}
		}
	}
	return out, nil
}

// match classifies a record and reports whether it is in the selected state.
func (l *lister) match(ctx context.Context, r record) (listed, bool, error) {
	var lock *record
	if r.Group != "" && l.opts.State != StateDeadLettered {
		var err error
		if lock, err = l.lock(ctx, r); err != nil {
			return listed{}, false, err
		}
	}
	st, at := classify(&r, lock, l.now)
	if l.opts.State == StateDeadLettered {
		st = StateDeadLettered
	}
	if l.opts.State != StateAny && st != l.opts.State {
		return listed{}, false, nil
	}
	var event []byte
	if r.Chunks == 0 {
		event = r.Event
	}
	mi, err := l.q.info(r, event, st, at)
	return listed{rec: r, info: mi}, err == nil, err
}

// lock returns the lock item of a grouped message's group (nil if there is none), read once
// per page. An eventually consistent read is enough: the state is a snapshot anyway.
func (l *lister) lock(ctx context.Context, r record) (*record, error) {
	k := r.PK + "\x00" + r.Group
	l.mu.Lock()
	g, ok := l.locks[k]
	l.mu.Unlock()
	if ok {
		return g, nil
	}
	out, err := l.q.core.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(l.s.table), Key: key(r.PK, keys.GroupSK(r.Group)),
	})
	if err != nil {
		return nil, wrapAPI("GetItem (group lock)", l.s.table, err)
	}
	if out.Item != nil {
		rec := decodeRecord(out.Item)
		g = &rec
	}
	l.mu.Lock()
	l.locks[k] = g
	l.mu.Unlock()
	return g, nil
}

// fetchBodies reads the large bodies of a page when LargeBodies asks for them.
func (l *lister) fetchBodies(ctx context.Context, found []listed) error {
	if !l.opts.LargeBodies {
		return nil
	}
	var keyList []map[string]types.AttributeValue
	for _, f := range found {
		if f.rec.Chunks > 0 {
			keyList = append(keyList, chunkKeys(f.rec)...)
		}
	}
	if len(keyList) == 0 {
		return nil
	}
	got, err := l.q.batchGet(ctx, l.s.table, keyList)
	if err != nil {
		return err
	}
	for i, f := range found {
		if f.rec.Chunks == 0 {
			continue
		}
		event, err := store.Assemble(f.rec, got)
		if err != nil {
			return err
		}
		if found[i].info, err = l.q.info(f.rec, event, f.info.State, f.info.VisibleAt); err != nil {
			return err
		}
	}
	return nil
}
