package sqsserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
)

// patience bounds every test's requests; nothing here should take more than a few seconds.
const patience = 60 * time.Second

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	t.Cleanup(cancel)
	return ctx
}

// testKeys is the test Authenticator: the X-Test-Key header names a key.
type testKeys map[string]Principal

func (k testKeys) Authenticate(r *http.Request, _ []byte) (Principal, error) {
	p, ok := k[r.Header.Get("X-Test-Key")]
	if !ok {
		return Principal{}, &Error{Code: CodeInvalidClientTokenID, Message: "The security token included in the request is invalid.", Sender: true}
	}
	return p, nil
}

var keys = testKeys{
	"key-a":     {AccessKeyID: "key-a", ClientIDs: []string{"tenant-a"}},
	"key-b":     {AccessKeyID: "key-b", ClientIDs: []string{"tenant-b"}},
	"key-admin": {AccessKeyID: "key-admin", Admin: true, ClientIDs: []string{"tenant-a"}},
}

// newTable creates a fresh table and returns a queue Client on it.
func newTable(t testing.TB) *dynamodbqueue.Client {
	t.Helper()
	return newTableWith(t, dynamodbqueue.Options{DefinitionStaleness: time.Second})
}

// newTableWith is newTable with the client's options: the table, signing key and logger are
// set here, and the API too unless opts has one.
func newTableWith(t testing.TB, opts dynamodbqueue.Options) *dynamodbqueue.Client {
	t.Helper()
	if opts.API == nil {
		opts.API = testenv.Client(t)
	}
	opts.Table, opts.SigningKey, opts.Logger = testenv.TableName(t), []byte("test-signing-key"), slog.New(slog.DiscardHandler)
	c, err := dynamodbqueue.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	q, _ := c.Queue("x", "x")
	if _, err := q.CreateQueueTable(ctxT(t)); err != nil {
		t.Fatalf("CreateQueueTable: %v", err)
	}
	t.Cleanup(func() { _ = q.DropQueueTable(context.Background()) })
	return c
}

// endpoint is a Server on an httptest listener.
type endpoint struct {
	srv *Server
	url string
}

func newEndpoint(t testing.TB, c *dynamodbqueue.Client) *endpoint {
	t.Helper()
	srv, err := New(Options{Client: c, Auth: keys, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return &endpoint{srv: srv, url: hs.URL}
}

// protocols are the two wire protocols every test runs in.
var protocols = []string{"json", "query"}

// resp is one response: status, headers and body, in either protocol.
type resp struct {
	status int
	header http.Header
	body   string
	json   map[string]any
	proto  string
}

// call sends action with input in the JSON protocol's shape; for the query protocol the input
// is flattened the way SDKs flatten it.
func (e *endpoint) call(t testing.TB, proto, key, action string, in map[string]any) resp {
	t.Helper()
	var req *http.Request
	var err error
	if proto == "json" {
		b, _ := json.Marshal(in)
		req, err = http.NewRequestWithContext(ctxT(t), http.MethodPost, e.url+"/", bytes.NewReader(b))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-amz-json-1.0")
			req.Header.Set("X-Amz-Target", "AmazonSQS."+action)
		}
	} else {
		form := url.Values{"Action": {action}, "Version": {"2012-11-05"}}
		flatten(form, "", in)
		req, err = http.NewRequestWithContext(ctxT(t), http.MethodPost, e.url+"/", strings.NewReader(form.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("X-Test-Key", key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", proto, action, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	r := resp{status: res.StatusCode, header: res.Header, body: string(b), proto: proto}
	if proto == "json" {
		if err := json.Unmarshal(b, &r.json); err != nil {
			t.Fatalf("%s: response is not JSON: %q", action, b)
		}
	}
	return r
}

// queryNames are the query protocol's names of list and map members.
var queryNames = map[string]string{
	"Attributes": "Attribute", "Tags": "Tag", "tags": "Tag", "AttributeNames": "AttributeName",
	"MessageSystemAttributeNames": "MessageSystemAttributeName", "MessageAttributeNames": "MessageAttributeName",
	"MessageAttributes": "MessageAttribute", "TagKeys": "TagKey",
}

// flatten writes in as query parameters: lists numbered from 1, maps as numbered Name/Value
// (Key/Value for tags) entries. Batch entries need their request-specific name: the caller
// gives it as the "Entries" key's value of entryNames.
func flatten(form url.Values, prefix string, in map[string]any) {
	for k, v := range in {
		name := k
		if q, ok := queryNames[k]; ok {
			name = q
		}
		if k == "Entries" {
			name = in["_entries"].(string)
		}
		if k == "_entries" {
			continue
		}
		p := prefix + name
		switch v := v.(type) {
		case []any:
			for i, e := range v {
				ip := fmt.Sprintf("%s.%d", p, i+1)
				if m, ok := e.(map[string]any); ok {
					flatten(form, ip+".", m)
				} else {
					form.Set(ip, fmt.Sprint(e))
				}
			}
		case []string:
			for i, e := range v {
				form.Set(fmt.Sprintf("%s.%d", p, i+1), e)
			}
		case map[string]string:
			kn := "Name"
			if name == "Tag" {
				kn = "Key"
			}
			i := 0
			for _, mk := range sortedKeys(v) {
				i++
				form.Set(fmt.Sprintf("%s.%d.%s", p, i, kn), mk)
				form.Set(fmt.Sprintf("%s.%d.Value", p, i), v[mk])
			}
		case map[string]map[string]any: // message attributes
			i := 0
			for _, mk := range sortedKeys(v) {
				i++
				form.Set(fmt.Sprintf("%s.%d.Name", p, i), mk)
				for vk, vv := range v[mk] {
					form.Set(fmt.Sprintf("%s.%d.Value.%s", p, i, vk), fmt.Sprint(vv))
				}
			}
		default:
			form.Set(p, fmt.Sprint(v))
		}
	}
}

// values returns every value of the member named jsonName (XML element xmlName) in the response,
// in document order for XML and depth-first for JSON (maps by sorted key).
func (r resp) values(jsonName, xmlName string) []string {
	if r.proto == "query" {
		re := regexp.MustCompile("<" + regexp.QuoteMeta(xmlName) + ">([^<]*)</" + regexp.QuoteMeta(xmlName) + ">")
		var out []string
		for _, m := range re.FindAllStringSubmatch(r.body, -1) {
			out = append(out, xmlUnescape(m[1]))
		}
		return out
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			ks := make([]string, 0, len(v))
			for k := range v {
				ks = append(ks, k)
			}
			sort.Strings(ks)
			for _, k := range ks {
				if k == jsonName {
					switch x := v[k].(type) {
					case []any:
						for _, e := range x {
							out = append(out, fmt.Sprint(e))
						}
					default:
						out = append(out, fmt.Sprint(x))
					}
					continue
				}
				walk(v[k])
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(r.json)
	return out
}

func (r resp) value(jsonName, xmlName string) string {
	v := r.values(jsonName, xmlName)
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func xmlUnescape(s string) string {
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&", "&#34;", `"`, "&#39;", "'", "&#xA;", "\n", "&#xD;", "\r", "&#x9;", "\t").Replace(s)
}

// errorCode is the SQS error code a response carries: the x-amzn-query-error header's code for
// JSON (after checking the body's __type is there), the XML Error's Code for the query protocol.
func (r resp) errorCode(t testing.TB) string {
	t.Helper()
	if r.status == 200 {
		return ""
	}
	if r.proto == "json" {
		if r.json["__type"] == nil || r.json["message"] == nil {
			t.Errorf("JSON error without __type and message: %s", r.body)
		}
		code, _, _ := strings.Cut(r.header.Get("x-amzn-query-error"), ";")
		return code
	}
	if !strings.Contains(r.body, "<ErrorResponse") {
		t.Errorf("query error is not an ErrorResponse: %s", r.body)
	}
	return r.value("", "Code")
}

// ok fails the test unless the response is a success.
func (r resp) ok(t testing.TB, what string) resp {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("%s %s: status %d: %s", r.proto, what, r.status, r.body)
	}
	return r
}

// wantCode fails the test unless the response is the error code.
func (r resp) wantCode(t testing.TB, what, code string) {
	t.Helper()
	if got := r.errorCode(t); got != code {
		t.Errorf("%s %s: error %q (status %d), want %q: %s", r.proto, what, got, r.status, code, r.body)
	}
}
