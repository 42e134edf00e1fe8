package consumer

import (
	"sync"
	"time"
)

// deleter batches the deletes of handled messages: per source, up to DeleteBatchSize handles
// go into one DeleteMessages call, and none waits longer than DeleteInterval. Batches are
// deleted concurrently with the collection of the next ones, a few at a time.
type deleter struct {
	r       *run
	mu      sync.Mutex // guards closed and sends on in
	closed  bool
	in      chan delReq
	done    chan struct{}
	flights sync.WaitGroup
	sem     chan struct{} // bounds concurrent batch deletes
}

type delReq struct {
	src    *source
	handle string
	group  bool // the message belongs to a FIFO group
}

// batch is the pending deletes of one source.
type batch struct {
	handles []string
	group   bool
}

func newDeleter(r *run) *deleter {
	o := r.c.opts
	return &deleter{
		r:    r,
		in:   make(chan delReq, o.Concurrency),
		done: make(chan struct{}),
		sem:  make(chan struct{}, o.Concurrency/o.DeleteBatchSize+2),
	}
}

// submit queues a handle for deletion. It reports false, queuing nothing, once the deleter
// was closed.
func (d *deleter) submit(src *source, handle string, group bool) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return false
	}
	d.in <- delReq{src, handle, group} // the loop never takes mu, so this send completes
	return true
}

// close deletes everything queued and waits until all batch deletes are over.
func (d *deleter) close() {
	d.mu.Lock()
	if !d.closed {
		d.closed = true
		close(d.in)
	}
	d.mu.Unlock()
	<-d.done
}

func (d *deleter) loop() {
	defer close(d.done)
	o := d.r.c.opts
	pending := make(map[*source]batch)
	var timer *time.Timer
	var tick <-chan time.Time
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	flushAll := func() {
		for src, b := range pending {
			d.flush(src, b)
		}
		clear(pending)
	}
	for {
		select {
		case req, ok := <-d.in:
			if !ok {
				flushAll()
				d.flights.Wait()
				return
			}
			b := pending[req.src]
			b.handles = append(b.handles, req.handle)
			b.group = b.group || req.group
			if len(b.handles) >= o.DeleteBatchSize {
				d.flush(req.src, b)
				delete(pending, req.src)
			} else {
				pending[req.src] = b
			}
			if len(pending) > 0 && tick == nil {
				if timer == nil {
					timer = time.NewTimer(o.DeleteInterval)
				} else {
					timer.Reset(o.DeleteInterval)
				}
				tick = timer.C
			}
		case <-tick:
			tick = nil
			flushAll()
		}
	}
}

// flush deletes one batch in the background.
func (d *deleter) flush(src *source, b batch) {
	d.sem <- struct{}{}
	d.flights.Add(1)
	go func() {
		defer func() {
			<-d.sem
			d.flights.Done()
		}()
		d.r.deleteNow(src, b.handles, b.group)
	}()
}
