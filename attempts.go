package dynamodbqueue

import (
	"context"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"
)

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
