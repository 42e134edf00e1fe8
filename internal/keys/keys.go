package keys

import (
	"encoding/base64"
	"strconv"
	"strings"
)

// Item kinds, as sort-key prefixes. Message and group items of one (queue, client, shard) live in
// one partition; bodies too large to keep inline live in a partition of their own per message.
const (
	MessagePrefix  = "m#" // a message outside any group: m#<seq>
	GroupMsgPrefix = "g#" // a message of a group: g#<group>#<seq>
	GroupPrefix    = "G#" // a group's lock and ready pointer: G#<group>
	DedupPrefix    = "d#" // a deduplication record: d#<hash>
	ChunkPrefix    = "c#" // one chunk of a large body: c#<index>
)

// RegistryPK is the partition that lists every (queue, client) pair that ever received a message,
// so List never has to scan messages.
const RegistryPK = "@registry"

// HintPrefix starts the partition keys of a queue's activity hints, "@act|<queue>|<k>" (the
// root package's hint.go), which the bench meter counts apart from message writes.
const HintPrefix = "@act|"

// sep separates the parts of a partition key. Names cannot contain it (see ValidateName).
const sep = "|"

// PartitionKey is the partition key of one shard of a (queue, client) pair: queue|client|shard.
// The trailing shard keeps every shard of a pair under the IAM LeadingKeys prefix PairPrefix.
func PartitionKey(queue, client string, shard int) string {
	return queue + sep + client + sep + strconv.Itoa(shard)
}

// HomeShard is the shard that holds every message group and every deduplication record of a
// (queue, client) pair, whatever its shard count: placing them by the shard count would move a
// group or a deduplication scope whenever the count changes, splitting the group (two messages
// in flight, out of order) or forgetting the IDs pushed before. Messages outside groups go to
// any shard. It is 0, the only shard of an unsharded pair, so tables written with one shard
// keep their layout.
const HomeShard = 0

// PairPrefix is the prefix shared by every partition key of a (queue, client) pair, including
// its body partitions: the value to use in a dynamodb:LeadingKeys condition.
func PairPrefix(queue, client string) string {
	return queue + sep + client + sep
}

// SplitPartitionKey reverses PartitionKey. ok is false for keys of other shapes.
func SplitPartitionKey(pk string) (queue, client string, shard int, ok bool) {
	queue, rest, ok1 := strings.Cut(pk, sep)
	client, num, ok2 := strings.Cut(rest, sep)
	if !ok1 || !ok2 || strings.Contains(num, sep) {
		return "", "", 0, false
	}
	n, ok := parseShard(num)
	if !ok {
		return "", "", 0, false
	}
	return queue, client, n, true
}

// parseShard parses the canonical decimal form of a shard number (as strconv.Itoa writes it:
// no sign, no leading zeros) without allocating.
func parseShard(s string) (int, bool) {
	if s == "" || len(s) > 18 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// BodyPK is the partition that holds the chunks of one large message body. One partition per
// message keeps the pair's own partition small (a table with a local secondary index limits an
// item collection to 10 GB) and spreads large writes over the key space.
func BodyPK(pk, messageSK string) string { return pk + sep + messageSK }

// ChunkSK is the sort key of chunk i of a body.
func ChunkSK(i int) string {
	b := make([]byte, 0, len(ChunkPrefix)+4)
	b = append(b, ChunkPrefix...)
	return string(appendPadded(b, uint64(i), 4))
}

// MessageSK is the sort key of a message outside any group.
func MessageSK(seq Seq) string {
	b := make([]byte, 0, len(MessagePrefix)+SeqLen)
	b = append(b, MessagePrefix...)
	return string(seq.Append(b))
}

// groupEnc encodes a group ID for use inside a sort key; it never contains '#', so
// "g#<enc>#" is a prefix of exactly one group's messages.
var groupEnc = base64.RawURLEncoding

// GroupMessagePrefix is the sort-key prefix of all messages of one group, in push order.
func GroupMessagePrefix(group string) string {
	return GroupMsgPrefix + groupEnc.EncodeToString([]byte(group)) + "#"
}

// GroupMessageSK is the sort key of a message in a group.
func GroupMessageSK(group string, seq Seq) string {
	p := GroupMessagePrefix(group)
	return string(seq.Append(append(make([]byte, 0, len(p)+SeqLen), p...)))
}

// GroupSK is the sort key of a group's lock item.
func GroupSK(group string) string {
	return GroupPrefix + groupEnc.EncodeToString([]byte(group))
}

// GroupFromSK returns the group ID of a group item or group message sort key.
func GroupFromSK(sk string) (string, bool) {
	var enc string
	switch {
	case strings.HasPrefix(sk, GroupPrefix):
		enc = sk[len(GroupPrefix):]
	case strings.HasPrefix(sk, GroupMsgPrefix):
		rest := sk[len(GroupMsgPrefix):]
		i := strings.IndexByte(rest, '#')
		if i < 0 {
			return "", false
		}
		enc = rest[:i]
	default:
		return "", false
	}
	g, err := groupEnc.DecodeString(enc)
	if err != nil {
		return "", false
	}
	return string(g), true
}

// DedupSK is the sort key of the deduplication record for a hashed deduplication ID.
func DedupSK(hash string) string { return DedupPrefix + hash }

// IsMessageSK reports whether a sort key belongs to a message (grouped or not).
func IsMessageSK(sk string) bool {
	return strings.HasPrefix(sk, MessagePrefix) || strings.HasPrefix(sk, GroupMsgPrefix)
}

// SeqFromSK extracts the sequence number at the end of a message sort key.
func SeqFromSK(sk string) (Seq, bool) {
	if !IsMessageSK(sk) || len(sk) < SeqLen {
		return Seq{}, false
	}
	return ParseSeq(sk[len(sk)-SeqLen:])
}
