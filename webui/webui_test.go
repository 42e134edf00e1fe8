package webui_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/webui"
)

const acmeOrders = "/queues/orders/tenants/acme"

// TestCheckListen: without a login only loopback listeners are allowed; any login allows any.
func TestCheckListen(t *testing.T) {
	for addr, loop := range map[string]bool{"127.0.0.1:8080": true, "[::1]:80": true, "localhost:1": true,
		":8080": false, "0.0.0.0:8080": false, "10.1.2.3:80": false, "example.com:80": false} {
		err := webui.CheckListen(addr, webui.Options{})
		if loop != (err == nil) || (err != nil && !errors.Is(err, webui.ErrAuthRequired)) {
			t.Errorf("CheckListen(%q) without login = %v", addr, err)
		}
		if err := webui.CheckListen(addr, webui.Options{Token: "x"}); err != nil {
			t.Errorf("CheckListen(%q) with a token = %v", addr, err)
		}
	}
}

// TestLoginRequired: with a token configured, pages redirect to the login page, actions are
// refused with 401, a wrong token is refused, and the right one (by form or as a bearer header)
// gets in. Without a login configured, only loopback clients are served.
func TestLoginRequired(t *testing.T) {
	f := newFixture(t, webui.Options{Token: adminToken, Keys: keys}, seed{})
	b := f.browser(t)
	if code, body := b.get("/"); code != http.StatusOK || !strings.Contains(body, `id="login-token"`) {
		t.Fatalf("overview before login: %d, not the login page", code)
	}
	if code, _ := b.post(acmeOrders+"/purge", url.Values{"confirm": {"yes"}}); code != http.StatusUnauthorized {
		t.Errorf("action before login: %d, want 401", code)
	}
	if code, body := b.post("/login", url.Values{"token": {"wrong"}}); code != http.StatusOK || !strings.Contains(body, "wrong token") {
		t.Errorf("wrong token: %d", code)
	}
	if code, _ := b.post("/login", url.Values{"key_id": {acmeKeyID}, "secret": {globexSecret}}); code != http.StatusOK {
		t.Errorf("wrong secret: %d", code)
	}
	if code, body := b.get("/"); !strings.Contains(body, `id="login-token"`) {
		t.Errorf("a wrong login got in: %d", code)
	}
	b.login("", adminToken)
	if st := stats(t, f.client, "orders", "acme"); st.Visible != 3 {
		t.Errorf("the refused action changed acme: %+v", st)
	}

	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("bearer token: %v %v", resp.StatusCode, err)
	}
	req.Header.Set("Authorization", "Bearer wrong")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong bearer token: %v %v", resp.StatusCode, err)
	}
	req.SetBasicAuth(acmeKeyID, acmeSecret)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("basic auth with a tenant key: %v %v", resp.StatusCode, err)
	}

	open := serve(t, f.client, webui.Options{})
	rec := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "192.0.2.7:40000"
	open.h.ServeHTTP(rec, r)
	if rec.Code != http.StatusForbidden {
		t.Errorf("no login configured, remote client: %d, want 403", rec.Code)
	}
	if code, _ := open.browser(t).get("/"); code != http.StatusOK {
		t.Errorf("no login configured, loopback client: %d", code)
	}
}

// TestActionsNeedCSRFAndConfirmation: an action without the session's CSRF token (none, a
// wrong one, another session's) is refused with 403 and changes nothing; with it but without
// confirm=yes it shows the confirmation page and changes nothing; confirmed, it runs.
func TestActionsNeedCSRFAndConfirmation(t *testing.T) {
	f := newFixture(t, webui.Options{}, seed{})
	b, other := f.browser(t), f.browser(t)
	b.get(acmeOrders)
	other.get("/")
	for name, token := range map[string]string{"no token": "", "wrong token": "x" + b.csrf, "another session's": other.csrf} {
		code, body := b.post(acmeOrders+"/purge", url.Values{"csrf": {token}, "confirm": {"yes"}})
		if code != http.StatusForbidden || !strings.Contains(body, "CSRF") {
			t.Errorf("%s: %d, want 403", name, code)
		}
	}
	code, body := b.post(acmeOrders+"/purge", nil)
	if code != http.StatusOK || !strings.Contains(body, `id="confirm"`) {
		t.Fatalf("unconfirmed purge: %d, no confirmation page", code)
	}
	if st := stats(t, f.client, "orders", "acme"); st.Visible != 3 {
		t.Fatalf("purge ran without a confirmation (or CSRF token): %+v", st)
	}
	code, body = b.post(acmeOrders+"/purge", url.Values{"confirm": {"yes"}})
	if code != http.StatusOK || !strings.Contains(body, "purged orders / acme") {
		t.Errorf("confirmed purge: %d\n%s", code, body)
	}
	if st := stats(t, f.client, "orders", "acme"); st.Visible != 0 || st.DeadLettered != 2 {
		t.Errorf("after the purge: %+v, want no messages and the 2 dead letters", st)
	}
}

// TestReadOnlyRefusesEveryAction: in read-only mode every action is refused by the server with
// 403 (even with a valid CSRF token and confirmation) and the pages show no action forms.
func TestReadOnlyRefusesEveryAction(t *testing.T) {
	f := newFixture(t, webui.Options{ReadOnly: true}, seed{})
	b := f.browser(t)
	_, page := b.get(acmeOrders + "?state=dead-lettered")
	if strings.Contains(page, `id="purge"`) || strings.Contains(page, `id="send"`) || strings.Contains(page, "redrive selected") ||
		!strings.Contains(page, `id="readonly"`) {
		t.Errorf("read-only tenant page shows action forms")
	}
	id := regexp.MustCompile(`name="id" value="([^"]+)"|/messages/([^"]+)"`).FindStringSubmatch(page)
	if id == nil {
		t.Fatalf("no dead letter listed")
	}
	msg := id[1] + id[2]
	for _, path := range []string{
		acmeOrders + "/purge", acmeOrders + "/send", acmeOrders + "/redrive",
		acmeOrders + "/messages/" + msg + "/delete", acmeOrders + "/messages/" + msg + "/redrive",
		acmeOrders + "/messages/" + msg + "/visibility", "/queues", "/queues/orders/delete", "/queues/orders/definition",
	} {
		form := url.Values{"confirm": {"yes"}, "name": {"new"}, "body": {"x"}, "mode": {"all"}}
		if code, body := b.post(path, form); code != http.StatusForbidden || !strings.Contains(body, "read-only") {
			t.Errorf("POST %s in read-only mode: %d, want 403", path, code)
		}
	}
	if st := stats(t, f.client, "orders", "acme"); st.Visible != 3 || st.DeadLettered != 2 {
		t.Errorf("read-only actions changed acme: %+v", st)
	}
	if _, err := f.client.GetQueue(ctxT(t), "new"); !errors.Is(err, dynamodbqueue.ErrQueueDoesNotExist) {
		t.Errorf("read-only create made a queue: %v", err)
	}
}

// TestTenantLoginSeesOnlyItsClients: a tenant login's overview lists only its own client IDs,
// and every page and action of another tenant is refused by the server (403), changing nothing;
// its own actions work. Queue definitions are for administrators only.
func TestTenantLoginSeesOnlyItsClients(t *testing.T) {
	f := newFixture(t, webui.Options{Keys: keys}, seed{})
	b := f.browser(t)
	b.login(globexKeyID, globexSecret)
	_, overview := b.get("/")
	if !strings.Contains(overview, `data-tenant="globex"`) || strings.Contains(overview, `data-tenant="acme"`) ||
		strings.Contains(overview, `data-tenant="initech"`) {
		t.Errorf("globex's overview lists other tenants")
	}
	if code, _ := b.get(acmeOrders); code != http.StatusForbidden {
		t.Errorf("globex opens acme's page: %d", code)
	}
	if code, _ := b.get("/queues/emails"); code != http.StatusForbidden {
		t.Errorf("globex opens a queue it has no tenant in: %d", code)
	}
	yes := url.Values{"confirm": {"yes"}}
	for _, path := range []string{acmeOrders + "/purge", acmeOrders + "/redrive", acmeOrders + "/send"} {
		if code, _ := b.post(path, url.Values{"confirm": {"yes"}, "body": {"x"}, "mode": {"all"}}); code != http.StatusForbidden {
			t.Errorf("globex POST %s: %d, want 403", path, code)
		}
	}
	if code, _ := b.post("/queues/orders/delete", yes); code != http.StatusForbidden {
		t.Errorf("a tenant deletes a queue definition: %d", code)
	}
	if st := stats(t, f.client, "orders", "acme"); st.Visible != 3 || st.DeadLettered != 2 {
		t.Errorf("globex's refused actions changed acme: %+v", st)
	}
	if code, _ := b.post("/queues/orders/tenants/globex/purge", yes); code != http.StatusOK {
		t.Errorf("globex purges its own queue: %d", code)
	}
	if st := stats(t, f.client, "orders", "globex"); st.Visible != 0 {
		t.Errorf("globex after its purge: %+v", st)
	}
	if _, err := f.client.GetQueue(ctxT(t), "orders"); err != nil {
		t.Errorf("the definition after the refused delete: %v", err)
	}
}

// TestOverviewPagesFiltersAndSorts: with 120 extra tenants (125 pairs with the seed's, its
// dead-letter pair included) the overview shows pages of 50 rows, page 3 the last 25; sorted by visible (the default, descending) the backed-up tenant comes
// first; a tenant filter finds one tenant; sorting by dead letters puts acme first.
func TestOverviewPagesFiltersAndSorts(t *testing.T) {
	f := newFixture(t, webui.Options{PageSize: 50}, seed{extraTenants: 120})
	b := f.browser(t)
	rowRE := regexp.MustCompile(`data-tenant="([^"]+)"`)
	tenants := func(body string) []string {
		var out []string
		for _, m := range rowRE.FindAllStringSubmatch(body, -1) {
			out = append(out, m[1])
		}
		return out
	}
	_, body := b.get("/")
	rows := tenants(body)
	if len(rows) != 50 || rows[0] != "globex" || !strings.Contains(body, "page 1 of 3 (125 rows)") {
		t.Errorf("first page: %d rows, first %v", len(rows), rows[:min(1, len(rows))])
	}
	_, body = b.get("/?page=3")
	if rows := tenants(body); len(rows) != 25 {
		t.Errorf("page 3: %d rows, want 25", len(rows))
	}
	_, body = b.get("/?tenant=t-042")
	if rows := tenants(body); len(rows) != 1 || rows[0] != "t-042" {
		t.Errorf("filter t-042: %v", rows)
	}
	_, body = b.get("/?sort=dead&order=desc")
	if rows := tenants(body); len(rows) == 0 || rows[0] != "acme" {
		t.Errorf("sorted by dead letters: %v", rows[:min(3, len(rows))])
	}
	_, body = b.get("/queues/orders?tenant=globex")
	if rows := tenants(body); len(rows) != 1 || !strings.Contains(body, "<svg") {
		t.Errorf("queue page filtered to globex: %v, or no charts", rows)
	}
}

// TestMessagePageAndRedriveJob: the message page shows a JSON body pretty-printed and the
// receive count; redriving all dead letters runs as a job whose page reports them moved, and
// the counts change.
func TestMessagePageAndRedriveJob(t *testing.T) {
	f := newFixture(t, webui.Options{}, seed{})
	b := f.browser(t)
	_, page := b.get(acmeOrders + "?state=dead-lettered")
	m := regexp.MustCompile(`class="msg" href="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no dead letter listed")
	}
	_, detail := b.get(m[1])
	if !strings.Contains(detail, "{\n  &#34;acme-dead&#34;: ") || !strings.Contains(detail, `<td id="receives">2</td>`) {
		t.Errorf("message page: no pretty JSON body or receive count 2\n%s", detail)
	}
	code, body := b.post(acmeOrders+"/redrive", url.Values{"mode": {"all"}, "confirm": {"yes"}})
	if code != http.StatusOK || !strings.Contains(body, `id="job-status"`) {
		t.Fatalf("redrive all: %d", code)
	}
	body = waitJob(t, b, body)
	if !strings.Contains(body, "2 moved of 2") {
		t.Errorf("job: %s", regexp.MustCompile(`id="job-status"[^<]*`).FindString(body))
	}
	_, page = b.get(acmeOrders)
	if !strings.Contains(page, `<td id="count-visible">5</td>`) || !strings.Contains(page, `<td id="count-dead">0</td>`) {
		t.Errorf("tenant page after the redrive does not show 5 visible, 0 dead-lettered")
	}
}

// waitJob follows a job page (body) until the job is done and returns its last page.
func waitJob(t *testing.T, b *browser, body string) string {
	t.Helper()
	jobURL := regexp.MustCompile(`/jobs/[A-Za-z0-9_-]+`).FindString(body)
	// The job page reports progress; poll it until done, bounded by the test's context.
	ctx := ctxT(t)
	tick := time.NewTicker(100 * time.Millisecond) // how often a browser's refresh would look
	defer tick.Stop()
	for !strings.Contains(body, `data-done="true"`) {
		select {
		case <-ctx.Done():
			t.Fatalf("job did not finish: %s", regexp.MustCompile(`id="job-status"[^<]*`).FindString(body))
		case <-tick.C:
		}
		_, body = b.get(jobURL)
	}
	return body
}

// TestMessageAndQueueActions runs every other action once, confirmed, and checks its effect in
// the table: send a test message, release an in-flight message (change visibility to 0),
// delete a message, redrive one dead letter, create a queue, edit its definition (a stale
// version is a 409 conflict and changes nothing), and delete it.
func TestMessageAndQueueActions(t *testing.T) {
	f := newFixture(t, webui.Options{}, seed{})
	b := f.browser(t)
	ctx := ctxT(t)
	b.get("/")
	yes := func(kv ...string) url.Values {
		v := url.Values{"confirm": {"yes"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	msgRE := regexp.MustCompile(`class="msg" href="[^"]*/messages/([^"]+)"`)

	if code, body := b.post(acmeOrders+"/send", yes("body", `{"hello":"ui"}`)); code != http.StatusOK || !strings.Contains(body, "sent message") {
		t.Errorf("send: %d", code)
	}
	if st := stats(t, f.client, "orders", "acme"); st.Visible != 4 {
		t.Errorf("after send: %+v, want 4 visible", st)
	}

	_, page := b.get("/queues/emails/tenants/acme?state=in-flight")
	held := msgRE.FindStringSubmatch(page)
	if held == nil {
		t.Fatalf("no in-flight message listed")
	}
	path := "/queues/emails/tenants/acme/messages/" + held[1]
	if code, _ := b.post(path+"/visibility", yes("seconds", "0")); code != http.StatusOK {
		t.Errorf("release: %d", code)
	}
	if st := stats(t, f.client, "emails", "acme"); st.Visible != 1 || st.InFlight != 0 {
		t.Errorf("after release: %+v", st)
	}
	if code, _ := b.post(path+"/visibility", yes("seconds", "30")); code != http.StatusConflict {
		t.Errorf("visibility of a message nobody holds: %d, want 409", code)
	}
	if code, _ := b.post(path+"/delete", yes()); code != http.StatusOK {
		t.Errorf("delete: %d", code)
	}
	if st := stats(t, f.client, "emails", "acme"); st.Total() != 0 {
		t.Errorf("after delete: %+v", st)
	}

	_, page = b.get(acmeOrders + "?state=dead-lettered")
	dead := msgRE.FindStringSubmatch(page)
	if dead == nil {
		t.Fatalf("no dead letter listed")
	}
	if code, _ := b.post(acmeOrders+"/messages/"+dead[1]+"/redrive", yes()); code != http.StatusOK {
		t.Errorf("redrive one: %d", code)
	}
	if st := stats(t, f.client, "orders", "acme"); st.Visible != 5 || st.DeadLettered != 1 {
		t.Errorf("after redriving one: %+v, want 5 visible, 1 dead-lettered", st)
	}
	_, page = b.get(acmeOrders + "?state=dead-lettered")
	last := msgRE.FindStringSubmatch(page)
	if last == nil {
		t.Fatalf("the second dead letter is not listed")
	}
	code, body := b.post(acmeOrders+"/redrive", url.Values{"confirm": {"yes"}, "mode": {"selected"}, "id": {last[1]}})
	if code != http.StatusOK {
		t.Fatalf("redrive selected: %d", code)
	}
	if body = waitJob(t, b, body); !strings.Contains(body, "1 moved of 1") {
		t.Errorf("redrive selected: %s", regexp.MustCompile(`id="job-status"[^<]*`).FindString(body))
	}
	if st := stats(t, f.client, "orders", "acme"); st.Visible != 6 || st.DeadLettered != 0 {
		t.Errorf("after redriving the selection: %+v, want 6 visible, 0 dead-lettered", st)
	}

	if code, _ = b.post("/queues", yes("name", "reports", "visibility", "45", "shards", "2")); code != http.StatusOK {
		t.Errorf("create: %d", code)
	}
	def, err := f.client.GetQueue(ctx, "reports")
	if err != nil || def.VisibilityTimeout != 45*time.Second || def.Shards != 2 {
		t.Fatalf("created: %+v, %v", def, err)
	}
	v := strconv.FormatInt(def.Version, 10)
	if code, _ := b.post("/queues/reports/definition", yes("version", v, "visibility", "90", "dlq", "reports-dead", "max_receives", "3")); code != http.StatusOK {
		t.Errorf("update: %d", code)
	}
	if code, _ := b.post("/queues/reports/definition", yes("version", v, "visibility", "10")); code != http.StatusConflict {
		t.Errorf("update with a stale version: %d, want 409", code)
	}
	def, err = f.client.GetQueue(ctx, "reports")
	if err != nil || def.VisibilityTimeout != 90*time.Second || def.RedrivePolicy == nil || def.RedrivePolicy.DeadLetterQueue != "reports-dead" {
		t.Errorf("updated: %+v, %v", def, err)
	}
	if code, _ := b.post("/queues/reports/delete", yes()); code != http.StatusOK {
		t.Errorf("delete queue: %d", code)
	}
	if _, err := f.client.GetQueue(ctx, "reports"); !errors.Is(err, dynamodbqueue.ErrQueueDoesNotExist) {
		t.Errorf("after delete: %v", err)
	}
}
