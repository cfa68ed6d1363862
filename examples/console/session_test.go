package main

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/api/audit"
	"github.com/vclusterkit/vclusterkit/internal/oidctest"
	"github.com/vclusterkit/vclusterkit/internal/platformtest"
	"github.com/vclusterkit/vclusterkit/tenancy"
)

// session is a signed-in non-browser client of the console: a cookie jar
// holding the session and CSRF cookies the sign-in set.
type session struct {
	t    *testing.T
	hc   *http.Client
	csrf string
}

func signInHTTP(t *testing.T, token string) *session {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &session{t: t, hc: &http.Client{Jar: jar}}
	resp, err := s.hc.PostForm(console.URL+"/session", url.Values{"token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("sign-in: %d", resp.StatusCode)
	}
	u, _ := url.Parse(console.URL)
	for _, ck := range jar.Cookies(u) {
		if ck.Name == CSRFCookie {
			s.csrf = ck.Value
		}
	}
	if s.csrf == "" {
		t.Fatal("sign-in set no CSRF cookie")
	}
	return s
}

// send sends method path with body and the given extra headers, and
// returns the status and the body.
func (s *session) send(method, path, body string, hdr map[string]string) (int, string) {
	s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, console.URL+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestCSRFAndOrigin: with a valid session, a write without the CSRF token,
// with a wrong one, or from another origin is refused and changes nothing;
// a sign-in posted from another site starts no session; sign-out needs the
// token too. The same write with the token reaches the API.
func TestCSRFAndOrigin(t *testing.T) {
	s := signInHTTP(t, pf.Token("alice"))
	const body = `{"name":"csrf-space","tenant":"acme"}`
	for _, tc := range []struct {
		name string
		hdr  map[string]string
		want string
	}{
		{"no CSRF token", nil, "CSRF token missing or wrong: reload the page"},
		{"wrong CSRF token", map[string]string{CSRFHeader: "AAAA" + s.csrf[4:]}, "CSRF token missing or wrong: reload the page"},
		{"forged CSRF token", map[string]string{CSRFHeader: strings.Repeat("x", len(s.csrf))}, "CSRF token missing or wrong: reload the page"},
		{"cross-site (Sec-Fetch-Site)", map[string]string{CSRFHeader: s.csrf, "Sec-Fetch-Site": "cross-site"}, "cross-origin request refused"},
		{"foreign Origin", map[string]string{CSRFHeader: s.csrf, "Origin": "https://evil.example"}, "cross-origin request refused"},
	} {
		code, got := s.send("POST", "/api/v1/spaces", body, tc.hdr)
		if code != http.StatusForbidden || !strings.Contains(got, tc.want) {
			t.Fatalf("%s: %d %s, want 403 containing %q", tc.name, code, got, tc.want)
		}
		t.Logf("%s → %d %s", tc.name, code, strings.TrimSpace(got))
	}
	var sp tenancy.Space
	if err := pf.Client.Get(context.Background(), client.ObjectKey{Name: "csrf-space"}, &sp); err == nil {
		t.Fatal("a refused write created space csrf-space")
	}
	// With the token the same session reaches the API (a sleep of a
	// virtual cluster that does not exist: 404 from the API, not 403).
	if code, got := s.send("POST", "/api/v1/virtualclusters/none/sleep", "", map[string]string{CSRFHeader: s.csrf}); code != http.StatusNotFound {
		t.Fatalf("write with the CSRF token: %d %s, want the API's 404", code, got)
	}

	// A sign-in form posted from another site starts no session.
	req, _ := http.NewRequest("POST", console.URL+"/session", strings.NewReader(url.Values{"token": {pf.Token("alice")}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) != 0 {
		t.Fatalf("cross-site sign-in: %d %s, cookies %v", resp.StatusCode, b, resp.Cookies())
	}
	t.Logf("cross-site sign-in → %d %s", resp.StatusCode, strings.TrimSpace(string(b)))

	// Sign-out without the token keeps the session.
	code, got := s.send("POST", "/session/end", "", nil)
	if code != http.StatusForbidden {
		t.Fatalf("sign-out without the CSRF token: %d %s", code, got)
	}
	t.Logf("sign-out without the CSRF token → %d %s", code, strings.TrimSpace(got))
	if code, got := s.send("GET", "/api/v1/whoami", "", nil); code != http.StatusOK {
		t.Fatalf("the session after a refused sign-out: %d %s", code, got)
	}
}

// TestSignOutAudited: signing out ends the session and is an audit event
// naming the user, like signing in.
func TestSignOutAudited(t *testing.T) {
	s := signInHTTP(t, pf.Token("carol"))
	if code, got := s.send("POST", "/session/end", "", map[string]string{CSRFHeader: s.csrf}); code != http.StatusNoContent {
		t.Fatalf("sign-out: %d %s", code, got)
	}
	if code, _ := s.send("GET", "/api/v1/whoami", "", nil); code != http.StatusUnauthorized {
		t.Fatalf("whoami after sign-out: %d, want 401", code)
	}
	evs := pf.Audit.Events()
	for _, action := range []string{"session.start", "session.end"} {
		if !slices.ContainsFunc(evs, func(e audit.Event) bool {
			return e.Action == action && e.Actor == "carol" && e.Result == audit.ResultSuccess && e.Method == "oidc"
		}) {
			t.Errorf("no successful %s by carol audited", action)
		}
	}
}

// TestSignInFormRefused: a sign-in form that is too large or holds no
// credential is refused saying so (not as a missing Authorization
// header, which the form has nothing to do with) and starts no session.
func TestSignInFormRefused(t *testing.T) {
	for _, tc := range []struct {
		name, form string
		code       int
		want       string
	}{
		{"oversized", "token=" + strings.Repeat("a", 20<<10), http.StatusRequestEntityTooLarge, "larger than 16384 bytes"},
		{"no token", "token=+", http.StatusBadRequest, "paste an OIDC ID token or an API key"},
	} {
		resp, err := http.Post(console.URL+"/session", "application/x-www-form-urlencoded", strings.NewReader(tc.form))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || !strings.Contains(string(b), tc.want) || len(resp.Cookies()) != 0 {
			t.Fatalf("%s: %d %q, cookies %v; want %d containing %q and no cookies", tc.name, resp.StatusCode, b, resp.Cookies(), tc.code, tc.want)
		}
		t.Logf("sign-in, %s → %d %s", tc.name, resp.StatusCode, strings.TrimSpace(string(b)))
	}
}

// The session cookie holds the credential itself, so a session ends when
// its ID token does: the API verifies the token on every call, whatever
// the cookie's own 8 hours say.
func TestSessionEndsWithItsToken(t *testing.T) {
	tok, err := pf.Issuer.Issue(oidctest.Claims{Subject: "alice", Audience: platformtest.ClientID, ExpiresAt: time.Now().Add(5 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	s := signInHTTP(t, tok)
	if code, body := s.send("GET", "/api/v1/whoami", "", nil); code != http.StatusOK {
		t.Fatalf("whoami right after sign-in: %d %s", code, body)
	}
	time.Sleep(6 * time.Second)
	code, body := s.send("GET", "/api/v1/whoami", "", nil)
	if code != http.StatusUnauthorized || !strings.Contains(body, "expired") {
		t.Fatalf("whoami after the ID token expired: %d %s, want 401 naming the expiry", code, body)
	}
	t.Logf("a session past its ID token's expiry → %d %s", code, strings.Join(strings.Fields(body), " "))
}
