package webui

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// firstSampleWait bounds how long a page waits for the sampler's first sample after start.
const firstSampleWait = 15 * time.Second

// row is one (queue, tenant) pair of the overview.
type row struct {
	Queue, Client string
	pairSample
}

// sortKeys are the overview's sortable columns.
var sortKeys = map[string]func(a, b row) int{
	"queue": func(a, b row) int {
		return cmp.Or(strings.Compare(a.Queue, b.Queue), strings.Compare(a.Client, b.Client))
	},
	"tenant": func(a, b row) int {
		return cmp.Or(strings.Compare(a.Client, b.Client), strings.Compare(a.Queue, b.Queue))
	},
	"visible":  func(a, b row) int { return cmp.Compare(a.Visible, b.Visible) },
	"inflight": func(a, b row) int { return cmp.Compare(a.InFlight, b.InFlight) },
	"delayed":  func(a, b row) int { return cmp.Compare(a.Delayed, b.Delayed) },
	"dead":     func(a, b row) int { return cmp.Compare(a.DeadLettered, b.DeadLettered) },
	"oldest":   func(a, b row) int { return cmp.Compare(a.OldestAge, b.OldestAge) },
	"in":       func(a, b row) int { return cmp.Compare(a.InRate, b.InRate) },
	"out":      func(a, b row) int { return cmp.Compare(a.OutRate, b.OutRate) },
}

// latest returns the newest sample, waiting for the first one after start.
func (h *Handler) latest(ctx context.Context) (snapshot, bool) {
	sn, ok, next := h.sampler.latest()
	if ok {
		return sn, true
	}
	t := time.NewTimer(firstSampleWait)
	defer t.Stop()
	select {
	case <-next:
	case <-t.C:
	case <-ctx.Done():
	}
	sn, ok, _ = h.sampler.latest()
	return sn, ok
}

// listing is a filtered, sorted, paged table of rows.
type listing struct {
	Rows                []row
	Total, Page, Pages  int
	Queue, Tenant, Sort string
	Desc                bool
	Prev, Next          string // links, "" at the ends
	SortLinks           map[string]string
}

// rows filters the sample's pairs to those who may see (and the filters), sorts and pages them.
func (h *Handler) rows(r *http.Request, who *principal, sn snapshot, onlyQueue string) listing {
	qv := r.URL.Query()
	l := listing{Queue: qv.Get("queue"), Tenant: qv.Get("tenant"), Sort: qv.Get("sort"), Desc: qv.Get("order") != "asc"}
	if _, ok := sortKeys[l.Sort]; !ok {
		l.Sort, l.Desc = "visible", true
		if qv.Get("order") == "asc" {
			l.Desc = false
		}
	}
	var all []row
	for p, s := range sn.Pairs {
		if !who.allows(p.ClientID) || (onlyQueue != "" && p.QueueName != onlyQueue) ||
			!strings.Contains(p.QueueName, l.Queue) || !strings.Contains(p.ClientID, l.Tenant) {
			continue
		}
		all = append(all, row{Queue: p.QueueName, Client: p.ClientID, pairSample: s})
	}
	by := sortKeys[l.Sort]
	slices.SortFunc(all, func(a, b row) int {
		c := by(a, b)
		if l.Desc {
			c = -c
		}
		return cmp.Or(c, sortKeys["queue"](a, b))
	})
	l.Total = len(all)
	size := h.opts.PageSize
	l.Pages = max(1, (l.Total+size-1)/size)
	l.Page, _ = strconv.Atoi(qv.Get("page"))
	l.Page = min(max(l.Page, 1), l.Pages)
	l.Rows = all[(l.Page-1)*size : min(l.Page*size, l.Total)]
	link := func(page int, sort string, desc bool) string {
		v := url.Values{}
		for k, vs := range qv {
			v[k] = vs
		}
		v.Del("msg")
		v.Set("page", strconv.Itoa(page))
		v.Set("sort", sort)
		v.Set("order", map[bool]string{true: "desc", false: "asc"}[desc])
		return h.opts.Prefix + r.URL.Path + "?" + v.Encode()
	}
	if l.Page > 1 {
		l.Prev = link(l.Page-1, l.Sort, l.Desc)
	}
	if l.Page < l.Pages {
		l.Next = link(l.Page+1, l.Sort, l.Desc)
	}
	l.SortLinks = map[string]string{}
	for k := range sortKeys {
		desc := k != "queue" && k != "tenant"
		if k == l.Sort {
			desc = !l.Desc
		}
		l.SortLinks[k] = link(1, k, desc)
	}
	return l
}

// queueSummary aggregates the visible rows of one queue.
type queueSummary struct {
	Name                                     string
	Tenants                                  int
	Visible, InFlight, Delayed, DeadLettered int32
	OldestAge, InRate, OutRate               float32
}

func (h *Handler) overview(w http.ResponseWriter, r *http.Request, who *principal) {
	sn, ok := h.latest(r.Context())
	if !ok {
		h.fail(w, r, http.StatusServiceUnavailable, "no sample of the table yet: reload in a few seconds")
		return
	}
	l := h.rows(r, who, sn, "")
	// Per-queue totals of every pair the filters keep (not only this page).
	sums := map[string]*queueSummary{}
	for p, s := range sn.Pairs {
		if !who.allows(p.ClientID) || !strings.Contains(p.QueueName, l.Queue) || !strings.Contains(p.ClientID, l.Tenant) {
			continue
		}
		q := sums[p.QueueName]
		if q == nil {
			q = &queueSummary{Name: p.QueueName}
			sums[p.QueueName] = q
		}
		q.Tenants++
		q.Visible += s.Visible
		q.InFlight += s.InFlight
		q.Delayed += s.Delayed
		q.DeadLettered += s.DeadLettered
		q.OldestAge = max(q.OldestAge, s.OldestAge)
		q.InRate += s.InRate
		q.OutRate += s.OutRate
	}
	queues := make([]*queueSummary, 0, len(sums))
	for _, q := range sums {
		queues = append(queues, q)
	}
	slices.SortFunc(queues, func(a, b *queueSummary) int { return strings.Compare(a.Name, b.Name) })
	if len(queues) > 100 { // the pairs table below is paged; this is a digest
		queues = queues[:100]
	}
	data := map[string]any{"List": l, "Queues": queues, "Sampled": sn.At, "Took": sn.Took.Round(time.Millisecond),
		"Err": sn.Err, "Table": h.client.Table()}
	if who.admin {
		page, err := h.client.ListQueues(r.Context(), dynamodbqueue.ListQueuesOptions{Prefix: r.URL.Query().Get("defprefix"),
			Limit: h.opts.PageSize, Cursor: r.URL.Query().Get("defcursor")})
		if err != nil {
			data["DefErr"] = err.Error()
		}
		data["Definitions"] = page.Queues
		if page.Cursor != "" {
			v := url.Values{"defcursor": {page.Cursor}, "defprefix": {r.URL.Query().Get("defprefix")}}
			data["DefNext"] = h.opts.Prefix + "/?" + v.Encode()
		}
	}
	h.renderAs(w, r, http.StatusOK, "overview", who, data)
}

// chartRange picks the window of the charts from ?range= (15m, 1h, or all samples).
func chartRange(r *http.Request) (string, time.Time) {
	switch v := r.URL.Query().Get("range"); v {
	case "1h":
		return v, time.Now().Add(-time.Hour)
	case "all":
		return v, time.Time{}
	default:
		return "15m", time.Now().Add(-15 * time.Minute)
	}
}

// charts draws depth, throughput and oldest age of the pairs keep selects, summed.
func (h *Handler) charts(since time.Time, keep func(dynamodbqueue.QueueAndClientID) bool) []any {
	snaps := h.sampler.series(since)
	times := make([]time.Time, len(snaps))
	var vis, fl, del, dead, in, out, oldest []float64
	for i, sn := range snaps {
		times[i] = sn.At
		var v, f, d, dl, ir, or, o float64
		for p, s := range sn.Pairs {
			if !keep(p) {
				continue
			}
			v += float64(s.Visible)
			f += float64(s.InFlight)
			d += float64(s.Delayed)
			dl += float64(s.DeadLettered)
			ir += float64(s.InRate)
			or += float64(s.OutRate)
			o = max(o, float64(s.OldestAge))
		}
		vis, fl, del, dead = append(vis, v), append(fl, f), append(del, d), append(dead, dl)
		in, out, oldest = append(in, ir), append(out, or), append(oldest, o)
	}
	return []any{
		chart("Depth", "messages", times, []series{{"visible", "s1", vis}, {"in flight", "s2", fl}, {"delayed", "s3", del}, {"dead-lettered", "s4", dead}}),
		chart("Throughput", "messages/s", times, []series{{"in", "s1", in}, {"out", "s2", out}}),
		chart("Oldest visible message", "age in seconds", times, []series{{"age", "s1", oldest}}),
	}
}

func (h *Handler) queuePage(w http.ResponseWriter, r *http.Request, who *principal) {
	name := r.PathValue("queue")
	if err := dynamodbqueue.ValidateName(name); err != nil {
		h.failErr(w, r, err)
		return
	}
	sn, _ := h.latest(r.Context())
	l := h.rows(r, who, sn, name)
	rng, since := chartRange(r)
	data := map[string]any{"Name": name, "List": l, "Range": rng,
		"Charts": h.charts(since, func(p dynamodbqueue.QueueAndClientID) bool { return p.QueueName == name && who.allows(p.ClientID) })}
	def, err := h.client.GetQueue(r.Context(), name)
	switch {
	case err == nil:
		data["Def"] = def
	case errors.Is(err, dynamodbqueue.ErrQueueDoesNotExist):
	default:
		h.failErr(w, r, err)
		return
	}
	if !who.admin && l.Total == 0 {
		h.fail(w, r, http.StatusForbidden, "none of your tenants has queue "+name)
		return
	}
	h.renderAs(w, r, http.StatusOK, "queue", who, data)
}

// pair returns the queue handle of the request's {queue} and {client}, if who may use it.
func (h *Handler) pair(w http.ResponseWriter, r *http.Request, who *principal) (*dynamodbqueue.DynamoDBQueue, bool) {
	client := r.PathValue("client")
	if !who.allows(client) {
		h.fail(w, r, http.StatusForbidden, "your login may not use tenant "+client)
		return nil, false
	}
	q, err := h.client.Queue(r.PathValue("queue"), client)
	if err != nil {
		h.failErr(w, r, err)
		return nil, false
	}
	return q.UseLogger(nil), true
}

// states are the message-list tabs.
var states = []string{"any", "visible", "in-flight", "delayed", "dead-lettered"}

func (h *Handler) tenantPage(w http.ResponseWriter, r *http.Request, who *principal) {
	q, ok := h.pair(w, r, who)
	if !ok {
		return
	}
	ctx := r.Context()
	stats, err := q.Stats(ctx)
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	qv := r.URL.Query()
	state, err := dynamodbqueue.ParseMessageState(cmp.Or(qv.Get("state"), "any"))
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	target, hasDLQ := q.DeadLetterTarget(ctx)
	data := map[string]any{"Queue": q.QueueName(), "Client": q.ClientID(), "Stats": stats, "State": state.String(),
		"States": states, "HasDLQ": hasDLQ, "DLQ": target, "Newest": qv.Get("newest") == "1"}
	if state != dynamodbqueue.StateDeadLettered || hasDLQ {
		page, err := q.Inspector().ListMessages(ctx, dynamodbqueue.ListOptions{State: state, Limit: h.opts.PageSize,
			Cursor: qv.Get("cursor"), NewestFirst: qv.Get("newest") == "1"})
		if err != nil {
			h.failErr(w, r, err)
			return
		}
		data["Messages"] = page.Messages
		if page.NextCursor != "" {
			v := url.Values{"state": {state.String()}, "cursor": {page.NextCursor}}
			if qv.Get("newest") == "1" {
				v.Set("newest", "1")
			}
			data["Next"] = h.link("queues", q.QueueName(), "tenants", q.ClientID()) + "?" + v.Encode()
		}
	}
	rng, since := chartRange(r)
	pair := dynamodbqueue.QueueAndClientID{QueueName: q.QueueName(), ClientID: q.ClientID()}
	data["Range"] = rng
	data["Charts"] = h.charts(since, func(p dynamodbqueue.QueueAndClientID) bool { return p == pair })
	h.renderAs(w, r, http.StatusOK, "tenant", who, data)
}

func (h *Handler) messagePage(w http.ResponseWriter, r *http.Request, who *principal) {
	q, ok := h.pair(w, r, who)
	if !ok {
		return
	}
	m, err := q.Inspector().GetMessage(r.Context(), r.PathValue("id"))
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	h.renderAs(w, r, http.StatusOK, "message", who, map[string]any{"Queue": q.QueueName(), "Client": q.ClientID(),
		"M": m, "Body": renderBody(m.Message.Body), "Attrs": messageAttributes(m.Message), "Sys": systemAttributes(m.Message),
		"InFlight": m.State == dynamodbqueue.StateInFlight, "Dead": m.State == dynamodbqueue.StateDeadLettered})
}

func (h *Handler) jobPage(w http.ResponseWriter, r *http.Request, who *principal) {
	j := h.jobs.get(r.PathValue("id"))
	if j == nil || !who.allows(j.client) {
		h.fail(w, r, http.StatusNotFound, "no such job")
		return
	}
	st := j.status()
	if !st.Done {
		// Refreshes itself while the job runs, without JavaScript.
		w.Header().Set("Refresh", "1")
	}
	h.renderAs(w, r, http.StatusOK, "job", who, map[string]any{"Job": st, "Queue": j.queue, "Client": j.client})
}
