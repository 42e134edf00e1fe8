// Package clock estimates how far this process's clock is from a reference clock (DynamoDB's),
// from timed readings of the reference, and decides when that offset is worth a warning.
//
// Everything here is pure: the caller times its requests, feeds the readings in, and applies
// the estimate. All arithmetic is on wall-clock time, since the offset between two machines'
// wall clocks is what is estimated.
package clock

import "time"

// Sample is one reading of the reference clock: a request sent at Sent and answered at Received,
// both on the local clock, whose answer said the reference time was Server, truncated to
// Resolution (1 s for an HTTP Date header, 0 for an exact reading).
type Sample struct {
	Sent, Received time.Time
	Server         time.Time
	Resolution     time.Duration
}

// Bounds returns the offsets θ = reference − local that the sample allows: the reference showed
// Server..Server+Resolution at some local instant between Sent and Received, so
// Server − Received <= θ <= Server + Resolution − Sent. ok is false for a sample that says
// nothing: no server time, a negative resolution, or a local clock that went backwards during
// the request.
func (s Sample) Bounds() (lo, hi time.Duration, ok bool) {
	sent, recv, srv := s.Sent.Round(0), s.Received.Round(0), s.Server.Round(0)
	if s.Server.IsZero() || s.Resolution < 0 || recv.Before(sent) {
		return 0, 0, false
	}
	return srv.Sub(recv), srv.Add(s.Resolution).Sub(sent), true
}

// Estimator intersects the bounds of successive samples: the true offset lies in every one of
// them as long as neither clock steps. A sample disjoint from the intersection shows that one
// did (an NTP step, a suspended VM), and the estimate restarts from that sample alone. The zero
// value has no samples and estimates 0. It is not safe for concurrent use.
type Estimator struct {
	lo, hi time.Duration
	n      int // samples in the current intersection
}

// Add narrows the estimate with s and reports whether it restarted from s. A sample without
// bounds is ignored.
func (e *Estimator) Add(s Sample) (restarted bool) {
	lo, hi, ok := s.Bounds()
	if !ok {
		return false
	}
	if e.n == 0 || lo > e.hi || hi < e.lo {
		restarted = e.n > 0
		e.lo, e.hi, e.n = lo, hi, 1
		return restarted
	}
	e.lo, e.hi = max(e.lo, lo), min(e.hi, hi)
	e.n++
	return false
}

// Offset returns the correction to apply to the local clock: the offset within the current
// bounds that is closest to 0, i.e. the smallest correction consistent with every retained
// sample. A clock that agrees with the reference within the readings' precision gets exactly 0;
// with no samples it is 0 too.
func (e *Estimator) Offset() time.Duration {
	if e.n == 0 {
		return 0
	}
	return min(max(0, e.lo), e.hi)
}

// Bounds returns the current intersection and how many samples it holds (0: no estimate).
func (e *Estimator) Bounds() (lo, hi time.Duration, samples int) { return e.lo, e.hi, e.n }
