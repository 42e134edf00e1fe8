package bench

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func sampleResults() []*Result {
	floor := &Result{Workload: WorkloadFloor, Name: "throughput (floor)", Unit: "msg", Units: 100, Messages: 100, MsgsPerSec: 500}
	tp := &Result{Workload: WorkloadThroughput, Name: "throughput (queue)", Unit: "msg", Units: 100, Messages: 100,
		Producers: 2, Consumers: 4, BodySize: 256, MsgsPerSec: 400, Seconds: 0.25}
	tp.setUsage(Usage{
		"BatchWriteItem": {Op: "BatchWriteItem", Requests: 10, Attempts: 10, Items: 100, WCU: 100, IndexWCU: 100},
		"Query":          {Op: "Query", Requests: 12, Attempts: 12, Items: 100, RCU: 10, EstRCU: 1},
		"UpdateItem":     {Op: "UpdateItem", Requests: 110, Attempts: 110, ConditionFailed: 10, Items: 100, WCU: 100, IndexWCU: 200, EstWCU: 10},
		"DeleteItem":     {Op: "DeleteItem", Requests: 100, Attempts: 100, Items: 100, WCU: 100, IndexWCU: 100},
	})
	hol0 := &Result{Workload: WorkloadHeadOfLine, Name: "head-of-line K=0", Unit: "poll", Units: 10, Latency: &Percentiles{N: 10, P50: 10},
		Figures: map[string]float64{"in_flight": 0}}
	hol0.setUsage(Usage{"Query": {Op: "Query", Requests: 10, RCU: 10}})
	hol1 := &Result{Workload: WorkloadHeadOfLine, Name: "head-of-line K=10000", Unit: "poll", Units: 10, Latency: &Percentiles{N: 10, P50: 16},
		Figures: map[string]float64{"in_flight": 10000}}
	hol1.setUsage(Usage{"Query": {Op: "Query", Requests: 10, RCU: 10}})
	lat := &Result{Workload: WorkloadLatency, Name: "latency (same process)", Unit: "msg", Units: 5, Latency: &Percentiles{N: 5, P50: 4, P95: 8, P99: 9}}
	lc := func(size int, claim float64) *Result {
		r := &Result{Workload: WorkloadSizes, Name: "life cycle " + FormatBytes(size), Unit: "msg", Units: 10, Messages: 10, BodySize: size,
			Figures: map[string]float64{"claim_wcu_per_msg": claim}}
		r.setUsage(Usage{"UpdateItem": {Op: "UpdateItem", Requests: 10, WCU: 10, IndexWCU: 20}, "Query": {Op: "Query", Requests: 1}, "BatchWriteItem": {Op: "BatchWriteItem", Requests: 1}, "DeleteItem": {Op: "DeleteItem", Requests: 10}})
		return r
	}
	return []*Result{floor, tp, hol0, hol1, lat, lc(256, 3), lc(4096, 3), lc(1<<20, 3)}
}

func TestCheckTargets(t *testing.T) {
	rs := sampleResults()
	ts := CheckTargets(rs)
	got := map[string]bool{}
	for _, tg := range ts {
		got[tg.Name] = tg.Met
	}
	want := map[string]bool{
		"throughput vs floor (P=2 C=4)":                  true,  // 80%
		"poll with K=10000 in flight vs K=0":             false, // 1.6x latency
		"requests per message, life cycle, 256 B":        true,  // 2.2
		"push-to-receive p50, same process":              true,
		"claim WCU per message independent of body size": true,
		"1 MiB bodies work":                              true,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("targets = %v\nwant %v", got, want)
	}
	if r := rs[1].Figures["ratio_to_floor"]; r != 0.8 {
		t.Errorf("ratio_to_floor = %v, want 0.8", r)
	}
	rs[len(rs)-2].Figures["claim_wcu_per_msg"] = 4
	for _, tg := range CheckTargets(rs) {
		if tg.Name == "claim WCU per message independent of body size" && tg.Met {
			t.Error("unequal claim WCU passed")
		}
	}
	if len(CheckTargets(nil)) != 0 {
		t.Error("targets without results")
	}
}

func TestWriteText(t *testing.T) {
	rep := &Report{Endpoint: "http://127.0.0.1:1", GoVersion: "go1.x", CPUs: 2, Results: sampleResults()}
	rep.Targets = CheckTargets(rep.Results)
	var b bytes.Buffer
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"== throughput (queue)",
		"P=2 C=4, body 256 B, 100 messages in 0.25s, 400 msg/s, lost 0, duplicates 0",
		"ratio_to_floor 0.8",
		"TARGETS",
		"poll latency ms (n=10): p50 16.00",
		"life cycle 1 MiB",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
	// The per-operation rows: UpdateItem 110 requests = 1.100 per message, 1 + 2 + 0.1 WCU.
	var row string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "UpdateItem") && strings.Contains(l, "110") {
			row = l
			break
		}
	}
	fields := strings.Fields(row)
	wantFields := []string{"UpdateItem", "110", "1.100", "10", "100", "0.000", "1.000", "2.000", "0.100", "0.000", "3.100"}
	if !reflect.DeepEqual(fields, wantFields) {
		t.Errorf("UpdateItem row = %q, want fields %v", row, wantFields)
	}
	var total string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "total") {
			total = l
			break
		}
	}
	if f := strings.Fields(total); len(f) < 3 || f[1] != "232" || f[2] != "2.320" {
		t.Errorf("total row = %q, want 232 requests, 2.320 per message", total)
	}
}

func TestWriteJSON(t *testing.T) {
	rep := &Report{Endpoint: "e", Results: sampleResults(), Config: DefaultConfig()}
	rep.Targets = CheckTargets(rep.Results)
	var b bytes.Buffer
	if err := rep.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Results) != len(rep.Results) || back.Results[1].Total.Requests != 232 || len(back.Targets) != len(rep.Targets) {
		t.Fatalf("JSON round trip lost data: %+v", back.Results[1])
	}
	if !strings.Contains(b.String(), `"msgs_per_sec": 400`) {
		t.Errorf("JSON lacks msgs_per_sec:\n%s", b.String())
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int]string{256: "256 B", 4096: "4 KiB", 1 << 20: "1 MiB", 1500: "1500 B", 65536: "64 KiB"} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestParseInts(t *testing.T) {
	got, err := ParseInts("0, 1k,10K,256,4Ki,1Mi, 2M")
	if err != nil {
		t.Fatal(err)
	}
	want := []int{0, 1000, 10000, 256, 4096, 1 << 20, 2_000_000}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseInts = %v, want %v", got, want)
	}
	if _, err := ParseInts("1,x"); err == nil {
		t.Fatal("ParseInts accepted x")
	}
	if got, _ := ParseInts(""); len(got) != 0 {
		t.Fatalf("ParseInts(\"\") = %v", got)
	}
}

func TestParseWorkloads(t *testing.T) {
	got, err := ParseWorkloads("latency, floor")
	if err != nil || !reflect.DeepEqual(got, []string{WorkloadLatency, WorkloadFloor}) {
		t.Fatalf("ParseWorkloads = %v, %v", got, err)
	}
	if got, _ := ParseWorkloads("all"); !reflect.DeepEqual(got, AllWorkloads) {
		t.Fatalf("all = %v", got)
	}
	if _, err := ParseWorkloads("speed"); err == nil {
		t.Fatal("unknown workload accepted")
	}
}

func TestConfigDefaultsAndValidate(t *testing.T) {
	c := Config{}.withDefaults()
	d := DefaultConfig()
	if c.Producers != d.Producers || c.Consumers != d.Consumers || !reflect.DeepEqual(c.InFlight, d.InFlight) || c.Timeout != d.Timeout {
		t.Fatalf("defaults not applied: %+v", c)
	}
	if got := (Config{InFlight: []int{-1}}).withDefaults().InFlight; len(got) != 0 {
		t.Fatalf("InFlight {-1} = %v, want empty", got)
	}
	if err := (Config{}).Validate(); err != nil {
		t.Fatalf("zero config invalid: %v", err)
	}
	for _, bad := range []Config{
		{Workloads: []string{"nope"}},
		{Producers: -1},
		{BodySize: 2 << 20},
		{InFlight: []int{5, -3}},
		{BodySizes: []int{0}},
	} {
		if err := bad.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil", bad)
		}
	}
}

func TestBodyRoundTrip(t *testing.T) {
	b := Body("tp", 1234, 64)
	if len(b) != 64 {
		t.Fatalf("len = %d", len(b))
	}
	tag, id, ok := ParseBody(b)
	if !ok || tag != "tp" || id != 1234 {
		t.Fatalf("ParseBody = %q %d %v", tag, id, ok)
	}
	if short := Body("t", 5, 1); short != "t|5|" {
		t.Fatalf("short body %q", short)
	}
	if _, _, ok := ParseBody("garbage"); ok {
		t.Fatal("garbage parsed")
	}
	l := newLedger(3)
	if !l.mark(1) || l.mark(1) || l.mark(7) {
		t.Fatal("ledger marks")
	}
	if l.lost() != 2 || l.dups.Load() != 1 || l.bad.Load() != 1 {
		t.Fatalf("ledger lost %d dups %d bad %d", l.lost(), l.dups.Load(), l.bad.Load())
	}
	if got := split(5, 2); !reflect.DeepEqual(got, [][]int{{0, 1, 2}, {3, 4}}) {
		t.Fatalf("split = %v", got)
	}
	if got := chunks([]int{1, 2, 3, 4, 5}, 2); !reflect.DeepEqual(got, [][]int{{1, 2}, {3, 4}, {5}}) {
		t.Fatalf("chunks = %v", got)
	}
}

// TestReportMarksEstimatedIndexUnits: index write units the meter computed are marked in the
// text report (a * on the figure, a line naming the estimated part, the header) and in JSON;
// reported ones are not.
func TestReportMarksEstimatedIndexUnits(t *testing.T) {
	write := func(rs []*Result) string {
		rep := &Report{Endpoint: "e", Results: rs, IndexCapacity: indexCapacity(rs)}
		var b bytes.Buffer
		if err := rep.WriteText(&b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	reported := sampleResults()
	if got := indexCapacity(reported); got != IndexReported {
		t.Errorf("indexCapacity of reported units = %q, want %q", got, IndexReported)
	}
	if out := write(reported); strings.Contains(out, "2.000*") || strings.Contains(out, "(estimated)") ||
		!strings.Contains(out, "index write units: reported by the endpoint") {
		t.Errorf("reported index units shown as estimated:\n%s", out)
	}

	estimated := sampleResults()
	tp := estimated[1]
	tp.setUsage(Usage{"UpdateItem": {Op: "UpdateItem", Requests: 100, WCU: 100, IndexWCU: 200, EstIndexWCU: 200}})
	if got := indexCapacity(estimated); got != IndexMixed {
		t.Errorf("indexCapacity of mixed results = %q, want %q", got, IndexMixed)
	}
	out := write(estimated)
	for _, want := range []string{"2.000*", "* index WCU (estimated): 2.000 of 2.000 LSI WCU/msg", "index write units: partly estimated"} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
	if got := indexCapacity([]*Result{tp}); got != IndexEstimated {
		t.Errorf("indexCapacity of estimated units = %q, want %q", got, IndexEstimated)
	}
	var b bytes.Buffer
	if err := (&Report{Results: []*Result{tp}, IndexCapacity: IndexEstimated}).WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"est_index_wcu": 200`) || !strings.Contains(b.String(), `"index_capacity": "estimated"`) {
		t.Errorf("JSON lacks the estimated index units:\n%s", b.String())
	}
}
