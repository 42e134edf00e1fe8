package tracing

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/trace"
)

// ErrInvalidAWSTraceHeader is wrapped by ParseAWSTraceHeader's errors.
var ErrInvalidAWSTraceHeader = errors.New("tracing: invalid AWSTraceHeader")

// ParseAWSTraceHeader converts an AWS X-Ray trace header, as SQS clients send in the
// AWSTraceHeader system attribute, to a remote span context:
// "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1" is trace ID
// 5759e988bd862e3fe1be46a994272793, span ID 53995c3f42cd8ad8, sampled. Fields other than
// Root, Parent and Sampled (Lineage, Self, ...) are ignored; Sampled other than 1 (0, "?",
// missing) is not sampled. Root and Parent are required.
func ParseAWSTraceHeader(h string) (trace.SpanContext, error) {
	var cfg trace.SpanContextConfig
	var root, parent bool
	for field := range strings.SplitSeq(h, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(field), "=")
		switch k {
		case "Root":
			// 1-<8 hex: epoch seconds>-<24 hex>
			ver, rest, ok := strings.Cut(v, "-")
			epoch, random, ok2 := strings.Cut(rest, "-")
			if !ok || !ok2 || ver != "1" || len(epoch) != 8 || len(random) != 24 {
				return trace.SpanContext{}, fmt.Errorf("%w: Root %q", ErrInvalidAWSTraceHeader, v)
			}
			if _, err := hex.Decode(cfg.TraceID[:], []byte(epoch+random)); err != nil {
				return trace.SpanContext{}, fmt.Errorf("%w: Root %q", ErrInvalidAWSTraceHeader, v)
			}
			root = true
		case "Parent":
			if len(v) != 16 {
				return trace.SpanContext{}, fmt.Errorf("%w: Parent %q", ErrInvalidAWSTraceHeader, v)
			}
			if _, err := hex.Decode(cfg.SpanID[:], []byte(v)); err != nil {
				return trace.SpanContext{}, fmt.Errorf("%w: Parent %q", ErrInvalidAWSTraceHeader, v)
			}
			parent = true
		case "Sampled":
			if v == "1" {
				cfg.TraceFlags = trace.FlagsSampled
			}
		}
	}
	if !root || !parent {
		return trace.SpanContext{}, fmt.Errorf("%w: %q needs Root and Parent", ErrInvalidAWSTraceHeader, h)
	}
	cfg.Remote = true
	sc := trace.NewSpanContext(cfg)
	if !sc.IsValid() { // all-zero IDs
		return trace.SpanContext{}, fmt.Errorf("%w: %q has a zero ID", ErrInvalidAWSTraceHeader, h)
	}
	return sc, nil
}

// FormatAWSTraceHeader writes sc in X-Ray format, the inverse of ParseAWSTraceHeader: the
// first 8 hex digits of the trace ID are the Root's epoch part.
func FormatAWSTraceHeader(sc trace.SpanContext) string {
	id := sc.TraceID().String()
	sampled := "0"
	if sc.IsSampled() {
		sampled = "1"
	}
	return "Root=1-" + id[:8] + "-" + id[8:] + ";Parent=" + sc.SpanID().String() + ";Sampled=" + sampled
}
