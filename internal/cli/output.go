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

// printMessages writes messages as JSON lines (with --json, or when jsonAlways) or as a
// table of ID, sent time, receive count and body.
func (a *app) printMessages(msgs []events.SQSMessage, jsonAlways bool) error {
	if a.g.json || jsonAlways {
		for _, m := range msgs {
			if err := a.printJSON(m); err != nil {
				return err
			}
		}
		return nil
	}
	if len(msgs) == 0 {
		a.printf("no messages\n")
		return nil
	}
	tw := newTable(a.stdout)
	fmt.Fprintln(tw, "MESSAGE ID\tSENT\tRECEIVES\tGROUP\tBODY")
	for _, m := range msgs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.MessageId, sentTime(m), dash(m.Attributes[dynamodbqueue.AttributeApproximateReceiveCount]),
			dash(m.Attributes[dynamodbqueue.AttributeMessageGroupID]), abbreviate(m.Body, 60))
	}
	return tw.Flush()
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
