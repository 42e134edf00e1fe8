package dynamodbqueue

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"github.com/dynamodbqueue/dynamodbqueue/internal/keys"
	"github.com/dynamodbqueue/dynamodbqueue/internal/message"
	"github.com/dynamodbqueue/dynamodbqueue/internal/store"
)

// Names in events.SQSMessage.Attributes that a push reads, as SQS names them.
const (
	// AttributeMessageGroupID puts a message into a FIFO message group.
	AttributeMessageGroupID = "MessageGroupId"
	// AttributeMessageDeduplicationID makes repeated pushes within DedupWindow a no-op.
	AttributeMessageDeduplicationID = "MessageDeduplicationId"
	// AttributeDelaySeconds delays one message (0..900 seconds); it is not stored.
	AttributeDelaySeconds = "DelaySeconds"
	// AttributeSentTimestamp is set by the push: epoch milliseconds.
	AttributeSentTimestamp = "SentTimestamp"
	// AttributeApproximateReceiveCount is set on receive: how often the message was received.
	AttributeApproximateReceiveCount = "ApproximateReceiveCount"
	// AttributeApproximateFirstReceiveTimestamp is set on receive: epoch milliseconds.
	AttributeApproximateFirstReceiveTimestamp = "ApproximateFirstReceiveTimestamp"
	// AttributeDeadLetterSource is set on dead-lettered messages: the queue|client|shard they came from.
	AttributeDeadLetterSource = "DeadLetterSourceQueue"
)

// deliveryAttributes are set by the queue when it delivers a message; a push drops them, so a
// producer cannot fake a receive count or a dead-letter origin.
var deliveryAttributes = []string{
	AttributeApproximateReceiveCount, AttributeApproximateFirstReceiveTimestamp, AttributeDeadLetterSource,
}

// MaxTTL bounds the retention a push accepts.
const MaxTTL = 10 * 365 * 24 * time.Hour

// PushOptions tunes one push. The zero value uses the queue's defaults.
type PushOptions struct {
	// TTL is the retention of the messages; 0 means the queue's default (UseTTL).
	TTL time.Duration
	// Delay keeps the messages invisible this long (0..MaxDelay); 0 means the queue's delay
	// (UseDelay). A message's DelaySeconds attribute overrides both.
	Delay time.Duration
}

// PushResult says what a push did.
type PushResult struct {
	// Pushed are the stored messages, with MessageId, Md5OfBody, Md5OfMessageAttributes and
	// SentTimestamp assigned, in input order. A deduplicated repeat is reported here too,
	// with the MessageId of the message it repeats.
	Pushed []events.SQSMessage
	// Failed are the input messages, unchanged, that were not stored, or whose storing could
	// not be confirmed: when a batch write fails ambiguously (the connection broke after
	// DynamoDB applied it), a message reported here may still be delivered. Delivery is at
	// least once; pushing a failed message again may deliver it twice unless it carries a
	// deduplication ID.
	Failed []events.SQSMessage
	// Duplicates counts pushes suppressed by deduplication.
	Duplicates int
}

// PushMessages stores msgs (any number; written in batches of 25) with the given retention
// (0 = the default TTL). It assigns MessageId, Md5OfBody and the SentTimestamp attribute, and
// returns exactly the messages that were not stored, with an error saying why. Invalid input
// fails the whole call before anything is written. Messages carrying a MessageGroupId or
// MessageDeduplicationId attribute join a FIFO group or are deduplicated; see PushWithOptions.
func (q *DynamoDBQueue) PushMessages(ctx context.Context, ttl time.Duration, msgs ...events.SQSMessage) ([]events.SQSMessage, error) {
	res, err := q.PushWithOptions(ctx, PushOptions{TTL: ttl}, msgs...)
	return res.Failed, err
}

// PushWithOptions stores msgs like PushMessages and reports the stored messages too.
//
// Attributes read from each message's Attributes map: MessageGroupId (FIFO group: delivered in
// push order, one in flight at a time), MessageDeduplicationId (a repeat within DedupWindow is
// accepted but not stored, whatever its group or the shard count: the scope is the (queue,
// client) pair; with UseContentBasedDeduplication the body's SHA-256 is the default ID) and
// DelaySeconds. SendMessages reports the same as one result per message.
func (q *DynamoDBQueue) PushWithOptions(ctx context.Context, opts PushOptions, msgs ...events.SQSMessage) (PushResult, error) {
	results, err := q.SendMessages(ctx, opts, msgs...)
	var res PushResult
	for i, r := range results {
		if r.Err != nil {
			res.Failed = append(res.Failed, msgs[i])
			continue
		}
		res.Pushed = append(res.Pushed, r.Message)
		if r.Duplicate {
			res.Duplicates++
		}
	}
	return res, err
}

// SendMessages stores msgs like PushWithOptions and returns one result per message, aligned
// with msgs (see SendResult): its ID, whether it was a duplicate, or why it was not stored.
// err is nil when every message was stored, a *PartialError when some were not, and any other
// error when the call failed as a whole (then every result carries an error too). When any
// message is invalid nothing is written: err joins the problems, the invalid messages' results
// carry their error, the others ErrNotAttempted.
func (q *DynamoDBQueue) SendMessages(ctx context.Context, opts PushOptions, msgs ...events.SQSMessage) ([]SendResult, error) {
	s := q.pushSettings(ctx, msgs)
	fail := func(err error) ([]SendResult, error) {
		res := make([]SendResult, len(msgs))
		for i := range res {
			res[i].Err = err
		}
		return res, err
	}
	if err := s.checkQueue(); err != nil {
		return fail(err)
	}
	if len(msgs) == 0 {
		return nil, nil
	}
	ttl := opts.TTL
	if ttl == 0 {
		ttl = s.ttl
	}
	if ttl < 0 || ttl > MaxTTL {
		return fail(argError("TTL", "TTL %v, must be 0 (default) or up to %v", ttl, MaxTTL))
	}
	if opts.Delay < 0 || opts.Delay > MaxDelay {
		return fail(argError("Delay", "delay %v, must be 0..%v", opts.Delay, MaxDelay))
	}
	defDelay := cmp.Or(opts.Delay, s.delay)
	invalid := make([]error, len(msgs)) // per message, for the results
	rejected := func(err error) ([]SendResult, error) {
		res := make([]SendResult, len(msgs))
		for i := range res {
			res[i].Err = cmp.Or(invalid[i], ErrNotAttempted)
		}
		return res, err
	}
	prepareAll := func(q *DynamoDBQueue, now time.Time) ([]*outgoing, error) {
		prepared := make([]*outgoing, len(msgs))
		var errs []error
		for i := range msgs {
			o, err := q.prepare(s, &msgs[i], now, ttl, defDelay)
			invalid[i] = err
			if err != nil {
				errs = append(errs, fmt.Errorf("message %d: %w", i, err))
				continue
			}
			o.index = i
			prepared[i] = o
		}
		return prepared, errors.Join(errs...)
	}
	if q.core.clock.unsampled() {
		// This process has not learnt DynamoDB's time yet (clock.go). Check the input first,
		// without taking sequence numbers (which carry the time) on the uncorrected clock, and
		// learn the time only for valid input.
		if _, err := prepareAll(q.scratch(), q.core.now()); err != nil {
			return rejected(err)
		}
		q.syncClock(ctx, s)
	}
	now := q.core.now()
	prepared, err := prepareAll(q, now)
	if err != nil {
		return rejected(err)
	}
	if err := q.register(ctx, s); err != nil {
		return fail(err)
	}
	visible := make([]time.Time, len(prepared))
	for i, o := range prepared {
		visible[i] = o.visible
	}

	// Deduplicated messages need single conditional writes. The groups they belong to go
	// through that sequential path entirely, so the group keeps the call's order.
	sequentialGroups := map[string]bool{}
	for _, o := range prepared {
		if o.dedupID != "" && o.group != "" {
			sequentialGroups[o.pk+"\x00"+o.group] = true
		}
	}
	var batched, single []*outgoing
	for _, o := range prepared {
		if o.dedupID != "" || (o.group != "" && sequentialGroups[o.pk+"\x00"+o.group]) {
			single = append(single, o)
		} else {
			batched = append(batched, o)
		}
	}
	// The activity hints go first (hint.go), so watchers in other processes wake the pair's
	// consumers: in the push's first BatchWriteItem when it batches messages (one request and
	// one round trip less than a write of their own), else on their own before the messages.
	// If the write that carries them fails, none of the messages it carries is written.
	hinted := time.Now()
	var lead []types.WriteRequest
	if len(batched) > 0 && q.hintWrites(s) == hintsInBatch {
		lead = store.HintPuts(q.pendingHints(s, now, visible))
	} else if err := q.writeHints(ctx, s, now, visible); err != nil {
		return fail(err)
	}
	hintLost, err := q.writeBatched(ctx, s, batched, lead)
	if len(lead) > 0 && isAccessDenied(err) {
		// IAM refused the first request as a whole, so nothing of it was written: a policy
		// made before pushes carried their hints (IAMPolicy's PushesWithHints) needs every
		// key of a request in one statement. Write the hints apart from now on.
		q.learnHintWrites(ctx, s, hintsApart, err)
		for _, o := range batched {
			o.err = nil
		}
		if err := q.writeHints(ctx, s, now, visible); err != nil {
			return fail(err)
		}
		hintLost, err = q.writeBatched(ctx, s, batched, nil)
	}
	broken := brokenGroups{} // as in writeBatched: no message after a failed one
	for _, o := range single {
		switch {
		case ctx.Err() != nil:
			o.err = ctx.Err()
		case broken.check(o) != nil:
			o.err = broken.check(o)
		case o.dedupID != "":
			o.err = q.writeDeduplicated(ctx, s, o, now)
		default:
			_, o.err = q.writeBatched(ctx, s, []*outgoing{o}, nil)
		}
		broken.note(o)
	}
	res := make([]SendResult, len(msgs))
	stored := 0
	for _, o := range prepared {
		if o.err != nil {
			res[o.index].Err = o.err
			if err == nil {
				err = o.err
			}
			continue
		}
		res[o.index] = SendResult{MessageID: o.msg.MessageId, Duplicate: o.duplicate, Message: o.msg}
		stored++
		q.core.shardHint.Delete(s.table + "\x00" + o.pk) // the shard has work now
	}
	if stored > 0 {
		q.followUpHint(ctx, s, prepared, hinted, hintLost)
		q.core.notifyLocal(s.table, s.queue, s.client)
	}
	if err != nil {
		return res, &PartialError{Op: "push", Failed: len(msgs) - stored, Total: len(msgs), Err: err}
	}
	return res, nil
}

// outgoing is one message on its way to the table.
type outgoing struct {
	index     int
	msg       events.SQSMessage // as it will be reported back
	pk, sk    string
	group     string
	dedupID   string
	item      map[string]types.AttributeValue
	chunks    []types.WriteRequest
	groupVis  string    // vis of a new group item
	visible   time.Time // when the message becomes visible
	ttl       int64
	err       error
	duplicate bool
}

var roundRobin atomic.Uint64

// prepare validates one message and builds its items. It writes nothing.
func (q *DynamoDBQueue) prepare(s *settings, in *events.SQSMessage, now time.Time, ttl, delay time.Duration) (*outgoing, error) {
	if err := message.Validate(in, s.maxMessageSize); err != nil {
		return nil, err
	}
	o := &outgoing{msg: *in}
	m := &o.msg
	m.Attributes = make(map[string]string, len(in.Attributes)+1)
	for k, v := range in.Attributes {
		m.Attributes[k] = v
	}
	// Attributes the queue sets on delivery cannot be supplied by a producer.
	for _, name := range deliveryAttributes {
		delete(m.Attributes, name)
	}
	if v, ok := m.Attributes[AttributeDelaySeconds]; ok {
		secs, err := strconv.Atoi(v)
		if err != nil || secs < 0 || time.Duration(secs)*time.Second > MaxDelay {
			return nil, argError("DelaySeconds", "%s attribute %q, must be 0..%d", AttributeDelaySeconds, v, int(MaxDelay/time.Second))
		}
		delay = time.Duration(secs) * time.Second
		delete(m.Attributes, AttributeDelaySeconds)
	}
	o.group = m.Attributes[AttributeMessageGroupID]
	if _, ok := m.Attributes[AttributeMessageGroupID]; ok {
		if err := keys.ValidateGroup(o.group); err != nil {
			return nil, err
		}
	}
	fair, hasFair := m.Attributes[AttributeFairGroupID]
	if hasFair {
		if err := validateFairGroup(fair); err != nil {
			return nil, err
		}
	}
	o.dedupID = m.Attributes[AttributeMessageDeduplicationID]
	if _, ok := m.Attributes[AttributeMessageDeduplicationID]; ok {
		if err := keys.ValidateGroup(o.dedupID); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrInvalidMessage, AttributeMessageDeduplicationID, err)
		}
	} else if s.contentDedup {
		sum := sha256.Sum256([]byte(m.Body))
		o.dedupID = hex.EncodeToString(sum[:])
	}

	seq := q.core.seq.Next()
	sent := time.Unix(0, int64(seq.Time))
	m.MessageId = uuid.NewString()
	m.ReceiptHandle = ""
	m.Md5OfBody = message.MD5OfBody(m.Body)
	m.Md5OfMessageAttributes = message.MD5OfAttributes(m.MessageAttributes)
	m.Attributes[AttributeSentTimestamp] = strconv.FormatInt(ms(sent), 10)

	o.pk = s.pk(s.placement(o.group, fair))
	if o.group != "" {
		o.sk = keys.GroupMessageSK(o.group, seq)
	} else {
		o.sk = keys.MessageSK(seq)
	}
	o.ttl = ttlSeconds(now.Add(ttl))

	event, err := message.Encode(*m)
	if err != nil {
		return nil, err
	}
	item := key(o.pk, o.sk)
	item[attrSent] = avN(ms(sent))
	item[attrTTL] = avN(o.ttl)
	item[attrID] = avS(m.MessageId)
	visibleAt := sent.Add(delay)
	o.visible = visibleAt
	if o.group != "" {
		item[attrGroup] = avS(o.group)
		if delay > 0 {
			item[attrVisibleAfter] = avN(ms(visibleAt))
		}
		o.groupVis = keys.Vis(visibleAt, seq)
	} else {
		item[attrVis] = avS(keys.Vis(visibleAt, seq))
	}
	if o.dedupID != "" {
		item[attrDedup] = avS(o.dedupID)
	}
	if len(event) <= inlineLimit {
		item[attrEvent] = avB(event)
	} else {
		o.chunks = store.ChunkPuts(o.pk, o.sk, event, o.ttl)
		item[attrChunks] = avN(int64(len(o.chunks)))
	}
	o.item = item
	return o, nil
}

// placement returns the shard a new message goes to: a group's messages all live on the home
// shard, whatever the shard count, so raising it never splits a group; a fair group's messages
// go to the shard FairGroupShard names among the write shards, so one fair group's backlog
// leaves the other shards to the other groups; other messages take turns over the shards.
func (s *settings) placement(group, fair string) int {
	switch {
	case group != "" || s.writeShards() == 1:
		return keys.HomeShard
	case fair != "":
		return FairGroupShard(fair, s.writeShards())
	}
	return int(roundRobin.Add(1) % uint64(s.writeShards()))
}

// writeBatched stores messages with batch writes: first the chunks of large bodies, then the
// message items (so a message is never visible before its body), then the group pointers (so
// a group is never offered before its messages exist).
//
// Messages of a group go out in waves, the k-th message of every group in wave k, each wave
// complete (unprocessed items retried) before the next: DynamoDB may apply a batch partly, and
// a later message of a group stored before an earlier one could be delivered first. When a
// message of a group is not stored, its group's later messages of this call are not written.
//
// lead (the push's activity hints) goes in the first request, ahead of its items; leadLost
// reports that some of it was not written (left unprocessed after the retries, or its request
// failed).
func (q *DynamoDBQueue) writeBatched(ctx context.Context, s *settings, outs []*outgoing, lead []types.WriteRequest) (leadLost bool, err error) {
	if len(outs) == 0 {
		return false, nil
	}
	leadKeys := make(map[string]bool, len(lead))
	for _, r := range lead {
		leadKeys[reqKey(r)] = true
	}
	// write sends reqs, with lead ahead of them if it has not gone yet.
	write := func(reqs []types.WriteRequest) ([]types.WriteRequest, error) {
		if len(reqs) > 0 && len(lead) > 0 {
			reqs = append(append(make([]types.WriteRequest, 0, len(lead)+len(reqs)), lead...), reqs...)
			lead = nil
		}
		failed, err := q.batchWrite(ctx, s.table, reqs)
		for _, r := range failed {
			leadLost = leadLost || leadKeys[reqKey(r)]
		}
		return failed, err
	}
	defer func() { leadLost = leadLost || len(lead) > 0 }()
	byKey := make(map[string]*outgoing, len(outs))
	var chunkReqs []types.WriteRequest
	for _, o := range outs {
		for _, c := range o.chunks {
			byKey[reqKey(c)] = o
			chunkReqs = append(chunkReqs, c)
		}
	}
	var firstErr error
	fail := func(o *outgoing, err error) {
		if o.err == nil {
			o.err = err
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	markFailed := func(failed []types.WriteRequest, err error) {
		for _, r := range failed {
			if o := byKey[reqKey(r)]; o != nil {
				fail(o, err)
			}
		}
	}
	if failed, err := write(chunkReqs); err != nil {
		markFailed(failed, err)
	}

	var waves [][]*outgoing
	position := map[groupKey]int{}
	for _, o := range outs {
		k := 0
		if o.group != "" {
			gk := groupKey{o.pk, o.group}
			k = position[gk]
			position[gk] = k + 1
		}
		if k == len(waves) {
			waves = append(waves, nil)
		}
		waves[k] = append(waves[k], o)
	}
	broken := brokenGroups{}
	var unsure []*outgoing // grouped messages whose write failed, maybe after it was applied
	for _, wave := range waves {
		var reqs []types.WriteRequest
		for _, o := range wave {
			if err := broken.check(o); err != nil {
				fail(o, err)
			}
			if o.err == nil {
				r := putReq(o.item)
				byKey[reqKey(r)] = o
				reqs = append(reqs, r)
			}
		}
		failed, err := write(reqs)
		if err != nil {
			markFailed(failed, err)
		}
		for _, r := range failed {
			if o := byKey[reqKey(r)]; o != nil && o.group != "" && reqKey(r) == o.pk+"\x00"+o.sk {
				unsure = append(unsure, o)
			}
		}
		for _, o := range wave {
			broken.note(o)
		}
	}
	// A batch whose response was lost may have stored a grouped message that no pointer update
	// below will offer (it failed): take it back, so it is not left stored but never delivered.
	for _, o := range unsure {
		q.unstore(ctx, s, o)
	}

	// One pointer update per group of this push, for the messages that were stored.
	groups := map[groupKey][]*outgoing{}
	var order []groupKey
	for _, o := range outs {
		if o.err == nil && o.group != "" {
			k := groupKey{o.pk, o.group}
			if _, ok := groups[k]; !ok {
				order = append(order, k)
			}
			groups[k] = append(groups[k], o)
		}
	}
	for _, k := range order {
		members := groups[k]
		if err := q.touchGroup(ctx, s, k.pk, k.group, members[0].groupVis, members[len(members)-1].ttl); err != nil {
			for _, o := range members {
				if q.unstore(ctx, s, o) {
					fail(o, err)
				}
			}
		}
	}
	return leadLost, firstErr
}

// chunkDeletes returns the batch deletes of the body chunks o writes.
func (o *outgoing) chunkDeletes() []types.WriteRequest {
	reqs := make([]types.WriteRequest, len(o.chunks))
	for i, c := range o.chunks {
		reqs[i] = deleteReq(str(c.PutRequest.Item[attrPK]), str(c.PutRequest.Item[attrSK]))
	}
	return reqs
}

// unstore deletes a message whose group could not be offered, so that a push reported as
// failed leaves nothing behind. It reports false when the message cannot be taken back
// because a consumer has claimed it already (the group was offered by an earlier push): it is
// then delivered, and the push counts as done.
func (q *DynamoDBQueue) unstore(ctx context.Context, s *settings, o *outgoing) bool {
	_, err := q.core.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:           aws.String(s.table),
		Key:                 key(o.pk, o.sk),
		ConditionExpression: aws.String("attribute_not_exists(tok)"),
	})
	if isConditionFailed(err) {
		return false
	}
	if err == nil && len(o.chunks) > 0 {
		_, err = q.batchWrite(ctx, s.table, o.chunkDeletes())
	}
	if err != nil {
		s.logger.WarnContext(ctx, "dynamodbqueue: a message of a failed push may stay stored until its TTL",
			"message_id", o.msg.MessageId, "error", err)
	}
	return true
}

// register records the (queue, client) pair in the registry partition once per process, so
// List finds it without reading messages. A principal confined to its own partition keys
// (see IAMPolicy) may not write the registry; that is logged and otherwise ignored.
func (q *DynamoDBQueue) register(ctx context.Context, s *settings) error {
	pair := keys.PairPrefix(s.queue, s.client)
	cacheKey := s.table + "\x00" + pair
	if _, ok := q.core.registered.Load(cacheKey); ok {
		return nil
	}
	item := key(keys.RegistryPK, pair)
	item[attrQueue] = avS(s.queue)
	item[attrClient] = avS(s.client)
	_, err := q.core.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item})
	if err != nil {
		if !isAccessDenied(err) {
			return wrapAPI("PutItem (registry)", s.table, err)
		}
		s.logger.DebugContext(ctx, "dynamodbqueue: not allowed to register queue for List", "queue", s.queue, "client", s.client)
	}
	q.core.registered.Store(cacheKey, struct{}{})
	return nil
}

// getItem reads one item with a strongly consistent read; nil when it does not exist.
func (q *DynamoDBQueue) getItem(ctx context.Context, table string, k map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	return q.store(table).GetItem(ctx, k)
}

// groupKey names a message group: its partition and its ID.
type groupKey struct{ pk, group string }

// brokenGroups holds the groups of one push that have a message that was not stored, with the
// first failure: no later message of such a group may be stored, or the group would deliver it
// without the one before.
type brokenGroups map[groupKey]error

// check returns o's error if o's group is broken, else nil.
func (b brokenGroups) check(o *outgoing) error {
	if err := b[groupKey{o.pk, o.group}]; o.group != "" && err != nil {
		return fmt.Errorf("an earlier message of group %q was not stored: %w", o.group, err)
	}
	return nil
}

// note breaks o's group if o failed (the first failure is kept).
func (b brokenGroups) note(o *outgoing) {
	if k := (groupKey{o.pk, o.group}); o.group != "" && o.err != nil && b[k] == nil {
		b[k] = o.err
	}
}
