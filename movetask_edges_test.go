package dynamodbqueue_test

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// Write-path edges of message move tasks: a retried progress write, a purge of either queue,
// a shard-count change of either queue and a skewed server clock, each during a move. Every
// test checks where each message ends: in the destination exactly once, or purged.

// moveFixture is a client (through a hookAPI) with a source queue "work" and its dead-letter
// queue "work-dlq" (client t1), of the given shard counts, the dead-letter queue holding n
// messages m00, m01, ...
type moveFixture struct {
	c        *dynamodbqueue.Client
	api      *hookAPI
	table    string
	dlq, dst *dynamodbqueue.DynamoDBQueue
	bodies   []string
}

func newMoveEdgeFixture(t *testing.T, n, dstShards, dlqShards int) *moveFixture {
	t.Helper()
	ctx := ctxT(t)
	_, table := newTable(t)
	api := newHookAPI(t)
	c, err := dynamodbqueue.New(dynamodbqueue.Options{API: api, Table: table, SigningKey: []byte("k"),
		Logger: slog.New(slog.DiscardHandler), DefinitionStaleness: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	for name, shards := range map[string]int{"work": dstShards, "work-dlq": dlqShards} {
		if _, err := c.CreateQueue(ctx, name, dynamodbqueue.QueueAttributes{Shards: shards}); err != nil {
			t.Fatal(err)
		}
	}
	f := &moveFixture{c: c, api: api, table: table, dlq: mustHandle(t, c, "work-dlq", "t1"), dst: mustHandle(t, c, "work", "t1")}
	for i := range n {
		f.bodies = append(f.bodies, fmt.Sprintf("m%02d", i))
		push(t, f.dlq, events.SQSMessage{Body: f.bodies[i]})
	}
	return f
}

// other returns a handle of another process (no hook) on the fixture's pair.
func (f *moveFixture) other(t *testing.T, queue string) *dynamodbqueue.DynamoDBQueue {
	return mustHandle(t, newWatchClient(t, nil, f.table, dynamodbqueue.Options{DefinitionStaleness: time.Nanosecond}), queue, "t1")
}

// isProgressWrite reports whether a request is a move task runner's progress write.
func isProgressWrite(op string, in any) bool {
	u, ok := in.(*dynamodb.UpdateItemInput)
	return ok && op == "UpdateItem" && aws.ToString(u.ConditionExpression) == "tid = :id AND run = :run" &&
		strings.HasPrefix(aws.ToString(u.UpdateExpression), "SET hb = :hb")
}

// drainAll receives everything in q (claims held for an hour, so a second copy would show).
func drainAll(t *testing.T, q *dynamodbqueue.DynamoDBQueue) []string {
	t.Helper()
	var got []string
	for {
		msgs := mustPoll(t, q, time.Hour, 10)
		if len(msgs) == 0 {
			slices.Sort(got)
			return got
		}
		got = append(got, bodyList(msgs)...)
	}
}

// finalTask reads the pair's current task.
func (f *moveFixture) finalTask(t *testing.T) dynamodbqueue.MoveTask {
	t.Helper()
	ts, err := f.c.MoveTasks(ctxT(t), "work-dlq", "t1", 1)
	if err != nil || len(ts) != 1 {
		t.Fatalf("MoveTasks: %+v, %v", ts, err)
	}
	return ts[0]
}

// TestMoveTaskRetriedProgressWrite: every progress write lands twice (the hook applies it before
// it is sent, as an SDK retry of an applied write would), and in a second run the first write
// is applied and then fails, so the caller runs the task again from what RunMoveTask returned.
// The count is exact either way: a runner writes its absolute total, never an increment.
func TestMoveTaskRetriedProgressWrite(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"sent twice", "applied then failed"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			ctx := ctxT(t)
			const n = 5
			f := newMoveEdgeFixture(t, n, 1, 1)
			task, err := f.c.StartMoveTask(ctx, "work-dlq", "t1", "work", 2) // chunks of 2: three progress writes
			if err != nil {
				t.Fatal(err)
			}
			var writes atomic.Int64
			f.api.set(func(op string, in any) error {
				if !isProgressWrite(op, in) {
					return nil
				}
				first := writes.Add(1) == 1
				if _, err := f.api.API.UpdateItem(ctx, in.(*dynamodb.UpdateItemInput)); err != nil {
					return err
				}
				if mode == "applied then failed" && first {
					return errWriteRefused
				}
				return nil
			})
			done, err := f.c.RunMoveTask(ctx, task)
			if mode == "applied then failed" {
				if !errors.Is(err, errWriteRefused) {
					t.Fatalf("first run: %v, want the refused write's error", err)
				}
				done, err = f.c.RunMoveTask(ctx, done) // the same runner goes on
			}
			f.api.set(nil)
			if err != nil || done.Status != dynamodbqueue.MoveTaskCompleted || done.Moved != n {
				t.Fatalf("run: %+v, %v; want COMPLETED with %d moved", done, err, n)
			}
			if got := f.finalTask(t); got.Moved != n {
				t.Errorf("stored count %d after retried progress writes, want %d", got.Moved, n)
			}
			if got := drainAll(t, f.dst); !slices.Equal(got, f.bodies) {
				t.Errorf("destination holds %v, want %v once each", got, f.bodies)
			}
		})
	}
}

// TestMoveTaskPurgeDuringMove: another process purges the dead-letter queue, or the
// destination, either right after the task's first chunk of 2 moved (at its first progress
// write) or in the middle of the first message's move (its copy is in the destination, its
// delete from the dead-letter queue not sent yet). A purge of the dead-letter queue ends the
// task early (COMPLETED: nothing left) with what had moved in the destination and the rest gone;
// a purge of the destination removes what had arrived and the task moves the rest. The count is
// the number of messages moved; no message is in the destination twice and none that the purge
// did not remove is missing.
func TestMoveTaskPurgeDuringMove(t *testing.T) {
	t.Parallel()
	const n = 6
	for _, tc := range []struct {
		purged, at string
		keep       []int // indexes of the messages left in the destination
		moved      int64
	}{
		{"work-dlq", "progress", []int{0, 1}, 2},
		{"work", "progress", []int{2, 3, 4, 5}, n},
		{"work-dlq", "move", []int{0}, 1},
		{"work", "move", []int{1, 2, 3, 4, 5}, n},
	} {
		t.Run(tc.purged+" at "+tc.at, func(t *testing.T) {
			t.Parallel()
			ctx := ctxT(t)
			f := newMoveEdgeFixture(t, n, 1, 1)
			purger := f.other(t, tc.purged)
			task, err := f.c.StartMoveTask(ctx, "work-dlq", "t1", "work", 2)
			if err != nil {
				t.Fatal(err)
			}
			var hits atomic.Int64
			f.api.set(func(op string, in any) error {
				trigger := isProgressWrite(op, in)
				if tc.at == "move" {
					trigger = op == "DeleteItem" // the first: the first message's delete from the DLQ
				}
				if trigger && hits.Add(1) == 1 {
					return purger.Purge(ctx)
				}
				return nil
			})
			done, err := f.c.RunMoveTask(ctx, task)
			f.api.set(nil)
			if err != nil || done.Status != dynamodbqueue.MoveTaskCompleted {
				t.Fatalf("run: %+v, %v", done, err)
			}
			var want []string
			for _, i := range tc.keep {
				want = append(want, f.bodies[i])
			}
			if got := drainAll(t, f.dst); !slices.Equal(got, want) || done.Moved != tc.moved || f.finalTask(t).Moved != tc.moved {
				t.Errorf("destination %v, %d counted (stored %d); want %v and %d", got, done.Moved, f.finalTask(t).Moved, want, tc.moved)
			}
			if st, err := f.dlq.Stats(ctx); err != nil || st.Visible+st.InFlight+st.Delayed != 0 {
				t.Errorf("dead-letter queue after the task: %+v, %v", st, err)
			}
		})
	}
}

// TestMoveTaskShardCountChange: the dead-letter queue's or the destination's shard count is
// raised and lowered (UpdateQueue, by another process) at the task's progress writes. Every
// message ends in the destination exactly once and the count is exact. (The dead letters are
// on the dead-letter queue's shard 0, where dead-lettering writes them.)
func TestMoveTaskShardCountChange(t *testing.T) {
	t.Parallel()
	for _, changed := range []string{"work-dlq", "work"} {
		t.Run(changed, func(t *testing.T) {
			t.Parallel()
			ctx := ctxT(t)
			const n = 8
			f := newMoveEdgeFixture(t, n, 2, 1)
			admin := newWatchClient(t, nil, f.table, dynamodbqueue.Options{})
			task, err := f.c.StartMoveTask(ctx, "work-dlq", "t1", "work", 2)
			if err != nil {
				t.Fatal(err)
			}
			counts := []int{4, 1, 3}
			var writes atomic.Int64
			f.api.set(func(op string, in any) error {
				if !isProgressWrite(op, in) {
					return nil
				}
				if i := int(writes.Add(1)) - 1; i < len(counts) {
					_, err := admin.UpdateQueue(ctx, changed, dynamodbqueue.QueueAttributes{Shards: counts[i]}, 0)
					return err
				}
				return nil
			})
			done, err := f.c.RunMoveTask(ctx, task)
			f.api.set(nil)
			if err != nil || done.Status != dynamodbqueue.MoveTaskCompleted || done.Moved != n {
				t.Fatalf("run: %+v, %v; want COMPLETED with %d moved", done, err, n)
			}
			if got := drainAll(t, f.dst); !slices.Equal(got, f.bodies) {
				t.Errorf("destination holds %v, want %v once each", got, f.bodies)
			}
			if st, err := f.dlq.Stats(ctx); err != nil || st.Visible+st.InFlight+st.Delayed != 0 {
				t.Errorf("dead-letter queue after the task: %+v, %v", st, err)
			}
		})
	}
}

// TestMoveTaskSkewedServerTakeover: a second process whose clock is a minute ahead (or behind)
// of DynamoDB's looks at a task that a live runner heartbeats. Its clock is corrected towards
// DynamoDB's (Date header), so with a 30 s staleness it does not take the task over early.
// Forced to (a staleness of 1 ns), its claim wins once: the first runner stops with
// ErrMoveTaskLost, recording what it moved, one runner finishes, each message is moved once and
// the count is exact.
func TestMoveTaskSkewedServerTakeover(t *testing.T) {
	t.Parallel()
	for _, skew := range []time.Duration{time.Minute, -time.Minute} {
		t.Run(fmt.Sprint(skew), func(t *testing.T) {
			t.Parallel()
			ctx := ctxT(t)
			const n = 6
			f := newMoveEdgeFixture(t, n, 1, 1)
			world := &dynamodbqueue.Clock{}
			dynamodbqueue.WithClock(f.dlq, world)
			skewed := newWatchClient(t, nil, f.table, dynamodbqueue.Options{})
			dynamodbqueue.WithSkewedClock(mustHandle(t, skewed, "work-dlq", "t1"), world, skew)
			task, err := f.c.StartMoveTask(ctx, "work-dlq", "t1", "work", 2)
			if err != nil {
				t.Fatal(err)
			}
			// At the first runner's first progress write (one chunk moved), the skewed process
			// looks at the task: first with a 30 s staleness, then forced.
			var early, forced atomic.Bool
			var claimed atomic.Pointer[dynamodbqueue.MoveTask]
			var writes atomic.Int64
			f.api.set(func(op string, in any) error {
				if !isProgressWrite(op, in) || writes.Add(1) != 1 {
					return nil
				}
				ts, err := skewed.MoveTasks(ctx, "work-dlq", "t1", 1)
				if err != nil {
					return err
				}
				if _, ok, err := skewed.ClaimMoveTask(ctx, ts[0], 30*time.Second); err != nil || ok {
					early.Store(ok)
					return err
				}
				c, ok, err := skewed.ClaimMoveTask(ctx, ts[0], time.Nanosecond)
				if ok {
					forced.Store(true)
					claimed.Store(&c)
				}
				return err
			})
			_, err = f.c.RunMoveTask(ctx, task)
			f.api.set(nil)
			if early.Load() {
				t.Fatal("a process a minute off took over a task with a fresh heartbeat")
			}
			if !forced.Load() || !errors.Is(err, dynamodbqueue.ErrMoveTaskLost) {
				t.Fatalf("forced takeover: claimed %v, first runner %v; want a claim and ErrMoveTaskLost", forced.Load(), err)
			}
			if _, ok, err := f.c.ClaimMoveTask(ctx, task, time.Nanosecond); ok || err != nil {
				t.Fatalf("a claim from the lost runner's state won too: %v, %v", ok, err)
			}
			done, err := skewed.RunMoveTask(ctx, *claimed.Load())
			if err != nil || done.Status != dynamodbqueue.MoveTaskCompleted || done.Moved != n {
				t.Fatalf("the new owner's run: %+v, %v; want COMPLETED with %d moved in all", done, err, n)
			}
			if got := drainAll(t, f.dst); !slices.Equal(got, f.bodies) {
				t.Errorf("destination holds %v, want %v once each", got, f.bodies)
			}
		})
	}
}

// TestMoveTaskShardedDeadLetterQueue: messages sent to a dead-letter queue directly are spread
// over its shards (dead-lettering writes shard 0 only), and its shard count may be lowered
// before the task runs. The task moves them all: RedriveDeadLetters reads every shard the
// dead-letter queue's definition ever had, not only shard 0.
func TestMoveTaskShardedDeadLetterQueue(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	const n = 12
	f := newMoveEdgeFixture(t, n, 1, 4)
	if _, err := f.c.UpdateQueue(ctx, "work-dlq", dynamodbqueue.QueueAttributes{Shards: 1}, 0); err != nil {
		t.Fatal(err)
	}
	task, err := f.c.StartMoveTask(ctx, "work-dlq", "t1", "work", 0)
	if err != nil {
		t.Fatal(err)
	}
	done, err := f.c.RunMoveTask(ctx, task)
	if err != nil || done.Status != dynamodbqueue.MoveTaskCompleted || done.Moved != n {
		t.Fatalf("run: %+v, %v; want COMPLETED with %d moved", done, err, n)
	}
	if got := drainAll(t, f.dst); !slices.Equal(got, f.bodies) {
		t.Errorf("destination holds %v, want %v once each", got, f.bodies)
	}
	if st, err := f.dlq.Stats(ctx); err != nil || st.Visible+st.InFlight+st.Delayed != 0 {
		t.Errorf("dead-letter queue after the task: %+v, %v", st, err)
	}
}
