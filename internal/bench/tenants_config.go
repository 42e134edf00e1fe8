package bench

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Workloads of issue 11 (thousands of tenants). They are not part of AllWorkloads ("all"):
// at their real sizes they run for many minutes, so they run only when named.
const (
	// WorkloadTenantsIdle: one process serves T tenants of one queue with the multi-tenant
	// consumer, for each T of ManyTenants.Counts. It counts the process's DynamoDB requests
	// per second while every tenant is idle, then a second process pushes single messages to
	// random idle tenants and the push-to-handle latency is measured. It also runs the
	// trade-off of the watcher's tick interval (ManyTenants.Intervals).
	WorkloadTenantsIdle = "tenants-idle"
	// WorkloadFairness: one tenant holds a backlog (ManyTenants.Backlog) while quiet tenants
	// (ManyTenants.Quiet) push 1 message per second each; the quiet tenants' push-to-handle
	// latency and the noisy tenant's drain rate against the consumer's capacity.
	WorkloadFairness = "fairness"
	// WorkloadTenantsConsumer: the traffic of WorkloadTenants (Tenants pairs over 4 queue
	// names, skewed batches) served by one multi-tenant consumer process instead of consumers
	// that visit every pair in turn: requests per delivered message.
	WorkloadTenantsConsumer = "tenants-consumer"
)

// ManyTenantsWorkloads are the workloads run only when named (see WorkloadTenantsIdle).
var ManyTenantsWorkloads = []string{WorkloadTenantsConsumer, WorkloadTenantsIdle, WorkloadFairness}

// ManyTenants configures WorkloadTenantsIdle and WorkloadFairness. Zero fields take the
// defaults of DefaultManyTenants.
type ManyTenants struct {
	// Counts are the tenant counts T of tenants-idle (1, 100, 1000, 10000). T = 1 is the
	// baseline of the idle cost.
	Counts []int `json:"counts"`
	// Settle is how long the consumers run after the seed messages were handled before the
	// idle window opens (32s): longer than the consumers' visibility timeout (30s), so that
	// the watcher's checks of pairs whose claims expired are over and the window sees the
	// steady idle state.
	Settle time.Duration `json:"settle"`
	// IdleWindow is how long the idle requests are counted for each T (10s).
	IdleWindow time.Duration `json:"idle_window"`
	// Messages pushed one at a time to random idle tenants for each T (100).
	Messages int `json:"messages"`
	// Gap is the mean pause between those pushes (150ms; each is drawn from 0.5x to 1.5x).
	Gap time.Duration `json:"gap"`
	// Drain bounds the wait for the last messages after the last push (30s); a message
	// not handled by then counts as unhandled, and at Drain in the percentiles.
	Drain time.Duration `json:"drain"`
	// Interval is the watcher's tick interval of the main runs; 0 keeps the library's
	// default.
	Interval time.Duration `json:"interval,omitempty"`
	// FallbackRate is the watcher's fallback sweep budget in requests per second of every
	// consumer process (0: the library's default, Options.WatchFallbackRate).
	FallbackRate float64 `json:"fallback_rate,omitempty"`
	// Intervals are the tick intervals of the trade-off runs at TradeoffTenants tenants
	// (50ms, 100ms, 250ms, 500ms). A single negative value means none.
	Intervals []time.Duration `json:"intervals"`
	// TradeoffTenants is T of the trade-off runs (1000).
	TradeoffTenants int `json:"tradeoff_tenants"`
	// Processes is how many consumer processes each serve all T tenants (1). Each has its
	// own DynamoDB client, meter and queue instances, as separate processes do.
	Processes int `json:"processes"`
	// Concurrency of each consumer (10).
	Concurrency int `json:"concurrency"`
	// Backlog of the fairness workload's noisy tenant (50000).
	Backlog int `json:"backlog"`
	// Quiet is the number of quiet tenants of the fairness workload (99), each pushing
	// 1 message per second.
	Quiet int `json:"quiet"`
	// Window is how long the fairness workload runs the quiet tenants next to the noisy one
	// (30s); the consumer's capacity is measured first, alone on the backlog, for a third of it.
	Window time.Duration `json:"window"`
}

// DefaultManyTenants returns the defaults that Run applies to zero ManyTenants fields.
func DefaultManyTenants() ManyTenants {
	return ManyTenants{
		Counts:          []int{1, 100, 1000, 10000},
		Settle:          32 * time.Second,
		IdleWindow:      10 * time.Second,
		Messages:        100,
		Gap:             150 * time.Millisecond,
		Drain:           30 * time.Second,
		Intervals:       []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond},
		TradeoffTenants: 1000,
		Processes:       1,
		Concurrency:     10,
		Backlog:         50000,
		Quiet:           99,
		Window:          30 * time.Second,
	}
}

func (m ManyTenants) withDefaults() ManyTenants {
	d := DefaultManyTenants()
	if len(m.Counts) == 0 {
		m.Counts = d.Counts
	}
	if len(m.Intervals) == 0 {
		m.Intervals = d.Intervals
	} else if len(m.Intervals) == 1 && m.Intervals[0] < 0 {
		m.Intervals = nil
	}
	for _, f := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&m.Settle, d.Settle}, {&m.IdleWindow, d.IdleWindow}, {&m.Gap, d.Gap}, {&m.Drain, d.Drain}, {&m.Window, d.Window}} {
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	for _, f := range []struct {
		v   *int
		def int
	}{{&m.Messages, d.Messages}, {&m.TradeoffTenants, d.TradeoffTenants}, {&m.Processes, d.Processes},
		{&m.Concurrency, d.Concurrency}, {&m.Backlog, d.Backlog}, {&m.Quiet, d.Quiet}} {
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	return m
}

func (m ManyTenants) validate() error {
	m = m.withDefaults()
	for _, t := range append(slices.Clone(m.Counts), m.TradeoffTenants) {
		if t < 1 || t > 100_000 {
			return fmt.Errorf("bench: tenant count %d out of range 1..100000", t)
		}
	}
	checks := []struct {
		name      string
		v, lo, hi int
	}{
		{"tenant latency messages", m.Messages, 1, 100_000},
		{"consumer processes", m.Processes, 1, 64},
		{"tenant consumer concurrency", m.Concurrency, 1, 1000},
		{"fairness backlog", m.Backlog, 1, 10_000_000},
		{"quiet tenants", m.Quiet, 1, 10_000},
	}
	for _, ch := range checks {
		if ch.v < ch.lo || ch.v > ch.hi {
			return fmt.Errorf("bench: %s %d out of range %d..%d", ch.name, ch.v, ch.lo, ch.hi)
		}
	}
	for _, d := range append(slices.Clone(m.Intervals), m.Interval) {
		if d < 0 || d > time.Minute {
			return fmt.Errorf("bench: watcher interval %v out of range 0..1m", d)
		}
	}
	if m.FallbackRate < 0 || m.FallbackRate > 1000 {
		return fmt.Errorf("bench: watcher fallback rate %v out of range 0..1000", m.FallbackRate)
	}
	for _, d := range []time.Duration{m.Settle, m.IdleWindow, m.Gap, m.Drain, m.Window} {
		if d <= 0 || d > time.Hour {
			return fmt.Errorf("bench: tenants window or gap %v out of range (0..1h]", d)
		}
	}
	return nil
}

// ParseDurations parses a comma-separated list of durations ("50ms,100ms,1s"), for CLI flags
// such as --watch-intervals. "none" gives a single -1, which Run reads as an explicit empty list.
func ParseDurations(s string) ([]time.Duration, error) {
	if strings.TrimSpace(s) == "none" {
		return []time.Duration{-1}, nil
	}
	var out []time.Duration
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		d, err := time.ParseDuration(f)
		if err != nil {
			return nil, fmt.Errorf("bench: %q is not a duration", f)
		}
		out = append(out, d)
	}
	return out, nil
}
