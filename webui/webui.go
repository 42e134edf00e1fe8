// Package webui is a web page to see and fix the queues of one dynamodbqueue table: an
// overview of every (queue, tenant) pair with its counts, rates and oldest message, paged,
// filtered and sorted so the tenant that backs up is found among thousands; queue and tenant
// pages with charts of the last minutes and hours, the stored queue definition (editable), the
// messages by state and each message in detail; and actions, each confirmed on a page of its
// own: send a test message, delete a message, change its visibility, purge a tenant's queue,
// redrive dead letters (one, a selection, all, with progress), create and delete queues.
//
// Handler is an http.Handler, so it is mounted beside the SQS endpoint (package sqsserver) or
// served alone (`ddbq ui`). It uses only the public API of package dynamodbqueue.
//
// Pages are rendered on the server (html/template), charts are inline SVG drawn on the server,
// and the one stylesheet is embedded in the binary: no JavaScript, no CDN, it works offline.
//
// # Access
//
// Options.Token (a login token, or "Authorization: Bearer" for scripts), Options.BasicUser and
// BasicPassword (HTTP basic auth) and Options.Keys (tenant logins with the access keys of the SQS
// endpoint's key file: a key confined to some client IDs sees and acts on only those) each
// enable a login. Without any, the handler serves only loopback clients, as an administrator;
// CheckListen tells a server whether its listener needs a login. A reverse proxy on the same
// host makes every client look local, so configure a login behind one. Every action is a POST that needs
// the session's CSRF token (cookies are SameSite=Strict and HttpOnly), and Options.ReadOnly
// refuses every action on the server, not only by hiding its button.
package webui

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Defaults of Options.
const (
	DefaultSampleInterval = 10 * time.Second
	DefaultHistory        = 720 // samples: 2 hours at the default interval
	DefaultPageSize       = 50
	DefaultSessionTTL     = 12 * time.Hour
)

// Login is what a tenant login (an access key) may see: every client ID when Admin, else only
// ClientIDs. Secret is compared in constant time and never shown.
type Login struct {
	Secret    string
	Admin     bool
	ClientIDs []string
}

// KeyLookup returns the login of an access key ID, false if there is none. KeyFile builds one
// from the SQS endpoint's key file.
type KeyLookup func(accessKeyID string) (Login, bool)

// Options configure a Handler.
type Options struct {
	// Client is the table the page shows (Client.Table must be set).
	Client *dynamodbqueue.Client
	// ReadOnly turns every action off: the server refuses them with 403.
	ReadOnly bool
	// Token, when set, is an administrator's login token (also accepted as
	// "Authorization: Bearer <token>").
	Token string
	// BasicUser and BasicPassword, when both set, accept HTTP basic auth as an administrator.
	BasicUser, BasicPassword string
	// Keys, when set, accepts tenant logins (access key ID and secret, on the login page or
	// as basic auth), each seeing only the client IDs its key allows.
	Keys KeyLookup
	// Prefix is the path the handler is mounted at ("" or "/ui"); links carry it and requests
	// must start with it.
	Prefix string
	// SampleInterval is how often the server samples every pair's counts for the overview and
	// the charts (default DefaultSampleInterval); History how many samples it keeps (default
	// DefaultHistory), in a ring buffer.
	SampleInterval time.Duration
	History        int
	// PageSize is the number of rows of a table page (default DefaultPageSize).
	PageSize int
	// SessionTTL is how long a login lasts (default DefaultSessionTTL).
	SessionTTL time.Duration
	// Logger receives errors of the sampler and of actions (default: discarded).
	Logger *slog.Logger
}

// ErrNoClient is returned by New without Options.Client or its table.
var ErrNoClient = errors.New("webui: Options.Client with a table is required")

// ErrAuthRequired is returned by CheckListen for a listener that is not on loopback when no
// login is configured.
var ErrAuthRequired = errors.New("webui: a token, basic auth or a key file is required when listening beyond loopback")

// Handler serves the web page. Create it with New and stop its sampler with Close.
type Handler struct {
	opts   Options
	client *dynamodbqueue.Client
	mux    *http.ServeMux
	tmpl   *template.Template
	static http.Handler

	sessions *sessions
	sampler  *sampler
	jobs     *jobs

	ctx    context.Context // ends with Close; background work (sampler, jobs) runs under it
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// New validates opts, starts the sampler and returns the handler.
func New(opts Options) (*Handler, error) {
	if opts.Client == nil || opts.Client.Table() == "" {
		return nil, ErrNoClient
	}
	if (opts.BasicUser == "") != (opts.BasicPassword == "") {
		return nil, errors.New("webui: BasicUser and BasicPassword go together")
	}
	if opts.SampleInterval <= 0 {
		opts.SampleInterval = DefaultSampleInterval
	}
	if opts.History <= 0 {
		opts.History = DefaultHistory
	}
	if opts.PageSize <= 0 {
		opts.PageSize = DefaultPageSize
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = DefaultSessionTTL
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.Prefix = strings.TrimRight(opts.Prefix, "/")
	if opts.Prefix != "" && !strings.HasPrefix(opts.Prefix, "/") {
		return nil, fmt.Errorf("webui: Prefix %q must start with /", opts.Prefix)
	}
	h := &Handler{opts: opts, client: opts.Client}
	var err error
	if h.tmpl, err = parseTemplates(opts.Prefix); err != nil {
		return nil, err
	}
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	h.static = http.StripPrefix("/static/", http.FileServerFS(sub))
	h.sessions = newSessions(opts.SessionTTL)
	h.jobs = newJobs()
	h.ctx, h.cancel = context.WithCancel(context.Background())
	h.sampler = newSampler(opts.Client, opts.History, opts.Logger)
	h.routes()
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		h.sampler.run(h.ctx, opts.SampleInterval)
	}()
	return h, nil
}

// Close stops the sampler and any running job (a redrive stops between two messages) and waits
// for them. The handler refuses requests afterwards.
func (h *Handler) Close() error {
	h.once.Do(func() {
		h.cancel()
		h.wg.Wait()
	})
	return nil
}

// authConfigured reports whether any login is configured.
func (h *Handler) authConfigured() bool {
	return h.opts.Token != "" || h.opts.BasicUser != "" || h.opts.Keys != nil
}

// CheckListen returns ErrAuthRequired when addr (host:port) is not a loopback address and opts
// configure no login: a page that can purge queues must not be open to the network.
func CheckListen(addr string, opts Options) error {
	if opts.Token != "" || opts.BasicUser != "" || opts.Keys != nil {
		return nil
	}
	if !IsLoopback(addr) {
		return fmt.Errorf("%w (listen address %q)", ErrAuthRequired, addr)
	}
	return nil
}

// IsLoopback reports whether addr (host:port or host) names only loopback: localhost or a
// loopback IP. An empty host (all interfaces) is not loopback.
func IsLoopback(addr string) bool {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// ServeHTTP serves the page under Options.Prefix.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.ctx.Err() != nil {
		http.Error(w, "the web UI is shutting down", http.StatusServiceUnavailable)
		return
	}
	if h.opts.Prefix != "" {
		rest, ok := strings.CutPrefix(r.URL.Path, h.opts.Prefix)
		if !ok || (rest != "" && rest[0] != '/') {
			http.NotFound(w, r)
			return
		}
		if rest == "" {
			rest = "/"
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path = rest
		r2.URL.RawPath = ""
		r = r2
	}
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Referrer-Policy", "same-origin")
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) routes() {
	m := http.NewServeMux()
	m.Handle("GET /static/", h.static)
	m.HandleFunc("GET /login", h.loginPage)
	m.HandleFunc("POST /login", h.login)
	m.HandleFunc("POST /logout", h.logout)

	page := func(pattern string, fn func(http.ResponseWriter, *http.Request, *principal)) {
		m.HandleFunc(pattern, h.authed(fn, false))
	}
	action := func(pattern string, fn func(http.ResponseWriter, *http.Request, *principal)) {
		m.HandleFunc(pattern, h.authed(fn, true))
	}
	page("GET /{$}", h.overview)
	page("GET /queues/{queue}", h.queuePage)
	page("GET /queues/{queue}/tenants/{client}", h.tenantPage)
	page("GET /queues/{queue}/tenants/{client}/messages/{id}", h.messagePage)
	page("GET /jobs/{id}", h.jobPage)

	action("POST /queues", h.createQueue)
	action("POST /queues/{queue}/definition", h.updateQueue)
	action("POST /queues/{queue}/delete", h.deleteQueue)
	action("POST /queues/{queue}/tenants/{client}/send", h.sendMessage)
	action("POST /queues/{queue}/tenants/{client}/purge", h.purge)
	action("POST /queues/{queue}/tenants/{client}/redrive", h.redrive)
	action("POST /queues/{queue}/tenants/{client}/messages/{id}/delete", h.deleteMessage)
	action("POST /queues/{queue}/tenants/{client}/messages/{id}/visibility", h.changeVisibility)
	action("POST /queues/{queue}/tenants/{client}/messages/{id}/redrive", h.redriveMessage)
	h.mux = m
}
