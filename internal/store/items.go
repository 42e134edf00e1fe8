// Package store builds the queue's DynamoDB requests: the item encoding (attribute names,
// Record), and named operations on records and keys: the ready-index query, conditional
// claims that recognise their own earlier success, token-checked writes, body chunks, batch
// reads and writes with back-off, and bounded parallelism. The queue semantics (what to claim,
// when, and what a result means for the caller) stay in the root package.
package store

import (
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Table layout.
//
// Key: PK (S) and SK (S). The local secondary index "vis" sorts a partition by the attribute vis
// (S), which only ready-or-claimed items carry: messages outside groups and group lock items.
// vis is "<visible-at>.<seq>" (see internal/keys), so a poll's key condition vis < now reads only
// items it can deliver: claimed, delayed, grouped and bookkeeping items are never read.
//
// Message item, PK = queue|client|shard, SK = m#<seq> or g#<group>#<seq>:
//
//	vis    ready-index key (messages outside groups only)
//	tok    claim token of the current or last claim; deletes and visibility changes require it
//	rc     receive count; fr first receive (ms); st sent (ms); va visible-after (ms, grouped)
//	TTL    expiry, epoch seconds (DynamoDB's TTL attribute; also checked on every read)
//	mid    message ID; event the stored message (internal/message: compact form, legacy JSON
//	       still read) when it fits in 700 bytes, else nc chunks
//	grp    group ID; dd deduplication ID; orig and dla for dead letters
//
// Chunk item, PK = queue|client|shard|<message SK>, SK = c#<i>: part i of a large event.
// Group item, SK = G#<group>: vis (ready index), tok (the group's current claim), lp (last push).
// Dedup record, PK = queue|client|0 (the home shard), SK = d#<hash>: ddu (window end, ms), msk
// (the message's SK), mid, state (pending, done), tok (the claiming push), msg (a copy of the
// message item) and gv (its group's vis), so any push of the ID can complete the first one's write.
// Registry item, PK = @registry, SK = queue|client: what List reads.
const (
	AttrPK           = "PK"
	AttrSK           = "SK"
	AttrVis          = "vis"
	AttrToken        = "tok"
	AttrReceiveCount = "rc"
	AttrFirstReceive = "fr"
	AttrLastReceive  = "lr"
	AttrSent         = "st"
	AttrVisibleAfter = "va"
	AttrTTL          = "TTL"
	AttrID           = "mid"
	AttrEvent        = "event"
	AttrChunks       = "nc"
	AttrGroup        = "grp"
	AttrDedup        = "dd"
	AttrOrigin       = "orig"
	AttrDeadAt       = "dla"
	AttrLastPush     = "lp"
	AttrDedupUntil   = "ddu"
	AttrDedupMsgSK   = "msk"
	AttrDedupState   = "state"
	AttrDedupItem    = "msg"
	AttrDedupVis     = "gv"
	AttrQueue        = "queue"
	AttrClient       = "client"

	VisIndex = "vis"
)

const (
	// InlineLimit is the largest stored event kept in the message item itself: the item then
	// stays under 1 KB, so every claim and visibility change costs exactly 1 WCU.
	InlineLimit = 700
	// ChunkSize is the part of a large event stored per chunk item, well under the 400 KB
	// DynamoDB item limit.
	ChunkSize = 350_000
	// MaxStoredMessage bounds UseMaxMessageSize: 2 MiB of body and attributes.
	MaxStoredMessage = 2 << 20
)

// Record is a message or group item as read from DynamoDB.
type Record struct {
	PK           string
	SK           string
	Vis          string
	Token        string
	ReceiveCount int
	FirstReceive int64
	LastReceive  int64
	Sent         int64
	VisibleAfter int64
	TTL          int64
	ID           string
	Event        []byte
	Chunks       int
	Group        string
	Dedup        string
	Origin       string
	DeadAt       int64
	LastPush     string
}

// DecodeRecord reads the attributes the queue uses; unknown attributes are ignored. Written by
// hand rather than with attributevalue.UnmarshalMap because it runs for every polled message.
func DecodeRecord(item map[string]types.AttributeValue) Record {
	var r Record
	for k, v := range item {
		switch k {
		case AttrPK:
			r.PK = Str(v)
		case AttrSK:
			r.SK = Str(v)
		case AttrVis:
			r.Vis = Str(v)
		case AttrToken:
			r.Token = Str(v)
		case AttrReceiveCount:
			r.ReceiveCount = int(Num(v))
		case AttrFirstReceive:
			r.FirstReceive = Num(v)
		case AttrLastReceive:
			r.LastReceive = Num(v)
		case AttrSent:
			r.Sent = Num(v)
		case AttrVisibleAfter:
			r.VisibleAfter = Num(v)
		case AttrTTL:
			r.TTL = Num(v)
		case AttrID:
			r.ID = Str(v)
		case AttrEvent:
			if b, ok := v.(*types.AttributeValueMemberB); ok {
				r.Event = b.Value
			}
		case AttrChunks:
			r.Chunks = int(Num(v))
		case AttrGroup:
			r.Group = Str(v)
		case AttrDedup:
			r.Dedup = Str(v)
		case AttrOrigin:
			r.Origin = Str(v)
		case AttrDeadAt:
			r.DeadAt = Num(v)
		case AttrLastPush:
			r.LastPush = Str(v)
		}
	}
	return r
}

// Expired reports whether the record's TTL has passed. DynamoDB removes expired items lazily
// (sometimes days late), so every read checks it.
func (r *Record) Expired(now time.Time) bool {
	return r.TTL > 0 && r.TTL <= now.Unix()
}

// Str is the value of a string attribute, "" for any other.
func Str(v types.AttributeValue) string {
	if s, ok := v.(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

// Num is the value of a number attribute, 0 for any other.
func Num(v types.AttributeValue) int64 {
	if n, ok := v.(*types.AttributeValueMemberN); ok {
		i, _ := strconv.ParseInt(n.Value, 10, 64)
		return i
	}
	return 0
}

// S, N and B build string, number and binary attribute values.
func S(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }
func N(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}
func B(b []byte) types.AttributeValue { return &types.AttributeValueMemberB{Value: b} }

// Key returns the primary key attribute map of an item.
func Key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrPK: S(pk), AttrSK: S(sk)}
}

// TTLSeconds converts an expiry instant to DynamoDB's TTL (epoch seconds, rounded up so a
// message never expires early).
func TTLSeconds(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

// MS is t in epoch milliseconds, as the item stores times.
func MS(t time.Time) int64 { return t.UnixMilli() }
