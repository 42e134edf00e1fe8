package dynamodbqueue_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// Activity hints and long polls against a shard-count change and the watcher's own skewed
// clock. The watching processes get a fallback budget too small to spend in a test
// (WatchFallbackRate 0.001), so every wake-up they see comes from a hint.

// receivedOnce adds msgs' bodies to seen and fails on a body seen before (a duplicate).
func receivedOnce(t *testing.T, seen map[string]bool, msgs []events.SQSMessage) {
	t.Helper()
	for _, m := range msgs {
		if seen[m.Body] {
			t.Fatalf("%s received twice", m.Body)
		}
		seen[m.Body] = true
	}
}

// newShardChangePair creates queue (1 shard) on a fresh table, and returns three processes'
// views of its pair (queue, "c"): an admin client that changes the shard count, a watching
// client with its handle, and a pushing handle; both handles see a definition change at once.
func newShardChangePair(t *testing.T, queue string) (admin, watching *dynamodbqueue.Client, wq, pq *dynamodbqueue.DynamoDBQueue) {
	t.Helper()
	_, table := newTable(t)
	admin = newWatchClient(t, nil, table, dynamodbqueue.Options{})
	if _, err := admin.CreateQueue(ctxT(t), queue, dynamodbqueue.QueueAttributes{Shards: 1}); err != nil {
		t.Fatal(err)
	}
	watching = newWatchClient(t, nil, table, dynamodbqueue.Options{WatchFallbackRate: 0.001, DefinitionStaleness: time.Nanosecond})
	pushing := newWatchClient(t, nil, table, dynamodbqueue.Options{DefinitionStaleness: time.Nanosecond})
	return admin, watching, mustHandle(t, watching, queue, "c"), mustHandle(t, pushing, queue, "c")
}

// TestWatchHintsAcrossShardCountChange: a pair watched by another process's watcher, while a
// third process raises and lowers its shard count (1, 4, 2, 1, 3) between pushes. Every push
// wakes the watcher (hints are per pair, not per shard), and a pass over the pair after the
// wake-up finds the batch, whatever shard it went to: every message is received once.
func TestWatchHintsAcrossShardCountChange(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	admin, watching, wq, pq := newShardChangePair(t, "sc")
	sub := mustWatch(t, watching, "sc", "c")
	seen := map[string]bool{}
	for i, shards := range []int{4, 2, 1, 3, 1} {
		if _, err := admin.UpdateQueue(ctx, "sc", dynamodbqueue.QueueAttributes{Shards: shards}, 0); err != nil {
			t.Fatal(err)
		}
		batch := bodies(8, fmt.Sprintf("b%d", i))
		push(t, pq, batch...)
		// A wake-up pending from the previous batch (a hint signals twice) may come first:
		// wait for wake-ups until a pass finds the whole batch.
		for got := 0; got < len(batch); {
			awaitReady(t, sub, fmt.Sprintf("batch %d after a change to %d shards", i, shards))
			for {
				msgs := mustPoll(t, wq, time.Hour, 10)
				if len(msgs) == 0 {
					break
				}
				receivedOnce(t, seen, msgs)
				got += len(msgs)
			}
		}
	}
	if len(seen) != 5*8 || watching.WatchStats().FallbackFinds != 0 {
		t.Fatalf("received %d of %d, fallback finds %d; want all, woken by hints", len(seen), 5*8, watching.WatchStats().FallbackFinds)
	}
}

// TestLongPollHeldAcrossShardCountChange: a long poll (MinMessages 6) holds the 3 messages it
// claimed and waits while another process raises the shard count to 4 and pushes 3 more, then
// lowers it to 1 and pushes 3 more. The poll returns 6 to 10 messages; with what a second
// receive finds, every message is received exactly once (the held claims are renewed, never
// claimed twice, and the shards above a lowered count are still read).
func TestLongPollHeldAcrossShardCountChange(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	admin, polling, q, pq := newShardChangePair(t, "lp")
	push(t, pq, bodies(3, "a")...)
	type result struct {
		msgs []events.SQSMessage
		err  error
	}
	done := make(chan result, 1)
	go func() {
		msgs, err := q.ReceiveMessages(ctx, dynamodbqueue.ReceiveOptions{MaxMessages: 10, MinMessages: 6,
			WaitTime: 20 * time.Second, VisibilityTimeout: time.Hour})
		done <- result{msgs, err}
	}()
	awaitSubscribed(t, polling, 1) // the poll holds its first pass's messages and waits
	for _, step := range []struct {
		shards int
		prefix string
	}{{4, "b"}, {1, "c"}} {
		if _, err := admin.UpdateQueue(ctx, "lp", dynamodbqueue.QueueAttributes{Shards: step.shards}, 0); err != nil {
			t.Fatal(err)
		}
		push(t, pq, bodies(3, step.prefix)...)
	}
	r := <-done // bounded by the poll's WaitTime
	if r.err != nil || len(r.msgs) < 6 {
		t.Fatalf("long poll across the change: %v, %v; want at least 6 messages", bodyList(r.msgs), r.err)
	}
	seen := map[string]bool{}
	receivedOnce(t, seen, r.msgs)
	for {
		msgs := mustPoll(t, q, time.Hour, 10)
		if len(msgs) == 0 {
			break
		}
		receivedOnce(t, seen, msgs)
	}
	var want []string
	for _, p := range []string{"a", "b", "c"} {
		want = append(want, bodyList(bodies(3, p))...)
	}
	got := slices.Sorted(func(yield func(string) bool) {
		for b := range seen {
			if !yield(b) {
				return
			}
		}
	})
	if !slices.Equal(got, want) {
		t.Fatalf("received %v, want %v once each", got, want)
	}
}

// TestWatchOwnClockSkewed: the WATCHING process's clock is a minute ahead or behind DynamoDB's
// (the pushing process's is right). The watcher reads hints on its clock corrected towards
// DynamoDB's: once a response has corrected it, a push wakes it through its hint, never the
// fallback sweep (here too slow to matter), either way. That holds also for a watcher that
// starts before any response ("unsynced"): a minute ahead, its first look moves its cursor to
// its uncorrected now, and the next look, on the corrected clock, reads from now instead of
// from that cursor (without that, hints of the next minute fell below the range it read). A
// minute behind, its first look only reaches further back.
func TestWatchOwnClockSkewed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		skew   time.Duration
		synced bool
	}{{time.Minute, true}, {-time.Minute, true}, {time.Minute, false}, {-time.Minute, false}} {
		t.Run(fmt.Sprintf("%v synced=%v", tc.skew, tc.synced), func(t *testing.T) {
			t.Parallel()
			ctx := ctxT(t)
			_, table := newTable(t)
			world := &dynamodbqueue.Clock{}
			// A fallback budget never spent within the test: only a hint wakes.
			watching := newWatchClient(t, nil, table, dynamodbqueue.Options{WatchFallbackRate: 0.001})
			pushing := newWatchClient(t, nil, table, dynamodbqueue.Options{})
			wq, pq := mustHandle(t, watching, "own", "c"), mustHandle(t, pushing, "own", "c")
			dynamodbqueue.WithSkewedClock(wq, world, tc.skew)
			dynamodbqueue.WithClock(pq, world)
			if tc.synced {
				if _, err := wq.Stats(ctx); err != nil { // one response corrects the clock
					t.Fatal(err)
				}
			}
			sub := mustWatch(t, watching, "own", "c")
			awaitTicks(t, watching, 2) // the watcher has looked (and moved its cursor) before the push
			push(t, pq, bodies(1, "s")...)
			awaitReady(t, sub, "push seen by a skewed watcher")
			if f := watching.WatchStats().FallbackFinds; f != 0 {
				t.Fatalf("woken by the fallback (%d finds), want by the hint", f)
			}
			if got := mustPoll(t, wq, time.Minute, 1); !slices.Equal(bodyList(got), []string{"s-000"}) {
				t.Fatalf("the woken pair holds %v", bodyList(got))
			}
		})
	}
}
