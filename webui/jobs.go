package webui

import (
	"context"
	"sync"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// A redrive of many dead letters runs as a job in the background, so the browser shows its
// progress (the job page refreshes itself) instead of waiting on one long request. Jobs run
// under the handler's context: Close stops them between two messages.

// redriveBatch is how many dead letters a redrive-all job moves per call, so its progress
// advances in steps an operator can watch.
const redriveBatch = 25

// maxJobs bounds the jobs remembered for their pages; the oldest finished ones are forgotten.
const maxJobs = 100

type job struct {
	id, queue, client, kind string
	started                 time.Time

	mu                   sync.Mutex
	moved, failed, total int
	done                 bool
	lastErr              string
	finished             time.Time
}

// jobStatus is a copy of a job's progress for its page.
type jobStatus struct {
	ID, Kind                      string
	Moved, Failed, Total, Percent int
	Done                          bool
	Err                           string
	Started, Finished             time.Time
}

func (j *job) status() jobStatus {
	j.mu.Lock()
	defer j.mu.Unlock()
	st := jobStatus{ID: j.id, Kind: j.kind, Moved: j.moved, Failed: j.failed, Total: j.total, Done: j.done,
		Err: j.lastErr, Started: j.started, Finished: j.finished}
	if j.total > 0 {
		st.Percent = min(100, 100*(j.moved+j.failed)/j.total)
	} else if j.done {
		st.Percent = 100
	}
	return st
}

func (j *job) progress(moved, failed int, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.moved += moved
	j.failed += failed
	if err != nil {
		j.lastErr = err.Error()
	}
	j.total = max(j.total, j.moved+j.failed)
}

func (j *job) finish() {
	j.mu.Lock()
	j.done, j.finished = true, time.Now()
	j.mu.Unlock()
}

type jobs struct {
	mu    sync.Mutex
	m     map[string]*job
	order []string
}

func newJobs() *jobs { return &jobs{m: map[string]*job{}} }

func (js *jobs) get(id string) *job {
	js.mu.Lock()
	defer js.mu.Unlock()
	return js.m[id]
}

func (js *jobs) add(j *job) {
	js.mu.Lock()
	defer js.mu.Unlock()
	if len(js.order) >= maxJobs {
		for i, id := range js.order {
			if old := js.m[id]; old.status().Done {
				delete(js.m, id)
				js.order = append(js.order[:i], js.order[i+1:]...)
				break
			}
		}
	}
	js.m[j.id] = j
	js.order = append(js.order, j.id)
}

// startRedrive starts a job that redrives the dead letters of q: the given IDs, or all of them
// when ids is empty.
func (h *Handler) startRedrive(q *dynamodbqueue.DynamoDBQueue, ids []string, total int) *job {
	j := &job{id: randomToken()[:16], queue: q.QueueName(), client: q.ClientID(), kind: "redrive all", started: time.Now(), total: total}
	if len(ids) > 0 {
		j.kind, j.total = "redrive selected", len(ids)
	}
	h.jobs.add(j)
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer j.finish()
		defer h.sampler.poke()
		h.runRedrive(h.ctx, q, ids, j)
	}()
	return j
}

func (h *Handler) runRedrive(ctx context.Context, q *dynamodbqueue.DynamoDBQueue, ids []string, j *job) {
	if len(ids) > 0 {
		ins := q.Inspector()
		for _, id := range ids {
			if ctx.Err() != nil {
				return
			}
			if err := ins.RedriveMessage(ctx, id); err != nil {
				j.progress(0, 1, err)
				h.opts.Logger.Warn("webui: redrive of a dead letter failed", "queue", j.queue, "client", j.client, "id", id, "error", err)
				continue
			}
			j.progress(1, 0, nil)
		}
		return
	}
	for ctx.Err() == nil {
		n, err := q.RedriveDeadLetters(ctx, redriveBatch)
		j.progress(n, 0, err)
		if err != nil {
			h.opts.Logger.Warn("webui: redrive failed", "queue", j.queue, "client", j.client, "error", err)
			return
		}
		if n < redriveBatch {
			return
		}
	}
}
