package sqsserver

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// params is a request's input in one shape for both protocols: the JSON body's object, or the
// query protocol's flattened form turned into the same tree (see fromForm). Values are strings,
// json.Number, bool, []any or map[string]any.
type params map[string]any

// queryLists renames the query protocol's flattened list members to the JSON protocol's
// names; listMaps turns the lists of Name/Value (or Key/Value) entries into JSON maps.
var queryLists = map[string]string{
	"Attribute":                      "Attributes",
	"Tag":                            "Tags",
	"AttributeName":                  "AttributeNames",
	"MessageSystemAttributeName":     "MessageSystemAttributeNames",
	"MessageAttributeName":           "MessageAttributeNames",
	"MessageAttribute":               "MessageAttributes",
	"MessageSystemAttribute":         "MessageSystemAttributes",
	"TagKey":                         "TagKeys",
	"SendMessageBatchRequestEntry":   "Entries",
	"DeleteMessageBatchRequestEntry": "Entries",
	"ChangeMessageVisibilityBatchRequestEntry": "Entries",
	"AWSAccountId": "AWSAccountIds",
	"ActionName":   "Actions",
}

// listMaps: JSON name of a map -> the key and value member names of its query entries.
var listMaps = map[string][2]string{
	"Attributes":              {"Name", "Value"},
	"Tags":                    {"Key", "Value"},
	"MessageAttributes":       {"Name", "Value"},
	"MessageSystemAttributes": {"Name", "Value"},
}

// fromJSON decodes a JSON request body; an empty body is an empty object.
func fromJSON(body []byte) (params, error) {
	p := params{}
	if len(bytes.TrimSpace(body)) == 0 {
		return p, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("the request body is not a JSON object: %v", err)
	}
	return p, nil
}

// fromForm turns the query protocol's flattened members ("Entry.1.MessageAttribute.2.Value.
// StringValue") into the JSON protocol's tree. Action, Version and the SigV4 query parameters
// are left out. A malformed index is an error.
func fromForm(form url.Values) (params, error) {
	root := map[string]any{}
	names := make([]string, 0, len(form))
	for k := range form {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		switch k {
		case "Action", "Version":
			continue
		}
		if strings.HasPrefix(k, "X-Amz-") {
			continue
		}
		if err := setPath(root, strings.Split(k, "."), form.Get(k)); err != nil {
			return nil, fmt.Errorf("parameter %s: %v", k, err)
		}
	}
	m, ok := convertTree(root, "").(map[string]any)
	if !ok {
		return nil, fmt.Errorf("parameters are numbered without a name")
	}
	return params(m), nil
}

// setPath stores v at path; a numeric segment indexes a list (1-based), kept as a map from
// index until convertTree orders it.
func setPath(node map[string]any, path []string, v string) error {
	for i, seg := range path {
		if seg == "" {
			return fmt.Errorf("empty name segment")
		}
		if i == len(path)-1 {
			if _, ok := node[seg].(map[string]any); ok {
				return fmt.Errorf("given both as a value and as a structure")
			}
			node[seg] = v
			return nil
		}
		next, ok := node[seg].(map[string]any)
		if !ok {
			if _, isVal := node[seg]; isVal {
				return fmt.Errorf("given both as a value and as a structure")
			}
			next = map[string]any{}
			node[seg] = next
		}
		node = next
	}
	return nil
}

// convertTree orders indexed maps into lists, renames lists and turns Name/Value lists into
// maps.
func convertTree(v any, name string) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	if isIndexed(m) {
		idx := make([]int, 0, len(m))
		for k := range m {
			n, _ := strconv.Atoi(k)
			idx = append(idx, n)
		}
		sort.Ints(idx)
		list := make([]any, 0, len(idx))
		for _, n := range idx {
			list = append(list, convertTree(m[strconv.Itoa(n)], ""))
		}
		if kv, ok := listMaps[name]; ok {
			out := map[string]any{}
			for _, e := range list {
				em, _ := e.(map[string]any)
				k, _ := em[kv[0]].(string)
				out[k] = em[kv[1]]
			}
			return out
		}
		return list
	}
	out := make(map[string]any, len(m))
	for k, child := range m {
		jk := k
		if r, ok := queryLists[k]; ok {
			jk = r
		}
		out[jk] = convertTree(child, jk)
	}
	return out
}

func isIndexed(m map[string]any) bool {
	if len(m) == 0 {
		return false
	}
	for k := range m {
		n, err := strconv.Atoi(k)
		if err != nil || n < 1 || strconv.Itoa(n) != k {
			return false
		}
	}
	return true
}

// has reports whether the member was given.
func (p params) has(name string) bool {
	v, ok := p[name]
	return ok && v != nil
}

// str returns a string member ("" when absent).
func (p params) str(name string) (string, error) {
	switch v := p[name].(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	default:
		return "", invalidParam("%s must be a string", name)
	}
}

// required returns a string member that must be present and non-empty.
func (p params) required(name string) (string, error) {
	s, err := p.str(name)
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", &Error{Code: CodeMissingParameter, Message: "The request must contain the parameter " + name + ".", Sender: true}
	}
	return s, nil
}

// integer returns an integer member; ok is false when absent.
func (p params) integer(name string) (n int64, ok bool, err error) {
	var s string
	switch v := p[name].(type) {
	case nil:
		return 0, false, nil
	case json.Number:
		s = v.String()
	case string:
		s = v
	default:
		return 0, false, invalidParam("%s must be an integer", name)
	}
	n, err = strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false, invalidParam("Value %s for parameter %s is invalid. Reason: must be an integer.", s, name)
	}
	return n, true, nil
}

// strings returns a list of strings.
func (p params) strings(name string) ([]string, error) {
	switch v := p[name].(type) {
	case nil:
		return nil, nil
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, invalidParam("%s must be a list of strings", name)
			}
			out = append(out, s)
		}
		return out, nil
	default:
		return nil, invalidParam("%s must be a list of strings", name)
	}
}

// stringMap returns a map of strings.
func (p params) stringMap(name string) (map[string]string, error) {
	switch v := p[name].(type) {
	case nil:
		return nil, nil
	case map[string]any:
		out := make(map[string]string, len(v))
		for k, e := range v {
			switch s := e.(type) {
			case string:
				out[k] = s
			case json.Number:
				out[k] = s.String()
			case bool:
				out[k] = strconv.FormatBool(s)
			default:
				return nil, invalidParam("%s.%s must be a string", name, k)
			}
		}
		return out, nil
	default:
		return nil, invalidParam("%s must be a map of strings", name)
	}
}

// objects returns a list of structures (batch entries).
func (p params) objects(name string) ([]params, error) {
	switch v := p[name].(type) {
	case nil:
		return nil, nil
	case []any:
		out := make([]params, 0, len(v))
		for _, e := range v {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, invalidParam("%s must be a list of structures", name)
			}
			out = append(out, params(m))
		}
		return out, nil
	default:
		return nil, invalidParam("%s must be a list of structures", name)
	}
}

// objectMap returns a map of structures (message attributes).
func (p params) objectMap(name string) (map[string]params, error) {
	switch v := p[name].(type) {
	case nil:
		return nil, nil
	case map[string]any:
		out := make(map[string]params, len(v))
		for k, e := range v {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, invalidParam("%s.%s must be a structure", name, k)
			}
			out[k] = params(m)
		}
		return out, nil
	default:
		return nil, invalidParam("%s must be a map of structures", name)
	}
}

// binary returns a base64 member (both protocols send blobs in base64).
func (p params) binary(name string) ([]byte, bool, error) {
	s, err := p.str(name)
	if err != nil || !p.has(name) {
		return nil, false, err
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, false, invalidParam("%s is not valid base64", name)
	}
	return b, true, nil
}

func invalidParam(format string, args ...any) *Error {
	return &Error{Code: CodeInvalidParameterValue, Message: fmt.Sprintf(format, args...), Sender: true}
}

func base64String(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
