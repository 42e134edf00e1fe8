package dynamodbqueue_test

import (
	"errors"
	"fmt"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// TestMoveTaskCrashBetweenMoveAndProgress: the runner moves a chunk and dies before its
// progress write (the write is refused). The task stays RUNNING with the count behind; once its
// heartbeat is stale one claim takes it over (a second claim of the same stale state loses),
// the new runner completes it, and every message is in the destination exactly once.
func TestMoveTaskCrashBetweenMoveAndProgress(t *testing.T) {
	ctx := ctxT(t)
	_, table := newTable(t)
	api := newHookAPI(t)
	c, err := dynamodbqueue.New(dynamodbqueue.Options{API: api, Table: table, SigningKey: []byte("k")})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"work", "work-dlq"} {
		if _, err := c.CreateQueue(ctx, name, dynamodbqueue.QueueAttributes{}); err != nil {
			t.Fatal(err)
		}
	}
	dlq, _ := c.Queue("work-dlq", "t1")
	var clk dynamodbqueue.Clock
	dynamodbqueue.WithClock(dlq, &clk) // the client's process: every handle shares its clock
	const n = 5
	for i := 0; i < n; i++ {
		if _, err := dlq.PushMessages(ctx, 0, events.SQSMessage{Body: fmt.Sprint("m", i)}); err != nil {
			t.Fatal(err)
		}
	}
	task, err := c.StartMoveTask(ctx, "work-dlq", "t1", "work", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.StartMoveTask(ctx, "work-dlq", "t1", "work", 0); !errors.Is(err, dynamodbqueue.ErrMoveTaskActive) {
		t.Fatalf("second start: %v, want ErrMoveTaskActive", err)
	}
	var refused atomic.Int64
	api.set(func(op string, in any) error {
		if u, ok := in.(*dynamodb.UpdateItemInput); ok && aws.ToString(u.ConditionExpression) == "tid = :id AND run = :run" && refused.Add(1) == 1 {
			return errWriteRefused // the process dies right after moving the chunk
		}
		return nil
	})
	if _, err := c.RunMoveTask(ctx, task); !errors.Is(err, errWriteRefused) {
		t.Fatalf("RunMoveTask with its progress write refused: %v", err)
	}
	api.set(nil)
	cur, err := c.MoveTasks(ctx, "work-dlq", "t1", 0)
	if err != nil || len(cur) != 1 || cur[0].Status != dynamodbqueue.MoveTaskRunning || cur[0].Moved != 0 || cur[0].ToMove != n {
		t.Fatalf("after the crash: %+v, %v; want one RUNNING task, 0 counted, %d to move", cur, err, n)
	}
	if _, ok, err := c.ClaimMoveTask(ctx, cur[0], time.Minute); ok || err != nil {
		t.Fatalf("claimed a task with a fresh heartbeat: %v, %v", ok, err)
	}
	clk.Advance(2 * time.Minute)
	claimed, ok, err := c.ClaimMoveTask(ctx, cur[0], time.Minute)
	if !ok || err != nil || claimed.Runner == task.Runner {
		t.Fatalf("stale task not claimed: %+v, %v, %v", claimed, ok, err)
	}
	if _, ok, err := c.ClaimMoveTask(ctx, cur[0], time.Minute); ok || err != nil {
		t.Fatalf("a second claim of the same stale state won too: %v, %v", ok, err)
	}
	if _, err := c.RunMoveTask(ctx, task); !errors.Is(err, dynamodbqueue.ErrMoveTaskLost) {
		t.Errorf("the old runner kept running a task taken over: %v", err)
	}
	done, err := c.RunMoveTask(ctx, claimed)
	if err != nil || done.Status != dynamodbqueue.MoveTaskCompleted {
		t.Fatalf("resumed run: %+v, %v", done, err)
	}
	dest, _ := c.Queue("work", "t1")
	var bodies []string
	for _, m := range mustPoll(t, dest, time.Minute, 10) {
		bodies = append(bodies, m.Body)
	}
	sort.Strings(bodies)
	if fmt.Sprint(bodies) != "[m0 m1 m2 m3 m4]" {
		t.Errorf("destination holds %q, want each message once", bodies)
	}
	if st, err := dlq.Stats(ctx); err != nil || st.Visible+st.InFlight+st.Delayed != 0 {
		t.Errorf("dead-letter queue after the task: %+v, %v", st, err)
	}
	if _, err := c.CancelMoveTask(ctx, "work-dlq", "t1", done.ID); !errors.Is(err, dynamodbqueue.ErrMoveTaskNotActive) {
		t.Errorf("cancel of a completed task: %v, want ErrMoveTaskNotActive", err)
	}
}
