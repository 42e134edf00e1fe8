package sqsserver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// Message move tasks (the redrive API) move a dead-letter queue's messages back to a source
// queue. Their state is in the table (dynamodbqueue.MoveTask): any server lists and cancels any
// task, and a server that lists a task whose runner went silent for Options.MoveTaskStaleAfter
// (its process died), or is asked to start one on its queue, takes it over and runs it. Drain
// stops this server's runners and releases their tasks, so another server resumes them at once.

// DefaultMoveTaskStaleAfter is Options.MoveTaskStaleAfter's default: a running task writes its
// progress at least every few seconds, so half a minute of silence means its runner is gone.
const DefaultMoveTaskStaleAfter = 30 * time.Second

// moveRunners are the tasks this server runs.
type moveRunners struct {
	mu      sync.Mutex
	running map[string]*moveRunner // by task ID
	wg      sync.WaitGroup
}

// moveRunner is one running task: stop ends it; release says whether to hand the task over.
type moveRunner struct {
	stop    context.CancelFunc
	release bool
}

// taskHandle is SQS's TaskHandle: base64 of {"taskId": ..., "sourceArn": ...}, as SQS's.
func taskHandle(id, sourceARN string) string {
	b, _ := json.Marshal(taskHandleJSON{TaskID: id, SourceARN: sourceARN})
	return base64.StdEncoding.EncodeToString(b)
}

// taskHandleJSON is a TaskHandle's content.
type taskHandleJSON struct {
	TaskID    string `json:"taskId"`
	SourceARN string `json:"sourceArn"`
}

// parseTaskHandle reverses taskHandle.
func parseTaskHandle(h string) (id, client, queue string, ok bool) {
	b, err := base64.StdEncoding.DecodeString(h)
	if err != nil {
		return "", "", "", false
	}
	var th taskHandleJSON
	if json.Unmarshal(b, &th) != nil || th.TaskID == "" {
		return "", "", "", false
	}
	client, queue, ok = parseQueueARN(th.SourceARN)
	return th.TaskID, client, queue, ok
}

// staleAfter is the silence after which a task is resumed.
func (s *Server) staleAfter() time.Duration {
	if s.opts.MoveTaskStaleAfter > 0 {
		return s.opts.MoveTaskStaleAfter
	}
	return DefaultMoveTaskStaleAfter
}

// runMove runs t (owned by a runner token of this server) in the background until it ends, the
// server drains, or another server takes it over.
func (s *Server) runMove(t dynamodbqueue.MoveTask) {
	ctx, stop := context.WithCancel(context.Background())
	r := &moveRunner{stop: stop}
	s.moves.mu.Lock()
	if s.moves.running == nil {
		s.moves.running = map[string]*moveRunner{}
	}
	s.moves.running[t.ID] = r
	s.moves.wg.Add(1)
	s.moves.mu.Unlock()
	go func() {
		defer s.moves.wg.Done()
		defer stop()
		last, err := s.opts.Client.RunMoveTask(ctx, t)
		s.moves.mu.Lock()
		delete(s.moves.running, t.ID)
		release := r.release
		s.moves.mu.Unlock()
		if release && last.Status.Active() {
			rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if rerr := s.opts.Client.ReleaseMoveTask(rctx, last); rerr != nil {
				s.logger.Warn("sqsserver: could not release a message move task", "task", t.ID, "error", rerr)
			}
		}
		if err != nil && !errors.Is(err, context.Canceled) {
			s.logger.Warn("sqsserver: message move task stopped", "task", t.ID, "queue", t.Queue, "error", err)
		}
	}()
}

// stopMoves stops this server's runners; with release, their tasks are handed over at once,
// else they wait for their heartbeat to go stale (what a crash leaves). It waits for the
// runners to return, or ctx.
func (s *Server) stopMoves(ctx context.Context, release bool) error {
	s.moves.mu.Lock()
	for _, r := range s.moves.running {
		r.release = release
		r.stop()
	}
	s.moves.mu.Unlock()
	done := make(chan struct{})
	go func() { s.moves.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// resume takes t over when its runner went silent, and runs it; it returns t as stored after.
func (s *Server) resume(ctx context.Context, t dynamodbqueue.MoveTask) dynamodbqueue.MoveTask {
	claimed, ok, err := s.opts.Client.ClaimMoveTask(ctx, t, s.staleAfter())
	if err != nil {
		s.logger.Warn("sqsserver: could not resume a message move task", "task", t.ID, "error", err)
		return t
	}
	if ok {
		s.logger.Info("sqsserver: resuming a message move task whose runner went silent", "task", t.ID, "queue", t.Queue, "client", t.ClientID)
		s.runMove(claimed)
		return claimed
	}
	return t
}

// sourceQueue reads a move task action's SourceArn, the dead-letter queue whose messages
// move, and checks that the caller may use it (as for any queue URL).
func (s *Server) sourceQueue(c *call) (src, client, dlq string, err error) {
	if src, err = c.in.required("SourceArn"); err != nil {
		return "", "", "", err
	}
	client, dlq, ok := parseQueueARN(src)
	if !ok {
		return "", "", "", invalidParam("Value %s for parameter SourceArn is invalid.", src)
	}
	if _, err := s.openQueue(c, client, dlq, src); err != nil {
		return "", "", "", err
	}
	return src, client, dlq, nil
}

func (s *Server) startMessageMoveTask(c *call) (obj, error) {
	src, client, dlq, err := s.sourceQueue(c)
	if err != nil {
		return nil, err
	}
	dst, err := c.in.str("DestinationArn")
	if err != nil {
		return nil, err
	}
	var destName string
	if dst != "" {
		dc, dn, ok := parseQueueARN(dst)
		if !ok {
			return nil, invalidParam("Value %s for parameter DestinationArn is invalid.", dst)
		}
		if dc != client {
			return nil, accessDenied(dst)
		}
		if _, err := s.openQueue(c, dc, dn, dst); err != nil {
			return nil, err
		}
		destName = dn
	} else {
		sources, err := s.opts.Client.ListDeadLetterSourceQueues(c.ctx, dlq)
		if err != nil {
			return nil, err
		}
		switch len(sources) {
		case 0:
			return nil, invalidParam("Source queue must be configured as a Dead Letter Queue.")
		case 1:
			destName = sources[0]
		default:
			return nil, invalidParam("The dead-letter queue has several source queues; give DestinationArn.")
		}
	}
	rate := 0
	if n, ok, err := c.in.integer("MaxNumberOfMessagesPerSecond"); err != nil {
		return nil, err
	} else if ok {
		if n < 1 || n > 500 {
			return nil, invalidParam("Value %d for parameter MaxNumberOfMessagesPerSecond is invalid. Reason: must be between 1 and 500.", n)
		}
		rate = int(n)
	}
	t, err := s.opts.Client.StartMoveTask(c.ctx, dlq, client, destName, rate)
	if errors.Is(err, dynamodbqueue.ErrMoveTaskActive) {
		s.resume(c.ctx, t)
		return nil, invalidParam("There is already a task running. Only one active task is allowed for a source queue arn at a given time.")
	}
	if err != nil {
		return nil, err
	}
	s.runMove(t)
	return obj{}.add("TaskHandle", taskHandle(t.ID, src)), nil
}

func (s *Server) cancelMessageMoveTask(c *call) (obj, error) {
	h, err := c.in.required("TaskHandle")
	if err != nil {
		return nil, err
	}
	notFound := &Error{Code: CodeResourceNotFound, Message: "Task does not exist.", Sender: true}
	id, client, dlq, ok := parseTaskHandle(h)
	if !ok || !c.principal.Allows(client) {
		return nil, notFound
	}
	t, err := s.opts.Client.CancelMoveTask(c.ctx, dlq, client, id)
	switch {
	case errors.Is(err, dynamodbqueue.ErrMoveTaskNotFound):
		return nil, notFound
	case errors.Is(err, dynamodbqueue.ErrMoveTaskNotActive):
		return nil, &Error{Code: CodeUnsupportedOperation, Message: "Only active tasks can be cancelled.", Sender: true}
	case err != nil:
		return nil, err
	}
	s.resume(c.ctx, t) // a silent runner's task is ended here instead
	return obj{}.add("ApproximateNumberOfMessagesMoved", t.Moved), nil
}

func (s *Server) listMessageMoveTasks(c *call) (obj, error) {
	src, client, dlq, err := s.sourceQueue(c)
	if err != nil {
		return nil, err
	}
	max := 1
	if n, ok, err := c.in.integer("MaxResults"); err != nil {
		return nil, err
	} else if ok {
		if n < 1 || n > 10 {
			return nil, invalidParam("Value %d for parameter MaxResults is invalid. Reason: must be between 1 and 10.", n)
		}
		max = int(n)
	}
	tasks, err := s.opts.Client.MoveTasks(c.ctx, dlq, client, max)
	if err != nil {
		return nil, err
	}
	results := list{}
	for _, t := range tasks {
		if t.Status.Active() {
			t = s.resume(c.ctx, t)
		}
		e := obj{}
		if t.Status == dynamodbqueue.MoveTaskRunning {
			e = e.add("TaskHandle", taskHandle(t.ID, src))
		}
		e = e.add("Status", string(t.Status)).add("SourceArn", src).add("DestinationArn", s.queueARN(client, t.Destination))
		if t.MaxPerSecond > 0 {
			e = e.add("MaxNumberOfMessagesPerSecond", t.MaxPerSecond)
		}
		e = e.add("ApproximateNumberOfMessagesMoved", t.Moved).add("ApproximateNumberOfMessagesToMove", t.ToMove)
		if t.Failure != "" {
			e = e.add("FailureReason", t.Failure)
		}
		e = e.add("StartedTimestamp", t.Started.UnixMilli())
		results = append(results, e)
	}
	return obj{}.addx("Results", "ListMessageMoveTasksResultEntry", results), nil
}
