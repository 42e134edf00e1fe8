// Package sigv4 verifies AWS Signature Version 4 on incoming requests, as the SQS-compatible
// endpoint (`ddbq serve`) needs it: the header form (Authorization: AWS4-HMAC-SHA256 ...) and
// presigned URLs (X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires,
// X-Amz-SignedHeaders, X-Amz-Signature in the query).
//
// The verifier computes the canonical request itself from the request as received; it shares
// no code with any signer, so the tests can check it against the AWS SDKs' signers.
//
// The payload hash is the SHA-256 of the body, or the x-amz-content-sha256 header when the
// client sends one: a hex digest must match the body, UNSIGNED-PAYLOAD leaves the body out of
// the signature (as S3 and the SDKs define it). A presigned URL whose signer did not know the
// body may sign UNSIGNED-PAYLOAD; that is accepted only when the request has no body, so a
// presigned URL cannot carry a body its signer never saw.
//
// Errors are *Error with SQS's codes: MissingAuthenticationToken (no signature at all),
// IncompleteSignature (malformed), InvalidClientTokenId (unknown key), SignatureDoesNotMatch
// (wrong signature, a credential scoped to another service, or a request signed more than
// MaxSkew away from now, "Signature expired" as AWS words it) and RequestExpired (a presigned
// URL past its X-Amz-Expires).
package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Algorithm is the only signing algorithm accepted.
const Algorithm = "AWS4-HMAC-SHA256"

// UnsignedPayload is the payload hash a client sends when it does not sign the body.
const UnsignedPayload = "UNSIGNED-PAYLOAD"

// DefaultMaxSkew is how far a request's signing time may be from the server's clock, as AWS
// allows.
const DefaultMaxSkew = 15 * time.Minute

// MaxPresignExpiry is the longest X-Amz-Expires accepted (seven days, as AWS).
const MaxPresignExpiry = 7 * 24 * time.Hour

// timeFormat is the ISO 8601 basic format of X-Amz-Date.
const timeFormat = "20060102T150405Z"

// SQS error codes of the failures (as sqsserver spells them).
const (
	CodeMissingAuthToken      = "MissingAuthenticationToken"
	CodeIncompleteSignature   = "IncompleteSignature"
	CodeInvalidClientTokenID  = "InvalidClientTokenId"
	CodeSignatureDoesNotMatch = "SignatureDoesNotMatch"
	CodeRequestExpired        = "RequestExpired"
)

// Error is a refused signature. It implements sqsserver.ErrorCoder (ErrorCode, SenderFault)
// and HTTPStatus. Its message never contains a secret or the signature expected.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// ErrorCode returns the SQS error code.
func (e *Error) ErrorCode() string { return e.Code }

// SenderFault is always true: every failure is the client's.
func (e *Error) SenderFault() bool { return true }

// HTTPStatus is SQS's status: 400 for a malformed signature, 403 otherwise.
func (e *Error) HTTPStatus() int {
	if e.Code == CodeIncompleteSignature {
		return http.StatusBadRequest
	}
	return http.StatusForbidden
}

// Is makes errors.Is(err, &Error{Code: c}) match any error with code c.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Message == ""
}

func errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Messages AWS uses for the two most common refusals.
const (
	msgUnknownKey = "The security token included in the request is invalid."
	msgMismatch   = "The request signature we calculated does not match the signature you provided. " +
		"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)

// Verifier checks signatures against a set of secrets.
type Verifier struct {
	// Service is the service name the credential scope must name ("sqs").
	Service string
	// Secret returns the secret access key of an access key ID, or false for an unknown key.
	Secret func(accessKeyID string) (secret string, ok bool)
	// Now is the server's clock (nil: time.Now).
	Now func() time.Time
	// MaxSkew bounds the distance between the signing time and Now (0: DefaultMaxSkew).
	MaxSkew time.Duration
}

// Result describes a verified request.
type Result struct {
	AccessKeyID string
	Region      string
	// Time is the signing time (X-Amz-Date).
	Time time.Time
	// Presigned is true for a presigned URL, false for an Authorization header.
	Presigned bool
}

// Credential is the parsed Credential value: AKID/date/region/service/aws4_request.
type Credential struct {
	AccessKeyID, Date, Region, Service, Terminator string
}

// Scope is the credential scope, date/region/service/aws4_request.
func (c Credential) Scope() string {
	return c.Date + "/" + c.Region + "/" + c.Service + "/" + c.Terminator
}

// Authorization is a parsed signature, from the Authorization header or the presign query.
type Authorization struct {
	Credential    Credential
	SignedHeaders []string // lower case, sorted
	Signature     string   // lower-case hex
}

// ParseAuthorization parses the value of an Authorization header of the form
//
//	AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/sqs/aws4_request, SignedHeaders=host;x-amz-date, Signature=<64 hex>
//
// Its errors are IncompleteSignature (or MissingAuthenticationToken for another scheme than
// AWS4-HMAC-SHA256, such as a version 2 signature, which SQS no longer accepts).
func ParseAuthorization(h string) (Authorization, error) {
	alg, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	if alg != Algorithm {
		return Authorization{}, errorf(CodeIncompleteSignature, "Unsupported AWS 'algorithm': %q; only %s is accepted.", truncate(alg), Algorithm)
	}
	var cred, signed, sig string
	var seen [3]bool
	for part := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return Authorization{}, errorf(CodeIncompleteSignature, "Authorization header has an element without '=': %q.", truncate(part))
		}
		var i int
		switch k {
		case "Credential":
			cred, i = v, 0
		case "SignedHeaders":
			signed, i = v, 1
		case "Signature":
			sig, i = v, 2
		default:
			return Authorization{}, errorf(CodeIncompleteSignature, "Authorization header has an unknown element %q.", truncate(k))
		}
		if seen[i] {
			return Authorization{}, errorf(CodeIncompleteSignature, "Authorization header gives %s twice.", k)
		}
		seen[i] = true
	}
	for i, name := range []string{"Credential", "SignedHeaders", "Signature"} {
		if !seen[i] {
			return Authorization{}, errorf(CodeIncompleteSignature, "Authorization header requires '%s' parameter.", name)
		}
	}
	return parseParts(cred, signed, sig)
}

func parseParts(cred, signed, sig string) (Authorization, error) {
	c, err := ParseCredential(cred)
	if err != nil {
		return Authorization{}, err
	}
	hs, err := parseSignedHeaders(signed)
	if err != nil {
		return Authorization{}, err
	}
	if len(sig) != 2*sha256.Size || !isLowerHex(sig) {
		return Authorization{}, errorf(CodeIncompleteSignature, "Signature must be %d lower-case hex digits.", 2*sha256.Size)
	}
	return Authorization{Credential: c, SignedHeaders: hs, Signature: sig}, nil
}

// ParseCredential parses AKID/YYYYMMDD/region/service/aws4_request.
func ParseCredential(s string) (Credential, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 5 || slices.Contains(parts, "") {
		return Credential{}, errorf(CodeIncompleteSignature, "Credential %q is not of the form <key>/<date>/<region>/<service>/aws4_request.", truncate(s))
	}
	c := Credential{AccessKeyID: parts[0], Date: parts[1], Region: parts[2], Service: parts[3], Terminator: parts[4]}
	if c.Terminator != "aws4_request" {
		return Credential{}, errorf(CodeIncompleteSignature, "Credential should be scoped with a valid terminator: 'aws4_request', not %q.", truncate(c.Terminator))
	}
	if _, err := time.Parse("20060102", c.Date); err != nil {
		return Credential{}, errorf(CodeIncompleteSignature, "Credential date %q is not YYYYMMDD.", truncate(c.Date))
	}
	return c, nil
}

func parseSignedHeaders(s string) ([]string, error) {
	if s == "" {
		return nil, errorf(CodeIncompleteSignature, "SignedHeaders is empty.")
	}
	hs := strings.Split(s, ";")
	for i, h := range hs {
		if h == "" || h != strings.ToLower(h) || strings.ContainsAny(h, " \t:") || (i > 0 && hs[i-1] >= h) {
			return nil, errorf(CodeIncompleteSignature, "SignedHeaders %q must be distinct lower-case header names, sorted, separated by ';'.", truncate(s))
		}
	}
	if !slices.Contains(hs, "host") {
		return nil, errorf(CodeSignatureDoesNotMatch, "'Host' must be a signed header.")
	}
	return hs, nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// truncate bounds what an error message echoes of the client's input.
func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// Verify checks r's signature; body is the request body (already read by the caller). It
// returns who signed the request, or an *Error.
func (v *Verifier) Verify(r *http.Request, body []byte) (Result, error) {
	q := r.URL.Query()
	_, presigned := q["X-Amz-Algorithm"]
	_, presignedSig := q["X-Amz-Signature"]
	header := r.Header.Values("Authorization")
	switch {
	case len(header) > 1:
		return Result{}, errorf(CodeIncompleteSignature, "More than one Authorization header.")
	case len(header) == 1 && (presigned || presignedSig):
		return Result{}, errorf(CodeIncompleteSignature, "Both an Authorization header and a presigned query signature were given; use one.")
	case len(header) == 1:
		return v.verifyHeader(r, header[0], body)
	case presigned || presignedSig:
		return v.verifyPresigned(r, q, body)
	default:
		return Result{}, errorf(CodeMissingAuthToken, "Request is missing Authentication Token")
	}
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) maxSkew() time.Duration {
	if v.MaxSkew > 0 {
		return v.MaxSkew
	}
	return DefaultMaxSkew
}

func (v *Verifier) verifyHeader(r *http.Request, h string, body []byte) (Result, error) {
	auth, err := ParseAuthorization(h)
	if err != nil {
		return Result{}, err
	}
	var t time.Time
	if s := r.Header.Get("X-Amz-Date"); s != "" {
		if t, err = time.Parse(timeFormat, s); err != nil {
			return Result{}, errorf(CodeIncompleteSignature, "X-Amz-Date %q is not of the form YYYYMMDDTHHMMSSZ.", truncate(s))
		}
	} else if s := r.Header.Get("Date"); s != "" {
		if t, err = http.ParseTime(s); err != nil {
			return Result{}, errorf(CodeIncompleteSignature, "Date header %q is not an HTTP date.", truncate(s))
		}
	} else {
		return Result{}, errorf(CodeIncompleteSignature, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	payload := hashHex(body)
	if s := r.Header.Get("X-Amz-Content-Sha256"); s != "" && s != UnsignedPayload {
		if !hmac.Equal([]byte(s), []byte(payload)) {
			return Result{}, errorf(CodeSignatureDoesNotMatch, "The provided 'x-amz-content-sha256' header does not match what was computed.")
		}
	} else if s == UnsignedPayload {
		payload = UnsignedPayload
	}
	if err := v.checkTime(auth.Credential, t, 0, false); err != nil {
		return Result{}, err
	}
	canon, err := canonicalRequest(r, r.URL.Query(), auth.SignedHeaders, payload, false)
	if err != nil {
		return Result{}, err
	}
	return v.check(auth, t, canon, false)
}

func (v *Verifier) verifyPresigned(r *http.Request, q url.Values, body []byte) (Result, error) {
	get := func(name string) (string, error) {
		vs := q[name]
		if len(vs) != 1 || vs[0] == "" {
			return "", errorf(CodeIncompleteSignature, "A presigned URL requires exactly one '%s' query parameter.", name)
		}
		return vs[0], nil
	}
	var vals [6]string
	for i, name := range []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature"} {
		s, err := get(name)
		if err != nil {
			return Result{}, err
		}
		vals[i] = s
	}
	if vals[0] != Algorithm {
		return Result{}, errorf(CodeIncompleteSignature, "Unsupported X-Amz-Algorithm %q; only %s is accepted.", truncate(vals[0]), Algorithm)
	}
	auth, err := parseParts(vals[1], vals[4], vals[5])
	if err != nil {
		return Result{}, err
	}
	t, err := time.Parse(timeFormat, vals[2])
	if err != nil {
		return Result{}, errorf(CodeIncompleteSignature, "X-Amz-Date %q is not of the form YYYYMMDDTHHMMSSZ.", truncate(vals[2]))
	}
	secs, err := strconv.Atoi(vals[3])
	if err != nil || secs < 1 || time.Duration(secs)*time.Second > MaxPresignExpiry {
		return Result{}, errorf(CodeIncompleteSignature, "X-Amz-Expires %q must be 1..%d seconds.", truncate(vals[3]), int(MaxPresignExpiry/time.Second))
	}
	if err := v.checkTime(auth.Credential, t, time.Duration(secs)*time.Second, true); err != nil {
		return Result{}, err
	}
	payload := hashHex(body)
	if s := r.Header.Get("X-Amz-Content-Sha256"); s == UnsignedPayload && len(body) == 0 {
		payload = UnsignedPayload
	}
	canon, err := canonicalRequest(r, q, auth.SignedHeaders, payload, true)
	if err != nil {
		return Result{}, err
	}
	res, err := v.check(auth, t, canon, true)
	if err != nil && len(body) == 0 && payload != UnsignedPayload && errorCode(err) == CodeSignatureDoesNotMatch {
		// Signers that presign without knowing the body sign UNSIGNED-PAYLOAD without saying so.
		canon, _ = canonicalRequest(r, q, auth.SignedHeaders, UnsignedPayload, true)
		if res2, err2 := v.check(auth, t, canon, true); err2 == nil {
			return res2, nil
		}
	}
	return res, err
}

func errorCode(err error) string {
	if e, ok := err.(*Error); ok {
		return e.Code
	}
	return ""
}

// checkTime applies the credential's scope rules and the clock: the scope's date is the
// signing date, the service is ours, the signing time is within MaxSkew of now, and a presigned
// URL has not expired.
func (v *Verifier) checkTime(c Credential, t time.Time, expires time.Duration, presigned bool) error {
	if c.Service != v.Service {
		return errorf(CodeSignatureDoesNotMatch, "Credential should be scoped to correct service: '%s'.", v.Service)
	}
	if c.Date != t.UTC().Format("20060102") {
		return errorf(CodeSignatureDoesNotMatch, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s'.", c.Date, t.UTC().Format("20060102"))
	}
	now, skew := v.now().UTC(), v.maxSkew()
	mins := int(skew / time.Minute)
	if t.After(now.Add(skew)) {
		return errorf(CodeSignatureDoesNotMatch, "Signature not yet current: %s is still later than %s (%s + %d min.)",
			t.Format(timeFormat), now.Add(skew).Format(timeFormat), now.Format(timeFormat), mins)
	}
	if presigned {
		if now.After(t.Add(expires)) {
			return errorf(CodeRequestExpired, "Request has expired: the presigned URL expired at %s (now %s).",
				t.Add(expires).Format(timeFormat), now.Format(timeFormat))
		}
		return nil
	}
	if t.Before(now.Add(-skew)) {
		return errorf(CodeSignatureDoesNotMatch, "Signature expired: %s is now earlier than %s (%s - %d min.)",
			t.Format(timeFormat), now.Add(-skew).Format(timeFormat), now.Format(timeFormat), mins)
	}
	return nil
}

// check computes the signature of canon and compares it in constant time.
func (v *Verifier) check(auth Authorization, t time.Time, canon string, presigned bool) (Result, error) {
	secret, ok := v.Secret(auth.Credential.AccessKeyID)
	if !ok {
		return Result{}, errorf(CodeInvalidClientTokenID, msgUnknownKey)
	}
	want := Sign(secret, auth.Credential, t, canon)
	if !hmac.Equal([]byte(want), []byte(auth.Signature)) {
		return Result{}, errorf(CodeSignatureDoesNotMatch, msgMismatch)
	}
	return Result{AccessKeyID: auth.Credential.AccessKeyID, Region: auth.Credential.Region, Time: t, Presigned: presigned}, nil
}

// Sign returns the hex signature of a canonical request: the string to sign
// (algorithm, time, scope, hash of the canonical request) under the key derived from secret.
func Sign(secret string, c Credential, t time.Time, canonicalRequest string) string {
	sts := Algorithm + "\n" + t.UTC().Format(timeFormat) + "\n" + c.Scope() + "\n" + hashHex([]byte(canonicalRequest))
	k := hmacSHA256([]byte("AWS4"+secret), c.Date)
	k = hmacSHA256(k, c.Region)
	k = hmacSHA256(k, c.Service)
	k = hmacSHA256(k, c.Terminator)
	return hex.EncodeToString(hmacSHA256(k, sts))
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func hashHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// canonicalRequest builds SigV4's canonical request from r as received: method, the path
// URI-encoded once more (services other than S3 sign the escaped path encoded again), the
// sorted, encoded query (without X-Amz-Signature when presigned), the signed headers with
// trimmed values, their names, and the payload hash.
func canonicalRequest(r *http.Request, q url.Values, signed []string, payload string, presigned bool) (string, error) {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	b.WriteString(encode(path, false))
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(q, presigned))
	b.WriteByte('\n')
	for _, name := range signed {
		vals, err := headerValues(r, name)
		if err != nil {
			return "", err
		}
		b.WriteString(name)
		b.WriteByte(':')
		for i, v := range vals {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strings.Join(strings.Fields(v), " "))
		}
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signed, ";"))
	b.WriteByte('\n')
	b.WriteString(payload)
	return b.String(), nil
}

// headerValues returns what a signed header held as the client sent it. Go's server moves Host
// and Content-Length out of the header map; they come back from the request's fields.
func headerValues(r *http.Request, name string) ([]string, error) {
	switch name {
	case "host":
		return []string{r.Host}, nil
	case "content-length":
		if vs := r.Header.Values("Content-Length"); len(vs) > 0 {
			return vs, nil
		}
		if r.ContentLength >= 0 {
			return []string{strconv.FormatInt(r.ContentLength, 10)}, nil
		}
	}
	vs := r.Header.Values(name)
	if len(vs) == 0 {
		return nil, errorf(CodeSignatureDoesNotMatch, "Signed header %q is not in the request.", truncate(name))
	}
	return vs, nil
}

func canonicalQuery(q url.Values, presigned bool) string {
	type kv struct{ k, v string }
	var pairs []kv
	for k, vs := range q {
		if presigned && k == "X-Amz-Signature" {
			continue
		}
		ek := encode(k, true)
		for _, v := range vs {
			pairs = append(pairs, kv{ek, encode(v, true)})
		}
	}
	slices.SortFunc(pairs, func(a, b kv) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}

// encode is SigV4's URI encoding: every byte but A-Z a-z 0-9 - _ . ~ as %XX (upper-case hex);
// '/' too when encodeSlash.
func encode(s string, encodeSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' || c == '/' && !encodeSlash {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}
