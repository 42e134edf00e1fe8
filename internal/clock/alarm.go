package clock

import "time"

// Alarm decides when an offset estimate is worth reporting, so that a warning is given once per
// problem rather than once per request. The zero value is quiet.
type Alarm struct {
	raised bool
	last   time.Duration // offset at the last report while raised
}

// Update looks at a new offset estimate under threshold and reports whether to tell someone,
// and whether the alarm is raised after it. It reports when |offset| first reaches threshold,
// when the offset has moved by threshold or more since the last report, and when |offset| falls
// back under threshold (raised false: the clock is fine again). threshold <= 0 never raises.
func (a *Alarm) Update(offset, threshold time.Duration) (report, raised bool) {
	over := threshold > 0 && abs(offset) >= threshold
	switch {
	case over && (!a.raised || abs(offset-a.last) >= threshold):
		a.raised, a.last = true, offset
		return true, true
	case !over && a.raised:
		a.raised, a.last = false, 0
		return true, false
	}
	return false, a.raised
}

// Raised reports whether the last report raised the alarm.
func (a *Alarm) Raised() bool { return a.raised }

func abs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
