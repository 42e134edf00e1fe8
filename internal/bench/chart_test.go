package bench

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// manyTenantsResults is a report's worth of tenants, tenants-idle and fairness results: T = 1
// and 1,000 (the larger T over its baseline), a trade-off point, four processes, and a
// fairness run.
func manyTenantsResults() []*Result {
	idle := func(t, procs, tick, reqs float64, tradeoff bool, lat Percentiles) *Result {
		r := &Result{Workload: WorkloadTenantsIdle, Name: "tenants-idle", Unit: "s", Units: 10, Messages: lat.N, Latency: &lat,
			Figures: map[string]float64{"tenants": t, "processes": procs, "tick_ms": tick, "idle_requests_per_sec": reqs, "seeds_handled": t}}
		if tradeoff {
			r.figure("tradeoff", 1)
		}
		r.Series = []Series{{Name: SeriesLatency, Y: []float64{12, 20, 31, 45, 60, 18, 22}}}
		return r
	}
	tenants := &Result{Workload: WorkloadTenants, Name: "tenants", Unit: "msg", Units: 100, Messages: 100, Figures: map[string]float64{"tenants": 50}}
	tenants.setUsage(Usage{"Query": {Op: "Query", Requests: 200}, "UpdateItem": {Op: "UpdateItem", Requests: 155}})
	fair := &Result{Workload: WorkloadFairness, Name: "fairness (noisy + quiet)", Unit: "msg", Units: 10, Messages: 10,
		Latency: &Percentiles{N: 4, P50: 30, P95: 120, P99: 130},
		Figures: map[string]float64{"tenants": 100, "drain_fraction": 0.9, "noisy_msgs_per_sec": 270, "capacity_msgs_per_sec": 300},
		Series:  []Series{{Name: SeriesLatency, Y: []float64{20, 30, 40, 120}}, {Name: SeriesLatencyOverTime, X: []float64{0.5, 1, 2, 3}, Y: []float64{20, 30, 40, 120}}}}
	return []*Result{
		tenants,
		idle(1, 1, 0, 2, false, Percentiles{N: 7, P50: 22, P99: 60}),
		idle(1000, 1, 0, 2.1, false, Percentiles{N: 7, P50: 31, P99: 200}),
		idle(1000, 1, 50, 8, true, Percentiles{N: 7, P50: 40}),
		idle(1000, 1, 500, 1, true, Percentiles{N: 7, P50: 300}),
		idle(1000, 4, 500, 2.5, false, Percentiles{N: 7, P50: 300, P99: 900}),
		fair,
	}
}

func TestCheckTenantTargets(t *testing.T) {
	rs := manyTenantsResults()
	got := map[string]bool{}
	for _, tg := range CheckTenantTargets(rs) {
		got[tg.Name] = tg.Met
	}
	want := map[string]bool{
		"tenants: requests per delivered message (50 pairs)":           false, // 3.55
		"idle requests/s of one process at T=1000 vs T=1":              false, // the 4-process run: 2.5 > 2.2
		"idle requests/s of each of 4 processes serving T=1000":        false, // 2.5 > 2
		"push-to-handle at T=1000, idle tenants":                       true,  // the first result of the largest T
		"fairness: quiet tenants' p95 next to a backlog (100 tenants)": true,
		"fairness: backlogged tenant's drain rate / capacity":          true,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("targets = %v\nwant %v", got, want)
	}
	if rpm := rs[0].Figures["requests_per_msg"]; rpm != 3.55 {
		t.Errorf("tenants requests_per_msg = %v, want 3.55", rpm)
	}

	// One process at T=1000, within 10% of T=1 and fast: met.
	rs = manyTenantsResults()[:3]
	for _, tg := range CheckTenantTargets(rs) {
		if strings.HasPrefix(tg.Name, "idle requests/s") || strings.HasPrefix(tg.Name, "push-to-handle") {
			if !tg.Met {
				t.Errorf("%s: not met (%s), want met", tg.Name, tg.Got)
			}
		}
	}
}

func TestWriteCharts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "charts")
	rep := &Report{Results: manyTenantsResults()}
	paths, err := WriteCharts(dir, rep)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range paths {
		names = append(names, filepath.Base(p))
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte("<svg")) || len(b) < 1000 {
			t.Errorf("%s: %d bytes, not an SVG chart", p, len(b))
		}
	}
	for _, want := range []string{"tenants-idle-cost.svg", "tenants-idle-tradeoff.svg", "fairness-quiet-latency.svg",
		"latency-tenants-idle.svg", "latency-fairness-noisy-quiet.svg"} {
		if !slices.Contains(names, want) {
			t.Errorf("chart %s not written; got %v", want, names)
		}
	}

	// A comparison: one line per run, the per-run charts prefixed with the run's label.
	paths, err = WriteComparisonCharts(dir, "png", ChartRun{Label: "before", Report: rep}, ChartRun{Label: "after", Report: rep})
	if err != nil {
		t.Fatal(err)
	}
	names = names[:0]
	for _, p := range paths {
		names = append(names, filepath.Base(p))
	}
	for _, want := range []string{"before-fairness-quiet-latency.png", "after-fairness-quiet-latency.png", "tenants-idle-cost.png"} {
		if !slices.Contains(names, want) {
			t.Errorf("comparison chart %s not written; got %v", want, names)
		}
	}

	// Nothing to draw: no chart, no error.
	paths, err = WriteCharts(t.TempDir(), &Report{Results: sampleResults()})
	if err != nil || len(paths) != 0 {
		t.Errorf("charts of a run without latency series: %v, %v", paths, err)
	}
}

// TestManyTenantsJSON: the report carries the new workloads' figures and series.
func TestManyTenantsJSON(t *testing.T) {
	rep := &Report{Results: manyTenantsResults()}
	rep.Targets = CheckTenantTargets(rep.Results)
	var b bytes.Buffer
	if err := rep.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Results []struct {
			Workload string             `json:"workload"`
			Figures  map[string]float64 `json:"figures"`
			Series   []Series           `json:"series"`
		} `json:"results"`
		Targets []Target `json:"targets"`
	}
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Results[0].Figures["requests_per_msg"] != 3.55 {
		t.Errorf("tenants requests_per_msg in JSON: %v", back.Results[0].Figures)
	}
	idle := back.Results[1]
	if idle.Workload != WorkloadTenantsIdle || idle.Figures["idle_requests_per_sec"] != 2 || len(idle.Series) != 1 || len(idle.Series[0].Y) != 7 {
		t.Errorf("tenants-idle in JSON: %+v", idle)
	}
	if len(back.Targets) != 7 {
		t.Errorf("%d targets in JSON, want 7", len(back.Targets))
	}
}

func TestParseDurations(t *testing.T) {
	got, err := ParseDurations("50ms, 1s,")
	if err != nil || !reflect.DeepEqual(got, []time.Duration{50 * time.Millisecond, time.Second}) {
		t.Errorf("ParseDurations = %v, %v", got, err)
	}
	if got, _ := ParseDurations("none"); len(got) != 1 || got[0] >= 0 {
		t.Errorf(`ParseDurations("none") = %v, want [-1]`, got)
	}
	if _, err := ParseDurations("5 parsecs"); err == nil {
		t.Error("ParseDurations accepted a bad duration")
	}
	c := Config{Many: ManyTenants{Intervals: []time.Duration{-1}}}.withDefaults()
	if len(c.Many.Intervals) != 0 || c.Many.Backlog != 50000 || !slices.Equal(c.Many.Counts, []int{1, 100, 1000, 10000}) {
		t.Errorf("defaults: %+v", c.Many)
	}
	if err := (Config{Many: ManyTenants{Counts: []int{0}}}).Validate(); err == nil {
		t.Error("tenant count 0 accepted")
	}
	if ws, err := ParseWorkloads("tenants-idle,fairness"); err != nil || len(ws) != 2 {
		t.Errorf("ParseWorkloads: %v, %v", ws, err)
	}
	if ws, _ := ParseWorkloads("all"); slices.Contains(ws, WorkloadFairness) {
		t.Error("all includes fairness; it runs only when named")
	}
}
