package store

import "golang.org/x/sync/errgroup"

// Parallel runs fn(0..n-1) with at most limit running at once, and returns when all are done.
// fn reports its outcome itself (each call writes its own slot), so nothing stops the others.
func Parallel(n, limit int, fn func(i int)) {
	if n == 1 {
		fn(0)
		return
	}
	var g errgroup.Group
	g.SetLimit(limit)
	for i := 0; i < n; i++ {
		g.Go(func() error { fn(i); return nil })
	}
	_ = g.Wait() // fn returns no error
}
