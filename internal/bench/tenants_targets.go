package bench

import (
	"fmt"
	"slices"
)

// Targets of issue 11 (thousands of tenants).
const (
	// TargetIdleSlack is how far above the T = 1 baseline an idle process at larger T may be
	// and still count as independent of T: the request counts are exact, but a window of a
	// few seconds catches a varying number of the watcher's fallback reads.
	TargetIdleSlack = 1.10
	// TargetTenantsP50Milli and TargetTenantsP99Milli bound push-to-handle at the largest T.
	TargetTenantsP50Milli = 50.0
	TargetTenantsP99Milli = 250.0
	// TargetQuietP95Milli bounds the quiet tenants' p95 next to a backlogged tenant.
	TargetQuietP95Milli = 250.0
	// TargetDrainFraction is the least share of the consumer's capacity the backlogged
	// tenant keeps while the quiet tenants are served.
	TargetDrainFraction = 0.80
	// TargetTenantsRequestsPerMsg bounds the requests per delivered message of the tenants
	// workload.
	TargetTenantsRequestsPerMsg = 2.5
	// TargetIdleProcessReqPerSec bounds each idle process when several serve the same tenants.
	TargetIdleProcessReqPerSec = 2.0
)

// CheckTenantTargets evaluates the targets of the tenants, tenants-idle and fairness
// workloads that the results allow, and adds the figures they derive (requests_per_msg of
// the tenants workload).
func CheckTenantTargets(results []*Result) []Target {
	var out []Target
	for _, r := range results {
		if (r.Workload != WorkloadTenants && r.Workload != WorkloadTenantsConsumer) || r.Messages == 0 {
			continue
		}
		rpm := float64(r.Total.Requests) / float64(r.Messages)
		r.figure("requests_per_msg", rpm)
		out = append(out, Target{
			Name: fmt.Sprintf("%s: requests per delivered message (%g pairs)", r.Workload, r.Figures["tenants"]),
			Want: fmt.Sprintf("<= %.1f", TargetTenantsRequestsPerMsg),
			Got:  fmt.Sprintf("%.2f (%d requests, %d messages)", rpm, r.Total.Requests, r.Messages),
			Met:  rpm <= TargetTenantsRequestsPerMsg && r.Lost == 0,
		})
	}

	var idle []*Result
	for _, r := range results {
		if r.Workload == WorkloadTenantsIdle && r.Figures["tradeoff"] != 1 {
			idle = append(idle, r)
		}
	}
	var base *Result
	for _, r := range idle {
		if r.Figures["tenants"] == 1 {
			base = r
		}
	}
	var largest *Result
	for _, r := range idle {
		if largest == nil || r.Figures["tenants"] > largest.Figures["tenants"] {
			largest = r
		}
		if base != nil && r != base {
			got, want := r.Figures["idle_requests_per_sec"], base.Figures["idle_requests_per_sec"]
			out = append(out, Target{
				Name: fmt.Sprintf("idle requests/s of one process at T=%g vs T=1", r.Figures["tenants"]),
				Want: fmt.Sprintf("<= T=1 (+%.0f%%)", (TargetIdleSlack-1)*100),
				Got:  fmt.Sprintf("%.2f vs %.2f", got, want),
				Met:  got <= want*TargetIdleSlack,
			})
		}
		if r.Figures["processes"] > 1 {
			got := r.Figures["idle_requests_per_sec"]
			out = append(out, Target{
				Name: fmt.Sprintf("idle requests/s of each of %g processes serving T=%g", r.Figures["processes"], r.Figures["tenants"]),
				Want: fmt.Sprintf("<= %.0f", TargetIdleProcessReqPerSec),
				Got:  fmt.Sprintf("%.2f (the busiest process)", got),
				Met:  got <= TargetIdleProcessReqPerSec,
			})
		}
	}
	if largest != nil && largest.Latency != nil {
		l := largest.Latency
		out = append(out, Target{
			Name: fmt.Sprintf("push-to-handle at T=%g, idle tenants", largest.Figures["tenants"]),
			Want: fmt.Sprintf("p50 < %.0f ms, p99 < %.0f ms", TargetTenantsP50Milli, TargetTenantsP99Milli),
			Got:  fmt.Sprintf("p50 %.1f ms, p99 %.1f ms (%g unhandled)", l.P50, l.P99, largest.Figures["unhandled"]),
			Met:  l.P50 < TargetTenantsP50Milli && l.P99 < TargetTenantsP99Milli && largest.Lost == 0,
		})
	}
	for _, r := range idle {
		if x := r.Figures["isolation_failures"]; x > 0 || r.Duplicates > 0 || r.Figures["seeds_handled"] < r.Figures["tenants"] {
			out = append(out, Target{
				Name: fmt.Sprintf("every tenant served once, by its own queue (T=%g)", r.Figures["tenants"]),
				Want: "all seeds handled, 0 wrong tenant, 0 duplicates",
				Got:  fmt.Sprintf("%g of %g seeds, %g wrong tenant, %d duplicates", r.Figures["seeds_handled"], r.Figures["tenants"], x, r.Duplicates),
			})
		}
	}

	i := slices.IndexFunc(results, func(r *Result) bool { return r.Workload == WorkloadFairness && r.Latency != nil })
	if i >= 0 {
		r := results[i]
		out = append(out, Target{
			Name: fmt.Sprintf("fairness: quiet tenants' p95 next to a backlog (%g tenants)", r.Figures["tenants"]),
			Want: fmt.Sprintf("< %.0f ms", TargetQuietP95Milli),
			Got:  fmt.Sprintf("%.1f ms (p50 %.1f, p99 %.1f; %d unhandled)", r.Latency.P95, r.Latency.P50, r.Latency.P99, r.Lost),
			Met:  r.Latency.P95 < TargetQuietP95Milli && r.Lost == 0,
		}, Target{
			Name: "fairness: backlogged tenant's drain rate / capacity",
			Want: fmt.Sprintf(">= %.0f%%", TargetDrainFraction*100),
			Got:  fmt.Sprintf("%.0f%% (%.0f of %.0f msg/s)", 100*r.Figures["drain_fraction"], r.Figures["noisy_msgs_per_sec"], r.Figures["capacity_msgs_per_sec"]),
			Met:  r.Figures["drain_fraction"] >= TargetDrainFraction,
		})
	}
	return out
}
