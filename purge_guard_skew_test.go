package dynamodbqueue_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// TestPurgeAtMostEverySkewedClocks: a process whose clock is a minute ahead of or behind
// DynamoDB's purges right after a correct process did. With the process's own clock (a zero
// now, as sqsserver uses without Options.Now) the window is measured on the clock corrected
// towards DynamoDB's, so the second purge is refused (ErrPurgeInProgress) and deletes nothing,
// and it is allowed once the interval has passed. Given its raw skewed time as now, the window
// moves by the skew, as documented: a minute ahead, it is allowed at once (and purges what was
// pushed since); a minute behind, it is refused. A refused purge never deletes a message.
func TestPurgeAtMostEverySkewedClocks(t *testing.T) {
	t.Parallel()
	const interval = time.Minute
	for _, skew := range []time.Duration{time.Minute + time.Second, -time.Minute - time.Second} {
		t.Run(fmt.Sprint(skew), func(t *testing.T) {
			t.Parallel()
			ctx := ctxT(t)
			_, table := newTable(t)
			world := &dynamodbqueue.Clock{}
			good := mustHandle(t, newWatchClient(t, nil, table, dynamodbqueue.Options{}), "pg", "c")
			dynamodbqueue.WithClock(good, world)
			off := mustHandle(t, newWatchClient(t, nil, table, dynamodbqueue.Options{}), "pg", "c")
			offClock := dynamodbqueue.WithSkewedClock(off, world, skew)

			if err := good.PurgeAtMostEvery(ctx, interval, time.Time{}); err != nil {
				t.Fatalf("first purge: %v", err)
			}
			push(t, good, bodies(3, "kept")...)
			if err := off.PurgeAtMostEvery(ctx, interval, time.Time{}); !errors.Is(err, dynamodbqueue.ErrPurgeInProgress) {
				t.Fatalf("second purge on the corrected clock of a process %v off: %v, want ErrPurgeInProgress", skew, err)
			}
			if st, err := good.Stats(ctx); err != nil || st.Visible != 3 {
				t.Fatalf("after a refused purge: %+v, %v; want the 3 messages", st, err)
			}

			err := off.PurgeAtMostEvery(ctx, interval, offClock.Now()) // the raw skewed clock
			st, serr := good.Stats(ctx)
			switch {
			case serr != nil:
				t.Fatal(serr)
			case skew > 0 && (err != nil || st.Visible != 0):
				t.Fatalf("a minute ahead, raw clock: %v, %d left; want the purge allowed early", err, st.Visible)
			case skew < 0 && (!errors.Is(err, dynamodbqueue.ErrPurgeInProgress) || st.Visible != 3):
				t.Fatalf("a minute behind, raw clock: %v, %d left; want it refused and the 3 messages kept", err, st.Visible)
			}

			world.Advance(interval + skew.Abs() + time.Second) // past the last mark, the early one included
			push(t, good, bodies(2, "later")...)
			if err := off.PurgeAtMostEvery(ctx, interval, time.Time{}); err != nil {
				t.Fatalf("purge after the interval, corrected clock: %v", err)
			}
			if st, err := good.Stats(ctx); err != nil || st.Visible != 0 {
				t.Fatalf("after the allowed purge: %+v, %v", st, err)
			}
		})
	}
}
