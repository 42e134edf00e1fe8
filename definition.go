package dynamodbqueue

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue/internal/keys"
	"github.com/dynamodbqueue/dynamodbqueue/internal/message"
)

// Queue definitions.
//
// A queue definition is data in the queue's table, so every process agrees on a queue's
// shape. Items (none of them collides with a message partition "queue|client|shard", because
// queue names cannot contain '@'):
//
//	PK @def|<queue>, SK @def          the definition (QueueDefinition)
//	PK @def|<queue>, SK client|<id>   a client's overrides (ClientOverride)
//	PK @def|<dlq>,   SK src|<queue>   reverse link: <queue>'s redrive policy names <dlq>
//	PK @defs,        SK <queue>       the list entry that ListQueues pages through
//
// Keeping every item of a queue under one partition key lets an IAM policy give a tenant read
// access to its queue's definition (and nothing else's) with dynamodb:LeadingKeys.

// Sentinel errors of queue definitions.
var (
	// ErrQueueDoesNotExist: no definition is stored for the queue (CreateQueue makes one).
	ErrQueueDoesNotExist = errors.New("dynamodbqueue: queue does not exist")
	// ErrQueueAttributesMismatch: CreateQueue found the queue defined with other attributes
	// (a *QueueAttributesMismatchError names them).
	ErrQueueAttributesMismatch = errors.New("dynamodbqueue: queue exists with different attributes")
	// ErrVersionConflict: UpdateQueue or DeleteQueue was conditional on a version that is no
	// longer the stored one (a *VersionConflictError gives both).
	ErrVersionConflict = errors.New("dynamodbqueue: queue definition was changed by someone else")
)

// QueueAttributesMismatchError is CreateQueue's error when the queue already exists with other
// attributes. It matches ErrQueueAttributesMismatch with errors.Is.
type QueueAttributesMismatchError struct {
	// Queue is the queue name.
	Queue string
	// Fields names each attribute that differs, with the stored and the requested value.
	Fields []string
}

// Error names the queue and the differences.
func (e *QueueAttributesMismatchError) Error() string {
	return fmt.Sprintf("%v: %q: %s", ErrQueueAttributesMismatch, e.Queue, strings.Join(e.Fields, "; "))
}

// Is reports whether target is ErrQueueAttributesMismatch.
func (e *QueueAttributesMismatchError) Is(target error) bool {
	return target == ErrQueueAttributesMismatch
}

// VersionConflictError is returned when a write was conditional on a version that is no longer
// stored. It matches ErrVersionConflict with errors.Is. Read the definition again and retry.
type VersionConflictError struct {
	// Queue is the queue name.
	Queue string
	// Expected is the version the caller gave; Actual the stored one (0: the queue is gone).
	Expected, Actual int64
}

// Error names the queue and both versions.
func (e *VersionConflictError) Error() string {
	return fmt.Sprintf("%v: %q is at version %d, not %d", ErrVersionConflict, e.Queue, e.Actual, e.Expected)
}

// Is reports whether target is ErrVersionConflict.
func (e *VersionConflictError) Is(target error) bool { return target == ErrVersionConflict }

// RedrivePolicy sends messages received too often to a dead-letter queue of the same table.
// Each client's dead letters go to the same client ID of DeadLetterQueue.
type RedrivePolicy struct {
	// DeadLetterQueue is the target queue's name (it need not be defined itself).
	DeadLetterQueue string
	// MaxReceiveCount is how many receives a message gets (1..1000); the next one moves it.
	MaxReceiveCount int
}

// QueueAttributes are the settings a queue definition stores. In CreateQueue and UpdateQueue a
// zero VisibilityTimeout, Retention, MaxMessageSize or Shards means the default
// (DefaultVisibilityTimeout, DefaultTTL, 1 MiB, 1); a zero Delay or ReceiveWaitTime is simply 0.
type QueueAttributes struct {
	// VisibilityTimeout is the default visibility timeout of a receive (up to 12 h).
	VisibilityTimeout time.Duration
	// Delay hides pushed messages this long (up to MaxDelay) unless a message sets its own.
	Delay time.Duration
	// Retention is how long a pushed message lives (up to MaxTTL) unless the push sets a TTL.
	Retention time.Duration
	// MaxMessageSize bounds body plus attributes, in bytes (1 .. 2 MiB).
	MaxMessageSize int
	// ReceiveWaitTime is the long-poll wait of a ReceiveMessages call whose WaitTime is 0
	// (up to MaxWaitTime). PollMessages' timeout is explicit, so it does not apply there.
	ReceiveWaitTime time.Duration
	// Shards is the number of partition keys each client's messages are spread over
	// (1..MaxShards). Lowering it never strands a message: see QueueDefinition.MaxShards.
	Shards int
	// ContentBasedDeduplication makes pushes without a deduplication ID use the body's SHA-256.
	ContentBasedDeduplication bool
	// RedrivePolicy, when set, moves messages received too often to a dead-letter queue.
	RedrivePolicy *RedrivePolicy
	// Tags are free-form labels (at most 50; keys 1..128 bytes, values up to 256 bytes).
	Tags map[string]string
}

// QueueDefinition is a queue's stored definition.
type QueueDefinition struct {
	// Name is the queue name.
	Name string
	QueueAttributes
	// MaxShards is the highest shard count the definition ever had. Consumers keep polling
	// shards in [Shards, MaxShards) (cheaply: an empty one is skipped for a while) so messages
	// pushed before a lowered count are drained, never stranded.
	MaxShards int
	// Created and Modified are when the definition was created and last changed.
	Created, Modified time.Time
	// Version counts the definition's writes, from 1; UpdateQueue can be made conditional on it.
	Version int64
}

// ClientOverride holds one client's own values for the settings that make sense per tenant.
// A zero field keeps the queue's value. Shards, size, deduplication, the dead-letter target and
// tags are properties of the queue and cannot be overridden.
type ClientOverride struct {
	// VisibilityTimeout, Delay, Retention and ReceiveWaitTime replace the queue's values.
	VisibilityTimeout, Delay, Retention, ReceiveWaitTime time.Duration
	// MaxReceiveCount replaces the redrive policy's count (only when the queue has one).
	MaxReceiveCount int
}

// Limits of tags, as in SQS.
const (
	maxTags        = 50
	maxTagKeyLen   = 128
	maxTagValueLen = 256
)

// withDefaults returns a copy with the zero fields that mean "default" filled in, and the tags
// and redrive policy copied so the caller's values are never shared.
func (a QueueAttributes) withDefaults() QueueAttributes {
	if a.VisibilityTimeout == 0 {
		a.VisibilityTimeout = DefaultVisibilityTimeout
	}
	if a.Retention == 0 {
		a.Retention = DefaultTTL
	}
	if a.MaxMessageSize == 0 {
		a.MaxMessageSize = message.DefaultMaxSize
	}
	if a.Shards == 0 {
		a.Shards = 1
	}
	if a.RedrivePolicy != nil {
		rp := *a.RedrivePolicy
		a.RedrivePolicy = &rp
	}
	if len(a.Tags) == 0 {
		a.Tags = nil
	} else {
		a.Tags = maps.Clone(a.Tags)
	}
	return a
}

// validate checks attributes (after withDefaults) for the queue name.
func (a QueueAttributes) validate(queue string) error {
	if err := checkRange("VisibilityTimeout", a.VisibilityTimeout, 0, MaxVisibilityTimeout); err != nil {
		return err
	}
	if err := checkRange("Delay", a.Delay, 0, MaxDelay); err != nil {
		return err
	}
	if err := checkRange("Retention", a.Retention, time.Second, MaxTTL); err != nil {
		return err
	}
	if err := checkRange("ReceiveWaitTime", a.ReceiveWaitTime, 0, MaxWaitTime); err != nil {
		return err
	}
	if a.MaxMessageSize < 1 || a.MaxMessageSize > maxStoredMessage {
		return argError("MaxMessageSize", "max message size %d, must be 1..%d", a.MaxMessageSize, maxStoredMessage)
	}
	if a.Shards < 1 || a.Shards > MaxShards {
		return argError("Shards", "shard count %d, must be 1..%d", a.Shards, MaxShards)
	}
	if rp := a.RedrivePolicy; rp != nil {
		if err := keys.ValidateName("dead-letter queue name", rp.DeadLetterQueue); err != nil {
			return err
		}
		if rp.DeadLetterQueue == queue {
			return argError("RedrivePolicy", "dead-letter queue is the queue itself")
		}
		if err := checkMaxReceiveCount(rp.MaxReceiveCount); err != nil {
			return err
		}
	}
	if len(a.Tags) > maxTags {
		return argError("Tags", "%d tags, at most %d", len(a.Tags), maxTags)
	}
	for k, v := range a.Tags {
		if k == "" || len(k) > maxTagKeyLen || len(v) > maxTagValueLen {
			return argError("Tags", "tag %q=%q: keys must be 1..%d bytes, values up to %d", k, v, maxTagKeyLen, maxTagValueLen)
		}
	}
	return nil
}

// validate checks a client override.
func (o ClientOverride) validate() error {
	if err := checkRange("VisibilityTimeout", o.VisibilityTimeout, 0, MaxVisibilityTimeout); err != nil {
		return err
	}
	if err := checkRange("Delay", o.Delay, 0, MaxDelay); err != nil {
		return err
	}
	if err := checkRange("Retention", o.Retention, 0, MaxTTL); err != nil {
		return err
	}
	if err := checkRange("ReceiveWaitTime", o.ReceiveWaitTime, 0, MaxWaitTime); err != nil {
		return err
	}
	if o.MaxReceiveCount != 0 {
		return checkMaxReceiveCount(o.MaxReceiveCount)
	}
	return nil
}

func checkRange(name string, d, lo, hi time.Duration) error {
	if d < lo || d > hi {
		return argError(name, "%s %v, must be %v..%v", name, d, lo, hi)
	}
	return nil
}

func checkMaxReceiveCount(n int) error {
	if n < 1 || n > 1000 {
		return argError("MaxReceiveCount", "MaxReceiveCount %d, must be 1..1000", n)
	}
	return nil
}

// differences lists the attributes in which a and b (both withDefaults) differ, as
// "Name: stored X, requested Y".
func (a QueueAttributes) differences(b QueueAttributes) []string {
	var out []string
	diff := func(name string, x, y any) {
		if x != y {
			out = append(out, fmt.Sprintf("%s: stored %v, requested %v", name, x, y))
		}
	}
	diff("VisibilityTimeout", a.VisibilityTimeout, b.VisibilityTimeout)
	diff("Delay", a.Delay, b.Delay)
	diff("Retention", a.Retention, b.Retention)
	diff("MaxMessageSize", a.MaxMessageSize, b.MaxMessageSize)
	diff("ReceiveWaitTime", a.ReceiveWaitTime, b.ReceiveWaitTime)
	diff("Shards", a.Shards, b.Shards)
	diff("ContentBasedDeduplication", a.ContentBasedDeduplication, b.ContentBasedDeduplication)
	diff("RedrivePolicy", redriveString(a.RedrivePolicy), redriveString(b.RedrivePolicy))
	if !maps.Equal(a.Tags, b.Tags) {
		diff("Tags", tagString(a.Tags), tagString(b.Tags))
	}
	return out
}

func redriveString(rp *RedrivePolicy) string {
	if rp == nil {
		return "none"
	}
	return fmt.Sprintf("%s after %d receives", rp.DeadLetterQueue, rp.MaxReceiveCount)
}

func tagString(tags map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		parts = append(parts, k+"="+tags[k])
	}
	return "{" + strings.Join(parts, ",") + "}"
}
