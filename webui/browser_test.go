package webui_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dynamodbqueue/dynamodbqueue/webui"
)

// EnvScreenshots names a directory the browser test writes its screenshots to (the README's
// are made with DDBQ_UI_SCREENSHOTS=../docs/img, relative to this package); by default they go
// to a temporary directory.
const EnvScreenshots = "DDBQ_UI_SCREENSHOTS"

// chromium returns the path of the Chromium binary (Debian's package chromium). A missing
// browser fails the test: .ci/run installs it.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatalf("no Chromium found (install the Debian packages chromium and chromium-driver, as .ci/run does)")
	return ""
}

// postFromPage submits an action from inside the page, with the page's own CSRF token and
// confirm=yes, as a user who bypasses the hidden buttons would: it builds the form in the page
// and submits it, and the browser shows the server's answer.
func postFromPage(path string) chromedp.Action[chromedp.Void] {
	js := fmt.Sprintf(`(() => {
		const f = document.createElement('form');
		f.method = 'post';
		f.action = %q;
		const tok = document.querySelector('input[name=csrf]');
		for (const [k, v] of Object.entries({csrf: tok ? tok.value : '', confirm: 'yes', mode: 'all', body: 'x'})) {
			const i = document.createElement('input');
			i.type = 'hidden'; i.name = k; i.value = v;
			f.appendChild(i);
		}
		document.body.appendChild(f);
		f.submit();
	})()`, path)
	return chromedp.Evaluate[chromedp.Void](js)
}

// TestBrowserScenario drives headless Chromium through the web UI of a seeded table: sign in
// with the token, find the backed-up tenant by sorting and filtering the overview, open a dead
// letter, redrive the dead-letter queue and see the counts change, purge with the confirmation
// page, and check that a read-only UI and a tenant login cannot act on another tenant (the
// server refuses the requests, not only hides the buttons). It saves screenshots of the
// overview and of a queue page.
func TestBrowserScenario(t *testing.T) {
	exe := chromium(t)
	f := newFixture(t, webui.Options{Token: adminToken, Keys: keys, SampleInterval: time.Second}, seed{extraTenants: 20})
	ro := serve(t, f.client, webui.Options{ReadOnly: true})
	shots := os.Getenv(EnvScreenshots)
	if shots == "" {
		shots = t.TempDir()
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(ctxT(t), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute) // generous: make test loads both cores
	defer cancelTimeout()

	base := f.srv.URL
	run := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		start := time.Now()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		t.Logf("%s: %v", step, time.Since(start).Round(time.Millisecond))
	}
	value := func(step string, a chromedp.Action[int]) int {
		t.Helper()
		n, err := chromedp.Run(ctx, a)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		return n
	}
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			png, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(shots, name), png, 0o644)
		})
	}
	// waitURL waits until the page's address contains want: a click that navigates leaves the
	// old page in place for a moment, and its elements must not be mistaken for the new one's.
	// Bounded by ctx; it looks every 50 ms.
	waitURL := func(want string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for {
				loc, err := chromedp.Location()(ctx, tg)
				if err == nil && strings.Contains(loc, want) {
					return nil
				}
				select {
				case <-ctx.Done():
					return fmt.Errorf("address %q never contained %q: %w", loc, want, ctx.Err())
				case <-tick.C:
				}
			}
		})
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}

	// Sign in, and find the backed-up tenant: sorted by dead letters acme comes first; the
	// default sort (visible, descending) and a tenant filter show globex with its backlog.
	run("start Chromium", chromedp.Navigate("about:blank"))
	run("sign in", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), adminToken), chromedp.Click(chromedp.CSS("#login-token")),
		chromedp.WaitVisible(chromedp.CSS("#pairs")))
	run("sort by dead letters", chromedp.Click(chromedp.CSS("#sort-dead")), waitURL("sort=dead"), chromedp.WaitVisible(chromedp.CSS("#pairs")))
	if first := text("#pairs tbody tr:first-child .tenant"); first != "acme" {
		t.Errorf("sorted by dead letters, first tenant %q, want acme", first)
	}
	run("filter", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#filter-tenant")),
		chromedp.SendKeys(chromedp.CSS("#filter-tenant"), "glob"), chromedp.Click(chromedp.CSS("#apply-filters")), waitURL("tenant=glob"),
		chromedp.WaitVisible(chromedp.CSS(`#pairs tr[data-tenant="globex"]`)))
	if n := text(`#pairs tr[data-tenant="globex"] .visible`); n != "12" {
		t.Errorf("globex's backlog shows %q visible, want 12", n)
	}
	if rows := value("filtered rows", chromedp.Evaluate[int](`document.querySelectorAll('#pairs tr[data-tenant]').length`)); rows != 1 {
		t.Errorf("the tenant filter glob shows %d rows, want 1", rows)
	}
	run("overview screenshot", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#pairs")), shot("ui-overview.png"))
	// The queue page's charts need a few samples (the sampler takes one a second): reload
	// until they have lines, bounded by ctx, then take the screenshot.
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for lines := 0; lines < 4; {
		run("queue page", chromedp.Navigate(base+"/queues/orders?range=15m"), chromedp.WaitVisible(chromedp.CSS("#definition")))
		lines = value("chart lines", chromedp.Evaluate[int](`document.querySelectorAll('svg polyline').length`))
		if lines < 4 {
			select {
			case <-ctx.Done():
				t.Fatalf("the queue page's charts have no lines: %v", ctx.Err())
			case <-tick.C:
			}
		}
	}
	run("queue screenshot", shot("ui-queue.png"))

	// Open a dead letter of acme.
	run("open a dead letter", chromedp.Navigate(base+acmeOrders), chromedp.Click(chromedp.CSS("#state-dead-lettered")),
		waitURL("state=dead-lettered"), chromedp.WaitVisible(chromedp.CSS("#messages a.msg")), chromedp.Click(chromedp.CSS("#messages a.msg")),
		chromedp.WaitVisible(chromedp.CSS("#detail")))
	if st, body := text("#state"), text("#body"); st != "dead-lettered" || !strings.Contains(body, `"acme-dead":`) {
		t.Errorf("message page: state %q, body %q", st, body)
	}
	run("message screenshot", shot("ui-message.png"))

	// Redrive every dead letter, confirmed, and follow the job to the end.
	run("redrive all", chromedp.Navigate(base+acmeOrders), chromedp.Click(chromedp.CSS("#redrive-all-button")),
		chromedp.WaitVisible(chromedp.CSS("#confirm")), chromedp.Click(chromedp.CSS("#confirm")),
		chromedp.WaitVisible(chromedp.CSS("#job-status")))
	jobURL, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	for status := text("#job-status"); !strings.HasPrefix(status, "done"); status = text("#job-status") {
		// The job page refreshes itself every second; reading it again is bounded by ctx.
		run("job progress", chromedp.Navigate(jobURL), chromedp.WaitVisible(chromedp.CSS("#job-status")))
	}
	if status := text("#job-status"); !strings.Contains(status, "2 moved of 2") {
		t.Errorf("redrive job: %q", status)
	}
	run("counts after the redrive", chromedp.Navigate(base+acmeOrders), chromedp.WaitVisible(chromedp.CSS("#stats")))
	if vis, dead := text("#count-visible"), text("#count-dead"); vis != "5" || dead != "0" {
		t.Errorf("after the redrive acme shows %s visible, %s dead-lettered; want 5 and 0", vis, dead)
	}

	// Purge, through the confirmation page.
	run("purge", chromedp.Click(chromedp.CSS("#purge-button")), chromedp.WaitVisible(chromedp.CSS("#question")))
	if q := text("#question"); !strings.Contains(q, "Purge every message of orders / acme") {
		t.Errorf("confirmation asks %q", q)
	}
	run("confirm purge", chromedp.Click(chromedp.CSS("#confirm")), chromedp.WaitVisible(chromedp.CSS("#flash")))
	if vis := text("#count-visible"); vis != "0" {
		t.Errorf("after the purge acme shows %s visible", vis)
	}

	// Read-only: no action buttons, and the server refuses an action posted anyway.
	run("read-only page", chromedp.Navigate(ro.srv.URL+"/queues/orders/tenants/globex"), chromedp.WaitVisible(chromedp.CSS("#readonly")))
	if buttons := value("read-only buttons", chromedp.Evaluate[int](`document.querySelectorAll('#purge, #send, #redrive-all').length`)); buttons != 0 {
		t.Errorf("read-only page shows %d action forms", buttons)
	}
	run("read-only purge", postFromPage("/queues/orders/tenants/globex/purge"), chromedp.WaitVisible(chromedp.CSS("#error")))
	if h1, msg := text("h1"), text("#error"); h1 != "403 Forbidden" || !strings.Contains(msg, "read-only") {
		t.Errorf("read-only purge posted from the page: %q %q, want 403", h1, msg)
	}

	// A tenant login (acme's key) sees only acme and cannot act on globex.
	run("log out", chromedp.Navigate(base+"/"), chromedp.Click(chromedp.CSS("header button.link")),
		chromedp.WaitVisible(chromedp.CSS("#key_id")), chromedp.SendKeys(chromedp.CSS("#key_id"), acmeKeyID),
		chromedp.SendKeys(chromedp.CSS("#secret"), acmeSecret), chromedp.Click(chromedp.CSS("#login-key")),
		chromedp.WaitVisible(chromedp.CSS("#pairs")))
	if others := value("tenant overview", chromedp.Evaluate[int](`document.querySelectorAll('#pairs tr[data-tenant]:not([data-tenant="acme"])').length`)); others != 0 {
		t.Errorf("acme's overview lists %d rows of other tenants", others)
	}
	run("another tenant's page", chromedp.Navigate(base+"/queues/orders/tenants/globex"), chromedp.WaitVisible(chromedp.CSS("#error")))
	run("overview of acme", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#pairs")))
	run("another tenant's purge", postFromPage("/queues/orders/tenants/globex/purge"), chromedp.WaitVisible(chromedp.CSS("#error")))
	if h1 := text("h1"); h1 != "403 Forbidden" {
		t.Errorf("acme's login purging globex: %q, want 403", h1)
	}
	if st := stats(t, f.client, "orders", "globex"); st.Visible != 12 {
		t.Errorf("globex after the refused purges: %+v, want 12 visible", st)
	}
}
