package prommetrics

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Register returns new metrics registered on reg; nil reg means prometheus.DefaultRegisterer
// (which promhttp.Handler serves). It fails, registering nothing, when metrics of the same
// names and labels are registered there already, e.g. by a second Register with the same
// Options; one Metrics can serve several consumers instead.
func Register(reg prometheus.Registerer, opts Options) (*Metrics, error) {
	if reg == nil {
		reg = prometheus.DefaultRegisterer
	}
	m := New(opts)
	if err := reg.Register(m); err != nil {
		return nil, fmt.Errorf("prommetrics: register consumer metrics: %w", err)
	}
	return m, nil
}

// Handler serves the metrics gathered by g in the Prometheus exposition format, for a
// /metrics endpoint: http.Handle("/metrics", prommetrics.Handler(reg)). nil g means
// prometheus.DefaultGatherer. Errors while gathering are reported with status 500.
func Handler(g prometheus.Gatherer) http.Handler {
	if g == nil {
		g = prometheus.DefaultGatherer
	}
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError})
}
