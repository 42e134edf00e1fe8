package store

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamodbqueue/dynamodbqueue/internal/keys"
)

// ChunkPuts splits a stored event too large for its message item (pk, sk) into chunk items
// that expire at ttl, and returns their batch puts: write them before the item that points at
// them (Record.Chunks = len of the result).
func ChunkPuts(pk, sk string, event []byte, ttl int64) []types.WriteRequest {
	bodyPK := keys.BodyPK(pk, sk)
	var reqs []types.WriteRequest
	for i, start := 0, 0; start < len(event); i, start = i+1, start+ChunkSize {
		chunk := Key(bodyPK, keys.ChunkSK(i))
		chunk[AttrEvent] = B(event[start:min(start+ChunkSize, len(event))])
		chunk[AttrTTL] = N(ttl)
		reqs = append(reqs, PutReq(chunk))
	}
	return reqs
}

// ChunkKeys returns the keys of the body chunks of a message stored in r.Chunks chunks.
func ChunkKeys(r Record) []map[string]types.AttributeValue {
	bodyPK := keys.BodyPK(r.PK, r.SK)
	ks := make([]map[string]types.AttributeValue, r.Chunks)
	for i := range ks {
		ks[i] = Key(bodyPK, keys.ChunkSK(i))
	}
	return ks
}

// Assemble joins the body chunks of r from found (BatchGet's result) into the stored event.
func Assemble(r Record, found map[string]map[string]types.AttributeValue) ([]byte, error) {
	bodyPK := keys.BodyPK(r.PK, r.SK)
	var event []byte
	for i := 0; i < r.Chunks; i++ {
		item, ok := found[bodyPK+"\x00"+keys.ChunkSK(i)]
		if !ok {
			return nil, fmt.Errorf("dynamodbqueue: message %s/%s: body chunk %d of %d is missing", r.PK, r.SK, i, r.Chunks)
		}
		b, _ := item[AttrEvent].(*types.AttributeValueMemberB)
		if b == nil {
			return nil, fmt.Errorf("dynamodbqueue: message %s/%s: body chunk %d is malformed", r.PK, r.SK, i)
		}
		event = append(event, b.Value...)
	}
	return event, nil
}

// DeleteRequests returns the batch deletes that remove a message item and its body chunks
// (the item first).
func DeleteRequests(r Record) []types.WriteRequest {
	reqs := []types.WriteRequest{DeleteReq(r.PK, r.SK)}
	for _, k := range ChunkKeys(r) {
		reqs = append(reqs, DeleteReq(Str(k[AttrPK]), Str(k[AttrSK])))
	}
	return reqs
}
