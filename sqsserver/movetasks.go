package sqsserver

import (
	"context"
	"encoding/base64"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// Message move tasks (the redrive API) move a dead-letter queue's messages back to a source
// queue with the library's RedriveDeadLetters. A task runs in the server process that started
// it and is listed and cancelled there; that process's restart ends it (messages already moved
// stay moved, the rest stay in the dead-letter queue).

// moveTask is one task.
type moveTask struct {
	handle, source, dest string
	rate                 int
	started              time.Time
	cancel               context.CancelFunc

	mu              sync.Mutex
	status, failure string
	moved, toMove   int
}

// moveTasks are the tasks of a process, newest last.
type moveTasks struct {
	mu    sync.Mutex
	tasks []*moveTask
}

func (s *Server) startMessageMoveTask(c *call) (obj, error) {
	src, err := c.in.required("SourceArn")
	if err != nil {
		return nil, err
	}
	client, dlq, ok := parseQueueARN(src)
	if !ok {
		return nil, invalidParam("Value %s for parameter SourceArn is invalid.", src)
	}
	if _, err := s.openQueue(c, client, dlq, src); err != nil {
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
		dst = s.queueARN(client, destName)
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
	s.moves.mu.Lock()
	defer s.moves.mu.Unlock()
	for _, t := range s.moves.tasks {
		t.mu.Lock()
		running := t.source == src && t.status == "RUNNING"
		t.mu.Unlock()
		if running {
			return nil, invalidParam("There is already a task running. Only one active task is allowed for a source queue arn at a given time.")
		}
	}
	q, err := s.opts.Client.Queue(destName, client)
	if err != nil {
		return nil, err
	}
	q = q.UseDeadLetterQueue(&dynamodbqueue.DeadLetterConfig{MaxReceiveCount: 1000, QueueName: dlq, ClientID: client})
	dlqHandle, _ := s.opts.Client.Queue(dlq, client)
	toMove := 0
	if st, err := dlqHandle.Stats(c.ctx); err == nil {
		toMove = st.Visible
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(c.ctx))
	t := &moveTask{
		handle: base64.RawURLEncoding.EncodeToString([]byte(uuid.NewString() + "|" + src)),
		source: src, dest: dst, rate: rate, started: time.Now(), cancel: cancel,
		status: "RUNNING", toMove: toMove,
	}
	s.moves.tasks = append(s.moves.tasks, t)
	if len(s.moves.tasks) > 100 {
		s.moves.tasks = s.moves.tasks[len(s.moves.tasks)-100:]
	}
	go s.runMove(ctx, t, q)
	return obj{}.add("TaskHandle", t.handle), nil
}

// runMove moves the messages, at most rate per second (in chunks of one second's worth).
func (s *Server) runMove(ctx context.Context, t *moveTask, q *dynamodbqueue.DynamoDBQueue) {
	defer t.cancel()
	chunk := 100
	if t.rate > 0 {
		chunk = t.rate
	}
	tick := time.NewTicker(time.Second) // paces the chunks when a rate is set
	defer tick.Stop()
	for {
		n, err := q.RedriveDeadLetters(ctx, chunk)
		t.mu.Lock()
		t.moved += n
		switch {
		case ctx.Err() != nil && t.status == "CANCELLING":
			t.status = "CANCELLED"
		case err != nil:
			t.status, t.failure = "FAILED", err.Error()
		case n < chunk:
			t.status = "COMPLETED"
		}
		done := t.status != "RUNNING" && t.status != "CANCELLING"
		t.mu.Unlock()
		if done {
			return
		}
		if t.rate > 0 {
			select {
			case <-tick.C:
			case <-ctx.Done():
			}
		}
	}
}

func (s *Server) cancelMessageMoveTask(c *call) (obj, error) {
	h, err := c.in.required("TaskHandle")
	if err != nil {
		return nil, err
	}
	s.moves.mu.Lock()
	var t *moveTask
	for _, x := range s.moves.tasks {
		if x.handle == h {
			t = x
		}
	}
	s.moves.mu.Unlock()
	if t == nil {
		return nil, &Error{Code: CodeResourceNotFound, Message: "Task does not exist.", Sender: true}
	}
	client, _, _ := parseQueueARN(t.source)
	if !c.principal.Allows(client) {
		return nil, &Error{Code: CodeResourceNotFound, Message: "Task does not exist.", Sender: true}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.status != "RUNNING" {
		return nil, &Error{Code: CodeUnsupportedOperation, Message: "Only active tasks can be cancelled.", Sender: true}
	}
	t.status = "CANCELLING"
	t.cancel()
	return obj{}.add("ApproximateNumberOfMessagesMoved", t.moved), nil
}

func (s *Server) listMessageMoveTasks(c *call) (obj, error) {
	src, err := c.in.required("SourceArn")
	if err != nil {
		return nil, err
	}
	client, dlq, ok := parseQueueARN(src)
	if !ok {
		return nil, invalidParam("Value %s for parameter SourceArn is invalid.", src)
	}
	if _, err := s.openQueue(c, client, dlq, src); err != nil {
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
	s.moves.mu.Lock()
	var results list
	for i := len(s.moves.tasks) - 1; i >= 0 && len(results) < max; i-- {
		t := s.moves.tasks[i]
		if t.source != src {
			continue
		}
		t.mu.Lock()
		e := obj{}
		if t.status == "RUNNING" {
			e = e.add("TaskHandle", t.handle)
		}
		e = e.add("Status", t.status).add("SourceArn", t.source).add("DestinationArn", t.dest)
		if t.rate > 0 {
			e = e.add("MaxNumberOfMessagesPerSecond", t.rate)
		}
		e = e.add("ApproximateNumberOfMessagesMoved", t.moved).add("ApproximateNumberOfMessagesToMove", t.toMove)
		if t.failure != "" {
			e = e.add("FailureReason", t.failure)
		}
		e = e.add("StartedTimestamp", t.started.UnixMilli())
		t.mu.Unlock()
		results = append(results, e)
	}
	s.moves.mu.Unlock()
	if results == nil {
		results = list{}
	}
	return obj{}.addx("Results", "ListMessageMoveTasksResultEntry", results), nil
}
