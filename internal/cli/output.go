package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/aws/aws-lambda-go/events"
	"golang.org/x/term"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// printJSON writes v as one line of JSON. Nothing is HTML-escaped: a body of '<' stays one
// byte per character instead of six (\u003c), so lines stay as short as the message allows.
func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// printf writes human-readable output.
func (a *app) printf(format string, args ...any) {
	fmt.Fprintf(a.stdout, format, args...)
}

// table returns a tabwriter on stdout for aligned columns; call Flush when done.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// isTerminal reports whether w is a terminal.
func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// printMessages writes received messages as JSON lines, whatever --json says: 'ddbq delete'
// reads them back.
func (a *app) printMessages(msgs []events.SQSMessage) error {
	for _, m := range msgs {
		if err := a.printJSON(m); err != nil {
			return err
		}
	}
	return nil
}

// sentTime formats the SentTimestamp attribute (epoch milliseconds) as UTC time.
func sentTime(m events.SQSMessage) string {
	ms, err := strconv.ParseInt(m.Attributes[dynamodbqueue.AttributeSentTimestamp], 10, 64)
	if err != nil {
		return "-"
	}
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// abbreviate escapes control and other non-printable characters and shortens s to at most
// n runes.
func abbreviate(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsPrint(r) {
			b.WriteRune(r)
			continue
		}
		q := strconv.QuoteRune(r)
		b.WriteString(q[1 : len(q)-1])
	}
	out := b.String()
	if r := []rune(out); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	if out == "" {
		return `""`
	}
	return out
}
