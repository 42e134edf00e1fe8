package sigv4

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	keyID  = "TENANTAKEY000001"
	secret = "tenantAsecret/with+signs0123456789"
)

// now is the server's clock in these tests; requests are signed relative to it.
var now = time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)

// reply is what the test server answers: the verification's outcome.
type reply struct {
	Code, Message, Key string
	Presigned          bool
}

// newServer starts a real HTTP server that verifies every request, so the verifier sees
// requests as Go's server parses them off the wire, not as the test built them.
func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	v := &Verifier{
		Service: "sqs",
		Secret: func(id string) (string, bool) {
			if id == keyID {
				return secret, true
			}
			return "", false
		},
		Now: func() time.Time { return now },
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read body: %v", err)
		}
		res, err := v.Verify(r, body)
		var rep reply
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("Verify returned %T %v, want *Error", err, err)
			}
			rep.Code, rep.Message = e.Code, e.Message
			w.WriteHeader(e.HTTPStatus())
		} else {
			rep.Key, rep.Presigned = res.AccessKeyID, res.Presigned
		}
		_ = json.NewEncoder(w).Encode(rep)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, req *http.Request) reply {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rep reply
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

type signed struct {
	id, secret, service string
	at                  time.Time
	payloadHash         string // "": SHA-256 of the body
}

func defaults() signed { return signed{id: keyID, secret: secret, service: "sqs", at: now} }

func hashOf(b string) string {
	s := sha256.Sum256([]byte(b))
	return hex.EncodeToString(s[:])
}

// newRequest is a request as the SDKs send SQS calls: JSON protocol, or the query protocol.
func newRequest(t *testing.T, srv *httptest.Server, path, body, contentType string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if strings.Contains(contentType, "json") {
		req.Header.Set("X-Amz-Target", "AmazonSQS.SendMessage")
	}
	req.Header.Set("User-Agent", "aws-sdk-go-v2/test") // not signed by the SDKs
	return req
}

// sign signs req with the AWS SDK's signer (not ours).
func sign(t *testing.T, req *http.Request, body string, s signed) {
	t.Helper()
	ph := s.payloadHash
	if ph == "" {
		ph = hashOf(body)
	}
	creds := aws.Credentials{AccessKeyID: s.id, SecretAccessKey: s.secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, ph, s.service, "eu-west-1", s.at); err != nil {
		t.Fatal(err)
	}
}

func presign(t *testing.T, req *http.Request, s signed, expires time.Duration) *http.Request {
	t.Helper()
	q := req.URL.Query()
	q.Set("X-Amz-Expires", strconv.Itoa(int(expires/time.Second)))
	req.URL.RawQuery = q.Encode()
	ph := s.payloadHash
	if ph == "" {
		ph = hashOf("")
	}
	creds := aws.Credentials{AccessKeyID: s.id, SecretAccessKey: s.secret}
	u, hdr, err := v4.NewSigner().PresignHTTP(context.Background(), creds, req, ph, s.service, "eu-west-1", s.at)
	if err != nil {
		t.Fatal(err)
	}
	out, err := http.NewRequest(req.Method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		if k != "Host" {
			out.Header[k] = vs
		}
	}
	return out
}

const (
	jsonBody  = `{"QueueUrl":"http://127.0.0.1/tenant-a/orders","MessageBody":"hello wörld \u0001 +/="}`
	queryBody = "Action=SendMessage&Version=2012-11-05&QueueUrl=http%3A%2F%2F127.0.0.1%2Ftenant-a%2Forders&MessageBody=a+b%2Bc%7E%2A"
)

func TestAcceptsSDKSignatures(t *testing.T) {
	srv := newServer(t)
	cases := map[string]struct{ path, body, ctype string }{
		"json":                    {"/", jsonBody, "application/x-amz-json-1.0"},
		"query":                   {"/", queryBody, "application/x-www-form-urlencoded; charset=utf-8"},
		"queue URL path":          {"/tenant-a/orders.fifo", queryBody, "application/x-www-form-urlencoded"},
		"escaped path and query":  {"/tenant%20a/q%2Fx?Action=GetQueueUrl&QueueName=a%20b&b=%2A~&b=1&Empty=", "", "application/x-www-form-urlencoded"},
		"empty body":              {"/", "", "application/x-amz-json-1.0"},
		"query with plus and tld": {"/?X=a+b&Y=%2B", "", "application/x-www-form-urlencoded"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			req := newRequest(t, srv, c.path, c.body, c.ctype)
			sign(t, req, c.body, defaults())
			if rep := do(t, req); rep.Code != "" || rep.Key != keyID {
				t.Fatalf("refused a valid signature: %+v", rep)
			}
		})
	}
}

func TestContentSHA256Header(t *testing.T) {
	srv := newServer(t)
	t.Run("unsigned payload", func(t *testing.T) {
		req := newRequest(t, srv, "/", jsonBody, "application/x-amz-json-1.0")
		req.Header.Set("X-Amz-Content-Sha256", UnsignedPayload)
		s := defaults()
		s.payloadHash = UnsignedPayload
		sign(t, req, jsonBody, s)
		if rep := do(t, req); rep.Code != "" {
			t.Fatalf("refused UNSIGNED-PAYLOAD: %+v", rep)
		}
	})
	t.Run("digest of the body", func(t *testing.T) {
		req := newRequest(t, srv, "/", jsonBody, "application/x-amz-json-1.0")
		req.Header.Set("X-Amz-Content-Sha256", hashOf(jsonBody))
		sign(t, req, jsonBody, defaults())
		if rep := do(t, req); rep.Code != "" {
			t.Fatalf("refused a signed digest: %+v", rep)
		}
	})
	t.Run("digest of another body", func(t *testing.T) {
		other := strings.Replace(jsonBody, "hello", "HELLO", 1)
		req := newRequest(t, srv, "/", other, "application/x-amz-json-1.0")
		req.Header.Set("X-Amz-Content-Sha256", hashOf(jsonBody))
		s := defaults()
		s.payloadHash = hashOf(jsonBody)
		sign(t, req, jsonBody, s)
		if rep := do(t, req); rep.Code != CodeSignatureDoesNotMatch {
			t.Fatalf("accepted a body that is not the one signed: %+v", rep)
		}
	})
}

func TestRefusals(t *testing.T) {
	srv := newServer(t)
	cases := map[string]struct {
		mutate   func(*signed)
		tamper   func(*http.Request)
		code     string
		contains string
	}{
		"wrong secret":     {mutate: func(s *signed) { s.secret = "not-the-secret-0123456789" }, code: CodeSignatureDoesNotMatch},
		"unknown key":      {mutate: func(s *signed) { s.id = "NOSUCHKEY0000001" }, code: CodeInvalidClientTokenID},
		"other service":    {mutate: func(s *signed) { s.service = "sns" }, code: CodeSignatureDoesNotMatch, contains: "'sqs'"},
		"16 minutes old":   {mutate: func(s *signed) { s.at = now.Add(-16 * time.Minute) }, code: CodeSignatureDoesNotMatch, contains: "Signature expired"},
		"16 minutes ahead": {mutate: func(s *signed) { s.at = now.Add(16 * time.Minute) }, code: CodeSignatureDoesNotMatch, contains: "not yet current"},
		"body changed": {tamper: func(r *http.Request) {
			r.Body = io.NopCloser(strings.NewReader(strings.Replace(jsonBody, "hello", "HELLO", 1)))
		}, code: CodeSignatureDoesNotMatch},
		"signed header changed": {tamper: func(r *http.Request) { r.Header.Set("X-Amz-Target", "AmazonSQS.PurgeQueue") }, code: CodeSignatureDoesNotMatch},
		"path changed":          {tamper: func(r *http.Request) { r.URL.Path = "/tenant-b/orders" }, code: CodeSignatureDoesNotMatch},
		"no authorization":      {tamper: func(r *http.Request) { r.Header.Del("Authorization") }, code: CodeMissingAuthToken},
		"version 2 scheme":      {tamper: func(r *http.Request) { r.Header.Set("Authorization", "AWS AKID:sig") }, code: CodeIncompleteSignature},
		"no date":               {tamper: func(r *http.Request) { r.Header.Del("X-Amz-Date") }, code: CodeIncompleteSignature, contains: "X-Amz-Date"},
		"no signature": {tamper: func(r *http.Request) {
			h := r.Header.Get("Authorization")
			r.Header.Set("Authorization", h[:strings.Index(h, ", Signature=")])
		}, code: CodeIncompleteSignature, contains: "'Signature'"},
		"host not signed": {tamper: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "SignedHeaders=", "SignedHeaders=content-type;", 1))
		}, code: CodeIncompleteSignature},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			req := newRequest(t, srv, "/", jsonBody, "application/x-amz-json-1.0")
			s := defaults()
			if c.mutate != nil {
				c.mutate(&s)
			}
			sign(t, req, jsonBody, s)
			if c.tamper != nil {
				c.tamper(req)
			}
			rep := do(t, req)
			if rep.Code != c.code || !strings.Contains(rep.Message, c.contains) {
				t.Fatalf("got %+v, want code %s with %q", rep, c.code, c.contains)
			}
			if strings.Contains(rep.Message, secret) {
				t.Fatalf("the message reveals the secret: %s", rep.Message)
			}
		})
	}
}

// A request signed 14 minutes away from the server's clock is within SigV4's 15 minutes.
func TestSkewWithinBounds(t *testing.T) {
	srv := newServer(t)
	for _, d := range []time.Duration{-14 * time.Minute, 14 * time.Minute} {
		req := newRequest(t, srv, "/", jsonBody, "application/x-amz-json-1.0")
		s := defaults()
		s.at = now.Add(d)
		sign(t, req, jsonBody, s)
		if rep := do(t, req); rep.Code != "" {
			t.Fatalf("signed %v from now: refused %+v", d, rep)
		}
	}
}

func TestPresigned(t *testing.T) {
	srv := newServer(t)
	get := func(s signed, expires time.Duration) *http.Request {
		req, err := http.NewRequest(http.MethodGet, srv.URL+"/tenant-a/orders?Action=ReceiveMessage&Version=2012-11-05&WaitTimeSeconds=1", nil)
		if err != nil {
			t.Fatal(err)
		}
		return presign(t, req, s, expires)
	}
	if rep := do(t, get(defaults(), time.Hour)); rep.Code != "" || !rep.Presigned {
		t.Fatalf("refused a valid presigned URL: %+v", rep)
	}
	unsigned := defaults()
	unsigned.payloadHash = UnsignedPayload
	if rep := do(t, get(unsigned, time.Hour)); rep.Code != "" {
		t.Fatalf("refused a presigned URL with UNSIGNED-PAYLOAD: %+v", rep)
	}
	// Signed 2 hours ago for 1 hour: expired, though the signing time itself is not checked for skew.
	old := defaults()
	old.at = now.Add(-2 * time.Hour)
	if rep := do(t, get(old, time.Hour)); rep.Code != CodeRequestExpired {
		t.Fatalf("expired presigned URL: %+v, want %s", rep, CodeRequestExpired)
	}
	// Signed 2 hours ago for 3 hours: still valid.
	if rep := do(t, get(old, 3*time.Hour)); rep.Code != "" {
		t.Fatalf("presigned URL within its expiry refused: %+v", rep)
	}
	future := defaults()
	future.at = now.Add(20 * time.Minute)
	if rep := do(t, get(future, time.Hour)); rep.Code != CodeSignatureDoesNotMatch {
		t.Fatalf("presigned in the future: %+v", rep)
	}
	wrong := defaults()
	wrong.secret = "not-the-secret-0123456789"
	if rep := do(t, get(wrong, time.Hour)); rep.Code != CodeSignatureDoesNotMatch {
		t.Fatalf("wrong secret: %+v", rep)
	}
	req := get(defaults(), time.Hour)
	q := req.URL.Query()
	q.Set("WaitTimeSeconds", "20")
	req.URL.RawQuery = q.Encode()
	if rep := do(t, req); rep.Code != CodeSignatureDoesNotMatch {
		t.Fatalf("changed query parameter: %+v", rep)
	}
	// A body the presigner never saw is refused, even with UNSIGNED-PAYLOAD.
	req = get(unsigned, time.Hour)
	req.Method = http.MethodPost
	req.Body = io.NopCloser(bytes.NewReader([]byte("Action=PurgeQueue")))
	req.ContentLength = int64(len("Action=PurgeQueue"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if rep := do(t, req); rep.Code != CodeSignatureDoesNotMatch {
		t.Fatalf("presigned URL with a body it did not sign: %+v", rep)
	}
	for name, drop := range map[string]string{"no credential": "X-Amz-Credential", "no expiry": "X-Amz-Expires", "no algorithm": "X-Amz-Algorithm"} {
		req := get(defaults(), time.Hour)
		q := req.URL.Query()
		q.Del(drop)
		req.URL.RawQuery = q.Encode()
		if rep := do(t, req); rep.Code != CodeIncompleteSignature {
			t.Errorf("%s: %+v, want %s", name, rep, CodeIncompleteSignature)
		}
	}
}

func TestParseAuthorization(t *testing.T) {
	sig := strings.Repeat("ab", 32)
	a, err := ParseAuthorization("AWS4-HMAC-SHA256 Credential=AKID/20260304/us-east-1/sqs/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=" + sig)
	if err != nil {
		t.Fatal(err)
	}
	want := Credential{AccessKeyID: "AKID", Date: "20260304", Region: "us-east-1", Service: "sqs", Terminator: "aws4_request"}
	if a.Credential != want || strings.Join(a.SignedHeaders, ";") != "content-type;host;x-amz-date" || a.Signature != sig {
		t.Fatalf("parsed %+v", a)
	}
	for _, bad := range []string{
		"",
		"AWS4-HMAC-SHA256",
		"AWS4-HMAC-SHA256 Credential=AKID/20260304/us-east-1/sqs/aws4_request, SignedHeaders=host",
		"AWS4-HMAC-SHA256 Credential=AKID/20260304/us-east-1/sqs, SignedHeaders=host, Signature=" + sig,
		"AWS4-HMAC-SHA256 Credential=AKID/2026-03-04/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=" + sig,
		"AWS4-HMAC-SHA256 Credential=AKID/20260304/us-east-1/sqs/aws4_request, SignedHeaders=x-amz-date;host, Signature=" + sig,
		"AWS4-HMAC-SHA256 Credential=AKID/20260304/us-east-1/sqs/aws4_request, SignedHeaders=Host, Signature=" + sig,
		"AWS4-HMAC-SHA256 Credential=AKID/20260304/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=" + sig[:10],
		"AWS4-HMAC-SHA256 Credential=AKID/20260304/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=" + strings.ToUpper(sig),
		"AWS4-HMAC-SHA256 Credential=A/20260304/r/sqs/aws4_request, Credential=B/20260304/r/sqs/aws4_request, SignedHeaders=host, Signature=" + sig,
		"AWS4-HMAC-SHA256 Credential=AKID/20260304/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=" + sig + ", Extra=1",
	} {
		if _, err := ParseAuthorization(bad); err == nil {
			t.Errorf("ParseAuthorization(%q) succeeded", bad)
		} else if !errors.Is(err, &Error{Code: CodeIncompleteSignature}) && !errors.Is(err, &Error{Code: CodeSignatureDoesNotMatch}) {
			t.Errorf("ParseAuthorization(%q) = %v", bad, err)
		}
	}
}

func TestEncode(t *testing.T) {
	// SigV4 encodes everything but the unreserved characters, with upper-case hex.
	if got := encode("a b+c*~é/", true); got != "a%20b%2Bc%2A~%C3%A9%2F" {
		t.Fatalf("encode = %q", got)
	}
	q, _ := url.ParseQuery("b=2&a=2&a=1&c=%2A")
	if got := canonicalQuery(q, false); got != "a=1&a=2&b=2&c=%2A" {
		t.Fatalf("canonicalQuery = %q", got)
	}
}

// FuzzParseAuthorization: any header value either parses into parts that, written back,
// parse to the same value, or fails with an *Error of a signature code; it never panics.
func FuzzParseAuthorization(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20260304/us-east-1/sqs/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=" + strings.Repeat("0f", 32))
	f.Add("AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=, Signature=")
	f.Add("AWS AKID:sig")
	f.Add("AWS4-HMAC-SHA256 ,,,=,")
	f.Fuzz(func(t *testing.T, h string) {
		a, err := ParseAuthorization(h)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || (e.Code != CodeIncompleteSignature && e.Code != CodeSignatureDoesNotMatch) {
				t.Fatalf("ParseAuthorization(%q) = %v", h, err)
			}
			return
		}
		again := Algorithm + " Credential=" + a.Credential.AccessKeyID + "/" + a.Credential.Scope() +
			", SignedHeaders=" + strings.Join(a.SignedHeaders, ";") + ", Signature=" + a.Signature
		b, err := ParseAuthorization(again)
		if err != nil || b.Credential != a.Credential || strings.Join(b.SignedHeaders, ";") != strings.Join(a.SignedHeaders, ";") || b.Signature != a.Signature {
			t.Fatalf("%q parsed to %+v, written back %q parsed to %+v, %v", h, a, again, b, err)
		}
	})
}
