// Package wait holds the one way this project waits: for a duration or until a context ends,
// whichever comes first. No code here sleeps in a way that ignores cancellation.
package wait

import (
	"context"
	"time"
)

// Sleep waits for d or until ctx ends, whichever is first, and returns ctx.Err() in the
// second case. A d of zero or less returns at once.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
