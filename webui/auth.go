package webui

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue/internal/keyfile"
)

// principal is who a request acts for.
type principal struct {
	name    string
	admin   bool
	clients map[string]bool // the client IDs a tenant login may see
}

// allows reports whether p may see and act on client's queues.
func (p *principal) allows(client string) bool { return p.admin || p.clients[client] }

// session is one browser's state: its CSRF token and, once logged in, who it is.
type session struct {
	id, csrf string
	who      *principal
	expires  time.Time
}

// maxSessions bounds the session table, so anonymous requests cannot grow it without limit:
// past it, expired sessions are dropped, then the oldest.
const maxSessions = 10000

type sessions struct {
	mu     sync.Mutex
	ttl    time.Duration
	m      map[string]*session
	cookie string // the cookie's name
}

// newSessions names its cookie per handler: sessions live in memory, so a cookie of another
// handler (another port of the same host, where browsers share cookies, or an earlier run)
// would mean nothing here, and must not replace this handler's session.
func newSessions(ttl time.Duration) *sessions {
	return &sessions{ttl: ttl, m: map[string]*session{}, cookie: "ddbq_ui_" + randomToken()[:8]}
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// get returns the request's live session, or nil.
func (ss *sessions) get(r *http.Request) *session {
	c, err := r.Cookie(ss.cookie)
	if err != nil {
		return nil
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.m[c.Value]
	if s == nil || time.Now().After(s.expires) {
		delete(ss.m, c.Value)
		return nil
	}
	return s
}

// create starts a new session for who (nil: not logged in yet) and sets its cookie.
func (ss *sessions) create(w http.ResponseWriter, r *http.Request, who *principal, path string) *session {
	s := &session{id: randomToken(), csrf: randomToken(), who: who, expires: time.Now().Add(ss.ttl)}
	ss.mu.Lock()
	if len(ss.m) >= maxSessions {
		now := time.Now()
		var oldest *session
		for id, o := range ss.m {
			if now.After(o.expires) {
				delete(ss.m, id)
			} else if oldest == nil || o.expires.Before(oldest.expires) {
				oldest = o
			}
		}
		if len(ss.m) >= maxSessions && oldest != nil {
			delete(ss.m, oldest.id)
		}
	}
	ss.m[s.id] = s
	ss.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: ss.cookie, Value: s.id, Path: path, HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode, Expires: s.expires})
	return s
}

func (ss *sessions) remove(s *session) {
	ss.mu.Lock()
	delete(ss.m, s.id)
	ss.mu.Unlock()
}

func (h *Handler) cookiePath() string {
	if h.opts.Prefix == "" {
		return "/"
	}
	return h.opts.Prefix + "/"
}

// session returns the request's session, creating an anonymous one if it has none.
func (h *Handler) session(w http.ResponseWriter, r *http.Request) *session {
	if s := h.sessions.get(r); s != nil {
		return s
	}
	return h.sessions.create(w, r, nil, h.cookiePath())
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// checkKey returns the principal of an access key and its secret, nil if they do not match.
func (h *Handler) checkKey(id, secret string) *principal {
	if h.opts.Keys == nil || id == "" {
		return nil
	}
	l, ok := h.opts.Keys(id)
	if !ok || !equal(l.Secret, secret) {
		return nil
	}
	p := &principal{name: id, admin: l.Admin, clients: map[string]bool{}}
	for _, c := range l.ClientIDs {
		p.clients[c] = true
	}
	return p
}

// headerPrincipal authenticates a request by its Authorization header. bearer is set for a
// bearer token, which a browser never sends on its own (so it needs no CSRF token).
func (h *Handler) headerPrincipal(r *http.Request) (p *principal, bearer bool) {
	auth := r.Header.Get("Authorization")
	if tok, ok := strings.CutPrefix(auth, "Bearer "); ok && h.opts.Token != "" {
		if equal(tok, h.opts.Token) {
			return &principal{name: "token", admin: true}, true
		}
		return nil, false
	}
	if user, pass, ok := r.BasicAuth(); ok {
		if h.opts.BasicUser != "" && equal(user, h.opts.BasicUser) && equal(pass, h.opts.BasicPassword) {
			return &principal{name: user, admin: true}, false
		}
		return h.checkKey(user, pass), false
	}
	return nil, false
}

func isLoopbackRemote(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// authed wraps a page or an action: it finds who the request acts for (or sends it to the
// login page), and for an action checks the CSRF token and the read-only mode.
func (h *Handler) authed(fn func(http.ResponseWriter, *http.Request, *principal), isAction bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		who, bearer := h.headerPrincipal(r)
		var s *session
		if !bearer {
			s = h.session(w, r)
		}
		switch {
		case who != nil:
		case r.Header.Get("Authorization") != "":
			w.Header().Set("WWW-Authenticate", `Basic realm="ddbq"`)
			h.fail(w, r, http.StatusUnauthorized, "wrong credentials")
			return
		case s.who != nil:
			who = s.who
		case !h.authConfigured():
			// No login configured: the page is for loopback only (see CheckListen); a request
			// from elsewhere (a proxy, a mis-set listener) is refused, not served as admin.
			if !isLoopbackRemote(r) {
				h.fail(w, r, http.StatusForbidden, "no login is configured, so only loopback clients are served")
				return
			}
			who = &principal{name: "local", admin: true}
		case isAction:
			h.fail(w, r, http.StatusUnauthorized, "log in first")
			return
		default:
			http.Redirect(w, r, h.opts.Prefix+"/login", http.StatusSeeOther)
			return
		}
		if isAction {
			if !bearer {
				if err := r.ParseForm(); err != nil {
					h.fail(w, r, http.StatusBadRequest, err.Error())
					return
				}
				got := r.PostForm.Get("csrf")
				if got == "" {
					got = r.Header.Get("X-CSRF-Token")
				}
				if got == "" || !equal(got, s.csrf) {
					h.fail(w, r, http.StatusForbidden, "missing or wrong CSRF token: reload the page and try again")
					return
				}
			}
			if h.opts.ReadOnly {
				h.fail(w, r, http.StatusForbidden, "the web UI is read-only: actions are turned off")
				return
			}
		}
		fn(w, r.WithContext(withSession(r.Context(), s)), who)
	}
}

func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	s := h.session(w, r)
	h.render(w, r, http.StatusOK, "login", map[string]any{"CSRF": s.csrf, "Error": r.URL.Query().Get("error"),
		"Token": h.opts.Token != "", "Keys": h.opts.Keys != nil, "Basic": h.opts.BasicUser != ""})
}

// login checks a token or an access key and starts a new session (a new ID, so a session ID
// planted before the login is worthless after it).
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	s := h.sessions.get(r)
	if err := r.ParseForm(); err != nil || s == nil || !equal(r.PostForm.Get("csrf"), s.csrf) {
		h.fail(w, r, http.StatusForbidden, "missing or wrong CSRF token: reload the login page")
		return
	}
	var who *principal
	if tok := r.PostForm.Get("token"); tok != "" && h.opts.Token != "" && equal(tok, h.opts.Token) {
		who = &principal{name: "token", admin: true}
	} else if id := r.PostForm.Get("key_id"); id != "" {
		who = h.checkKey(id, r.PostForm.Get("secret"))
	}
	if who == nil {
		http.Redirect(w, r, h.opts.Prefix+"/login?error=wrong+token+or+key", http.StatusSeeOther)
		return
	}
	h.sessions.remove(s)
	h.sessions.create(w, r, who, h.cookiePath())
	http.Redirect(w, r, h.opts.Prefix+"/", http.StatusSeeOther)
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if s := h.sessions.get(r); s != nil {
		if err := r.ParseForm(); err != nil || !equal(r.PostForm.Get("csrf"), s.csrf) {
			h.fail(w, r, http.StatusForbidden, "missing or wrong CSRF token")
			return
		}
		h.sessions.remove(s)
	}
	http.Redirect(w, r, h.opts.Prefix+"/login", http.StatusSeeOther)
}

// KeyFile loads the SQS endpoint's key file (the format of `ddbq serve --keys`) as tenant
// logins: an admin key sees every client ID, another key only its own.
func KeyFile(path string) (KeyLookup, error) {
	ks, err := keyfile.Load(path)
	if err != nil {
		return nil, err
	}
	return func(id string) (Login, bool) {
		k, ok := ks.Lookup(id)
		if !ok {
			return Login{}, false
		}
		return Login{Secret: k.Secret, Admin: k.Admin, ClientIDs: k.ClientIDs}, true
	}, nil
}

// Name is the login's name (the access key ID, the basic-auth user, "token" or "local"), for
// the page header.
func (p *principal) Name() string { return p.name }

// Admin reports whether the login sees every tenant, for the templates.
func (p *principal) Admin() bool { return p.admin }
