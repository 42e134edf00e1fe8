package dynamodbqueue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dynamodbqueue/dynamodbqueue/internal/keys"
)

// Inspection: what an operator (the CLI, a web page) sees of a queue without taking part in
// it. Every read here only reads: nothing is claimed, no visibility changes, so inspecting a
// busy queue never delays or re-delivers a message. DeleteMessage is the one write, and it
// refuses messages a consumer holds.

// Errors of the inspection API. Each wraps ErrInvalidArgument where the caller's input is at
// fault, so both errors.Is checks work.
var (
	// ErrInvalidCursor: a ListOptions.Cursor that this (queue, client), state and order did
	// not produce, or that is malformed. Nothing was read.
	ErrInvalidCursor = fmt.Errorf("%w: invalid cursor", ErrInvalidArgument)
	// ErrMessageNotFound: no live message with that ID in the queue (or its dead-letter queue).
	ErrMessageNotFound = errors.New("dynamodbqueue: message not found")
	// ErrMessageInFlight: the message is held by a consumer (received, within its visibility
	// timeout), so it cannot be deleted by ID; its holder deletes it, or it becomes visible again.
	ErrMessageInFlight = errors.New("dynamodbqueue: message is in flight (held by a consumer)")
)

// MaxListMessages is the largest page ListOptions.Limit accepts.
const MaxListMessages = 1000

// MessageState is the state of a message as the inspection API reports it.
type MessageState int

const (
	// StateAny selects every message of the queue itself (visible, in flight or delayed), not
	// its dead letters. It is the zero value of ListOptions.State.
	StateAny MessageState = iota
	// StateVisible: can be received now (for a FIFO group: not held, not delayed; only the
	// group's oldest is delivered next).
	StateVisible
	// StateInFlight: received and within its visibility timeout.
	StateInFlight
	// StateDelayed: pushed with a delay that has not passed yet.
	StateDelayed
	// StateDeadLettered: in the queue's dead-letter queue (needs UseDeadLetterQueue).
	StateDeadLettered
)

var stateNames = [...]string{"any", "visible", "in-flight", "delayed", "dead-lettered"}

// String returns "any", "visible", "in-flight", "delayed" or "dead-lettered".
func (st MessageState) String() string {
	if st >= 0 && int(st) < len(stateNames) {
		return stateNames[st]
	}
	return "MessageState(" + strconv.Itoa(int(st)) + ")"
}

// ParseMessageState is the inverse of MessageState.String. Errors wrap ErrInvalidArgument.
func ParseMessageState(s string) (MessageState, error) {
	for i, n := range stateNames {
		if n == s {
			return MessageState(i), nil
		}
	}
	return 0, argError("state", "message state %q, must be one of any, visible, in-flight, delayed, dead-lettered", s)
}

// MarshalText writes the state's name, so JSON shows "in-flight" rather than 2.
func (st MessageState) MarshalText() ([]byte, error) { return []byte(st.String()), nil }

// MessageInfo is one message as an operator sees it.
type MessageInfo struct {
	// Message is the stored SQS message: MessageId, Body, MessageAttributes, MD5 digests and
	// the system attributes (SentTimestamp, ApproximateReceiveCount,
	// ApproximateFirstReceiveTimestamp, MessageGroupId, MessageDeduplicationId,
	// DeadLetterSourceQueue). It never has a ReceiptHandle. When BodyOmitted, only MessageId
	// and the system attributes are set.
	Message events.SQSMessage
	// State is the message's state when it was read.
	State MessageState
	// VisibleAt is when the message becomes (or became) receivable: the end of the
	// visibility timeout in flight, the end of the delay when delayed.
	VisibleAt time.Time
	// ReceiveCount is how often it was received; FirstReceived the first time and LastReceived
	// the latest (zero if never; LastReceived is also zero for a message last received before
	// this field existed).
	ReceiveCount  int
	FirstReceived time.Time
	LastReceived  time.Time
	// Sent is when it was pushed.
	Sent time.Time
	// GroupID and DeduplicationID as pushed ("" if none).
	GroupID         string
	DeduplicationID string
	// BodyOmitted is set for a large message (stored over BodyChunks items of up to 350 KB)
	// that ListMessages did not read; GetMessage reads it whole.
	BodyOmitted bool
	BodyChunks  int
	// Shard is the shard the message is stored on.
	Shard int
}

// DeadLetterTarget names the dead-letter (queue, client) pair a queue moves messages to, with
// every default resolved.
type DeadLetterTarget struct {
	Table     string
	QueueName string
	ClientID  string
}

// DeadLetterTarget returns where this queue moves dead letters: the handle's UseDeadLetterQueue,
// or else the stored definition's redrive policy, with the defaults resolved ("<queue>-dlq", the
// same client and table); false without a dead-letter queue. Callers use it instead of
// rebuilding the naming rules.
func (q *DynamoDBQueue) DeadLetterTarget(ctx context.Context) (DeadLetterTarget, bool) {
	s := q.resolved(ctx)
	if s.dlq == nil {
		return DeadLetterTarget{}, false
	}
	t, qn, c := s.dlqTarget()
	return DeadLetterTarget{Table: t, QueueName: qn, ClientID: c}, true
}

// Inspector reads a queue for an operator: messages by state with paging, one message by ID,
// and statistics. Get one with DynamoDBQueue.Inspector. Its reads claim nothing and change no
// visibility, so they also work with read-only permissions. It uses the queue's settings at
// the time of each call.
type Inspector struct {
	q *DynamoDBQueue
}

// Inspector returns the inspection API of q.
func (q *DynamoDBQueue) Inspector() *Inspector { return &Inspector{q: q} }

// classify returns the state of a message record and when it becomes visible. lock is the
// group's lock item for a grouped message (nil if none or not grouped).
func classify(r *record, lock *record, now time.Time) (MessageState, time.Time) {
	if r.Group == "" && r.Vis != "" {
		at, _, err := keys.ParseVis(r.Vis)
		switch {
		case err != nil || !at.After(now):
			return StateVisible, at
		case r.Token != "" || r.ReceiveCount > 0:
			return StateInFlight, at
		default:
			return StateDelayed, at
		}
	}
	if lock != nil && lock.Token != "" && r.Token == lock.Token {
		if at, _, err := keys.ParseVis(lock.Vis); err == nil && at.After(now) {
			return StateInFlight, at
		}
	}
	if r.VisibleAfter > ms(now) {
		return StateDelayed, time.UnixMilli(r.VisibleAfter)
	}
	return StateVisible, time.UnixMilli(max(r.VisibleAfter, r.Sent))
}

// info builds the MessageInfo of a record; event is its stored message, nil if not read.
func (q *DynamoDBQueue) info(r record, event []byte, st MessageState, visAt time.Time) (MessageInfo, error) {
	mi := MessageInfo{
		State: st, VisibleAt: visAt, ReceiveCount: r.ReceiveCount, Sent: time.UnixMilli(r.Sent),
		GroupID: r.Group, DeduplicationID: r.Dedup, BodyChunks: r.Chunks,
	}
	if r.LastReceive > 0 {
		mi.LastReceived = time.UnixMilli(r.LastReceive)
	}
	if r.FirstReceive > 0 {
		mi.FirstReceived = time.UnixMilli(r.FirstReceive)
	}
	if _, _, shard, ok := keys.SplitPartitionKey(r.PK); ok {
		mi.Shard = shard
	}
	if event == nil {
		mi.BodyOmitted = true
		mi.Message = events.SQSMessage{MessageId: r.ID, Attributes: map[string]string{
			AttributeSentTimestamp: strconv.FormatInt(r.Sent, 10),
		}}
		if r.Group != "" {
			mi.Message.Attributes[AttributeMessageGroupID] = r.Group
		}
		if r.Dedup != "" {
			mi.Message.Attributes[AttributeMessageDeduplicationID] = r.Dedup
		}
		if r.ReceiveCount > 0 {
			mi.Message.Attributes[AttributeApproximateReceiveCount] = strconv.Itoa(r.ReceiveCount)
			mi.Message.Attributes[AttributeApproximateFirstReceiveTimestamp] = strconv.FormatInt(r.FirstReceive, 10)
		}
		if r.Origin != "" {
			mi.Message.Attributes[AttributeDeadLetterSource] = r.Origin
		}
		return mi, nil
	}
	m, err := q.toMessage(r, event, "")
	if err != nil {
		return MessageInfo{}, err
	}
	mi.Message = *m
	return mi, nil
}
