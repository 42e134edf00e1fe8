package cli

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go/middleware"
)

// withRequestLog makes cfg's clients log every DynamoDB request at debug level with --verbose:
// the operation, how long it took with its retries, the attempts and the error, if any.
func (a *app) withRequestLog(cfg aws.Config) aws.Config {
	if a.g.verbose {
		cfg.APIOptions = append(cfg.APIOptions, logRequests(a.logger))
	}
	return cfg
}

// logRequests is an API option adding a middleware at the end of the initialize step, so it
// sees each operation once, around all of its attempts.
func logRequests(logger *slog.Logger) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("ddbqLogRequests",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				start := time.Now()
				out, md, err := next.HandleInitialize(ctx, in)
				attrs := []any{
					"operation", awsmiddleware.GetOperationName(ctx),
					"duration", time.Since(start).Round(time.Microsecond),
				}
				if res, ok := retry.GetAttemptResults(md); ok {
					attrs = append(attrs, "attempts", len(res.Results))
				}
				if err != nil {
					attrs = append(attrs, "error", err)
				}
				logger.DebugContext(ctx, "DynamoDB request", attrs...)
				return out, md, err
			}), middleware.After)
	}
}
