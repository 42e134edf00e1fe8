package webui

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// shownBody is a message body prepared for display.
type shownBody struct {
	Kind   string // "json", "text" or "binary"
	Text   string // the pretty-printed JSON or the text
	Hex    string // for binary: a hex dump
	Base64 string // for binary: base64
	Size   int
}

// renderBody shows JSON pretty-printed, printable UTF-8 as text, and anything else (control
// characters, invalid UTF-8) as a hex dump and base64.
func renderBody(body string) shownBody {
	b := shownBody{Size: len(body)}
	if json.Valid([]byte(body)) {
		var out bytes.Buffer
		if err := json.Indent(&out, []byte(body), "", "  "); err == nil {
			b.Kind, b.Text = "json", out.String()
			return b
		}
	}
	if printable(body) {
		b.Kind, b.Text = "text", body
		return b
	}
	b.Kind, b.Hex, b.Base64 = "binary", hex.Dump([]byte(body)), base64.StdEncoding.EncodeToString([]byte(body))
	return b
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) && !unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

// shownAttr is one message attribute prepared for display.
type shownAttr struct {
	Name, Type, Value string
}

func messageAttributes(m events.SQSMessage) []shownAttr {
	var out []shownAttr
	for _, name := range slices.Sorted(maps.Keys(m.MessageAttributes)) {
		a := m.MessageAttributes[name]
		v := ""
		switch {
		case a.StringValue != nil:
			v = *a.StringValue
		case a.BinaryValue != nil:
			v = "base64:" + base64.StdEncoding.EncodeToString(a.BinaryValue)
		}
		out = append(out, shownAttr{Name: name, Type: a.DataType, Value: v})
	}
	return out
}

func systemAttributes(m events.SQSMessage) []shownAttr {
	var out []shownAttr
	for _, name := range slices.Sorted(maps.Keys(m.Attributes)) {
		out = append(out, shownAttr{Name: name, Value: m.Attributes[name]})
	}
	return out
}
