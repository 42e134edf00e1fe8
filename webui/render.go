package webui

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue"
)

type ctxKey struct{}

func withSession(ctx context.Context, s *session) context.Context {
	return context.WithValue(ctx, ctxKey{}, s)
}

func sessionOf(ctx context.Context) *session {
	s, _ := ctx.Value(ctxKey{}).(*session)
	return s
}

func parseTemplates(prefix string) (*template.Template, error) {
	funcs := template.FuncMap{
		"base": func() string { return prefix },
		"path": func(parts ...string) string {
			var b strings.Builder
			b.WriteString(prefix)
			for _, p := range parts {
				b.WriteByte('/')
				b.WriteString(url.PathEscape(p))
			}
			return b.String()
		},
		"age":  formatAge,
		"time": formatTime,
		"rate": func(v float32) string {
			if v == 0 {
				return "0"
			}
			return strconv.FormatFloat(float64(v), 'f', 2, 32)
		},
		"dur":  func(d time.Duration) string { return d.String() },
		"secs": func(d time.Duration) int64 { return int64(d / time.Second) },
	}
	return template.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.html")
}

func formatAge(secs float32) string {
	if secs <= 0 {
		return "-"
	}
	return (time.Duration(secs) * time.Second).Round(time.Second).String()
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05.000 UTC")
}

// page is what every template gets besides its own data.
type page struct {
	Title    string
	Who      *principal
	CSRF     string
	ReadOnly bool
	Flash    string
	Data     any
}

// render executes the template name into a buffer first, so a template error is a clean 500.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	h.renderAs(w, r, status, name, nil, data)
}

func (h *Handler) renderAs(w http.ResponseWriter, r *http.Request, status int, name string, who *principal, data any) {
	p := page{Title: name, Who: who, ReadOnly: h.opts.ReadOnly, Flash: r.URL.Query().Get("msg"), Data: data}
	if s := sessionOf(r.Context()); s != nil {
		p.CSRF = s.csrf
	}
	var buf bytes.Buffer
	if err := h.tmpl.ExecuteTemplate(&buf, name, p); err != nil {
		h.opts.Logger.Error("webui: rendering a page failed", "page", name, "error", err)
		http.Error(w, "rendering the page failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// fail renders an error page.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	h.render(w, r, status, "error", map[string]any{"Status": status, "StatusText": http.StatusText(status), "Message": msg})
}

// failErr maps a library error to a status: bad input 400, missing 404, a conflict 409.
func (h *Handler) failErr(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, dynamodbqueue.ErrInvalidArgument), errors.Is(err, dynamodbqueue.ErrInvalidName),
		errors.Is(err, dynamodbqueue.ErrInvalidMessage), errors.Is(err, dynamodbqueue.ErrNoDeadLetterQueue),
		errors.Is(err, dynamodbqueue.ErrInvalidGroup), errors.Is(err, dynamodbqueue.ErrMessageTooLarge):
		status = http.StatusBadRequest
	case errors.Is(err, dynamodbqueue.ErrMessageNotFound), errors.Is(err, dynamodbqueue.ErrQueueDoesNotExist):
		status = http.StatusNotFound
	case errors.Is(err, dynamodbqueue.ErrMessageInFlight), errors.Is(err, dynamodbqueue.ErrMessageNotInFlight),
		errors.Is(err, dynamodbqueue.ErrMessageChanged), errors.Is(err, dynamodbqueue.ErrVersionConflict),
		errors.Is(err, dynamodbqueue.ErrQueueAttributesMismatch):
		status = http.StatusConflict
	default:
		h.opts.Logger.Error("webui: request failed", "path", r.URL.Path, "error", err)
	}
	h.fail(w, r, status, err.Error())
}

// redirect sends the browser to path with a flash message.
func (h *Handler) redirect(w http.ResponseWriter, r *http.Request, path, msg string) {
	if msg != "" {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		path += sep + "msg=" + url.QueryEscape(msg)
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
}

// link builds a path under the prefix from escaped segments.
func (h *Handler) link(parts ...string) string {
	var b strings.Builder
	b.WriteString(h.opts.Prefix)
	for _, p := range parts {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(p))
	}
	return b.String()
}

// confirm renders the confirmation page of an action that was posted without confirm=yes: the
// same form again, with every field kept, and a button that confirms it. The server refuses
// such an action until it is confirmed, so no client can skip the step by accident.
func (h *Handler) confirm(w http.ResponseWriter, r *http.Request, who *principal, question string) bool {
	if r.PostForm.Get("confirm") == "yes" {
		return true
	}
	type field struct{ Name, Value string }
	var fields []field
	for name, vals := range r.PostForm {
		if name == "csrf" || name == "confirm" {
			continue
		}
		for _, v := range vals {
			fields = append(fields, field{name, v})
		}
	}
	back := r.Referer()
	if u, err := url.Parse(back); err != nil || u.Host != r.Host {
		back = h.opts.Prefix + "/"
	}
	h.renderAs(w, r, http.StatusOK, "confirm", who, map[string]any{
		"Question": question, "Action": h.opts.Prefix + r.URL.Path, "Fields": fields, "Back": back})
	return false
}

func plural(n int, one string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", one)
	}
	return fmt.Sprintf("%d %ss", n, one)
}
