package webui_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
	"github.com/dynamodbqueue/dynamodbqueue/webui"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// Secrets of the tenant logins of the tests.
const (
	adminToken   = "admin-token-for-the-tests"
	acmeKeyID    = "ACMEKEY000000001"
	acmeSecret   = "acme-secret-0000001"
	globexKeyID  = "GLOBEXKEY0000001"
	globexSecret = "globex-secret-000001"
)

// keys is the tests' key file: acme and globex each confined to their own client ID.
func keys(id string) (webui.Login, bool) {
	switch id {
	case acmeKeyID:
		return webui.Login{Secret: acmeSecret, ClientIDs: []string{"acme"}}, true
	case globexKeyID:
		return webui.Login{Secret: globexSecret, ClientIDs: []string{"globex"}}, true
	}
	return webui.Login{}, false
}

// fixture is a seeded table and a web UI server on it.
type fixture struct {
	client *dynamodbqueue.Client
	srv    *httptest.Server
	h      *webui.Handler
}

// seed is what newFixture puts in the table: queue "orders" (dead letters to "orders-dlq"
// after 1 receive) for acme (3 visible, 2 dead-lettered), globex (backed up: 12 visible) and
// initech (1 visible); queue "emails" for acme (1 in flight).
type seed struct {
	extraTenants int // more tenants of "orders", one message each ("t-000", "t-001", ...)
}

func newClient(t *testing.T) *dynamodbqueue.Client {
	t.Helper()
	c, err := dynamodbqueue.New(dynamodbqueue.Options{API: testenv.Client(t), Table: testenv.TableName(t),
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	q, err := c.Queue("orders", "acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.CreateQueueTable(ctxT(t)); err != nil {
		t.Fatalf("CreateQueueTable: %v", err)
	}
	t.Cleanup(func() { _ = q.DropQueueTable(context.Background()) })
	return c
}

func pushN(t testing.TB, c *dynamodbqueue.Client, queue, client string, n int, prefix string) *dynamodbqueue.DynamoDBQueue {
	t.Helper()
	q, err := c.Queue(queue, client)
	if err != nil {
		t.Fatal(err)
	}
	msgs := make([]events.SQSMessage, n)
	for i := range msgs {
		msgs[i] = events.SQSMessage{Body: fmt.Sprintf(`{"%s":%d}`, prefix, i)}
	}
	for len(msgs) > 0 {
		batch := msgs[:min(10, len(msgs))]
		msgs = msgs[len(batch):]
		if failed, err := q.PushMessages(ctxT(t), 0, batch...); err != nil || len(failed) > 0 {
			t.Fatalf("push to %s/%s: %v", queue, client, err)
		}
	}
	return q
}

func seedTable(t *testing.T, c *dynamodbqueue.Client, s seed) {
	t.Helper()
	ctx := ctxT(t)
	if _, err := c.CreateQueue(ctx, "orders", dynamodbqueue.QueueAttributes{
		RedrivePolicy: &dynamodbqueue.RedrivePolicy{DeadLetterQueue: "orders-dlq", MaxReceiveCount: 1}}); err != nil {
		t.Fatalf("CreateQueue: %v", err)
	}
	acme := pushN(t, c, "orders", "acme", 2, "acme-dead")
	// Both are received twice: the second receive dead-letters them.
	got, err := acme.PollMessages(ctx, 0, time.Hour, 2)
	if err != nil || len(got) != 2 {
		t.Fatalf("seed: receive %d, %v", len(got), err)
	}
	if _, err := acme.ReleaseMessages(ctx, dynamodbqueue.ToReceiptHandles(got)...); err != nil {
		t.Fatal(err)
	}
	if again, err := acme.PollMessages(ctx, 0, time.Hour, 2); err != nil || len(again) != 0 {
		t.Fatalf("seed: dead-lettering received %d, %v", len(again), err)
	}
	pushN(t, c, "orders", "acme", 3, "acme")
	pushN(t, c, "orders", "globex", 12, "globex")
	pushN(t, c, "orders", "initech", 1, "initech")
	emails := pushN(t, c, "emails", "acme", 1, "email")
	if got, err := emails.PollMessages(ctx, 0, time.Hour, 1); err != nil || len(got) != 1 {
		t.Fatalf("seed: emails in flight: %d, %v", len(got), err)
	}
	for i := range s.extraTenants {
		pushN(t, c, "orders", fmt.Sprintf("t-%03d", i), 1, "t")
	}
	if st := stats(t, c, "orders", "acme"); st.Visible != 3 || st.DeadLettered != 2 {
		t.Fatalf("seed: acme %+v", st)
	}
}

func stats(t testing.TB, c *dynamodbqueue.Client, queue, client string) dynamodbqueue.Stats {
	t.Helper()
	q, err := c.Queue(queue, client)
	if err != nil {
		t.Fatal(err)
	}
	st, err := q.Stats(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// newFixture seeds a table and serves a web UI on it with opts (Client is set here). The
// sampler's first sample, taken at start, sees the seeded table.
func newFixture(t *testing.T, opts webui.Options, s seed) *fixture {
	t.Helper()
	c := newClient(t)
	seedTable(t, c, s)
	return serve(t, c, opts)
}

func serve(t *testing.T, c *dynamodbqueue.Client, opts webui.Options) *fixture {
	t.Helper()
	opts.Client = c
	if opts.SampleInterval == 0 {
		opts.SampleInterval = time.Hour // the first sample, at start, is all the tests read
	}
	h, err := webui.New(opts)
	if err != nil {
		t.Fatalf("webui.New: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		h.Close()
	})
	return &fixture{client: c, srv: srv, h: h}
}

// browser is an HTTP client with a cookie jar, as a browser keeps its session.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string // from the last page that had a form
}

func (f *fixture) browser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, base: f.srv.URL, c: &http.Client{Jar: jar, Timeout: time.Minute}}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// get fetches path (following redirects) and returns the status and body.
func (b *browser) get(path string) (int, string) {
	b.t.Helper()
	resp, err := b.c.Get(b.base + path)
	if err != nil {
		b.t.Fatalf("GET %s: %v", path, err)
	}
	return b.read(resp)
}

func (b *browser) read(resp *http.Response) (int, string) {
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	if m := csrfRE.FindSubmatch(body); m != nil {
		b.csrf = string(m[1])
	}
	return resp.StatusCode, string(body)
}

// post submits a form to path with the session's CSRF token (unless the form sets csrf).
func (b *browser) post(path string, form url.Values) (int, string) {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", b.csrf)
	}
	resp, err := b.c.Post(b.base+path, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatalf("POST %s: %v", path, err)
	}
	return b.read(resp)
}

// login signs in with an access key (or, with id "", the admin token).
func (b *browser) login(id, secret string) {
	b.t.Helper()
	if code, _ := b.get("/login"); code != http.StatusOK {
		b.t.Fatalf("login page: %d", code)
	}
	form := url.Values{"key_id": {id}, "secret": {secret}}
	if id == "" {
		form = url.Values{"token": {secret}}
	}
	code, body := b.post("/login", form)
	if code != http.StatusOK || !strings.Contains(body, `id="pairs"`) {
		b.t.Fatalf("login as %q: %d\n%s", id, code, body)
	}
}
