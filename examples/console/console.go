package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/vclusterkit/vclusterkit/api"
	"github.com/vclusterkit/vclusterkit/api/audit"
	"github.com/vclusterkit/vclusterkit/api/auth"
)

//go:embed static
var staticFS embed.FS

// Cookie names.
const (
	SessionCookie = "vck_session"
	CSRFCookie    = "vck_csrf"
	CSRFHeader    = "X-CSRF-Token"
)

// CSP is the console's Content-Security-Policy: nothing inline, nothing
// from elsewhere.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Options configure a Console.
type Options struct {
	// API serves api.Prefix (an *api.Server). Required.
	API http.Handler
	// Authenticator checks the credential given at sign-in (the same one
	// the API uses). Required.
	Authenticator auth.Authenticator
	// Secure marks cookies Secure (serve over HTTPS in production).
	Secure bool
	// Audit records sign-ins and sign-outs (the API records the rest);
	// nil records nothing.
	Audit audit.Sink
}

// Console is the portal's handler.
type Console struct {
	opts  Options
	mux   *http.ServeMux
	guard *http.CrossOriginProtection
}

// New builds the handler.
func New(opts Options) (*Console, error) {
	if opts.API == nil {
		return nil, errors.New("console: Options.API is required")
	}
	if opts.Authenticator == nil {
		return nil, errors.New("console: Options.Authenticator is required")
	}
	c := &Console{opts: opts, mux: http.NewServeMux(), guard: http.NewCrossOriginProtection()}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	files := http.FileServerFS(static)
	c.mux.Handle("GET /static/", http.StripPrefix("/static/", files))
	c.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		http.ServeFileFS(w, r, static, "index.html")
	})
	c.mux.HandleFunc("POST /session", c.signIn)
	c.mux.HandleFunc("POST /session/end", c.signOut)
	c.mux.HandleFunc(api.Prefix+"/", c.proxy)
	return c, nil
}

// ServeHTTP sets the security headers, refuses cross-origin writes and
// routes.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	if err := c.guard.Check(r); err != nil {
		http.Error(w, "cross-origin request refused", http.StatusForbidden)
		return
	}
	c.mux.ServeHTTP(w, r)
}

func (c *Console) cookie(name, value string, httpOnly bool, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: httpOnly, Secure: c.opts.Secure,
		SameSite: http.SameSiteStrictMode, MaxAge: maxAge}
}

// signIn verifies the posted credential and starts a session: the
// credential in an HttpOnly cookie, a fresh CSRF token in a cookie the
// page reads.
func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	// PostFormValue would swallow a parse error (an oversized form) and
	// hand on an empty token, refused as a missing Authorization header.
	if err := r.ParseForm(); err != nil {
		code, msg := http.StatusBadRequest, "sign-in refused: the form cannot be read: "+err.Error()
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			code, msg = http.StatusRequestEntityTooLarge, fmt.Sprintf("sign-in refused: the form is larger than %d bytes (an ID token or API key is far smaller)", mbe.Limit)
		}
		c.record(r, nil, "session.start", code, err)
		http.Error(w, msg, code)
		return
	}
	token := strings.TrimSpace(r.PostFormValue("token"))
	if token == "" {
		c.record(r, nil, "session.start", http.StatusBadRequest, errors.New("no token in the sign-in form"))
		http.Error(w, "sign-in refused: paste an OIDC ID token or an API key", http.StatusBadRequest)
		return
	}
	id, err := c.opts.Authenticator.Authenticate(r.Context(), token)
	if err != nil {
		c.record(r, id, "session.start", http.StatusUnauthorized, err)
		http.Error(w, "sign-in refused: "+strings.TrimPrefix(err.Error(), auth.ErrUnauthenticated.Error()+": "), http.StatusUnauthorized)
		return
	}
	c.record(r, id, "session.start", http.StatusNoContent, nil)
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	age := int((8 * time.Hour).Seconds())
	http.SetCookie(w, c.cookie(SessionCookie, token, true, age))
	http.SetCookie(w, c.cookie(CSRFCookie, base64.RawURLEncoding.EncodeToString(b), false, age))
	w.WriteHeader(http.StatusNoContent)
}

// record writes an audit event for a session change.
func (c *Console) record(r *http.Request, id *auth.Identity, action string, code int, err error) {
	if c.opts.Audit == nil {
		return
	}
	e := audit.Event{Time: time.Now().UTC(), Actor: id.String(), Action: action, Code: code, Result: audit.ResultSuccess, RemoteAddr: r.RemoteAddr}
	if id != nil {
		e.Method = string(id.Method)
	}
	if err != nil {
		e.Result, e.Reason = audit.ResultDenied, err.Error()
	}
	_ = c.opts.Audit.Record(context.WithoutCancel(r.Context()), e)
}

// signOut ends the session (clears both cookies) and records who left:
// the session's identity when its credential still verifies, else
// anonymous (an ID token that expired during the session).
func (c *Console) signOut(w http.ResponseWriter, r *http.Request) {
	var id *auth.Identity
	if ck, err := r.Cookie(SessionCookie); err == nil && ck.Value != "" {
		id, _ = c.opts.Authenticator.Authenticate(r.Context(), ck.Value)
	}
	if !c.csrfOK(r) {
		c.record(r, id, "session.end", http.StatusForbidden, errors.New("CSRF token missing or wrong"))
		http.Error(w, "CSRF token missing or wrong", http.StatusForbidden)
		return
	}
	c.record(r, id, "session.end", http.StatusNoContent, nil)
	http.SetCookie(w, c.cookie(SessionCookie, "", true, -1))
	http.SetCookie(w, c.cookie(CSRFCookie, "", false, -1))
	w.WriteHeader(http.StatusNoContent)
}

func (c *Console) csrfOK(r *http.Request) bool {
	ck, err := r.Cookie(CSRFCookie)
	h := r.Header.Get(CSRFHeader)
	return err == nil && ck.Value != "" && h != "" && subtle.ConstantTimeCompare([]byte(ck.Value), []byte(h)) == 1
}

// proxy hands API calls to the API with the session's credential as the
// bearer token. State-changing calls need the CSRF token. A request that
// brings its own Authorization header is passed through untouched (the
// API authenticates it; cookies play no part).
func (c *Console) proxy(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") == "" {
		if ck, err := r.Cookie(SessionCookie); err == nil && ck.Value != "" {
			if r.Method != http.MethodGet && r.Method != http.MethodHead && !c.csrfOK(r) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusForbidden)
				_, _ = w.Write([]byte(`{"error":{"code":403,"reason":"Forbidden","message":"CSRF token missing or wrong: reload the page"}}` + "\n"))
				return
			}
			r = r.Clone(r.Context())
			r.Header.Set("Authorization", "Bearer "+ck.Value)
		}
	}
	c.opts.API.ServeHTTP(w, r)
}
