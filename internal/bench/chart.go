package bench

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Series is raw data of a result that its charts are drawn from: Y values, and X values for
// series over time (empty otherwise).
type Series struct {
	Name string    `json:"name"`
	X    []float64 `json:"x,omitempty"`
	Y    []float64 `json:"y"`
}

// Series names.
const (
	// SeriesLatency: push-to-handle latency of each timed message, in ms.
	SeriesLatency = "latency_ms"
	// SeriesLatencyOverTime: the same, X being the seconds since the measured window opened.
	SeriesLatencyOverTime = "latency_ms_over_time"
)

// series returns the named series of r, or nil.
func (r *Result) series(name string) *Series {
	for i := range r.Series {
		if r.Series[i].Name == name {
			return &r.Series[i]
		}
	}
	return nil
}

// ChartRun is a report with a label, for charts that compare runs (before and after a change,
// one server and another).
type ChartRun struct {
	Label  string
	Report *Report
}

// WriteCharts writes the charts of a report as SVG files into dir (created if missing) and
// returns their paths:
//   - latency-<result>.svg: a histogram of the push-to-handle latency of every result that
//     recorded one (tenants-idle, fairness);
//   - tenants-idle-cost.svg: idle DynamoDB requests per second against the tenant count;
//   - tenants-idle-tradeoff.svg: idle requests per second against the p50 latency, one point
//     per watcher tick interval;
//   - fairness-quiet-latency.svg: the quiet tenants' latency over time during the
//     noisy-neighbour run.
//
// Charts whose workload did not run are not written.
func WriteCharts(dir string, rep *Report) ([]string, error) {
	return WriteComparisonCharts(dir, "svg", ChartRun{Report: rep})
}

// WriteComparisonCharts is WriteCharts for several runs, in format "svg" or "png": the
// idle-cost and trade-off charts draw one line per run (labelled with its Label), the other
// charts are written per run (the label, made file-safe, prefixes their names).
func WriteComparisonCharts(dir, format string, runs ...ChartRun) ([]string, error) {
	if format != "svg" && format != "png" {
		return nil, fmt.Errorf("bench: chart format %q, want svg or png", format)
	}
	ext := "." + format
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	var errs []error
	save := func(p *plot.Plot, name string) {
		path := filepath.Join(dir, strings.TrimSuffix(name, ".svg")+ext)
		if err := p.Save(16*vg.Centimeter, 10*vg.Centimeter, path); err != nil {
			errs = append(errs, fmt.Errorf("chart %s: %w", name, err))
			return
		}
		paths = append(paths, path)
	}
	for _, run := range runs {
		prefix := ""
		if run.Label != "" {
			prefix = slug(run.Label) + "-"
		}
		for _, r := range run.Report.Results {
			if s := r.series(SeriesLatency); s != nil && len(s.Y) > 0 {
				p, err := latencyHistogram(r, s.Y, run.Label)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				save(p, prefix+"latency-"+slug(r.Name)+".svg")
			}
			if s := r.series(SeriesLatencyOverTime); s != nil && len(s.Y) > 0 {
				p, err := latencyOverTime(r, s, run.Label)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				save(p, prefix+"fairness-quiet-latency.svg")
			}
		}
	}
	if p, err := idleCostChart(runs); err != nil {
		errs = append(errs, err)
	} else if p != nil {
		save(p, "tenants-idle-cost.svg")
	}
	if p, err := tradeoffChart(runs); err != nil {
		errs = append(errs, err)
	} else if p != nil {
		save(p, "tenants-idle-tradeoff.svg")
	}
	return paths, errors.Join(errs...)
}

func titled(title, label string) *plot.Plot {
	p := plot.New()
	if label != "" {
		title += " — " + label
	}
	p.Title.Text = title
	p.Add(plotter.NewGrid())
	return p
}

func latencyHistogram(r *Result, ys []float64, label string) (*plot.Plot, error) {
	p := titled(shorten(r.Name, 70), label)
	p.X.Label.Text = "push-to-handle latency (ms)"
	p.Y.Label.Text = "messages"
	// A long tail (messages counted at the drain bound, say) would squash the body of the
	// histogram into one bar: beyond 10x the median, values are left out and counted.
	shown, cut := ys, 0
	if l := r.Latency; l != nil && l.P50 > 0 {
		shown = nil
		for _, y := range ys {
			if y > 10*l.P50 {
				cut++
				continue
			}
			shown = append(shown, y)
		}
		if cut > 0 {
			p.X.Label.Text += fmt.Sprintf(" — %d above %.0f ms not shown", cut, 10*l.P50)
		}
	}
	h, err := plotter.NewHist(plotter.Values(shown), min(max(len(shown)/4, 5), 50))
	if err != nil {
		return nil, fmt.Errorf("histogram of %s: %w", r.Name, err)
	}
	h.FillColor = color.RGBA{R: 70, G: 130, B: 180, A: 255}
	p.Add(h)
	if l := r.Latency; l != nil {
		p.Legend.Add(fmt.Sprintf("p50 %.0f ms, p95 %.0f ms, p99 %.0f ms (n=%d)", l.P50, l.P95, l.P99, l.N), h)
		p.Legend.Top = true
	}
	return p, nil
}

func latencyOverTime(r *Result, s *Series, label string) (*plot.Plot, error) {
	p := titled("quiet tenants' latency next to a backlogged tenant", label)
	p.X.Label.Text = "seconds into the run"
	p.Y.Label.Text = "push-to-handle latency (ms)"
	pts := make(plotter.XYs, len(s.Y))
	for i := range s.Y {
		pts[i] = plotter.XY{X: s.X[i], Y: s.Y[i]}
	}
	sc, err := plotter.NewScatter(pts)
	if err != nil {
		return nil, fmt.Errorf("latency over time of %s: %w", r.Name, err)
	}
	sc.GlyphStyle.Radius = vg.Points(1.5)
	p.Add(sc)
	if l := r.Latency; l != nil {
		p.Legend.Add(fmt.Sprintf("p95 %.0f ms, noisy tenant at %.0f%% of capacity", l.P95, 100*r.Figures["drain_fraction"]), sc)
		p.Legend.Top = true
	}
	return p, nil
}

// idleResults returns the tenants-idle results of the main runs (not the trade-off), by
// tenant count.
func idleResults(rep *Report, tradeoff bool) []*Result {
	var out []*Result
	for _, r := range rep.Results {
		if r.Workload == WorkloadTenantsIdle && (r.Figures["tradeoff"] == 1) == tradeoff {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b *Result) int { return cmp.Compare(a.Figures["tenants"], b.Figures["tenants"]) })
	return out
}

func idleCostChart(runs []ChartRun) (*plot.Plot, error) {
	p := titled("idle cost of one process against the tenant count", "")
	p.X.Label.Text = "tenants served (log scale)"
	p.Y.Label.Text = "DynamoDB requests/s while all are idle"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	drawn := 0
	for i, run := range runs {
		rs := idleResults(run.Report, false)
		if len(rs) == 0 {
			continue
		}
		pts := make(plotter.XYs, len(rs))
		for j, r := range rs {
			pts[j] = plotter.XY{X: r.Figures["tenants"], Y: r.Figures["idle_requests_per_sec"]}
		}
		l, s, err := plotter.NewLinePoints(pts)
		if err != nil {
			return nil, fmt.Errorf("idle cost chart: %w", err)
		}
		l.Color, s.Color = plotutil.Color(i), plotutil.Color(i)
		s.Shape = plotutil.Shape(i)
		p.Add(l, s)
		p.Legend.Add(cmp.Or(run.Label, "this run"), l, s)
		drawn++
	}
	if drawn == 0 {
		return nil, nil
	}
	p.Y.Min = 0
	p.Legend.Top, p.Legend.Left = true, true
	return p, nil
}

func tradeoffChart(runs []ChartRun) (*plot.Plot, error) {
	p := titled("watcher tick interval: idle cost against latency", "")
	p.X.Label.Text = "DynamoDB requests/s of the idle process"
	p.Y.Label.Text = "push-to-handle p50 (ms)"
	drawn := 0
	for i, run := range runs {
		rs := idleResults(run.Report, true)
		if len(rs) == 0 {
			continue
		}
		slices.SortFunc(rs, func(a, b *Result) int { return cmp.Compare(a.Figures["tick_ms"], b.Figures["tick_ms"]) })
		pts := make(plotter.XYs, 0, len(rs))
		var labels []string
		for _, r := range rs {
			if r.Latency == nil {
				continue
			}
			pts = append(pts, plotter.XY{X: r.Figures["idle_requests_per_sec"], Y: r.Latency.P50})
			labels = append(labels, fmt.Sprintf(" %g ms", r.Figures["tick_ms"]))
		}
		if len(pts) == 0 {
			continue
		}
		l, s, err := plotter.NewLinePoints(pts)
		if err != nil {
			return nil, fmt.Errorf("trade-off chart: %w", err)
		}
		l.Color, s.Color = plotutil.Color(i), plotutil.Color(i)
		s.Shape = plotutil.Shape(i)
		lb, err := plotter.NewLabels(plotter.XYLabels{XYs: pts, Labels: labels})
		if err != nil {
			return nil, fmt.Errorf("trade-off chart: %w", err)
		}
		p.Add(l, s, lb)
		p.Legend.Add(fmt.Sprintf("%s (T=%g, label: tick)", cmp.Or(run.Label, "this run"), rs[0].Figures["tenants"]), l, s)
		drawn++
	}
	if drawn == 0 {
		return nil, nil
	}
	p.X.Min, p.Y.Min = 0, 0
	p.Legend.Top = true
	return p, nil
}

var nonSlug = regexp.MustCompile(`[^a-z0-9]+`)

// slug makes a file-name part of s: lower case, runs of other characters as one '-', at most
// 60 characters.
func slug(s string) string {
	s = strings.Trim(nonSlug.ReplaceAllString(strings.ToLower(s), "-"), "-")
	return strings.TrimRight(shorten(s, 60), "-")
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// ReadReport reads a report written by Report.WriteJSON (`ddbq bench --json`), for charts
// that compare saved runs.
func ReadReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("bench: %s: %w", path, err)
	}
	return &rep, nil
}

// ParseChartRuns reads "label=report.json,label=report.json" (the -compare flag of benchmain)
// into labelled runs.
func ParseChartRuns(s string) ([]ChartRun, error) {
	var out []ChartRun
	for _, f := range strings.Split(s, ",") {
		label, path, ok := strings.Cut(strings.TrimSpace(f), "=")
		if !ok || label == "" || path == "" {
			return nil, fmt.Errorf("bench: %q is not label=report.json", f)
		}
		rep, err := ReadReport(path)
		if err != nil {
			return nil, err
		}
		out = append(out, ChartRun{Label: label, Report: rep})
	}
	return out, nil
}
