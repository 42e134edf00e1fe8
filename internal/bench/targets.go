package bench

import (
	"fmt"
	"strings"
)

// Targets of the benchmark issue.
const (
	TargetFloorRatio      = 0.60 // queue throughput / floor throughput at equal concurrency
	TargetHeadOfLine      = 1.5  // poll latency and RCU per poll with 10,000 in flight / K=0
	TargetRequestsPerMsg  = 2.3  // full life cycle, 256 B, batches of 10
	TargetLatencyP50Milli = 30.0 // push-to-receive p50, idle long-polling consumer
)

// CheckTargets evaluates the targets that the given results allow; targets whose workload
// did not run are left out.
func CheckTargets(results []*Result) []Target {
	var out []Target
	find := func(pred func(*Result) bool) *Result {
		for _, r := range results {
			if pred(r) {
				return r
			}
		}
		return nil
	}
	floor := find(func(r *Result) bool { return r.Workload == WorkloadFloor })
	tp := find(func(r *Result) bool { return r.Workload == WorkloadThroughput })
	if floor != nil && tp != nil && floor.MsgsPerSec > 0 {
		ratio := tp.MsgsPerSec / floor.MsgsPerSec
		tp.figure("ratio_to_floor", ratio)
		out = append(out, Target{
			Name: fmt.Sprintf("throughput vs floor (P=%d C=%d)", tp.Producers, tp.Consumers),
			Want: fmt.Sprintf(">= %.0f%%", TargetFloorRatio*100),
			Got:  fmt.Sprintf("%.0f%% (%.0f vs %.0f msg/s)", ratio*100, tp.MsgsPerSec, floor.MsgsPerSec),
			Met:  ratio >= TargetFloorRatio,
		})
		fc, qc := floor.Figures["server_cpu_ms_per_msg"], tp.Figures["server_cpu_ms_per_msg"]
		if fc > 0 && qc > 0 {
			// dynalite is one single-threaded process: the server CPU per message bounds
			// msgs/s, and unlike msgs/s it does not depend on what else the machine runs.
			cpuRatio := fc / qc
			tp.figure("server_cpu_ratio_to_floor", cpuRatio)
			out = append(out, Target{
				Name: "  same, by dynalite CPU per message (floor / queue)",
				Want: fmt.Sprintf(">= %.0f%%", TargetFloorRatio*100),
				Got:  fmt.Sprintf("%.0f%% (%.3f vs %.3f ms/msg)", cpuRatio*100, fc, qc),
				Met:  cpuRatio >= TargetFloorRatio,
			})
		}
	}

	hol := func(k int) *Result {
		return find(func(r *Result) bool { return r.Workload == WorkloadHeadOfLine && r.Figures["in_flight"] == float64(k) })
	}
	if base := hol(0); base != nil {
		for _, r := range results {
			if r.Workload != WorkloadHeadOfLine || r == base || r.Latency == nil || base.Latency == nil {
				continue
			}
			k := int(r.Figures["in_flight"])
			latRatio := ratio(r.Latency.P50, base.Latency.P50)
			rcu, baseRCU := r.Per(r.Total.TotalRCU()), base.Per(base.Total.TotalRCU())
			rcuRatio := ratio(rcu, baseRCU)
			out = append(out, Target{
				Name: fmt.Sprintf("poll with K=%d in flight vs K=0", k),
				Want: fmt.Sprintf("<= %.1fx latency and RCU", TargetHeadOfLine),
				Got: fmt.Sprintf("p50 %.2fx (%.2f vs %.2f ms), RCU %.2fx (%.2f vs %.2f /poll)",
					latRatio, r.Latency.P50, base.Latency.P50, rcuRatio, rcu, baseRCU),
				Met: latRatio <= TargetHeadOfLine && rcuRatio <= TargetHeadOfLine,
			})
		}
	}

	// Judged on full batches of 10 only: with fewer messages the per-batch requests weigh more.
	if lc := find(func(r *Result) bool { return r.Workload == WorkloadSizes && r.BodySize == 256 && r.Messages%10 == 0 }); lc != nil {
		req := lc.Per(float64(lc.Total.Requests))
		lsi := "LSI"
		if lc.Total.IndexEstimated() {
			lsi = "LSI (estimated)"
		}
		out = append(out, Target{
			Name: "requests per message, life cycle, 256 B",
			Want: fmt.Sprintf("<= %.1f", TargetRequestsPerMsg),
			Got: fmt.Sprintf("%.3f (WCU %.2f: table %.2f + %s %.2f + est %.2f; minimum 3 single-item writes)",
				req, lc.Per(lc.Total.TotalWCU()), lc.Per(lc.Total.WCU), lsi, lc.Per(lc.Total.IndexWCU), lc.Per(lc.Total.EstWCU)),
			Met: req <= TargetRequestsPerMsg && lc.Lost == 0,
		})
	}

	for _, r := range results {
		if r.Workload == WorkloadLatency && r.Latency != nil {
			out = append(out, Target{
				Name: "push-to-receive p50, " + strings.TrimSuffix(strings.TrimPrefix(r.Name, "latency ("), ")"),
				Want: fmt.Sprintf("< %.0f ms", TargetLatencyP50Milli),
				Got:  fmt.Sprintf("%.2f ms (p95 %.2f, p99 %.2f)", r.Latency.P50, r.Latency.P95, r.Latency.P99),
				Met:  r.Latency.P50 < TargetLatencyP50Milli && r.Lost == 0,
			})
		}
	}

	var sizes []*Result
	for _, r := range results {
		if r.Workload == WorkloadSizes {
			sizes = append(sizes, r)
		}
	}
	if len(sizes) > 1 {
		var got []string
		lo, hi := sizes[0].Figures["claim_wcu_per_msg"], sizes[0].Figures["claim_wcu_per_msg"]
		for _, r := range sizes {
			c := r.Figures["claim_wcu_per_msg"]
			lo, hi = min(lo, c), max(hi, c)
			got = append(got, fmt.Sprintf("%s %.2f", FormatBytes(r.BodySize), c))
		}
		out = append(out, Target{
			Name: "claim WCU per message independent of body size",
			Want: "equal for all sizes",
			Got:  strings.Join(got, ", "),
			Met:  hi-lo < 0.01,
		})
	}
	if big := find(func(r *Result) bool { return r.Workload == WorkloadSizes && r.BodySize >= 1<<20 }); big != nil {
		ok := big.Lost == 0 && big.Figures["corrupt"] == 0
		out = append(out, Target{
			Name: "1 MiB bodies work",
			Want: "all delivered intact",
			Got:  fmt.Sprintf("%d of %d delivered, %d corrupt", big.Messages-big.Lost, big.Messages, int(big.Figures["corrupt"])),
			Met:  ok,
		})
	}
	return out
}

func ratio(a, b float64) float64 {
	if b == 0 {
		if a == 0 {
			return 1
		}
		return a / 1e-9
	}
	return a / b
}
