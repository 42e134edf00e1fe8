package store

import (
	"sync"
	"sync/atomic"
	"time"
)

// Parallel runs fn(0..n-1) with at most limit running at once, and returns when all are done.
// fn reports its outcome itself (each call writes its own slot), so nothing stops the others.
//
// The calling goroutine takes a share of the calls, and the others run on pooled workers
// (see spawn): an SDK request runs about 80 frames deep, and a fresh goroutine per claim or
// delete grew its stack from 2 KB several times (copystack was ~5% of a consumer's CPU).
func Parallel(n, limit int, fn func(i int)) {
	workers := min(n, max(limit, 1))
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	work := func() {
		for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
			fn(i)
		}
	}
	var wg sync.WaitGroup
	wg.Add(workers - 1)
	for range workers - 1 {
		spawn(func() { defer wg.Done(); work() })
	}
	work()
	wg.Wait()
}

// workerIdle is how long a pooled worker waits for the next task before it exits, so an idle
// process holds no workers.
const workerIdle = 5 * time.Second

// tasks hands a task to a worker waiting for one; unbuffered, so a send succeeds only when a
// worker is idle and a task never waits behind another.
var tasks = make(chan func())

// workersStarted counts the workers spawn started, workersIdle those waiting for a task (a
// test checks that workers are reused).
var workersStarted, workersIdle atomic.Int64

// spawn runs f on an idle pooled worker, or on a new one. Workers keep their grown stacks
// between tasks.
func spawn(f func()) {
	select {
	case tasks <- f:
	default:
		workersStarted.Add(1)
		go worker(f)
	}
}

// worker runs f, then the tasks it is handed, until none comes for workerIdle.
func worker(f func()) {
	f()
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		workersIdle.Add(1)
		select {
		case f := <-tasks:
			workersIdle.Add(-1)
			f()
			idle.Reset(workerIdle)
		case <-idle.C:
			workersIdle.Add(-1)
			return
		}
	}
}
