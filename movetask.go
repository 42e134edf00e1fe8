package dynamodbqueue

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamodbqueue/dynamodbqueue/internal/handle"
	"github.com/dynamodbqueue/dynamodbqueue/internal/keys"
	"github.com/dynamodbqueue/dynamodbqueue/internal/store"
)

// Message move tasks.
//
// A move task moves a dead-letter queue's messages (one client's) back to a queue of the same
// client, with RedriveDeadLetters, as SQS's StartMessageMoveTask does. Its state is data in the
// table, so any process can list or cancel it and resume it when the process running it died.
// Items, in the dead-letter queue's definition partition (no listing, statistic or purge reads
// it, and DeleteQueue of the queue leaves them):
//
//	PK @def|<dlq>, SK mtask|<client>                      the client's current (latest) task
//	PK @def|<dlq>, SK mtaskh|<client>|<started ms>|<id>   earlier tasks, copied there when a
//	                                                      new one replaces the current one
//
// One item per client holds the current task, so "at most one active task per queue" is one
// conditional write. The runner owns the task through a token (run) and writes progress (its
// moved count, heartbeat) after each chunk it moves, conditional on still owning it. A crash
// between a move and its progress write loses no message and duplicates none (each message's
// move is RedriveDeadLetters'); only the count lags by at most one chunk.
//
// The moved count is a sum: each runner writes its own absolute total into the map mvr, keyed
// by its token, and Moved adds them up (plus mv, the count of a history copy). An absolute total
// makes a retried progress write (the SDK may resend one DynamoDB applied) harmless, and a
// runner that finds its task taken over still records what it moved since its last progress
// write (conditional on the task only), so the count stays exact across a takeover.

// MoveTaskStatus is a move task's state, spelled as SQS spells it.
type MoveTaskStatus string

// Move task states.
const (
	MoveTaskRunning    MoveTaskStatus = "RUNNING"
	MoveTaskCancelling MoveTaskStatus = "CANCELLING"
	MoveTaskCompleted  MoveTaskStatus = "COMPLETED"
	MoveTaskCancelled  MoveTaskStatus = "CANCELLED"
	MoveTaskFailed     MoveTaskStatus = "FAILED"
)

// Active reports whether a task in state st still has a runner's work to do.
func (st MoveTaskStatus) Active() bool { return st == MoveTaskRunning || st == MoveTaskCancelling }

// DefaultMoveTaskChunk is how many messages a task without a rate moves between two progress
// writes.
const DefaultMoveTaskChunk = 100

// MaxMoveTaskRate is the highest MaxPerSecond, as in SQS.
const MaxMoveTaskRate = 500

// Sentinel errors of move tasks.
var (
	// ErrMoveTaskActive: the queue (client) already has a RUNNING or CANCELLING task.
	ErrMoveTaskActive = errors.New("dynamodbqueue: a message move task is already active for the queue")
	// ErrMoveTaskNotFound: no task with that ID is the queue's current one.
	ErrMoveTaskNotFound = errors.New("dynamodbqueue: message move task not found")
	// ErrMoveTaskNotActive: the task has ended; it cannot be cancelled.
	ErrMoveTaskNotActive = errors.New("dynamodbqueue: message move task is not active")
	// ErrMoveTaskLost: another process took the task over (it found the heartbeat stale), so
	// this runner stopped.
	ErrMoveTaskLost = errors.New("dynamodbqueue: message move task was taken over by another runner")
)

// MoveTask is a message move task's stored state.
type MoveTask struct {
	// ID identifies the task among the queue's tasks.
	ID string
	// Queue and ClientID are the dead-letter queue the messages move from.
	Queue, ClientID string
	// Destination is the queue (same client) they move to.
	Destination string
	// Status is the task's state.
	Status MoveTaskStatus
	// MaxPerSecond bounds the rate (0: as fast as it goes, in chunks of DefaultMoveTaskChunk).
	MaxPerSecond int
	// Moved counts the messages moved so far (it may lag the moves by one chunk after a
	// crash); ToMove is how many were visible in the dead-letter queue when the task started.
	Moved, ToMove int64
	// Failure is why a FAILED task failed.
	Failure string
	// Started is when the task started; Heartbeat when its runner last wrote progress.
	Started, Heartbeat time.Time
	// Runner is the token of the runner that owns the task ("" : released, anyone may resume).
	Runner string

	// mine is Runner's own total as stored in mvr: RunMoveTask continues from it.
	mine int64
}

// Attributes of move task items.
const (
	mtaskSK     = "mtask|"
	mtaskHistSK = "mtaskh|"
	attrMTID    = "tid"
	attrMTState = "mst"
	attrMTDest  = "dst"
	attrMTRate  = "rate"
	attrMTMoved = "mv"
	attrMTTotal = "tm"
	attrMTFail  = "fail"
	attrMTStart = "sts"
	attrMTBeat  = "hb"
	attrMTRun   = "run"
	attrMTRuns  = "mvr" // runner token -> that runner's absolute moved total
)

// emptyRuns is an empty mvr map: a new task's, so that progress writes can set one entry.
func emptyRuns() types.AttributeValue {
	return &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}}
}

func encodeMoveTask(pk, sk string, t MoveTask) map[string]types.AttributeValue {
	item := key(pk, sk)
	item[attrMTID] = avS(t.ID)
	item[attrMTState] = avS(string(t.Status))
	item[attrMTDest] = avS(t.Destination)
	item[attrMTRate] = avN(int64(t.MaxPerSecond))
	item[attrMTMoved] = avN(t.Moved)
	item[attrMTTotal] = avN(t.ToMove)
	item[attrMTFail] = avS(t.Failure)
	item[attrMTStart] = avN(ms(t.Started))
	item[attrMTBeat] = avN(ms(t.Heartbeat))
	item[attrMTRun] = avS(t.Runner)
	item[attrMTRuns] = emptyRuns() // a history copy's count is all in mv
	return item
}

func decodeMoveTask(queue, client string, item map[string]types.AttributeValue) MoveTask {
	t := MoveTask{
		ID: str(item[attrMTID]), Queue: queue, ClientID: client,
		Destination: str(item[attrMTDest]), Status: MoveTaskStatus(str(item[attrMTState])),
		MaxPerSecond: int(num(item[attrMTRate])), Moved: num(item[attrMTMoved]), ToMove: num(item[attrMTTotal]),
		Failure: str(item[attrMTFail]), Started: time.UnixMilli(num(item[attrMTStart])).UTC(), Runner: str(item[attrMTRun]),
	}
	if hb := num(item[attrMTBeat]); hb > 0 {
		t.Heartbeat = time.UnixMilli(hb).UTC()
	}
	if runs, ok := item[attrMTRuns].(*types.AttributeValueMemberM); ok {
		for tok, v := range runs.Value {
			t.Moved += num(v)
			if tok == t.Runner {
				t.mine = num(v)
			}
		}
	}
	return t
}

// runnerTotal is the update of runner tok's moved total to n (an absolute value, so a retry
// writes the same), with its expression names and values.
func runnerTotal(tok string, n int64) (string, map[string]string, map[string]types.AttributeValue) {
	return "mvr.#r = :mine", map[string]string{"#r": tok}, map[string]types.AttributeValue{":mine": avN(n)}
}

// moveTaskOps checks the pair and returns the internal handle and the current task's key.
func (c *Client) moveTaskOps(queue, clientID string) (*DynamoDBQueue, map[string]types.AttributeValue, error) {
	return c.pairOps(queue, clientID, mtaskSK)
}

// pairOps checks the table and the (queue, client) pair, and returns the internal handle and
// the key of the pair's bookkeeping item kind (an SK prefix) in the queue's definition partition.
func (c *Client) pairOps(queue, clientID, kind string) (*DynamoDBQueue, map[string]types.AttributeValue, error) {
	q, err := c.tableOps()
	if err != nil {
		return nil, nil, err
	}
	if err := validatePair(queue, clientID); err != nil {
		return nil, nil, err
	}
	return q, key(defPK(queue), kind+clientID), nil
}

// currentMoveTask reads the client's current task (ok false: it never had one).
func (q *DynamoDBQueue) currentMoveTask(ctx context.Context, k map[string]types.AttributeValue, queue, client string) (MoveTask, bool, error) {
	item, err := q.getItem(ctx, q.snapshot().table, k)
	if err != nil || item == nil {
		return MoveTask{}, false, err
	}
	return decodeMoveTask(queue, client, item), true, nil
}

// StartMoveTask records a new RUNNING task that moves clientID's dead letters in queue back
// to destination (a queue name of the same client), at most maxPerSecond messages a second
// (0: unbounded; at most MaxMoveTaskRate), and returns it, owned by a fresh runner token: run
// it with RunMoveTask. When the client already has an active task it fails with an error
// wrapping ErrMoveTaskActive and returns that task (which ClaimMoveTask may take over if its
// heartbeat is stale). Bad arguments fail with ErrInvalidArgument and write nothing.
func (c *Client) StartMoveTask(ctx context.Context, queue, clientID, destination string, maxPerSecond int) (MoveTask, error) {
	q, k, err := c.moveTaskOps(queue, clientID)
	if err != nil {
		return MoveTask{}, err
	}
	if err := keys.ValidateName("destination queue name", destination); err != nil {
		return MoveTask{}, err
	}
	if destination == queue {
		return MoveTask{}, argError("destination", "the destination is the dead-letter queue itself")
	}
	if maxPerSecond < 0 || maxPerSecond > MaxMoveTaskRate {
		return MoveTask{}, argError("maxPerSecond", "rate %d, must be 0..%d", maxPerSecond, MaxMoveTaskRate)
	}
	cur, had, err := q.currentMoveTask(ctx, k, queue, clientID)
	if err != nil {
		return MoveTask{}, err
	}
	if had && cur.Status.Active() {
		return cur, fmt.Errorf("%w: task %s (%s)", ErrMoveTaskActive, cur.ID, cur.Status)
	}
	st := q.store(c.table)
	cond, vals := "attribute_not_exists(tid)", map[string]types.AttributeValue{}
	if had { // keep the ended task in the history before replacing it (a repeated copy is the same item)
		hk := fmt.Sprintf("%s%s|%013d|%s", mtaskHistSK, clientID, ms(cur.Started), cur.ID)
		if _, _, err := st.WriteIf(ctx, "UpdateItem (move task history)", encodeMoveTask(defPK(queue), hk, cur), "", nil); err != nil {
			return MoveTask{}, err
		}
		cond, vals = "tid = :old AND mst = :oldst", map[string]types.AttributeValue{":old": avS(cur.ID), ":oldst": avS(string(cur.Status))}
	}
	dlq, err := c.Queue(queue, clientID)
	if err != nil {
		return MoveTask{}, err
	}
	stats, err := dlq.Stats(ctx)
	if err != nil {
		return MoveTask{}, err
	}
	q.syncClock(ctx, q.snapshot())
	now := q.core.now().UTC().Truncate(time.Millisecond)
	t := MoveTask{
		ID: handle.NewToken(), Queue: queue, ClientID: clientID, Destination: destination,
		Status: MoveTaskRunning, MaxPerSecond: maxPerSecond, ToMove: int64(stats.Visible),
		Started: now, Heartbeat: now, Runner: handle.NewToken(),
	}
	_, applied, err := st.WriteIf(ctx, "UpdateItem (start move task)", encodeMoveTask(defPK(queue), str(k[attrSK]), t), cond, vals)
	if err != nil {
		return MoveTask{}, err
	}
	if !applied {
		now, _, err := q.currentMoveTask(ctx, k, queue, clientID)
		if err != nil {
			return MoveTask{}, err
		}
		if now.ID != t.ID { // not a retry of our own applied write: another start won the race
			return now, fmt.Errorf("%w: task %s (%s)", ErrMoveTaskActive, now.ID, now.Status)
		}
	}
	return t, nil
}

// MoveTasks returns up to limit (0: all) of clientID's tasks on the dead-letter queue, newest
// first: the current one, then the earlier ones.
func (c *Client) MoveTasks(ctx context.Context, queue, clientID string, limit int) ([]MoveTask, error) {
	q, k, err := c.moveTaskOps(queue, clientID)
	if err != nil {
		return nil, err
	}
	if limit < 0 {
		return nil, argError("limit", "limit %d, must be 0 (all) or positive", limit)
	}
	cur, had, err := q.currentMoveTask(ctx, k, queue, clientID)
	if err != nil {
		return nil, err
	}
	var out []MoveTask
	seen := map[string]bool{}
	if had {
		out, seen[cur.ID] = append(out, cur), true
	}
	histLimit := 0
	if limit > 0 {
		histLimit = limit + 1 // one more: the newest copy may be the current task's
	}
	items, err := q.store(c.table).QueryPrefix(ctx, "Query (move tasks)", defPK(queue), mtaskHistSK+clientID+"|", histLimit, true)
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		if t := decodeMoveTask(queue, clientID, it); !seen[t.ID] { // a copy of the current one, made before a crash
			out, seen[t.ID] = append(out, t), true
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Started.After(out[j].Started) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// CancelMoveTask asks the runner of task id to stop: the task becomes CANCELLING, and its
// runner (in whichever process) marks it CANCELLED at its next progress write. It returns the
// task as stored after the request. A task that is not the client's current one fails with
// ErrMoveTaskNotFound, one that has ended with ErrMoveTaskNotActive. Messages already moved
// stay moved.
func (c *Client) CancelMoveTask(ctx context.Context, queue, clientID, id string) (MoveTask, error) {
	q, k, err := c.moveTaskOps(queue, clientID)
	if err != nil {
		return MoveTask{}, err
	}
	item := key(str(k[attrPK]), str(k[attrSK]))
	item[attrMTState] = avS(string(MoveTaskCancelling))
	out, applied, err := q.store(c.table).WriteIf(ctx, "UpdateItem (cancel move task)", item, "tid = :id AND mst = :run",
		map[string]types.AttributeValue{":id": avS(id), ":run": avS(string(MoveTaskRunning))})
	if err != nil {
		return MoveTask{}, err
	}
	if applied {
		return decodeMoveTask(queue, clientID, out), nil
	}
	cur, had, err := q.currentMoveTask(ctx, k, queue, clientID)
	switch {
	case err != nil:
		return MoveTask{}, err
	case !had || cur.ID != id:
		return MoveTask{}, fmt.Errorf("%w: %s", ErrMoveTaskNotFound, id)
	case cur.Status == MoveTaskCancelling: // cancelled already (perhaps by a retry of this request)
		return cur, nil
	default:
		return cur, fmt.Errorf("%w: %s is %s", ErrMoveTaskNotActive, id, cur.Status)
	}
}

// ClaimMoveTask takes over t (as read by MoveTasks or StartMoveTask) for a new runner when t is
// active and either released (Runner "") or silent for longer than staleAfter (its runner's
// process presumably died). The write is conditional on t's runner and heartbeat being still
// the stored ones, so of several processes trying, one wins. It returns the claimed task and
// true, or false when t was not stale or another process claimed it first.
func (c *Client) ClaimMoveTask(ctx context.Context, t MoveTask, staleAfter time.Duration) (MoveTask, bool, error) {
	q, k, err := c.moveTaskOps(t.Queue, t.ClientID)
	if err != nil {
		return MoveTask{}, false, err
	}
	q.syncClock(ctx, q.snapshot())
	now := q.core.now().UTC().Truncate(time.Millisecond)
	if !t.Status.Active() || (t.Runner != "" && now.Sub(t.Heartbeat) <= staleAfter) {
		return t, false, nil
	}
	// mvr is created if missing (a task started before per-runner counts), so that the new
	// runner's progress writes can set their entry.
	out, applied, err := q.store(c.table).UpdateIf(ctx, "UpdateItem (claim move task)", str(k[attrPK]), str(k[attrSK]),
		"SET run = :new, hb = :now, mvr = if_not_exists(mvr, :empty)", "tid = :id AND run = :run AND hb = :hb", nil,
		map[string]types.AttributeValue{":id": avS(t.ID), ":run": avS(t.Runner), ":hb": avN(ms(t.Heartbeat)),
			":new": avS(handle.NewToken()), ":now": avN(ms(now)), ":empty": emptyRuns()})
	if err != nil || !applied {
		return t, false, err
	}
	return decodeMoveTask(t.Queue, t.ClientID, out), true, nil
}

// ReleaseMoveTask gives up t's ownership without ending it (a process shutting down), so
// another process may resume it at once (see ClaimMoveTask). It is a no-op when t's runner no
// longer owns it.
func (c *Client) ReleaseMoveTask(ctx context.Context, t MoveTask) error {
	q, k, err := c.moveTaskOps(t.Queue, t.ClientID)
	if err != nil {
		return err
	}
	upd, names, vals := runnerTotal(t.Runner, t.mine)
	vals[":id"], vals[":run"], vals[":none"] = avS(t.ID), avS(t.Runner), avS("")
	_, _, err = q.store(c.table).UpdateIf(ctx, "UpdateItem (release move task)", str(k[attrPK]), str(k[attrSK]),
		"SET run = :none, "+upd, "tid = :id AND run = :run", names, vals)
	return err
}

// RunMoveTask moves t's messages as t's runner (t as returned by StartMoveTask or
// ClaimMoveTask) until the dead-letter queue has no visible message (COMPLETED), the task is
// cancelled (CANCELLED), a move fails (FAILED), ctx ends, or another runner took the task over
// (ErrMoveTaskLost). After each chunk (MaxPerSecond messages, paced one a second, or
// DefaultMoveTaskChunk) it writes the moved count and a heartbeat, conditional on still owning
// the task. When ctx ends the task stays active and owned: call ReleaseMoveTask for a quick
// hand-over, else another process resumes it once its heartbeat is stale. It returns the task
// as last written.
func (c *Client) RunMoveTask(ctx context.Context, t MoveTask) (MoveTask, error) {
	q, k, err := c.moveTaskOps(t.Queue, t.ClientID)
	if err != nil {
		return t, err
	}
	dest, err := c.Queue(t.Destination, t.ClientID)
	if err != nil {
		return t, err
	}
	dest = dest.UseDeadLetterQueue(&DeadLetterConfig{MaxReceiveCount: 1000, QueueName: t.Queue, ClientID: t.ClientID})
	chunk := DefaultMoveTaskChunk
	var tick *time.Ticker
	if t.MaxPerSecond > 0 {
		chunk = t.MaxPerSecond
		tick = time.NewTicker(time.Second) // paces the chunks: MaxPerSecond messages a second
		defer tick.Stop()
	}
	st := q.store(c.table)
	for {
		if t.Status == MoveTaskCancelling { // cancelled: move nothing more
			return c.endMoveTask(ctx, st, k, t, MoveTaskCancelled)
		}
		n, moveErr := dest.RedriveDeadLetters(ctx, chunk)
		t.Moved, t.mine = t.Moved+int64(n), t.mine+int64(n)
		status := MoveTaskRunning
		switch {
		case ctx.Err() != nil:
		case moveErr != nil:
			status, t.Failure = MoveTaskFailed, moveErr.Error()
		case n < chunk:
			status = MoveTaskCompleted
		}
		// The progress write outlives a cancelled ctx briefly, so the moves made are counted.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		t.Heartbeat = q.core.now().UTC().Truncate(time.Millisecond)
		upd, names, vals := runnerTotal(t.Runner, t.mine)
		upd = "SET hb = :hb, " + upd
		vals[":id"], vals[":run"], vals[":hb"] = avS(t.ID), avS(t.Runner), avN(ms(t.Heartbeat))
		if status != MoveTaskRunning {
			upd += ", mst = :st, #fail = :fail" // FAIL is a reserved word
			vals[":st"], vals[":fail"], names["#fail"] = avS(string(status)), avS(t.Failure), attrMTFail
		}
		out, applied, err := st.UpdateIf(wctx, "UpdateItem (move task progress)", str(k[attrPK]), str(k[attrSK]), upd, "tid = :id AND run = :run", names, vals)
		if err == nil && !applied {
			// Taken over: the task is another runner's now, but the moves made since this
			// runner's last progress write are counted all the same (its own entry only).
			upd, names, vals := runnerTotal(t.Runner, t.mine)
			vals[":id"] = avS(t.ID)
			_, _, err = st.UpdateIf(wctx, "UpdateItem (lost move task count)", str(k[attrPK]), str(k[attrSK]), "SET "+upd, "tid = :id AND attribute_exists(mvr)", names, vals)
		}
		cancel()
		switch {
		case err != nil:
			return t, err
		case !applied:
			return t, fmt.Errorf("%w: %s", ErrMoveTaskLost, t.ID)
		}
		t = decodeMoveTask(t.Queue, t.ClientID, out)
		if !t.Status.Active() {
			return t, nil
		}
		if ctx.Err() != nil {
			return t, ctx.Err()
		}
		if tick != nil && t.Status == MoveTaskRunning {
			select {
			case <-tick.C:
			case <-ctx.Done():
			}
		}
	}
}

// endMoveTask writes t's final state as its runner.
func (c *Client) endMoveTask(ctx context.Context, st store.Store, k map[string]types.AttributeValue, t MoveTask, status MoveTaskStatus) (MoveTask, error) {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	item := key(str(k[attrPK]), str(k[attrSK]))
	item[attrMTState] = avS(string(status))
	out, applied, err := st.WriteIf(wctx, "UpdateItem (move task ended)", item, "tid = :id AND run = :run",
		map[string]types.AttributeValue{":id": avS(t.ID), ":run": avS(t.Runner)})
	switch {
	case err != nil:
		return t, err
	case !applied:
		return t, fmt.Errorf("%w: %s", ErrMoveTaskLost, t.ID)
	}
	return decodeMoveTask(t.Queue, t.ClientID, out), nil
}
