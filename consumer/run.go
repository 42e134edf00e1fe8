package consumer

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/wait"
)

// Bounds of the pause after a failed poll.
const (
	pollErrorMin = 100 * time.Millisecond
	pollErrorMax = 5 * time.Second
)

// drainRecheck is when a source whose poll came back short is polled again, unless a wake-up
// has it polled sooner: later than the watcher's second signal of a push, so that in the usual
// case the poll that signal causes is the only one.
const drainRecheck = 250 * time.Millisecond

// wakeMargin is added to the time a retried message becomes visible before its source is
// polled for it, so that timestamp rounding cannot make that poll come a moment too early.
const wakeMargin = 10 * time.Millisecond

// run is the state of one Run call.
type run struct {
	c *Consumer

	// base carries the values of Run's context but is never cancelled: queue operations
	// derive their contexts from it (with OperationTimeout), so that a shutdown never
	// interrupts a write half-way, which could leave a message claimed by nobody.
	base context.Context
	// pollCtx ends when shutdown begins; it interrupts waits, never a queue operation.
	pollCtx  context.Context
	stopPoll context.CancelFunc
	// workCtx is the parent of handler contexts; it is cancelled when the grace period ends.
	workCtx    context.Context
	cancelWork context.CancelCauseFunc
	// abandoned is closed when Run stops waiting for handlers.
	abandoned chan struct{}

	// slots holds one token per busy worker; its capacity is Concurrency.
	slots    chan struct{}
	inflight tracker
	del      *deleter

	fatalOnce sync.Once
	fatal     error
	fatalCh   chan struct{}

	// mu guards sched, which picks the source to poll next; kick (capacity 1) wakes the
	// poller when the scheduler's state changed.
	mu     sync.Mutex
	sched  *scheduler
	kick   chan struct{}
	thooks TenantHooks
}

func newRun(ctx context.Context, c *Consumer) *run {
	r := &run{
		c:         c,
		base:      context.WithoutCancel(ctx),
		abandoned: make(chan struct{}),
		slots:     make(chan struct{}, c.opts.Concurrency),
		fatalCh:   make(chan struct{}),
		kick:      make(chan struct{}, 1),
		thooks:    tenantHooks(c.hooks),
	}
	r.sched = newScheduler(c.limits)
	r.sched.onThrottle = func(i int, wait time.Duration) { r.thooks.OnThrottle(r.base, c.sources[i].id, wait) }
	r.pollCtx, r.stopPoll = context.WithCancel(ctx)
	r.workCtx, r.cancelWork = context.WithCancelCause(r.base)
	r.del = newDeleter(r)
	return r
}

func (r *run) run(ctx context.Context) error {
	o := r.c.opts
	r.c.log.InfoContext(r.base, "consumer: started", "sources", len(r.c.sources),
		"concurrency", o.Concurrency, "visibility_timeout", o.VisibilityTimeout)
	defer r.watchClocks()()
	stopWatch, err := r.watch()
	if err != nil { // nothing started yet but the clock watch
		r.stopPoll()
		r.cancelWork(ErrShutdown)
		return err
	}
	pollDone := make(chan struct{})
	var pollers sync.WaitGroup
	for range o.Pollers {
		pollers.Add(1)
		go func() {
			defer pollers.Done()
			r.poll()
		}()
	}
	go func() {
		pollers.Wait()
		close(pollDone)
	}()
	go r.del.loop()

	select {
	case <-ctx.Done():
	case <-r.fatalCh:
	}
	r.stopPoll()
	begun := time.Now()
	r.c.log.InfoContext(r.base, "consumer: shutting down", "running", r.inflight.count(), "grace", o.ShutdownGrace)
	grace := time.AfterFunc(o.ShutdownGrace, func() {
		if n := r.inflight.count(); n > 0 {
			r.c.log.WarnContext(r.base, "consumer: grace period over, cancelling handlers", "running", n)
		}
		r.cancelWork(ErrShutdown)
	})
	defer grace.Stop()

	// The poller dispatches no more work once it has stopped, so the in-flight count can
	// only fall from here on.
	<-pollDone
	stopWatch()
	abandon := time.NewTimer(o.ShutdownGrace + o.AbandonTimeout - time.Since(begun))
	select {
	case <-r.inflight.idle():
	case <-abandon.C:
		n := r.inflight.count()
		close(r.abandoned)
		err = fmt.Errorf("%w: %d handler(s) still running %v after their context was cancelled; abandoned",
			ErrShutdownTimeout, n, o.AbandonTimeout)
		r.c.log.ErrorContext(r.base, "consumer: abandoning handlers", "running", n, "error", err)
	}
	abandon.Stop()
	r.del.close()
	r.cancelWork(ErrShutdown)
	if r.fatal != nil {
		err = errors.Join(r.fatal, err)
	}
	r.c.log.InfoContext(r.base, "consumer: stopped", "took", time.Since(begun))
	return err
}

// watch subscribes to every source's activity and wakes the source in the scheduler on each
// signal. Every source starts ready, so messages that were there before the subscription are
// found: one poll per source when Run starts. stop ends the subscriptions.
func (r *run) watch() (stop func(), err error) {
	subs := make([]subscription, 0, len(r.c.sources))
	quit := make(chan struct{})
	var wg sync.WaitGroup
	stop = func() {
		close(quit)
		wg.Wait()
		for _, s := range subs {
			s.Close()
		}
	}
	for _, src := range r.c.sources {
		sub, err := r.c.subscribe(src)
		if err != nil {
			stop()
			return nil, fmt.Errorf("consumer: watching %s: %w", src.id, err)
		}
		subs = append(subs, sub)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-quit:
					return
				case <-sub.Ready():
					r.wake(src, time.Time{})
				}
			}
		}()
	}
	r.mu.Lock()
	now := r.c.now()
	for i := range r.c.sources {
		r.sched.wake(i, now)
	}
	r.mu.Unlock()
	r.nudge()
	return stop, nil
}

// opCtx returns the context of one queue operation.
func (r *run) opCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.base, r.c.opts.OperationTimeout)
}

// setFatal records an error that ends the run.
func (r *run) setFatal(err error) {
	r.fatalOnce.Do(func() {
		r.fatal = err
		close(r.fatalCh)
	})
}

// poll claims messages from the sources the scheduler picks and hands each to a worker,
// until shutdown. Options.Pollers goroutines run it; they are the only ones that dispatch work.
// A source is polled only when the scheduler has it ready (woken, or its last poll came back
// full), by one poller at a time: an idle source costs no request.
func (r *run) poll() {
	var errDelay time.Duration
	for {
		n := r.acquire()
		if n == 0 {
			return
		}
		r.mu.Lock()
		i, k, ok, wakeAt := r.sched.next(r.c.now(), n)
		more := r.sched.ready.Len() > 0
		r.mu.Unlock()
		if more {
			r.nudge() // another poller may take the next source meanwhile
		}
		if !ok {
			r.releaseSlots(n)
			if !r.idle(wakeAt) {
				return
			}
			continue
		}
		r.releaseSlots(n - k)
		src := r.c.sources[i]
		res, err := r.receive(src, k)
		msgs := res.Messages
		r.releaseSlots(k - len(msgs))
		r.mu.Lock()
		// A poll that drained the source (ReceiveResult.Drained: it read every shard to the
		// end) leaves it until its next wake-up, which announces anything visible later. A full
		// batch that did not may have more behind it: the source stays ready and is polled
		// again in its turn. A failed poll is retried. An empty poll means the source is
		// drained too. A short batch without that proof (it read past another receive's reads,
		// or a shard's page was cut short) probably drained it, and is checked again after
		// drainRecheck, unless a wake-up has it polled before.
		now := r.c.now()
		again, recheck := afterPoll(k, res, err)
		r.sched.done(i, len(msgs), again, now)
		if recheck {
			r.sched.recheck(i, now.Add(drainRecheck))
		}
		r.mu.Unlock()
		r.thooks.OnPoll(r.base, src.id, len(msgs))
		if len(msgs) > 0 {
			r.c.hooks.OnReceive(r.base, src.id, len(msgs))
		}
		if r.pollCtx.Err() != nil {
			// Shutdown began during the poll: these messages were not started.
			r.releaseSlots(len(msgs))
			r.release(src, msgs, "received during shutdown")
			return
		}
		for _, m := range msgs {
			r.inflight.add()
			go r.work(src, m)
		}
		if err == nil {
			errDelay = 0
			continue
		}
		if fatalPollError(err) {
			err = fmt.Errorf("consumer: polling %s: %w", src.id, err)
			r.c.hooks.OnReceiveError(r.base, src.id, err)
			src.log.ErrorContext(r.base, "consumer: cannot poll, stopping", "error", err)
			r.setFatal(err)
			return
		}
		errDelay = min(max(errDelay*2, pollErrorMin), pollErrorMax)
		r.c.hooks.OnReceiveError(r.base, src.id, err)
		src.log.WarnContext(r.base, "consumer: poll failed", "error", err, "retry_in", errDelay)
		if !pause(r.pollCtx, errDelay) {
			return
		}
	}
}

// afterPoll says what a poll that asked for k messages leaves its source as: ready to be
// polled again in its turn (again), or to be checked after drainRecheck (recheck), or neither
// (until its next wake-up); see poll.
func afterPoll(k int, res dynamodbqueue.ReceiveResult, err error) (again, recheck bool) {
	switch n := len(res.Messages); {
	case err != nil:
		return true, false
	case res.Drained || n == 0:
		return false, false
	case n == k:
		return true, false
	default:
		return false, true
	}
}

// idle waits until the scheduler may have a source to poll: a wake-up, a worker that became
// free, or the scheduler's next timer (wakeAt, if not zero). It reports false when shutdown
// began.
func (r *run) idle(wakeAt time.Time) bool {
	var timer <-chan time.Time
	if !wakeAt.IsZero() {
		t := time.NewTimer(wakeAt.Sub(r.c.now()))
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-r.kick:
		return true
	case <-timer:
		return true
	case <-r.pollCtx.Done():
		return false
	}
}

// nudge tells an idle poller that the scheduler's state changed; a poller that finds more
// than one source ready nudges the next.
func (r *run) nudge() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// wake marks src as possibly having messages at at (now, if at is zero or past).
func (r *run) wake(src *source, at time.Time) {
	r.mu.Lock()
	now := r.c.now()
	if at.After(now) {
		r.sched.wakeAt(src.idx, at, now)
	} else {
		r.sched.wake(src.idx, now)
	}
	r.mu.Unlock()
	r.thooks.OnWake(r.base, src.id)
	r.nudge()
}

// finished tells the scheduler that a message of src is handled, so its concurrency limit has
// room again.
func (r *run) finished(src *source) {
	r.mu.Lock()
	r.sched.finished(src.idx, r.c.now())
	r.mu.Unlock()
	r.nudge()
}

// acquire blocks until at least one worker is idle and reserves up to MaxMessages idle
// workers. It returns how many it reserved, or 0 when shutdown began.
func (r *run) acquire() int {
	select {
	case r.slots <- struct{}{}:
	case <-r.pollCtx.Done():
		return 0
	}
	if r.pollCtx.Err() != nil { // both were ready and select chose the slot
		r.releaseSlots(1)
		return 0
	}
	n := 1
	for n < r.c.opts.MaxMessages {
		select {
		case r.slots <- struct{}{}:
			n++
		default:
			return n
		}
	}
	return n
}

func (r *run) releaseSlots(n int) {
	for range n {
		<-r.slots
	}
}

// receive claims up to n messages of src in one pass, without waiting (the watcher waits),
// whatever receive wait time the queue sets. It is not interrupted by shutdown (see run.base).
func (r *run) receive(src *source, n int) (dynamodbqueue.ReceiveResult, error) {
	ctx, cancel := r.opCtx()
	defer cancel()
	return src.q.ReceiveWithResult(ctx, dynamodbqueue.ReceiveOptions{MaxMessages: n, MinMessages: n, VisibilityTimeout: r.c.opts.VisibilityTimeout})
}

// release makes messages visible again at once.
func (r *run) release(src *source, msgs []events.SQSMessage, why string) {
	if len(msgs) == 0 {
		return
	}
	ctx, cancel := r.opCtx()
	failed, err := src.q.ReleaseMessages(ctx, dynamodbqueue.ToReceiptHandles(msgs)...)
	cancel()
	r.c.hooks.OnRelease(r.base, src.id, len(msgs)-len(failed), len(failed), err)
	if err != nil {
		src.log.WarnContext(r.base, "consumer: could not release messages; they are delivered again after their visibility timeout",
			"why", why, "released", len(msgs)-len(failed), "failed", len(failed), "error", err)
		return
	}
	src.log.InfoContext(r.base, "consumer: released messages", "why", why, "released", len(msgs))
}

// work handles one message on a reserved worker slot and settles it: delete on success,
// visibility backoff on error.
func (r *run) work(src *source, msg events.SQSMessage) {
	defer r.inflight.done()
	hctx, cancel := context.WithCancel(context.WithValue(r.workCtx, sourceKey{}, src.id))
	defer cancel()
	hb := r.startHeartbeat(src, msg)
	start := time.Now()
	returned := false
	defer func() {
		if returned {
			return
		}
		// The handler called runtime.Goexit: settle the message on the way out.
		hb.halt()
		r.releaseSlots(1)
		r.finished(src)
		r.settle(src, msg, time.Since(start), &PanicError{Value: "runtime.Goexit called by the handler", Stack: debug.Stack()})
	}()
	err := r.call(hctx, msg)
	returned = true
	took := time.Since(start)
	hb.halt()
	r.releaseSlots(1)
	r.finished(src)
	r.settle(src, msg, took, err)
}

// call runs the handler and turns a panic into a *PanicError.
func (r *run) call(ctx context.Context, msg events.SQSMessage) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return r.c.handler.HandleMessage(ctx, msg)
}

// settle deletes a handled message or schedules the retry of a failed one.
func (r *run) settle(src *source, msg events.SQSMessage, took time.Duration, err error) {
	attrs := []any{"message_id", msg.MessageId, "receive_count", ReceiveCount(msg), "took", took}
	if err == nil {
		r.c.hooks.OnSuccess(r.base, src.id, msg, took)
		src.log.DebugContext(r.base, "consumer: message handled", attrs...)
		group := msg.Attributes[dynamodbqueue.AttributeMessageGroupID] != ""
		if !r.del.submit(src, msg.ReceiptHandle, group) {
			// Run has returned (this handler was abandoned): delete on our own.
			r.deleteNow(src, []string{msg.ReceiptHandle}, group)
		}
		return
	}
	var retryIn time.Duration
	var ra *RetryAfterError
	cutOff := r.workCtx.Err() != nil
	switch {
	case errors.As(err, &ra):
		retryIn = min(max(ra.Delay, 0), dynamodbqueue.MaxVisibilityTimeout)
	case cutOff:
		retryIn = 0 // shutting down: let another consumer have it at once
	default:
		retryIn = r.c.opts.Backoff.Delay(ReceiveCount(msg))
	}
	r.c.hooks.OnError(r.base, src.id, msg, took, err, retryIn)
	attrs = append(attrs, "error", err, "retry_in", retryIn)
	var pe *PanicError
	switch {
	case errors.As(err, &pe):
		src.log.ErrorContext(r.base, "consumer: handler panicked", append(attrs, "stack", string(pe.Stack))...)
	case cutOff && retryIn == 0:
		src.log.InfoContext(r.base, "consumer: handler cancelled by shutdown", attrs...)
	default:
		src.log.WarnContext(r.base, "consumer: handler failed", attrs...)
	}
	ctx, cancel := r.opCtx()
	failed, cerr := src.q.ChangeVisibility(ctx, retryIn, msg.ReceiptHandle)
	cancel()
	// Nothing else announces that the message is visible again: wake the source then (or,
	// if the change failed, when its visibility timeout ends). The visibility was set from a
	// clock read before this point, so waking from now on is not early.
	visibleIn := retryIn
	if cerr != nil || len(failed) > 0 {
		visibleIn = r.c.opts.VisibilityTimeout
	}
	r.wake(src, r.c.now().Add(visibleIn+wakeMargin))
	if cutOff && retryIn == 0 {
		r.c.hooks.OnRelease(r.base, src.id, 1-len(failed), len(failed), cerr)
	}
	if cerr != nil {
		src.log.WarnContext(r.base, "consumer: could not set the retry delay; the message is delivered again after its visibility timeout",
			"message_id", msg.MessageId, "error", cerr)
	}
}

// deleteNow deletes handled messages of src, retrying failures that a retry can fix. group
// says a message of a FIFO group is among them: its delete lets the next message of the group
// be received, which no push announces, so the source is woken.
func (r *run) deleteNow(src *source, handles []string, group bool) {
	if group {
		defer r.wake(src, time.Time{})
	}
	deleted := 0
	var final []error
	for attempt := 0; len(handles) > 0; attempt++ {
		ctx, cancel := r.opCtx()
		res, _ := src.q.DeleteEntries(ctx, handles...) // the results say it all
		cancel()
		handles = handles[:0:0]
		for _, e := range res {
			switch {
			case e.Err == nil:
				deleted++
			case permanent(e.Err) || attempt == 2:
				final = append(final, e.Err)
			default:
				handles = append(handles, e.ReceiptHandle)
			}
		}
		if len(handles) > 0 {
			pause(r.base, time.Duration(100<<(2*attempt))*time.Millisecond) // 100 ms, 400 ms
		}
	}
	err := errors.Join(final...)
	r.c.hooks.OnDelete(r.base, src.id, deleted, len(final), err)
	if err != nil {
		src.log.WarnContext(r.base, "consumer: could not delete handled messages; they will be delivered again",
			"deleted", deleted, "failed", len(final), "error", err)
	}
}

// heartbeat renews the visibility timeout of one message while its handler runs.
type heartbeat struct {
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

func (r *run) startHeartbeat(src *source, msg events.SQSMessage) *heartbeat {
	hb := &heartbeat{stop: make(chan struct{}), done: make(chan struct{})}
	go r.beat(src, msg, hb)
	return hb
}

// halt stops the heartbeat and waits until it is over, so that no renewal can land after the
// message was deleted or given its retry delay.
func (hb *heartbeat) halt() {
	hb.once.Do(func() { close(hb.stop) })
	<-hb.done
}

func (r *run) beat(src *source, msg events.SQSMessage, hb *heartbeat) {
	defer close(hb.done)
	o := r.c.opts
	t := time.NewTimer(o.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-hb.stop:
			return
		case <-r.abandoned:
			return
		case <-t.C:
		}
		ctx, cancel := r.opCtx()
		_, err := src.q.ChangeVisibility(ctx, o.VisibilityTimeout, msg.ReceiptHandle)
		cancel()
		r.c.hooks.OnHeartbeat(r.base, src.id, msg, err)
		switch {
		case err == nil:
			src.log.DebugContext(r.base, "consumer: visibility renewed", "message_id", msg.MessageId, "visibility_timeout", o.VisibilityTimeout)
			t.Reset(o.HeartbeatInterval)
		case permanent(err):
			src.log.WarnContext(r.base, "consumer: lost the message while its handler runs; it may be handled twice",
				"message_id", msg.MessageId, "error", err)
			return
		default:
			retry := o.HeartbeatInterval / 4
			src.log.WarnContext(r.base, "consumer: could not renew visibility", "message_id", msg.MessageId, "error", err, "retry_in", retry)
			t.Reset(retry)
		}
	}
}

// pause waits for d or until ctx ends; it reports whether the whole pause passed.
func pause(ctx context.Context, d time.Duration) bool { return wait.Sleep(ctx, d) == nil }

// tracker counts running handlers and signals when none is left.
type tracker struct {
	mu     sync.Mutex
	n      int
	zeroCh chan struct{}
}

func (t *tracker) add() {
	t.mu.Lock()
	t.n++
	t.mu.Unlock()
}

func (t *tracker) done() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n--
	if t.n == 0 && t.zeroCh != nil {
		close(t.zeroCh)
		t.zeroCh = nil
	}
}

func (t *tracker) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n
}

// idle returns a channel that is closed when no handler runs.
func (t *tracker) idle() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	ch := make(chan struct{})
	if t.n == 0 {
		close(ch)
		return ch
	}
	if t.zeroCh == nil {
		t.zeroCh = ch
	}
	return t.zeroCh
}
