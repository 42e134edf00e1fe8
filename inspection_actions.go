package dynamodbqueue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue/internal/handle"
	"github.com/dynamodbqueue/dynamodbqueue/internal/keys"
)

// Operator actions on one message by its ID, for tools (the web UI, the CLI) that hold no
// receipt handle: send one dead letter back, or change the visibility of a message a consumer
// holds. Both find the message as GetMessage does (at the same cost) and then use the same
// conditional writes as RedriveDeadLetters and ChangeVisibility, so a consumer that acts on the
// message at the same time wins and the operator's call reports it.

// ErrMessageNotInFlight: Inspector.ChangeVisibility was given a message nobody holds (visible,
// delayed or dead-lettered); only a held message has a visibility timeout to change.
var ErrMessageNotInFlight = errors.New("dynamodbqueue: message is not in flight")

// ErrMessageChanged: the message changed (was received, deleted or moved) between the read that
// found it and the write that acted on it; nothing was written. Looking again shows its state.
var ErrMessageChanged = errors.New("dynamodbqueue: message changed while acting on it")

// RedriveMessage moves the dead letter with this ID from the queue's dead-letter queue back to
// the queue, as RedriveDeadLetters moves each of its messages (receive count 0, visible at once,
// back in its group). ErrNoDeadLetterQueue without a dead-letter queue, ErrMessageNotFound if
// the dead-letter queue has no such message, ErrMessageInFlight if a consumer of the dead-letter
// queue holds it, ErrMessageChanged if one claims it while it is being moved.
//
// The move is the one of RedriveDeadLetters (claim, copy onto a key derived from the message's
// sequence number, delete under the claim), so a crash or a retried request in between neither
// loses nor duplicates it.
func (ins *Inspector) RedriveMessage(ctx context.Context, messageID string) error {
	q := ins.q
	s := q.resolved(ctx)
	if err := s.checkQueue(); err != nil {
		return err
	}
	if s.dlq == nil {
		return ErrNoDeadLetterQueue
	}
	if messageID == "" || len(messageID) > maxMessageIDLen {
		return argError("messageID", "message ID %q, must be 1..%d characters", messageID, maxMessageIDLen)
	}
	q.syncClock(ctx, s)
	ds := s.deadLetterSettings()
	r, ok, err := q.findInShard(ctx, ds, 0, messageID)
	if err != nil {
		return err
	}
	if !ok || !keys.IsMessageSK(r.SK) {
		return fmt.Errorf("%w: %q in the dead-letter queue of queue %s, client %s", ErrMessageNotFound, messageID, s.queue, s.client)
	}
	now := q.core.now()
	if st, _ := classify(&r, nil, now); st == StateInFlight {
		return fmt.Errorf("%w: %q (in the dead-letter queue)", ErrMessageInFlight, messageID)
	}
	moved, err := q.redriveOne(ctx, s, ds, r, now)
	if err != nil {
		return err
	}
	if !moved {
		return fmt.Errorf("%w: %q", ErrMessageChanged, messageID)
	}
	q.hintNow(ctx, s) // hint.go: wake the pair's watchers in every process
	return nil
}

// ChangeVisibility sets when the in-flight message with this ID becomes visible again: d from
// now (0 releases it at once), as its holder's ChangeVisibility with its receipt handle would,
// for the message's group if it has one. It is how an operator releases a message stuck with a
// long visibility timeout. ErrMessageNotFound if there is no such message,
// ErrMessageNotInFlight if nobody holds it, ErrMessageChanged if its holder deleted or released
// it (or it was received again) in between. d must be 0..12 h.
func (ins *Inspector) ChangeVisibility(ctx context.Context, messageID string, d time.Duration) error {
	if d < 0 || d > MaxVisibilityTimeout {
		return argError("visibility", "visibility timeout %v, must be 0..%v", d, MaxVisibilityTimeout)
	}
	s, r, dead, err := ins.find(ctx, messageID)
	if err != nil {
		return err
	}
	st, _, err := ins.state(ctx, s, r, dead)
	if err != nil {
		return err
	}
	if st != StateInFlight || r.Token == "" {
		return fmt.Errorf("%w: %q is %s", ErrMessageNotInFlight, messageID, st)
	}
	h := handle.Handle{Table: s.table, PK: r.PK, SK: r.SK, Token: r.Token, Chunks: r.Chunks, Dedup: r.Dedup != ""}
	if r.Group != "" {
		h.Group = keys.GroupSK(r.Group)
	}
	err = ins.q.changeOne(ctx, s, h, d)
	if errors.Is(err, ErrStaleReceiptHandle) {
		return fmt.Errorf("%w: %q", ErrMessageChanged, messageID)
	}
	if err == nil && d == 0 {
		ins.q.hintNow(ctx, s) // released: wake the pair's watchers in every process
	}
	return err
}
