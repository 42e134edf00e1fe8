// Package faultproxy is a fault-injecting HTTP reverse proxy for the DynamoDB JSON API. It sits
// between an AWS SDK client (BaseEndpoint = Proxy.URL) and a DynamoDB endpoint such as dynalite,
// and makes requests fail the ways DynamoDB and networks fail:
//
//   - ProvisionedThroughputExceeded and Throttling: HTTP 400 throttling errors, request not
//     forwarded;
//   - InternalServerError: HTTP 500, request not forwarded;
//   - ConnectionReset: the client connection is reset (TCP RST) before the request is forwarded;
//   - Latency: the request is held for a while (aborted if the client goes away), then served;
//   - DropResponse: the request is forwarded and applied by DynamoDB, then the client
//     connection is reset instead of returning the response: the ambiguous case, where the
//     client cannot tell whether its write happened and its SDK retries it;
//   - Unprocessed: a BatchWriteItem or BatchGetItem is applied only in part, and the rest is
//     returned as UnprocessedItems or UnprocessedKeys, as DynamoDB does under throttling.
//
// The proxy forwards requests unchanged except for Unprocessed, which rewrites the batch; it
// does not re-sign it, which dynalite does not check (AWS DynamoDB would).
//
// Which requests fail is decided by Rules (a probability per fault kind, optionally restricted
// to some operations, as named by the X-Amz-Target header, or to requests a predicate picks)
// drawn from a PCG generator with a fixed seed, so the same sequence of requests meets the same
// faults in every run (concurrent clients interleave differently from run to run, so they get the
// same stream of decisions, not necessarily in the same order); and by Inject, which targets the
// next matching requests deterministically.
// Every injected fault is counted by kind and operation (Stats).
package faultproxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Kind is a kind of fault.
type Kind int

// The fault kinds. DynamoDB returns throttling errors as HTTP 400 with a JSON body whose
// __type names the exception; the SDK's standard retryer retries all of them.
const (
	// ProvisionedThroughputExceeded answers HTTP 400
	// com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException without
	// forwarding the request.
	ProvisionedThroughputExceeded Kind = iota
	// Throttling answers HTTP 400 com.amazon.coral.availability#ThrottlingException without
	// forwarding the request.
	Throttling
	// InternalServerError answers HTTP 500
	// com.amazonaws.dynamodb.v20120810#InternalServerError without forwarding the request.
	InternalServerError
	// ConnectionReset resets the client's TCP connection without forwarding the request.
	ConnectionReset
	// Latency holds the request for a delay drawn from the rule's [Delay, MaxDelay] before
	// handling it; it combines with the other kinds. If the client goes away meanwhile, the
	// request is not forwarded.
	Latency
	// DropResponse forwards the request, waits for DynamoDB's complete response, and then
	// resets the client's TCP connection instead of returning it: the write was applied but
	// the client sees a network error.
	DropResponse
	// Unprocessed makes a BatchWriteItem or BatchGetItem succeed only in part: the first half
	// (rounded up) of its write requests or keys, in the order of the request (tables by name),
	// is not forwarded but returned as UnprocessedItems or UnprocessedKeys; the rest is
	// forwarded. A batch of one is not forwarded at all. Leaving the earlier items undone is
	// the adversarial choice for anything that relies on order. Other operations are left alone
	// and not counted.
	Unprocessed

	numKinds
)

// Kinds returns every fault kind, in declaration order.
func Kinds() []Kind {
	ks := make([]Kind, numKinds)
	for i := range ks {
		ks[i] = Kind(i)
	}
	return ks
}

var kindNames = [numKinds]string{"throughput", "throttling", "http500", "reset", "latency", "drop", "unprocessed"}

// String returns a short name: throughput, throttling, http500, reset, latency, drop or
// unprocessed.
func (k Kind) String() string {
	if k >= 0 && k < numKinds {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Rule makes matching requests suffer a fault with some probability.
type Rule struct {
	// Kind is the fault to inject.
	Kind Kind
	// Probability is the chance (0..1) that a matching request suffers the fault. Inject
	// ignores it.
	Probability float64
	// Operations restricts the rule to these DynamoDB operations, given as the action
	// ("UpdateItem") or the whole X-Amz-Target value ("DynamoDB_20120810.UpdateItem").
	// Empty means every operation.
	Operations []string
	// Match, if set, further restricts the rule to requests for which it returns true. It
	// gets the operation's action name and the request body (the JSON input; do not keep or
	// modify it), and must be safe for concurrent use.
	Match func(op string, body []byte) bool
	// Delay and MaxDelay bound the added latency of a Latency rule: uniform in
	// [Delay, MaxDelay]; MaxDelay below Delay means exactly Delay. Other kinds ignore them.
	Delay, MaxDelay time.Duration
}

func (r *Rule) validate() error {
	switch {
	case r.Kind < 0 || r.Kind >= numKinds:
		return fmt.Errorf("faultproxy: unknown fault kind %d", int(r.Kind))
	case !(r.Probability >= 0 && r.Probability <= 1): // also rejects NaN
		return fmt.Errorf("faultproxy: %s rule: probability %v is not in 0..1", r.Kind, r.Probability)
	case r.Delay < 0 || r.MaxDelay < 0:
		return fmt.Errorf("faultproxy: %s rule: negative delay", r.Kind)
	case r.Kind == Latency && r.Delay == 0 && r.MaxDelay == 0:
		return errors.New("faultproxy: latency rule without a delay")
	}
	return nil
}

func (r *Rule) matches(op string, body []byte) bool {
	if len(r.Operations) > 0 && !slices.ContainsFunc(r.Operations, func(o string) bool {
		return o == op || o == targetPrefix+op
	}) {
		return false
	}
	return r.Match == nil || r.Match(op, body)
}

// delay draws the latency of a Latency rule.
func (r *Rule) delay(rng *rand.Rand) time.Duration {
	if r.MaxDelay <= r.Delay {
		return r.Delay
	}
	return r.Delay + time.Duration(rng.Int64N(int64(r.MaxDelay-r.Delay)+1))
}

// Config configures a Proxy.
type Config struct {
	// Target is the DynamoDB endpoint requests are forwarded to, e.g. "http://127.0.0.1:8000".
	Target string
	// Seed seeds the PCG generator that decides which requests suffer which faults.
	Seed uint64
	// Rules are the initial random fault rules (see SetRules).
	Rules []Rule
}

// targetPrefix is the X-Amz-Target prefix of the DynamoDB API version the SDK speaks.
const targetPrefix = "DynamoDB_20120810."

// Proxy is a running fault-injecting reverse proxy on 127.0.0.1. Its methods are safe for
// concurrent use.
type Proxy struct {
	target   *url.URL
	listener net.Listener
	server   *http.Server
	upstream *http.Client
	done     chan struct{} // closed by Close: aborts added latency

	mu       sync.Mutex // guards rng, rules, injected, closed; wg.Add happens under it
	rng      *rand.Rand
	rules    []Rule
	injected []injection
	closed   bool
	wg       sync.WaitGroup // running handlers

	ops            sync.Map // operation -> *opCounters
	upstreamErrors atomic.Uint64
	abandoned      atomic.Uint64
	closeOnce      sync.Once
}

type injection struct {
	rule Rule
	left int
}

type opCounters struct {
	requests atomic.Uint64
	faults   [numKinds]atomic.Uint64
}

// New starts a proxy for cfg.Target on a free port of 127.0.0.1. Stop it with Close.
func New(cfg Config) (*Proxy, error) {
	u, err := url.Parse(cfg.Target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("faultproxy: invalid target %q: want http://host:port", cfg.Target)
	}
	for i := range cfg.Rules {
		if err := cfg.Rules[i].validate(); err != nil {
			return nil, err
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	p := &Proxy{
		target:   u,
		listener: l,
		done:     make(chan struct{}),
		rng:      rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		rules:    slices.Clone(cfg.Rules),
		upstream: &http.Client{Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
			MaxIdleConns:        128,
			MaxIdleConnsPerHost: 128,
			// Below Node's 5 s keep-alive timeout, so that we never reuse a connection dynalite
			// is just closing (a POST on it would fail and could not be retried by us).
			IdleConnTimeout: time.Second,
			// Pass bodies through byte for byte: the SDK checks DynamoDB's x-amz-crc32.
			DisableCompression: true,
		}},
	}
	p.server = &http.Server{
		Handler:           p,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          nil,
	}
	go func() { _ = p.server.Serve(l) }()
	return p, nil
}

// URL returns the proxy's endpoint, e.g. "http://127.0.0.1:40123": the BaseEndpoint for SDK
// clients that should meet the faults.
func (p *Proxy) URL() string { return "http://" + p.listener.Addr().String() }

// Close stops the proxy: it stops listening, aborts added latency, closes every client
// connection and waits for running handlers to return. It is safe to call more than once.
func (p *Proxy) Close() {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		close(p.done)
		_ = p.server.Close()
		p.wg.Wait()
		p.upstream.CloseIdleConnections()
	})
}

// SetRules replaces the random fault rules; no rules means no random faults. The generator is
// not reseeded: it continues its sequence.
func (p *Proxy) SetRules(rules ...Rule) error {
	for i := range rules {
		if err := rules[i].validate(); err != nil {
			return err
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = slices.Clone(rules)
	return nil
}

// Rules returns the current random fault rules.
func (p *Proxy) Rules() []Rule {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.rules)
}

// Inject makes the next n requests that match r (its Operations and Match; its Probability is
// ignored) suffer r.Kind, whatever the random rules say. Injections are consumed in the order
// they were made; a request takes at most one, plus the random rules' latency.
func (p *Proxy) Inject(r Rule, n int) error {
	if err := r.validate(); err != nil {
		return err
	}
	if n <= 0 {
		return fmt.Errorf("faultproxy: inject %d requests: must be positive", n)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.injected = append(p.injected, injection{rule: r, left: n})
	return nil
}

// Pending returns how many injected faults have not been used yet.
func (p *Proxy) Pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, in := range p.injected {
		n += in.left
	}
	return n
}

// decision is what happens to one request.
type decision struct {
	delay time.Duration
	kind  Kind // numKinds: none (besides the delay)
}

// decide draws the faults of one request: first any injection, then every matching rule in
// order, one draw each; Latency rules add a delay, the first other rule that fires sets the kind.
func (p *Proxy) decide(op string, body []byte) decision {
	p.mu.Lock()
	defer p.mu.Unlock()
	d := decision{kind: numKinds}
	for i := range p.injected {
		in := &p.injected[i]
		if !in.rule.matches(op, body) || (in.rule.Kind == Unprocessed && !batchOp(op)) {
			continue
		}
		if in.rule.Kind == Latency {
			d.delay = in.rule.delay(p.rng)
		} else {
			d.kind = in.rule.Kind
		}
		if in.left--; in.left == 0 {
			p.injected = slices.Delete(p.injected, i, i+1)
		}
		break
	}
	for i := range p.rules {
		r := &p.rules[i]
		if !r.matches(op, body) || (r.Kind == Unprocessed && !batchOp(op)) {
			continue
		}
		if p.rng.Float64() >= r.Probability {
			continue
		}
		switch {
		case r.Kind == Latency:
			if d.delay == 0 {
				d.delay = r.delay(p.rng)
			}
		case d.kind == numKinds:
			d.kind = r.Kind
		}
	}
	return d
}

// batchOp reports whether op is an operation an Unprocessed fault applies to.
func batchOp(op string) bool { return op == "BatchWriteItem" || op == "BatchGetItem" }

// operation returns the action named by an X-Amz-Target header ("UpdateItem"), or "-".
func operation(target string) string {
	if target == "" {
		return "-"
	}
	if i := strings.LastIndexByte(target, '.'); i >= 0 {
		return target[i+1:]
	}
	return target
}

func (p *Proxy) counters(op string) *opCounters {
	if c, ok := p.ops.Load(op); ok {
		return c.(*opCounters)
	}
	c, _ := p.ops.LoadOrStore(op, new(opCounters))
	return c.(*opCounters)
}

// ServeHTTP handles one proxied request.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		resetConn(w)
		return
	}
	p.wg.Add(1)
	p.mu.Unlock()
	defer p.wg.Done()

	op := operation(r.Header.Get("X-Amz-Target"))
	c := p.counters(op)
	c.requests.Add(1)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return // the client went away
	}
	d := p.decide(op, body)
	if d.delay > 0 {
		c.faults[Latency].Add(1)
		t := time.NewTimer(d.delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			p.abandoned.Add(1)
			return
		case <-p.done:
			t.Stop()
			p.abandoned.Add(1)
			resetConn(w)
			return
		}
	}
	switch d.kind {
	case ProvisionedThroughputExceeded:
		c.faults[d.kind].Add(1)
		writeError(w, http.StatusBadRequest, "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
			"The level of configured provisioned throughput for the table was exceeded. (injected by faultproxy)")
		return
	case Throttling:
		c.faults[d.kind].Add(1)
		writeError(w, http.StatusBadRequest, "com.amazon.coral.availability#ThrottlingException",
			"Rate of requests exceeds the allowed throughput. (injected by faultproxy)")
		return
	case InternalServerError:
		c.faults[d.kind].Add(1)
		writeError(w, http.StatusInternalServerError, "com.amazonaws.dynamodb.v20120810#InternalServerError",
			"Internal server error (injected by faultproxy)")
		return
	case ConnectionReset:
		c.faults[d.kind].Add(1)
		resetConn(w)
		return
	}

	var deferred *partialBatch
	if d.kind == Unprocessed {
		if deferred = splitBatch(op, body); deferred != nil {
			c.faults[d.kind].Add(1)
			if deferred.rest == nil { // nothing left to forward
				writeJSON(w, http.StatusOK, deferred.response(nil))
				return
			}
			body = deferred.rest
		}
	}
	resp, respBody, err := p.forward(r, body)
	if err != nil {
		if r.Context().Err() != nil {
			p.abandoned.Add(1) // the client went away, or the proxy is closing
			return
		}
		p.upstreamErrors.Add(1)
		writeError(w, http.StatusBadGateway, "com.amazonaws.dynamodb.v20120810#InternalServerError",
			"faultproxy: upstream request failed: "+err.Error())
		return
	}
	if d.kind == DropResponse {
		c.faults[d.kind].Add(1)
		resetConn(w)
		return
	}
	if deferred != nil && resp.StatusCode == http.StatusOK {
		if merged := deferred.response(respBody); merged != nil {
			respBody = merged
			resp.Header.Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(respBody)), 10))
		}
	}
	h := w.Header()
	for k, vs := range resp.Header {
		if !hopByHop(k) {
			h[k] = vs
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(respBody)))
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(respBody)
}

// forward sends the request to the target and reads the whole response.
func (p *Proxy) forward(r *http.Request, body []byte) (*http.Response, []byte, error) {
	u := *p.target
	u.Path = strings.TrimSuffix(p.target.Path, "/") + r.URL.Path
	u.RawQuery = r.URL.RawQuery
	req, err := http.NewRequestWithContext(r.Context(), r.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	for k, vs := range r.Header {
		if !hopByHop(k) {
			req.Header[k] = vs
		}
	}
	req.Host = r.Host // the SDK signed this Host; DynamoDB endpoints would check it
	resp, err := p.upstream.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, err
	}
	return resp, respBody, nil
}

func hopByHop(header string) bool {
	switch http.CanonicalHeaderKey(header) {
	case "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade", "Content-Length":
		return true
	}
	return false
}

// writeError answers like DynamoDB does for a failed request.
func writeError(w http.ResponseWriter, status int, typ, msg string) {
	h := w.Header()
	h.Set("Content-Type", "application/x-amz-json-1.0")
	h.Set("X-Amzn-Requestid", "faultproxy")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"__type":%q,"message":%q}`, typ, msg)
}

// writeJSON answers 200 with a JSON body, as DynamoDB does (with its CRC32 header).
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/x-amz-json-1.0")
	h.Set("X-Amzn-Requestid", "faultproxy")
	h.Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10))
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// partialBatch is a batch request split by an Unprocessed fault.
type partialBatch struct {
	write    bool                       // BatchWriteItem (else BatchGetItem)
	deferred map[string]json.RawMessage // table -> unprocessed items ([]) or keys ({Keys, ...})
	rest     []byte                     // the request to forward; nil if nothing is left
}

// splitBatch splits a BatchWriteItem or BatchGetItem request: the first half (rounded up) of
// its items, tables in name order, is deferred. It returns nil for other operations and for
// requests it cannot parse.
func splitBatch(op string, body []byte) *partialBatch {
	if !batchOp(op) {
		return nil
	}
	var req map[string]json.RawMessage
	var items map[string]json.RawMessage
	if json.Unmarshal(body, &req) != nil || json.Unmarshal(req["RequestItems"], &items) != nil {
		return nil
	}
	tables := make([]string, 0, len(items))
	for t := range items {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	// The items of each table: write requests, or the Keys of a KeysAndAttributes.
	lists := make(map[string][]json.RawMessage, len(items))
	gets := make(map[string]map[string]json.RawMessage, len(items))
	total := 0
	for _, t := range tables {
		var list []json.RawMessage
		if op == "BatchWriteItem" {
			if json.Unmarshal(items[t], &list) != nil {
				return nil
			}
		} else {
			var ka map[string]json.RawMessage
			if json.Unmarshal(items[t], &ka) != nil || json.Unmarshal(ka["Keys"], &list) != nil {
				return nil
			}
			gets[t] = ka
		}
		lists[t] = list
		total += len(list)
	}
	if total == 0 {
		return nil
	}
	pb := &partialBatch{write: op == "BatchWriteItem", deferred: map[string]json.RawMessage{}}
	toDefer := (total + 1) / 2
	keep := map[string]json.RawMessage{}
	for _, t := range tables {
		list := lists[t]
		n := min(toDefer, len(list))
		toDefer -= n
		pack := func(part []json.RawMessage) json.RawMessage {
			if pb.write {
				b, _ := json.Marshal(part)
				return b
			}
			ka := maps.Clone(gets[t])
			ka["Keys"], _ = json.Marshal(part)
			b, _ := json.Marshal(ka)
			return b
		}
		if n > 0 {
			pb.deferred[t] = pack(list[:n])
		}
		if n < len(list) {
			keep[t] = pack(list[n:])
		}
	}
	if len(keep) > 0 {
		req["RequestItems"], _ = json.Marshal(keep)
		pb.rest, _ = json.Marshal(req)
	}
	return pb
}

// response adds the deferred items to a batch response (nil: an empty one). It returns nil if
// the response cannot be parsed.
func (pb *partialBatch) response(upstream []byte) []byte {
	resp := map[string]json.RawMessage{}
	if upstream != nil && json.Unmarshal(upstream, &resp) != nil {
		return nil
	}
	field := "UnprocessedKeys"
	if pb.write {
		field = "UnprocessedItems"
	}
	un := map[string]json.RawMessage{}
	if raw, ok := resp[field]; ok && json.Unmarshal(raw, &un) != nil {
		return nil
	}
	for t, v := range pb.deferred {
		if old, ok := un[t]; ok { // the target left some unprocessed too: merge
			if pb.write {
				var a, b []json.RawMessage
				_ = json.Unmarshal(old, &a)
				_ = json.Unmarshal(v, &b)
				v, _ = json.Marshal(append(a, b...))
			} else {
				var a, b map[string]json.RawMessage
				var ka, kb []json.RawMessage
				_ = json.Unmarshal(old, &a)
				_ = json.Unmarshal(v, &b)
				_ = json.Unmarshal(a["Keys"], &ka)
				_ = json.Unmarshal(b["Keys"], &kb)
				b["Keys"], _ = json.Marshal(append(ka, kb...))
				v, _ = json.Marshal(b)
			}
		}
		un[t] = v
	}
	resp[field], _ = json.Marshal(un)
	if !pb.write {
		if _, ok := resp["Responses"]; !ok {
			resp["Responses"] = json.RawMessage("{}")
		}
	}
	out, _ := json.Marshal(resp)
	return out
}

// resetConn takes the connection over from the HTTP server and closes it with a TCP RST
// (linger 0), so the client sees "connection reset by peer" with no response at all.
func resetConn(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler) // closes the connection without a response
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// Stats is a snapshot of what a proxy saw and did.
type Stats struct {
	// Requests counts the requests received, by operation ("UpdateItem", ...).
	Requests map[string]uint64
	// Faults counts the injected faults by kind and operation. A request can count twice:
	// Latency plus one other kind.
	Faults map[Kind]map[string]uint64
	// UpstreamErrors counts requests the target could not be asked (answered HTTP 502).
	UpstreamErrors uint64
	// Abandoned counts requests given up because the client went away or the proxy closed
	// before they were answered: during added latency (then they were not forwarded) or while
	// waiting for the target (then they may have been applied).
	Abandoned uint64
}

// Stats returns the counters so far.
func (p *Proxy) Stats() Stats {
	s := Stats{
		Requests:       map[string]uint64{},
		Faults:         map[Kind]map[string]uint64{},
		UpstreamErrors: p.upstreamErrors.Load(),
		Abandoned:      p.abandoned.Load(),
	}
	p.ops.Range(func(k, v any) bool {
		op, c := k.(string), v.(*opCounters)
		s.Requests[op] = c.requests.Load()
		for kind := range numKinds {
			if n := c.faults[kind].Load(); n > 0 {
				if s.Faults[kind] == nil {
					s.Faults[kind] = map[string]uint64{}
				}
				s.Faults[kind][op] = n
			}
		}
		return true
	})
	return s
}

// TotalRequests returns the number of requests received.
func (s Stats) TotalRequests() uint64 {
	var n uint64
	for _, v := range s.Requests {
		n += v
	}
	return n
}

// Count returns how many faults of kind k were injected (all operations).
func (s Stats) Count(k Kind) uint64 {
	var n uint64
	for _, v := range s.Faults[k] {
		n += v
	}
	return n
}

// CountOp returns how many faults of kind k were injected into requests of operation op
// ("UpdateItem").
func (s Stats) CountOp(k Kind, op string) uint64 { return s.Faults[k][op] }

// TotalFaults returns the number of faults injected, all kinds together.
func (s Stats) TotalFaults() uint64 {
	var n uint64
	for k := range numKinds {
		n += s.Count(k)
	}
	return n
}

// String summarises the counters on one line: "requests=N faults=F (throughput=… …)".
func (s Stats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "requests=%d faults=%d (", s.TotalRequests(), s.TotalFaults())
	for i, k := range Kinds() {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%d", k, s.Count(k))
	}
	b.WriteByte(')')
	if s.UpstreamErrors > 0 || s.Abandoned > 0 {
		fmt.Fprintf(&b, " upstream_errors=%d abandoned=%d", s.UpstreamErrors, s.Abandoned)
	}
	return b.String()
}

// Detail lists the injected faults by kind and operation, one "kind op=n ..." line per kind
// that occurred, operations sorted.
func (s Stats) Detail() string {
	var b strings.Builder
	for _, k := range Kinds() {
		m := s.Faults[k]
		if len(m) == 0 {
			continue
		}
		ops := make([]string, 0, len(m))
		for op := range m {
			ops = append(ops, op)
		}
		sort.Strings(ops)
		b.WriteString(k.String())
		for _, op := range ops {
			fmt.Fprintf(&b, " %s=%d", op, m[op])
		}
		b.WriteByte('\n')
	}
	return b.String()
}
