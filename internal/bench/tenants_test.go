package bench

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
)

// TestManyTenantsSmoke runs tenants-idle (T = 1 and 40, two consumer processes, one trade-off
// point) and fairness at tiny sizes against the test endpoint: every tenant's seed message is
// handled once and by its own queue, every timed message is handled, and the report and the
// charts carry their figures.
func TestManyTenantsSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	charts := t.TempDir()
	cfg := Config{
		Endpoint:  testenv.Endpoint(t),
		Table:     testenv.TableName(t),
		Workloads: []string{WorkloadTenantsConsumer, WorkloadTenantsIdle, WorkloadFairness},
		Tenants:   6, Messages: 60, Producers: 2, Consumers: 2,
		Many: ManyTenants{
			Counts: []int{1, 40}, Settle: 200 * time.Millisecond, IdleWindow: 500 * time.Millisecond, Messages: 4, Gap: 20 * time.Millisecond,
			Drain: time.Minute, Intervals: []time.Duration{100 * time.Millisecond}, TradeoffTenants: 5, Processes: 2,
			Concurrency: 4, Backlog: 60, Quiet: 3, Window: 1500 * time.Millisecond,
			// A wake-up the watcher misses is caught by its fallback sweep, at 1 request/s by
			// default: up to 80 s for 40 pairs and 2 processes on a loaded machine. 20/s
			// bounds that to a few seconds, so the test checks that every tenant is served,
			// not how fast (the bench reports that).
			FallbackRate: 20,
		},
		Charts:   charts,
		Progress: &bytes.Buffer{},
		Timeout:  2 * time.Minute,
		JSON:     true,
	}
	var out bytes.Buffer
	rep, err := Run(ctx, cfg, &out)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	var idle, fair, cons int
	for _, r := range rep.Results {
		if r.Lost != 0 || r.Duplicates != 0 || r.Figures["isolation_failures"] != 0 {
			t.Errorf("%s: lost %d, duplicates %d, wrong tenant %v", r.Name, r.Lost, r.Duplicates, r.Figures["isolation_failures"])
		}
		switch r.Workload {
		case WorkloadTenantsIdle:
			idle++
			if r.Figures["seeds_handled"] != r.Figures["tenants"] {
				t.Errorf("%s: %v of %v tenants served", r.Name, r.Figures["seeds_handled"], r.Figures["tenants"])
			}
			n := 4 // a trade-off point pushes half as many
			if r.Figures["tradeoff"] == 1 {
				n = 2
			}
			if r.Latency == nil || r.Latency.N != n || r.Figures["unhandled"] != 0 {
				t.Errorf("%s: latency %+v, unhandled %v", r.Name, r.Latency, r.Figures["unhandled"])
			}
			if _, ok := r.Figures["idle_requests_per_sec"]; !ok || r.Total.Requests == 0 {
				t.Errorf("%s: no idle requests counted (figures %v)", r.Name, r.Figures)
			}
		case WorkloadTenantsConsumer:
			cons++
			if r.Figures["requests_per_msg"] <= 0 {
				t.Errorf("%s: requests per message %v", r.Name, r.Figures["requests_per_msg"])
			}
		case WorkloadFairness:
			fair++
			if r.Figures["capacity_msgs_per_sec"] <= 0 {
				t.Errorf("%s: capacity %v", r.Name, r.Figures["capacity_msgs_per_sec"])
			}
		}
	}
	if cons != 1 || idle != 3 || fair != 2 {
		t.Errorf("%d tenants-consumer, %d tenants-idle and %d fairness results, want 1, 3 and 2", cons, idle, fair)
	}
	for _, key := range []string{`"idle_requests_per_sec"`, `"drain_fraction"`, `"latency_ms_over_time"`, `"many_tenants"`} {
		if !strings.Contains(out.String(), key) {
			t.Errorf("JSON report has no %s", key)
		}
	}
	for _, name := range []string{"tenants-idle-cost.svg", "tenants-idle-tradeoff.svg", "fairness-quiet-latency.svg"} {
		if st, err := os.Stat(filepath.Join(charts, name)); err != nil || st.Size() == 0 {
			t.Errorf("chart %s: %v", name, err)
		}
	}
}
