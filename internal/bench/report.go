package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the outcome of Run.
type Report struct {
	Endpoint  string    `json:"endpoint"`
	Started   time.Time `json:"started"`
	Seconds   float64   `json:"seconds"`
	GoVersion string    `json:"go_version"`
	CPUs      int       `json:"cpus"`
	Config    Config    `json:"config"`
	Results   []*Result `json:"results"`
	Targets   []Target  `json:"targets"`
	// IndexCapacity says where the index write units come from: IndexReported,
	// IndexEstimated, IndexMixed, or "" when no result wrote to an index.
	IndexCapacity string `json:"index_capacity,omitempty"`
}

// The values of Report.IndexCapacity.
const (
	// IndexReported: the endpoint reported every index write unit (AWS, DynamoDB Local).
	IndexReported = "reported"
	// IndexEstimated: the endpoint reported none; the Meter computed them (dynalite).
	IndexEstimated = "estimated"
	// IndexMixed: some were reported, some computed.
	IndexMixed = "partly estimated"
)

// indexCapacity is Report.IndexCapacity for the results.
func indexCapacity(results []*Result) string {
	var reported, estimated bool
	for _, r := range results {
		estimated = estimated || r.Total.EstIndexWCU > 0
		reported = reported || r.Total.IndexWCU > r.Total.EstIndexWCU
	}
	switch {
	case reported && estimated:
		return IndexMixed
	case estimated:
		return IndexEstimated
	case reported:
		return IndexReported
	}
	return ""
}

// Result is one measured workload (or one variant of it, such as one K of head-of-line).
type Result struct {
	Workload string `json:"workload"`
	Name     string `json:"name"`
	// Unit is what the per-unit figures divide by: "msg" (messages) or "poll".
	Unit  string `json:"unit"`
	Units int    `json:"units"`

	Messages  int     `json:"messages"`
	Producers int     `json:"producers,omitempty"`
	Consumers int     `json:"consumers,omitempty"`
	BodySize  int     `json:"body_size,omitempty"`
	Seconds   float64 `json:"seconds"`
	// MsgsPerSec is messages fully processed (pushed, received and deleted) per second.
	MsgsPerSec float64 `json:"msgs_per_sec,omitempty"`
	Lost       int     `json:"lost"`
	Duplicates int     `json:"duplicates"`
	// Latency is per message (latency: push to receive) or per poll (head-of-line).
	Latency *Percentiles `json:"latency,omitempty"`
	// Ops are the DynamoDB operations the measured phase sent, Total their sum.
	Ops   []OpStats `json:"ops"`
	Total OpStats   `json:"total"`
	// Figures holds workload-specific numbers, e.g. "ratio_to_floor".
	Figures map[string]float64 `json:"figures,omitempty"`
	Notes   []string           `json:"notes,omitempty"`
	// Series is raw data the charts are drawn from (chart.go), e.g. every latency.
	Series []Series `json:"series,omitempty"`
}

func (r *Result) setUsage(u Usage) {
	r.Ops = u.Sorted()
	r.Total = u.Total()
}

// Per returns x divided by the result's units (0 when there are none).
func (r *Result) Per(x float64) float64 {
	if r.Units == 0 {
		return 0
	}
	return x / float64(r.Units)
}

// Op returns the stats of one operation (zero if it was not used).
func (r *Result) Op(name string) OpStats {
	for _, o := range r.Ops {
		if o.Op == name {
			return o
		}
	}
	return OpStats{Op: name}
}

func (r *Result) figure(name string, v float64) {
	if r.Figures == nil {
		r.Figures = map[string]float64{}
	}
	r.Figures[name] = v
}

// Target is one of the performance targets, checked against this run's figures.
type Target struct {
	Name string `json:"name"`
	Want string `json:"want"`
	Got  string `json:"got"`
	Met  bool   `json:"met"`
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report as text tables.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "dynamodbqueue bench: endpoint %s, %s, %d CPUs, %.1fs\n", r.Endpoint, r.GoVersion, r.CPUs, r.Seconds)
	if r.IndexCapacity != "" {
		fmt.Fprintf(&b, "index write units: %s\n", indexCapacityText[r.IndexCapacity])
	}
	for _, res := range r.Results {
		b.WriteString("\n")
		writeResult(&b, res)
	}
	if len(r.Targets) > 0 {
		b.WriteString("\nTARGETS\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  TARGET\tWANT\tGOT\tMET")
		for _, t := range r.Targets {
			met := "yes"
			if !t.Met {
				met = "NO"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", t.Name, t.Want, t.Got, met)
		}
		tw.Flush()
	}
	b.WriteString(capacityFootnote)
	_, err := io.WriteString(w, b.String())
	return err
}

var indexCapacityText = map[string]string{
	IndexReported:  "reported by the endpoint",
	IndexEstimated: "estimated (the endpoint reports none; marked *)",
	IndexMixed:     "partly estimated (where the endpoint reported none; marked *)",
}

const capacityFootnote = `
Capacity columns: RCU (table and index reads) and WCU (table writes) as the endpoint reported
them (ReturnConsumedCapacity=INDEXES); LSI = write units of the "vis" local secondary index, as
the endpoint reported them, or * estimated where it reported none (dynalite): 1 per entry put
or removed, 2 when a write changes the index key, per KB of item; est = billed but not
reported: 1 WCU per write whose condition failed, and the minimum read charge (0.5 RCU
eventually consistent, 1 strongly consistent) for reads reported as 0.
`

func writeResult(b *strings.Builder, r *Result) {
	fmt.Fprintf(b, "== %s\n", r.Name)
	var parts []string
	if r.Producers > 0 || r.Consumers > 0 {
		parts = append(parts, fmt.Sprintf("P=%d C=%d", r.Producers, r.Consumers))
	}
	if r.BodySize > 0 {
		parts = append(parts, fmt.Sprintf("body %s", FormatBytes(r.BodySize)))
	}
	parts = append(parts, fmt.Sprintf("%d messages in %.2fs", r.Messages, r.Seconds))
	if r.MsgsPerSec > 0 {
		parts = append(parts, fmt.Sprintf("%.0f msg/s", r.MsgsPerSec))
	}
	parts = append(parts, fmt.Sprintf("lost %d, duplicates %d", r.Lost, r.Duplicates))
	fmt.Fprintf(b, "   %s\n", strings.Join(parts, ", "))
	if l := r.Latency; l != nil && l.N > 0 {
		what := "latency"
		if r.Unit == "poll" {
			what = "poll latency"
		}
		fmt.Fprintf(b, "   %s ms (n=%d): p50 %.2f  p95 %.2f  p99 %.2f  mean %.2f  max %.2f\n", what, l.N, l.P50, l.P95, l.P99, l.Mean, l.Max)
	}
	if len(r.Figures) > 0 {
		names := make([]string, 0, len(r.Figures))
		for n := range r.Figures {
			names = append(names, n)
		}
		sort.Strings(names)
		var fs []string
		for _, n := range names {
			fs = append(fs, fmt.Sprintf("%s %s", n, trimFloat(r.Figures[n])))
		}
		fmt.Fprintf(b, "   %s\n", strings.Join(fs, ", "))
	}
	u := r.Unit
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "   OPERATION\tREQUESTS\tREQ/%s\tCOND FAIL\tITEMS\tRCU/%s\tWCU/%s\tLSI WCU/%s\test WCU/%s\test RCU/%s\tTOTAL WCU/%s\t\n", u, u, u, u, u, u, u)
	row := func(o OpStats) {
		lsi := fmt.Sprintf("%.3f", r.Per(o.IndexWCU))
		if o.IndexEstimated() {
			lsi += "*"
		}
		fmt.Fprintf(tw, "   %s\t%d\t%.3f\t%d\t%d\t%.3f\t%.3f\t%s\t%.3f\t%.3f\t%.3f\t\n",
			o.Op, o.Requests, r.Per(float64(o.Requests)), o.ConditionFailed, o.Items,
			r.Per(o.RCU), r.Per(o.WCU), lsi, r.Per(o.EstWCU), r.Per(o.EstRCU), r.Per(o.TotalWCU()))
	}
	for _, o := range r.Ops {
		row(o)
	}
	row(r.Total)
	tw.Flush()
	if r.Total.IndexEstimated() {
		fmt.Fprintf(b, "   * index WCU (estimated): %.3f of %.3f LSI WCU/%s computed by the meter, not reported by the endpoint\n",
			r.Per(r.Total.EstIndexWCU), r.Per(r.Total.IndexWCU), u)
	}
	if rb := r.Total.ReadBytes; rb > 0 {
		fmt.Fprintf(b, "   items read back: %.3f KB/%s (queries and gets %.3f, writes and failed conditions %.3f)\n",
			r.Per(float64(rb))/1000, u, r.Per(float64(readOps(r.Ops)))/1000, r.Per(float64(rb-readOps(r.Ops)))/1000)
	}
	if r.Total.Attempts > r.Total.Requests || r.Total.Errors > 0 {
		fmt.Fprintf(b, "   attempts %d for %d requests (SDK retries), %d errors\n", r.Total.Attempts, r.Total.Requests, r.Total.Errors)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(b, "   note: %s\n", n)
	}
}

// readOps is the ReadBytes of the read operations among ops (the rest came back from writes).
func readOps(ops []OpStats) int64 {
	var n int64
	for _, o := range ops {
		switch o.Op {
		case "Query", "Scan", "GetItem", "BatchGetItem":
			n += o.ReadBytes
		}
	}
	return n
}

// FormatBytes prints a size as 256 B, 4 KiB, 1 MiB.
func FormatBytes(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

func trimFloat(v float64) string {
	s := fmt.Sprintf("%.3f", v)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}
