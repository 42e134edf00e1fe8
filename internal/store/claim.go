package store

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
)

// IsConditionFailed reports whether err is a failed condition: a lost race, not a fault.
func IsConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return true
	}
	var api smithy.APIError
	return errors.As(err, &api) && api.ErrorCode() == "ConditionalCheckFailedException"
}

// The updates of a claim that counts a receive: the claim token, one more receive, the
// first-receive time if this is the first, and the last-receive time (for operators). ClaimMessage also moves the message in the ready
// index (:vis); ClaimHead marks the head of a group whose lock holds the visibility. Their
// values come from CounterValues, plus :vis and the token (Claim binds :tok).
const (
	receiveCounted = "tok = :tok, rc = if_not_exists(rc, :zero) + :one, fr = if_not_exists(fr, :now), lr = :now"
	ClaimMessage   = "SET vis = :vis, " + receiveCounted
	ClaimHead      = "SET " + receiveCounted
)

// CounterValues adds to v the values ClaimMessage and ClaimHead need besides :vis and :tok.
func CounterValues(now time.Time, v map[string]types.AttributeValue) map[string]types.AttributeValue {
	v[":one"], v[":zero"], v[":now"] = N(1), N(0), N(MS(now))
	return v
}

// Claim runs a conditional claim: an UpdateItem of (pk, sk) with cond and update, where update
// writes the fresh random token tok (bound to :tok in values). It reports whether this call
// owns the claim afterwards. A failed condition after a retried attempt is checked against the
// item's current token (read back then, only the token), so a claim applied by an earlier
// attempt of the same request counts as won. A failure does not return the item: most failures
// are lost races on the first attempt, which need nothing of it.
func (s Store) Claim(ctx context.Context, pk, sk, tok, cond, update string, values map[string]types.AttributeValue) (bool, error) {
	won, _, err := s.claim(ctx, pk, sk, tok, cond, update, values, types.ReturnValueNone)
	return won, err
}

// ClaimItem is Claim that also returns the item as it was before the claim (ReturnValues
// ALL_OLD), for a caller that read only the candidate's keys (Ready.KeysOnly). old is nil when
// the claim was won by an earlier attempt of the same request, whose response was lost: the
// item then already carries the claim, and the caller reads it.
func (s Store) ClaimItem(ctx context.Context, pk, sk, tok, cond, update string, values map[string]types.AttributeValue) (won bool, old map[string]types.AttributeValue, err error) {
	return s.claim(ctx, pk, sk, tok, cond, update, values, types.ReturnValueAllOld)
}

func (s Store) claim(ctx context.Context, pk, sk, tok, cond, update string, values map[string]types.AttributeValue, rv types.ReturnValue) (bool, map[string]types.AttributeValue, error) {
	values[":tok"] = S(tok)
	var attempts atomic.Int32
	out, err := s.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.Table),
		Key:                       Key(pk, sk),
		ConditionExpression:       aws.String(cond),
		UpdateExpression:          aws.String(update),
		ExpressionAttributeValues: values,
		ReturnValues:              rv,
	}, countAttempts(&attempts))
	if err == nil {
		return true, out.Attributes, nil
	}
	if !IsConditionFailed(err) {
		return false, nil, s.wrap("UpdateItem (claim)", err)
	}
	if attempts.Load() == 1 {
		return false, nil, nil // the only attempt failed its condition: a plain lost race
	}
	item, err := s.GetItem(ctx, Key(pk, sk), AttrToken)
	if err != nil {
		return false, nil, err
	}
	return item != nil && Str(item[AttrToken]) == tok, nil, nil
}

// GetItem reads one item with a strongly consistent read, only the named attributes (all when
// none are named); nil when it does not exist. The names must need no placeholders.
func (s Store) GetItem(ctx context.Context, k map[string]types.AttributeValue, attrs ...string) (map[string]types.AttributeValue, error) {
	in := &dynamodb.GetItemInput{TableName: aws.String(s.Table), Key: k, ConsistentRead: aws.Bool(true)}
	if len(attrs) > 0 {
		in.ProjectionExpression = aws.String(strings.Join(attrs, ", "))
	}
	out, err := s.API.GetItem(ctx, in)
	if err != nil {
		return nil, s.wrap("GetItem", err)
	}
	return out.Item, nil
}

// countAttempts returns a per-call option that counts the HTTP attempts the SDK makes for one
// request (it runs after the retry middleware, so once per attempt). A conditional write whose
// only attempt failed its condition lost a race; only after a retry can the failure be our
// own earlier success, which is then checked. Clients that ignore per-call options leave the
// count at 0, and the check is always made.
func countAttempts(n *atomic.Int32) func(*dynamodb.Options) {
	return func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			m := middleware.FinalizeMiddlewareFunc("dynamodbqueue.countAttempts",
				func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
					n.Add(1)
					return next.HandleFinalize(ctx, in)
				})
			if err := stack.Finalize.Insert(m, "Retry", middleware.After); err != nil {
				return stack.Finalize.Add(m, middleware.After)
			}
			return nil
		})
	}
}
