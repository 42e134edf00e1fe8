package dynamodbqueue

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
//	mid    message ID; event the stored message (JSON) when it fits in 1 KB, else nc chunks
//	grp    group ID; dd deduplication ID; orig and dla for dead letters
//
// Chunk item, PK = queue|client|shard|<message SK>, SK = c#<i>: part i of a large event.
// Group item, SK = G#<group>: vis (ready index), tok (the group's current claim), lp (last push).
// Dedup record, PK = queue|client|0 (the home shard), SK = d#<hash>: ddu (window end, ms), msk
// (the message's SK), mid, state (pending, done), tok (the claiming push), msg (a copy of the
// message item) and gv (its group's vis), so any push of the ID can complete the first one's write.
// Registry item, PK = @registry, SK = queue|client: what List reads.
const (
	attrPK           = "PK"
	attrSK           = "SK"
	attrVis          = "vis"
	attrToken        = "tok"
	attrReceiveCount = "rc"
	attrFirstReceive = "fr"
	attrSent         = "st"
	attrVisibleAfter = "va"
	attrTTL          = "TTL"
	attrID           = "mid"
	attrEvent        = "event"
	attrChunks       = "nc"
	attrGroup        = "grp"
	attrDedup        = "dd"
	attrOrigin       = "orig"
	attrDeadAt       = "dla"
	attrLastPush     = "lp"
	attrDedupUntil   = "ddu"
	attrDedupMsgSK   = "msk"
	attrDedupState   = "state"
	attrDedupItem    = "msg"
	attrDedupVis     = "gv"
	attrQueue        = "queue"
	attrClient       = "client"

	visIndex = "vis"
)

const (
	// inlineLimit is the largest stored event kept in the message item itself: the item then
	// stays under 1 KB, so every claim and visibility change costs exactly 1 WCU.
	inlineLimit = 700
	// chunkSize is the part of a large event stored per chunk item, well under the 400 KB
	// DynamoDB item limit.
	chunkSize = 350_000
	// maxStoredMessage bounds UseMaxMessageSize: 2 MiB of body and attributes.
	maxStoredMessage = 2 << 20
)

// record is a message or group item as read from DynamoDB.
type record struct {
	PK           string
	SK           string
	Vis          string
	Token        string
	ReceiveCount int
	FirstReceive int64
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

// decodeRecord reads the attributes the queue uses; unknown attributes are ignored. Written by
// hand rather than with attributevalue.UnmarshalMap because it runs for every polled message.
func decodeRecord(item map[string]types.AttributeValue) record {
	var r record
	for k, v := range item {
		switch k {
		case attrPK:
			r.PK = str(v)
		case attrSK:
			r.SK = str(v)
		case attrVis:
			r.Vis = str(v)
		case attrToken:
			r.Token = str(v)
		case attrReceiveCount:
			r.ReceiveCount = int(num(v))
		case attrFirstReceive:
			r.FirstReceive = num(v)
		case attrSent:
			r.Sent = num(v)
		case attrVisibleAfter:
			r.VisibleAfter = num(v)
		case attrTTL:
			r.TTL = num(v)
		case attrID:
			r.ID = str(v)
		case attrEvent:
			if b, ok := v.(*types.AttributeValueMemberB); ok {
				r.Event = b.Value
			}
		case attrChunks:
			r.Chunks = int(num(v))
		case attrGroup:
			r.Group = str(v)
		case attrDedup:
			r.Dedup = str(v)
		case attrOrigin:
			r.Origin = str(v)
		case attrDeadAt:
			r.DeadAt = num(v)
		case attrLastPush:
			r.LastPush = str(v)
		}
	}
	return r
}

// expired reports whether the record's TTL has passed. DynamoDB removes expired items lazily
// (sometimes days late), so every read checks it.
func (r *record) expired(now time.Time) bool {
	return r.TTL > 0 && r.TTL <= now.Unix()
}

func str(v types.AttributeValue) string {
	if s, ok := v.(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

func num(v types.AttributeValue) int64 {
	if n, ok := v.(*types.AttributeValueMemberN); ok {
		i, _ := strconv.ParseInt(n.Value, 10, 64)
		return i
	}
	return 0
}

func avS(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }
func avN(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}
func avB(b []byte) types.AttributeValue { return &types.AttributeValueMemberB{Value: b} }

// key returns the primary key attribute map of an item.
func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: avS(pk), attrSK: avS(sk)}
}

// ttlSeconds converts an expiry instant to DynamoDB's TTL (epoch seconds, rounded up so a
// message never expires early).
func ttlSeconds(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

func ms(t time.Time) int64 { return t.UnixMilli() }
