package prommetrics_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dynamodbqueue/dynamodbqueue/consumer"
	"github.com/dynamodbqueue/dynamodbqueue/consumer/prommetrics"
)

// series gathers reg and returns, for each metric family, the value of each series by its
// client label (counters summed over other labels; histograms give their sample count).
func series(t *testing.T, reg *prometheus.Registry) map[string]map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	out := map[string]map[string]float64{}
	for _, f := range families {
		byClient := map[string]float64{}
		for _, mt := range f.GetMetric() {
			var client string
			for _, l := range mt.GetLabel() {
				if l.GetName() == prommetrics.LabelClient {
					client = l.GetValue()
				}
			}
			switch {
			case mt.GetCounter() != nil:
				byClient[client] += mt.GetCounter().GetValue()
			case mt.GetHistogram() != nil:
				byClient[client] += float64(mt.GetHistogram().GetSampleCount())
			case mt.GetGauge() != nil:
				byClient[client] = mt.GetGauge().GetValue()
			}
		}
		out[f.GetName()] = byClient
	}
	return out
}

// TestClientLabelCap: with MaxClients 2, the first two tenants reported keep their own client
// label on every metric, and the others are summed under OtherClient; no other label value
// appears, whatever the number of tenants.
func TestClientLabelCap(t *testing.T) {
	m := prommetrics.New(prommetrics.Options{MaxClients: 2})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	ctx := context.Background()
	src := func(id string) consumer.Source { return consumer.Source{Table: "t", Queue: "jobs", ClientID: id} }
	for i, id := range []string{"a", "b", "c", "d", "e"} {
		m.OnReceive(ctx, src(id), i+1)
		m.OnPoll(ctx, src(id), i+1)
		m.OnPoll(ctx, src(id), 0)
		m.OnWake(ctx, src(id))
		m.OnThrottle(ctx, src(id), time.Second)
	}
	m.OnReceive(ctx, src("a"), 10) // a known tenant stays known
	got := series(t, reg)
	want := map[string]map[string]float64{
		"dynamodbqueue_consumer_received_total":    {"a": 11, "b": 2, prommetrics.OtherClient: 3 + 4 + 5},
		"dynamodbqueue_consumer_polls_total":       {"a": 2, "b": 2, prommetrics.OtherClient: 6},
		"dynamodbqueue_consumer_empty_polls_total": {"a": 1, "b": 1, prommetrics.OtherClient: 3},
		"dynamodbqueue_consumer_wakeups_total":     {"a": 1, "b": 1, prommetrics.OtherClient: 3},
		"dynamodbqueue_consumer_throttled_total":   {"a": 1, "b": 1, prommetrics.OtherClient: 3},
	}
	for name, w := range want {
		if fmt.Sprint(got[name]) != fmt.Sprint(w) {
			t.Errorf("%s by client = %v, want %v", name, got[name], w)
		}
	}
}

// TestClientLabelCapDefaultAndOff: by default DefaultMaxClients tenants get their own series
// and the rest one more; a negative MaxClients gives every tenant its own.
func TestClientLabelCapDefaultAndOff(t *testing.T) {
	for _, tc := range []struct {
		maxClients int
		want       int // series of received_total
	}{
		{0, prommetrics.DefaultMaxClients + 1},
		{-1, prommetrics.DefaultMaxClients + 50},
	} {
		m := prommetrics.New(prommetrics.Options{MaxClients: tc.maxClients})
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(m)
		for i := range prommetrics.DefaultMaxClients + 50 {
			m.OnReceive(context.Background(), consumer.Source{Table: "t", Queue: "jobs", ClientID: fmt.Sprintf("t%05d", i)}, 1)
		}
		got := series(t, reg)["dynamodbqueue_consumer_received_total"]
		if len(got) != tc.want {
			t.Errorf("MaxClients %d: %d series, want %d", tc.maxClients, len(got), tc.want)
		}
		if other := got[prommetrics.OtherClient]; tc.maxClients == 0 && other != 50 {
			t.Errorf("MaxClients %d: %s = %v, want 50", tc.maxClients, prommetrics.OtherClient, other)
		}
	}
}
