package clock

import (
	"encoding/binary"
	"testing"
	"time"
)

var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// dateSample simulates a request to a server whose clock is the local clock plus theta, sent at
// local time sent and answered after rtt, the server reading its clock halfway and reporting it
// truncated to whole seconds, as an HTTP Date header does.
func dateSample(sent time.Time, rtt, theta time.Duration) Sample {
	server := sent.Add(rtt / 2).Add(theta).Truncate(time.Second)
	return Sample{Sent: sent, Received: sent.Add(rtt), Server: server, Resolution: time.Second}
}

func TestCorrectClockGetsZero(t *testing.T) {
	var e Estimator
	for i := range 20 {
		e.Add(dateSample(base.Add(time.Duration(i)*137*time.Millisecond), 3*time.Millisecond, 0))
	}
	if got := e.Offset(); got != 0 {
		t.Fatalf("a clock that agrees with the server got offset %v, want 0", got)
	}
}

func TestClockAheadGetsSmallestConsistentCorrection(t *testing.T) {
	var e Estimator
	e.Add(dateSample(base.Add(300*time.Millisecond), 10*time.Millisecond, -60*time.Second))
	got := e.Offset()
	if got < -60*time.Second || got > -59*time.Second {
		t.Fatalf("one sample of a clock 60 s ahead gave %v, want within [-60s, -59s]", got)
	}
	// More samples at other phases of the second narrow it towards the true -60 s.
	for i := range 50 {
		e.Add(dateSample(base.Add(time.Duration(i)*173*time.Millisecond), 10*time.Millisecond, -60*time.Second))
	}
	if got := e.Offset(); got < -60*time.Second || got > -60*time.Second+50*time.Millisecond {
		t.Fatalf("51 samples of a clock 60 s ahead gave %v, want within 50 ms above -60 s", got)
	}
}

func TestClockBehindGetsPositiveCorrection(t *testing.T) {
	var e Estimator
	for i := range 30 {
		e.Add(dateSample(base.Add(time.Duration(i)*211*time.Millisecond), 5*time.Millisecond, 90*time.Second))
	}
	if got := e.Offset(); got < 90*time.Second-50*time.Millisecond || got > 90*time.Second+5*time.Millisecond {
		t.Fatalf("a clock 90 s behind got %v, want about +90 s", got)
	}
}

func TestClockStepRestartsTheEstimate(t *testing.T) {
	var e Estimator
	for i := range 10 {
		if e.Add(dateSample(base.Add(time.Duration(i)*97*time.Millisecond), time.Millisecond, 0)) {
			t.Fatalf("sample %d of a steady clock restarted the estimate", i)
		}
	}
	// The local clock steps 10 s ahead: the next sample contradicts every earlier one.
	if !e.Add(dateSample(base.Add(time.Minute), time.Millisecond, -10*time.Second)) {
		t.Fatal("a sample disjoint from the estimate did not restart it")
	}
	if lo, hi, n := e.Bounds(); n != 1 || lo > -10*time.Second || hi < -10*time.Second {
		t.Fatalf("after the step the bounds are [%v, %v] from %d samples; want the new sample's, around -10 s", lo, hi, n)
	}
	if got := e.Offset(); got < -10*time.Second || got > -9*time.Second {
		t.Fatalf("offset after a 10 s step = %v, want within [-10s, -9s]", got)
	}
}

func TestExactReadingsAndUselessSamples(t *testing.T) {
	var e Estimator
	// An exact reading (resolution 0) of a clock 5 s behind, taken during a 2 ms request.
	e.Add(Sample{Sent: base, Received: base.Add(2 * time.Millisecond), Server: base.Add(5*time.Second + time.Millisecond)})
	if got := e.Offset(); got < 4998*time.Millisecond || got > 5001*time.Millisecond {
		t.Fatalf("exact reading gave %v, want 5 s within the request's 2 ms", got)
	}
	for _, s := range []Sample{
		{Sent: base, Received: base.Add(time.Second)},                                       // no server time
		{Sent: base, Received: base.Add(-time.Second), Server: base},                        // local clock went back
		{Sent: base, Received: base, Server: base.Add(time.Hour), Resolution: -time.Second}, // nonsense resolution
	} {
		if _, _, ok := s.Bounds(); ok {
			t.Errorf("Bounds(%+v) ok; want a sample that says nothing", s)
		}
		if e.Add(s) {
			t.Errorf("Add(%+v) restarted the estimate", s)
		}
	}
	if _, _, n := e.Bounds(); n != 1 {
		t.Fatalf("useless samples were counted: %d samples", n)
	}
	var empty Estimator
	if got := empty.Offset(); got != 0 {
		t.Fatalf("no samples: offset %v, want 0", got)
	}
}

func TestAlarmReportsCrossingsOnce(t *testing.T) {
	const th = 2 * time.Second
	var a Alarm
	steps := []struct {
		offset         time.Duration
		report, raised bool
	}{
		{0, false, false},
		{-time.Second, false, false},
		{-60 * time.Second, true, true},  // crosses
		{-59 * time.Second, false, true}, // moved 1 s: same problem
		{-61 * time.Second, false, true},
		{-63 * time.Second, true, true}, // moved 3 s since the last report
		{time.Second, true, false},      // fine again
		{-time.Second, false, false},
		{2 * time.Second, true, true}, // exactly the threshold counts
	}
	for i, s := range steps {
		report, raised := a.Update(s.offset, th)
		if report != s.report || raised != s.raised || a.Raised() != s.raised {
			t.Fatalf("step %d (offset %v): report=%v raised=%v; want %v %v", i, s.offset, report, raised, s.report, s.raised)
		}
	}
	var off Alarm
	if report, _ := off.Update(time.Hour, 0); report {
		t.Fatal("threshold 0 raised the alarm")
	}
}

// FuzzEstimator feeds samples of a clock that may step and checks the estimator's promises:
// the applied offset lies within the bounds of every sample since the last restart; it is 0
// whenever 0 is consistent with all of them; and without a step the true offset stays within
// the bounds.
func FuzzEstimator(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 10, 20, 30, 40, 50, 60, 70, 80})
	f.Add([]byte{200, 1, 7, 0, 3, 99, 14, 250, 250, 0, 1, 1, 9, 9, 9, 9})
	f.Fuzz(func(t *testing.T, data []byte) {
		var e Estimator
		theta := time.Duration(int16(binary.BigEndian.Uint16(pad(data, 2)))) * 10 * time.Millisecond
		data = data[min(len(data), 2):]
		var kept []Sample // the samples since the last restart
		sameTheta := true // every kept sample was taken at the current true offset
		at := base
		for len(data) >= 3 {
			b := data[:3]
			data = data[3:]
			at = at.Add(time.Duration(b[0]) * 37 * time.Millisecond)
			rtt := time.Duration(b[1]) * time.Millisecond
			if b[2] == 255 { // a step of the local clock
				theta += time.Duration(int8(b[1])) * time.Second
				sameTheta = sameTheta && int8(b[1]) == 0
			}
			s := dateSample(at, rtt, theta)
			if b[2]%2 == 0 { // an exact reading instead of a Date header
				s = Sample{Sent: at, Received: at.Add(rtt), Server: at.Add(rtt / 3).Add(theta)}
			}
			if lo, hi, _ := s.Bounds(); theta < lo || theta > hi {
				t.Fatalf("true offset %v outside its own sample's bounds [%v, %v]", theta, lo, hi)
			}
			if e.Add(s) || len(kept) == 0 {
				kept, sameTheta = kept[:0], true
			}
			kept = append(kept, s)
			off := e.Offset()
			zeroOK := true
			for _, k := range kept {
				lo, hi, _ := k.Bounds()
				if off < lo || off > hi {
					t.Fatalf("offset %v outside a retained sample's bounds [%v, %v]", off, lo, hi)
				}
				zeroOK = zeroOK && lo <= 0 && 0 <= hi
			}
			if zeroOK && off != 0 {
				t.Fatalf("0 is consistent with every retained sample, but the offset is %v", off)
			}
			if lo, hi, _ := e.Bounds(); sameTheta && (theta < lo || theta > hi) {
				t.Fatalf("no step since the restart, but the true offset %v is outside the bounds [%v, %v]", theta, lo, hi)
			}
		}
	})
}

func pad(b []byte, n int) []byte {
	if len(b) >= n {
		return b[:n]
	}
	return append(append([]byte(nil), b...), make([]byte, n-len(b))...)
}
