package bench

import (
	"os"
	"runtime"
	"testing"
	"time"
)

func TestPercentileNearestRank(t *testing.T) {
	ds := make([]time.Duration, 100)
	for i := range ds {
		ds[i] = time.Duration(i+1) * time.Millisecond // 1..100 ms, sorted
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{
		{0, 1 * time.Millisecond},
		{1, 1 * time.Millisecond},
		{50, 50 * time.Millisecond},
		{95, 95 * time.Millisecond},
		{99, 99 * time.Millisecond},
		{99.5, 100 * time.Millisecond},
		{100, 100 * time.Millisecond},
	} {
		if got := Percentile(ds, tc.p); got != tc.want {
			t.Errorf("Percentile(1..100ms, %v) = %v, want %v", tc.p, got, tc.want)
		}
	}
	if got := Percentile(nil, 50); got != 0 {
		t.Errorf("Percentile(nil) = %v, want 0", got)
	}
	three := []time.Duration{10, 20, 30}
	for p, want := range map[float64]time.Duration{33: 10, 34: 20, 66: 20, 67: 30, 100: 30} {
		if got := Percentile(three, p); got != want {
			t.Errorf("Percentile({10,20,30}, %v) = %v, want %v", p, got, want)
		}
	}
}

func TestSummarize(t *testing.T) {
	ds := []time.Duration{5 * time.Millisecond, 1 * time.Millisecond, 3 * time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond}
	s := Summarize(ds)
	want := Percentiles{N: 5, Min: 1, Mean: 3, P50: 3, P95: 5, P99: 5, Max: 5}
	if s != want {
		t.Fatalf("Summarize = %+v, want %+v", s, want)
	}
	if ds[0] != 5*time.Millisecond {
		t.Fatal("Summarize reordered its input")
	}
	if (Summarize(nil) != Percentiles{}) {
		t.Fatal("Summarize(nil) is not zero")
	}
	var r recorder
	for _, d := range ds {
		r.add(d)
	}
	if r.summary() != want {
		t.Fatalf("recorder summary = %+v", r.summary())
	}
}

func TestProcessCPU(t *testing.T) {
	if _, ok := processCPU(0); ok {
		t.Error("pid 0 reported")
	}
	if _, ok := processCPU(1 << 30); ok {
		t.Error("missing pid reported")
	}
	// Burn a little CPU so that this process has used at least one clock tick.
	deadline := time.Now().Add(30 * time.Millisecond)
	for x := 0; time.Now().Before(deadline); x++ {
		_ = x * x
	}
	if d, ok := processCPU(os.Getpid()); runtime.GOOS == "linux" && (!ok || d <= 0) {
		t.Errorf("processCPU(self) = %v, %v", d, ok)
	}
	if selfCPU() <= 0 {
		t.Error("selfCPU = 0")
	}
	r := &Result{Unit: "msg", Units: 10}
	cpuMark{}.stop(r)
	if _, ok := r.Figures["client_cpu_ms_per_msg"]; !ok {
		t.Error("no client CPU figure")
	}
	if _, ok := r.Figures["server_cpu_ms_per_msg"]; ok {
		t.Error("server CPU figure without a server")
	}
}
