package sqsserver

import (
	"bytes"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
)

// A response is built once as an ordered tree and written in the request's protocol: JSON
// objects for the JSON protocol, the query protocol's XML with its flattened lists otherwise.
type (
	// obj is a structure: members in order.
	obj []member
	// member is one member; xml names it in the query protocol when that differs (a flattened
	// list's element name).
	member struct {
		name, xml string
		v         any
	}
	// list is a list; in XML each item is an element named after the member (flattened).
	list []any
	// kvMap is a map of strings: a JSON object, or flattened <entry><Key/><Value/></entry>.
	kvMap struct {
		m          map[string]string
		key, value string
	}
	// attrMap is a map of message attributes (name -> DataType, StringValue, BinaryValue).
	attrMap map[string]obj
)

func (o obj) add(name string, v any) obj { return append(o, member{name: name, v: v}) }

// addx adds a member whose query-protocol element name differs.
func (o obj) addx(name, xmlName string, v any) obj {
	return append(o, member{name: name, xml: xmlName, v: v})
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// writeJSON renders v as JSON.
func writeJSON(b *bytes.Buffer, v any) {
	switch v := v.(type) {
	case obj:
		b.WriteByte('{')
		for i, m := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(b, m.name)
			b.WriteByte(':')
			writeJSON(b, m.v)
		}
		b.WriteByte('}')
	case list:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSON(b, e)
		}
		b.WriteByte(']')
	case kvMap:
		b.WriteByte('{')
		for i, k := range sortedKeys(v.m) {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(b, k)
			b.WriteByte(':')
			writeJSONString(b, v.m[k])
		}
		b.WriteByte('}')
	case attrMap:
		b.WriteByte('{')
		for i, k := range sortedKeys(v) {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(b, k)
			b.WriteByte(':')
			writeJSON(b, v[k])
		}
		b.WriteByte('}')
	case string:
		writeJSONString(b, v)
	case int:
		b.WriteString(strconv.Itoa(v))
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case bool:
		b.WriteString(strconv.FormatBool(v))
	default:
		b.WriteString("null")
	}
}

func writeJSONString(b *bytes.Buffer, s string) {
	enc, _ := json.Marshal(s)
	b.Write(enc)
}

// writeXML renders the members of o as XML elements.
func writeXML(b *bytes.Buffer, o obj) {
	for _, m := range o {
		name := m.name
		if m.xml != "" {
			name = m.xml
		}
		switch v := m.v.(type) {
		case list:
			for _, e := range v {
				writeXMLElem(b, name, e)
			}
		case kvMap:
			for _, k := range sortedKeys(v.m) {
				b.WriteString("<" + name + ">")
				writeXMLElem(b, v.key, k)
				writeXMLElem(b, v.value, v.m[k])
				b.WriteString("</" + name + ">")
			}
		case attrMap:
			for _, k := range sortedKeys(v) {
				b.WriteString("<" + name + ">")
				writeXMLElem(b, "Name", k)
				writeXMLElem(b, "Value", v[k])
				b.WriteString("</" + name + ">")
			}
		default:
			writeXMLElem(b, name, v)
		}
	}
}

func writeXMLElem(b *bytes.Buffer, name string, v any) {
	b.WriteString("<" + name + ">")
	switch v := v.(type) {
	case obj:
		writeXML(b, v)
	case string:
		xmlEscaper.WriteString(b, v)
	case int:
		b.WriteString(strconv.Itoa(v))
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case bool:
		b.WriteString(strconv.FormatBool(v))
	}
	b.WriteString("</" + name + ">")
}

// xmlEscaper escapes text content as SQS does: the markup characters, and carriage returns
// (which an XML parser would otherwise turn into newlines); newlines, tabs and quotes stay as
// they are, which every client's parser reads back unchanged.
var xmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\r", "&#xD;")
