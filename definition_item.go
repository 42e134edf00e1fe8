package dynamodbqueue

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Keys and attributes of definition items (see definition.go for the layout).
const (
	defPKPrefix   = "@def|"
	defSK         = "@def"
	defClientSK   = "client|"
	defSourceSK   = "src|"
	defListPK     = "@defs"
	attrDefName   = "name"
	attrDefVT     = "vt"
	attrDefDelay  = "dly"
	attrDefRet    = "ret"
	attrDefMaxMsg = "mms"
	attrDefWait   = "rwt"
	attrDefShards = "sh"
	attrDefMaxSh  = "msh"
	attrDefCBD    = "cbd"
	attrDefDLQ    = "dlq"
	attrDefMRC    = "mrc"
	attrDefTags   = "tags"
	attrDefCreate = "ct"
	attrDefModify = "mt"
	attrDefVer    = "ver"
	attrDefWriter = "wtok" // a random token per write, so a retried write recognises itself
	attrDefState  = "dstate"
	defDeleting   = "deleting"
)

// defPK is the partition of every definition item of a queue.
func defPK(queue string) string { return defPKPrefix + queue }

// encodeDefinition returns the definition item of d, written by the write token tok.
func encodeDefinition(d QueueDefinition, tok string) map[string]types.AttributeValue {
	item := key(defPK(d.Name), defSK)
	item[attrDefName] = avS(d.Name)
	item[attrDefVT] = avN(int64(d.VisibilityTimeout / time.Millisecond))
	item[attrDefDelay] = avN(int64(d.Delay / time.Millisecond))
	item[attrDefRet] = avN(int64(d.Retention / time.Millisecond))
	item[attrDefMaxMsg] = avN(int64(d.MaxMessageSize))
	item[attrDefWait] = avN(int64(d.ReceiveWaitTime / time.Millisecond))
	item[attrDefShards] = avN(int64(d.Shards))
	item[attrDefMaxSh] = avN(int64(d.MaxShards))
	item[attrDefCBD] = &types.AttributeValueMemberBOOL{Value: d.ContentBasedDeduplication}
	if rp := d.RedrivePolicy; rp != nil {
		item[attrDefDLQ] = avS(rp.DeadLetterQueue)
		item[attrDefMRC] = avN(int64(rp.MaxReceiveCount))
	}
	if len(d.Tags) > 0 {
		tags := make(map[string]types.AttributeValue, len(d.Tags))
		for k, v := range d.Tags {
			tags[k] = avS(v)
		}
		item[attrDefTags] = &types.AttributeValueMemberM{Value: tags}
	}
	item[attrDefCreate] = avN(ms(d.Created))
	item[attrDefModify] = avN(ms(d.Modified))
	item[attrDefVer] = avN(d.Version)
	item[attrDefWriter] = avS(tok)
	return item
}

// decodeDefinition reverses encodeDefinition.
func decodeDefinition(item map[string]types.AttributeValue) QueueDefinition {
	d := QueueDefinition{Name: str(item[attrDefName])}
	d.VisibilityTimeout = time.Duration(num(item[attrDefVT])) * time.Millisecond
	d.Delay = time.Duration(num(item[attrDefDelay])) * time.Millisecond
	d.Retention = time.Duration(num(item[attrDefRet])) * time.Millisecond
	d.MaxMessageSize = int(num(item[attrDefMaxMsg]))
	d.ReceiveWaitTime = time.Duration(num(item[attrDefWait])) * time.Millisecond
	d.Shards = int(num(item[attrDefShards]))
	d.MaxShards = max(int(num(item[attrDefMaxSh])), d.Shards)
	if b, ok := item[attrDefCBD].(*types.AttributeValueMemberBOOL); ok {
		d.ContentBasedDeduplication = b.Value
	}
	if dlq := str(item[attrDefDLQ]); dlq != "" {
		d.RedrivePolicy = &RedrivePolicy{DeadLetterQueue: dlq, MaxReceiveCount: int(num(item[attrDefMRC]))}
	}
	if m, ok := item[attrDefTags].(*types.AttributeValueMemberM); ok && len(m.Value) > 0 {
		d.Tags = make(map[string]string, len(m.Value))
		for k, v := range m.Value {
			d.Tags[k] = str(v)
		}
	}
	d.Created = time.UnixMilli(num(item[attrDefCreate])).UTC()
	d.Modified = time.UnixMilli(num(item[attrDefModify])).UTC()
	d.Version = num(item[attrDefVer])
	return d
}

// encodeOverride returns the item of a client's override.
func encodeOverride(queue, client string, o ClientOverride) map[string]types.AttributeValue {
	item := key(defPK(queue), defClientSK+client)
	item[attrDefVT] = avN(int64(o.VisibilityTimeout / time.Millisecond))
	item[attrDefDelay] = avN(int64(o.Delay / time.Millisecond))
	item[attrDefRet] = avN(int64(o.Retention / time.Millisecond))
	item[attrDefWait] = avN(int64(o.ReceiveWaitTime / time.Millisecond))
	item[attrDefMRC] = avN(int64(o.MaxReceiveCount))
	return item
}

// decodeOverride reverses encodeOverride.
func decodeOverride(item map[string]types.AttributeValue) ClientOverride {
	return ClientOverride{
		VisibilityTimeout: time.Duration(num(item[attrDefVT])) * time.Millisecond,
		Delay:             time.Duration(num(item[attrDefDelay])) * time.Millisecond,
		Retention:         time.Duration(num(item[attrDefRet])) * time.Millisecond,
		ReceiveWaitTime:   time.Duration(num(item[attrDefWait])) * time.Millisecond,
		MaxReceiveCount:   int(num(item[attrDefMRC])),
	}
}
