package dynamodbqueue

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamodbqueue/dynamodbqueue/internal/store"
)

// The item encoding (table layout, attribute names, record) lives in internal/store; these
// short names keep the queue's code readable.
const (
	attrPK           = store.AttrPK
	attrSK           = store.AttrSK
	attrVis          = store.AttrVis
	attrToken        = store.AttrToken
	attrReceiveCount = store.AttrReceiveCount
	attrFirstReceive = store.AttrFirstReceive
	attrLastReceive  = store.AttrLastReceive
	attrSent         = store.AttrSent
	attrVisibleAfter = store.AttrVisibleAfter
	attrTTL          = store.AttrTTL
	attrID           = store.AttrID
	attrEvent        = store.AttrEvent
	attrChunks       = store.AttrChunks
	attrGroup        = store.AttrGroup
	attrDedup        = store.AttrDedup
	attrOrigin       = store.AttrOrigin
	attrDeadAt       = store.AttrDeadAt
	attrLastPush     = store.AttrLastPush
	attrDedupUntil   = store.AttrDedupUntil
	attrDedupMsgSK   = store.AttrDedupMsgSK
	attrDedupState   = store.AttrDedupState
	attrDedupItem    = store.AttrDedupItem
	attrDedupVis     = store.AttrDedupVis
	attrQueue        = store.AttrQueue
	attrClient       = store.AttrClient
	visIndex         = store.VisIndex

	inlineLimit      = store.InlineLimit
	chunkSize        = store.ChunkSize
	maxStoredMessage = store.MaxStoredMessage
)

// record is a message or group item as read from DynamoDB.
type record = store.Record

func decodeRecord(item map[string]types.AttributeValue) record { return store.DecodeRecord(item) }
func str(v types.AttributeValue) string                        { return store.Str(v) }
func num(v types.AttributeValue) int64                         { return store.Num(v) }
func avS(s string) types.AttributeValue                        { return store.S(s) }
func avN(n int64) types.AttributeValue                         { return store.N(n) }
func avB(b []byte) types.AttributeValue                        { return store.B(b) }
func key(pk, sk string) map[string]types.AttributeValue        { return store.Key(pk, sk) }
func ttlSeconds(t time.Time) int64                             { return store.TTLSeconds(t) }
func ms(t time.Time) int64                                     { return store.MS(t) }
