package webui

import (
	"fmt"
	"html/template"
	"math"
	"strings"
	"time"
)

// Charts are drawn on the server as inline SVG: a few polylines over the sampler's series, with
// labelled axes. No script runs in the browser, and the page works offline.

// series is one line of a chart.
type series struct {
	Name  string
	Class string // CSS class giving the line its colour (s1..s4)
	Y     []float64
}

const (
	chartW, chartH = 560, 180
	padL, padR     = 52, 10
	padT, padB     = 10, 34
)

// chart renders a line chart of the series over times (one Y per time) as SVG.
func chart(title, unit string, times []time.Time, lines []series) template.HTML {
	var b strings.Builder
	fmt.Fprintf(&b, `<figure class="chart"><figcaption>%s</figcaption>`, template.HTMLEscapeString(title))
	fmt.Fprintf(&b, `<svg viewBox="0 0 %d %d" role="img" aria-label="%s">`, chartW, chartH, template.HTMLEscapeString(title))
	if len(times) < 2 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="empty">not enough samples yet</text></svg></figure>`, chartW/2-70, chartH/2)
		return template.HTML(b.String())
	}
	maxY := 0.0
	for _, s := range lines {
		for _, y := range s.Y {
			maxY = math.Max(maxY, y)
		}
	}
	maxY = niceCeil(maxY)
	t0, t1 := times[0], times[len(times)-1]
	span := t1.Sub(t0).Seconds()
	x := func(t time.Time) float64 {
		return padL + (chartW-padL-padR)*t.Sub(t0).Seconds()/span
	}
	y := func(v float64) float64 { return padT + (chartH-padT-padB)*(1-v/maxY) }
	// Grid and Y labels: 0, half, max.
	for _, v := range []float64{0, maxY / 2, maxY} {
		fmt.Fprintf(&b, `<line class="grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>`, padL, chartW-padR, y(v), y(v))
		fmt.Fprintf(&b, `<text class="ylab" x="%d" y="%.1f">%s</text>`, padL-4, y(v)+4, formatNum(v))
	}
	fmt.Fprintf(&b, `<text class="xlab" x="%d" y="%d">%s</text>`, padL, chartH-18, t0.Format("15:04:05"))
	fmt.Fprintf(&b, `<text class="xlab end" x="%d" y="%d">%s</text>`, chartW-padR, chartH-18, t1.Format("15:04:05"))
	fmt.Fprintf(&b, `<text class="xlab mid" x="%d" y="%d">%s</text>`, (chartW+padL)/2, chartH-18, template.HTMLEscapeString(unit))
	lx := padL
	for _, s := range lines {
		var pts strings.Builder
		for i, v := range s.Y {
			fmt.Fprintf(&pts, "%.1f,%.1f ", x(times[i]), y(v))
		}
		fmt.Fprintf(&b, `<polyline class="line %s" points="%s"/>`, s.Class, strings.TrimSpace(pts.String()))
		fmt.Fprintf(&b, `<rect class="%s" x="%d" y="%d" width="10" height="4"/><text class="legend" x="%d" y="%d">%s</text>`,
			s.Class, lx, chartH-6, lx+14, chartH-2, template.HTMLEscapeString(s.Name))
		lx += 24 + 7*len(s.Name)
	}
	b.WriteString(`</svg></figure>`)
	return template.HTML(b.String())
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten (at least 1), so axis labels read well.
func niceCeil(v float64) float64 {
	if v <= 1 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func formatNum(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.2g", v)
}
