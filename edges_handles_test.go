package dynamodbqueue_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/handle"
	"github.com/dynamodbqueue/dynamodbqueue/internal/keys"
)

// TestDeletedGroupMessageHandleCannotHideGroup is issue 9, bug 7: after message A of group g
// was deleted, ChangeVisibility(12h) with A's old handle succeeded and hid g's next message
// for 12 hours, because it checked only the group's token. It must check that A itself is
// still the message claimed. The second case deletes A but loses the group release that
// follows (a crash between the two writes), so the group still carries A's token.
func TestDeletedGroupMessageHandleCannotHideGroup(t *testing.T) {
	t.Parallel()
	for _, crash := range []bool{false, true} {
		name := map[bool]string{false: "deleted", true: "crash before group release"}[crash]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := ctxT(t)
			_, table := newTable(t)
			clk := &dynamodbqueue.Clock{}
			q, api := hookedQueue(t, table, "groups", "c", clk)
			push(t, q, grouped("g", 2)...)
			a := mustPoll(t, q, time.Minute, 1)
			if !slices.Equal(bodyList(a), []string{"g-000"}) {
				t.Fatalf("first receive got %v, want g-000", bodyList(a))
			}
			if crash {
				api.set(func(op string, in any) error {
					if u, ok := in.(*dynamodb.UpdateItemInput); ok && strings.HasPrefix(sk(u.Key), keys.GroupPrefix) {
						return errors.New("test: process died before releasing the group")
					}
					return nil
				})
			}
			if failed, err := q.DeleteMessages(ctx, toHandles(a)...); err != nil || len(failed) > 0 {
				t.Fatalf("delete A: %v", err)
			}
			api.set(nil)
			failed, err := q.ChangeVisibility(ctx, 12*time.Hour, toHandles(a)...)
			if len(failed) != 1 || !errors.Is(err, dynamodbqueue.ErrStaleReceiptHandle) {
				t.Fatalf("ChangeVisibility(12h) with deleted A's handle: failed %d, %v; want ErrStaleReceiptHandle", len(failed), err)
			}
			if crash {
				clk.Advance(time.Minute + time.Second) // A's claim on the group runs out
			}
			if got := mustPoll(t, q, time.Minute, 1); !slices.Equal(bodyList(got), []string{"g-001"}) {
				t.Fatalf("after deleting A the group's next receive got %v, want g-001", bodyList(got))
			}
		})
	}
}

// TestGroupStrippedHandleCannotReleaseHeldMessage is issue 9, bug 9: with the default (public)
// signing key, a holder of a group message could remove the group from its handle and sign it
// again; a release through that handle made the message deliverable while its group was still
// held. What a handle asserts must agree with the stored message, not only with the MAC.
func TestGroupStrippedHandleCannotReleaseHeldMessage(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	q := newQueue(t, "groups", "c")
	push(t, q, grouped("g", 2)...)
	a := mustPoll(t, q, time.Hour, 1)
	if !slices.Equal(bodyList(a), []string{"g-000"}) {
		t.Fatalf("first receive got %v, want g-000", bodyList(a))
	}
	signer := handle.NewSigner(nil) // the default key is in the source: anyone can sign
	h, err := signer.Parse(a[0].ReceiptHandle)
	if err != nil {
		t.Fatal(err)
	}
	forge := func(group string) string { f := h; f.Group = group; return signer.Encode(f) }
	for _, forged := range []string{forge(""), forge(keys.GroupSK("other"))} {
		if failed, err := q.ReleaseMessages(ctx, forged); len(failed) != 1 || !errors.Is(err, dynamodbqueue.ErrInvalidReceiptHandle) {
			t.Errorf("release through a handle with its group changed: failed %d, %v; want ErrInvalidReceiptHandle", len(failed), err)
		}
		if failed, err := q.DeleteMessages(ctx, forged); len(failed) != 1 || !errors.Is(err, dynamodbqueue.ErrInvalidReceiptHandle) {
			t.Errorf("delete through a handle with its group changed: failed %d, %v; want ErrInvalidReceiptHandle", len(failed), err)
		}
	}
	if got := mustPoll(t, q.Clone(), time.Hour, 10); len(got) != 0 {
		t.Fatalf("while g is held another consumer received %v", bodyList(got))
	}
	// The genuine handle still works, and the group goes on in order.
	if failed, err := q.DeleteMessages(ctx, toHandles(a)...); err != nil || len(failed) > 0 {
		t.Fatalf("delete with the genuine handle: %v", err)
	}
	if got := mustPoll(t, q, time.Hour, 10); !slices.Equal(bodyList(got), []string{"g-001"}) {
		t.Fatalf("after deleting g-000 got %v, want g-001", bodyList(got))
	}
}

// sk returns the sort key of a key map.
func sk(k map[string]types.AttributeValue) string {
	if s, ok := k["SK"].(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}
