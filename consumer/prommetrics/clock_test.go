package prommetrics_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dynamodbqueue/dynamodbqueue/consumer"
	"github.com/dynamodbqueue/dynamodbqueue/consumer/prommetrics"
)

// TestClockOffsetGauge: OnClockSkew sets the source's clock_offset_seconds gauge to the latest
// offset, in seconds, with the usual labels.
func TestClockOffsetGauge(t *testing.T) {
	m := prommetrics.New(prommetrics.Options{ConstLabels: prometheus.Labels{"service": "test"}})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	src := consumer.Source{Table: "t", Queue: "jobs", ClientID: "tenant-a"}
	m.OnClockSkew(context.Background(), src, -61500*time.Millisecond)
	m.OnClockSkew(context.Background(), src, -90*time.Second)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "dynamodbqueue_consumer_clock_offset_seconds" {
			continue
		}
		if len(f.GetMetric()) != 1 {
			t.Fatalf("%d series, want 1", len(f.GetMetric()))
		}
		mt := f.GetMetric()[0]
		checkLabels(t, f.GetName(), mt, "")
		if got := mt.GetGauge().GetValue(); got != -90 {
			t.Fatalf("clock_offset_seconds = %v, want -90", got)
		}
		return
	}
	t.Fatal("no dynamodbqueue_consumer_clock_offset_seconds gauge")
}
