package webui

import (
	"strings"
	"testing"
)

// TestRenderBody: JSON is pretty-printed, printable text kept as is, and anything else (control
// bytes, invalid UTF-8) shown as hex and base64.
func TestRenderBody(t *testing.T) {
	if b := renderBody(`{"a":[1,2]}`); b.Kind != "json" || b.Text != "{\n  \"a\": [\n    1,\n    2\n  ]\n}" {
		t.Errorf("JSON: %+v", b)
	}
	if b := renderBody("hello\nwörld\t!"); b.Kind != "text" || b.Text != "hello\nwörld\t!" {
		t.Errorf("text: %+v", b)
	}
	b := renderBody("\x00\x01\xffab")
	if b.Kind != "binary" || b.Base64 != "AAH/YWI=" || !strings.HasPrefix(b.Hex, "00000000  00 01 ff 61 62") || b.Size != 5 {
		t.Errorf("binary: %+v", b)
	}
}

// TestChartScalesAndEscapes: the chart's axis tops out at a round number above the data, and
// a series name is escaped.
func TestChartScalesAndEscapes(t *testing.T) {
	for v, want := range map[float64]float64{0: 1, 0.5: 1, 3: 5, 12: 20, 100: 100, 101: 200} {
		if got := niceCeil(v); got != want {
			t.Errorf("niceCeil(%v) = %v, want %v", v, got, want)
		}
	}
	svg := string(chart("t", "u", nil, nil))
	if !strings.Contains(svg, "not enough samples") {
		t.Errorf("empty chart: %s", svg)
	}
}
