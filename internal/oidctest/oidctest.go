// Package oidctest is a real OpenID Connect issuer for tests: an HTTP
// server with a discovery document and a JWKS, signing ID tokens with
// RS256 keys made at start, rotating keys on request. Tokens are minted by
// the test (Issue); there is no login page. It exists so that tests verify
// tokens with the real verifier (go-oidc) over HTTP instead of a stub.
package oidctest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Issuer is a running OIDC issuer. Safe for concurrent use.
type Issuer struct {
	srv  *httptest.Server
	mu   sync.Mutex
	keys []jose.JSONWebKey // published; the last one signs
	n    int
	// JWKSFetches counts JWKS requests (key rotation refetches).
	jwksFetches int
	devices     map[string]*device // by device code
}

// device is a pending device authorization (RFC 8628).
type device struct {
	userCode, clientID string
	subject            string
	groups             []string
	approved, denied   bool
}

// Start starts an issuer on a loopback port with one signing key.
func Start() (*Issuer, error) {
	is := &Issuer{devices: map[string]*device{}}
	if err := is.Rotate(false); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": is.URL(), "jwks_uri": is.URL() + "/jwks",
			"authorization_endpoint": is.URL() + "/authorize", "token_endpoint": is.URL() + "/token",
			"device_authorization_endpoint": is.URL() + "/device/code",
			"response_types_supported":      []string{"code"}, "subject_types_supported": []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		is.mu.Lock()
		is.jwksFetches++
		set := jose.JSONWebKeySet{}
		for _, k := range is.keys {
			set.Keys = append(set.Keys, k.Public())
		}
		is.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(set)
	})
	mux.HandleFunc("POST /device/code", is.deviceCode)
	mux.HandleFunc("POST /token", is.token)
	is.srv = httptest.NewServer(mux)
	return is, nil
}

// URL is the issuer URL (the iss claim).
func (is *Issuer) URL() string { return is.srv.URL }

// Close stops the server.
func (is *Issuer) Close() { is.srv.Close() }

// JWKSFetches is how often the JWKS was fetched.
func (is *Issuer) JWKSFetches() int {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.jwksFetches
}

// Rotate makes a new signing key; with drop, the old keys are no longer
// published (tokens they signed stop verifying).
func (is *Issuer) Rotate(drop bool) error {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	is.mu.Lock()
	defer is.mu.Unlock()
	is.n++
	jwk := jose.JSONWebKey{Key: k, KeyID: fmt.Sprintf("key-%d", is.n), Algorithm: string(jose.RS256), Use: "sig"}
	if drop {
		is.keys = nil
	}
	is.keys = append(is.keys, jwk)
	return nil
}

// Claims of a token to issue. Zero times mean now and now+1h.
type Claims struct {
	Subject   string
	Audience  string
	Groups    []string
	Email     string
	IssuedAt  time.Time
	ExpiresAt time.Time
	// Issuer overrides the iss claim (empty: this issuer's URL).
	Issuer string
}

// Issue signs an ID token with the current key.
func (is *Issuer) Issue(c Claims) (string, error) {
	now := time.Now()
	if c.IssuedAt.IsZero() {
		c.IssuedAt = now
	}
	if c.ExpiresAt.IsZero() {
		c.ExpiresAt = now.Add(time.Hour)
	}
	if c.Issuer == "" {
		c.Issuer = is.URL()
	}
	payload := map[string]any{"iss": c.Issuer, "sub": c.Subject, "aud": c.Audience, "iat": c.IssuedAt.Unix(), "exp": c.ExpiresAt.Unix()}
	if c.Groups != nil {
		payload["groups"] = c.Groups
	}
	if c.Email != "" {
		payload["email"] = c.Email
	}
	b, err := json.Marshal(payload)
	if err != nil {
		return "", err
	}
	is.mu.Lock()
	k := is.keys[len(is.keys)-1]
	is.mu.Unlock()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: k}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(b)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// Unsigned returns the token's header and payload with alg "none" and an
// empty signature: what an attacker sends to a verifier that trusts alg.
func Unsigned(token string) string {
	parts := strings.Split(token, ".")
	hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	return hdr + "." + parts[1] + "."
}

// Tampered returns the token with its payload's sub claim replaced and
// the original signature kept.
func Tampered(token, sub string) string {
	parts := strings.Split(token, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	m["sub"] = sub
	b, _ := json.Marshal(m)
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
}

func randomCode(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return strings.ToUpper(base64.RawURLEncoding.EncodeToString(b))[:n]
}

// deviceCode starts a device authorization: the user is to approve
// user_code at verification_uri (here: the test calls Approve).
func (is *Issuer) deviceCode(w http.ResponseWriter, r *http.Request) {
	clientID := r.PostFormValue("client_id")
	if clientID == "" {
		http.Error(w, `{"error":"invalid_client"}`, http.StatusBadRequest)
		return
	}
	d := &device{userCode: randomCode(4) + "-" + randomCode(4), clientID: clientID}
	code := randomCode(24)
	is.mu.Lock()
	is.devices[code] = d
	is.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"device_code": code, "user_code": d.userCode,
		"verification_uri": is.URL() + "/device", "expires_in": 300, "interval": 1})
}

// token answers the device-code grant: pending until approved, then an
// ID token for the approved subject with the client as audience.
func (is *Issuer) token(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	fail := func(code string) {
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": code})
	}
	if r.PostFormValue("grant_type") != "urn:ietf:params:oauth:grant-type:device_code" {
		fail("unsupported_grant_type")
		return
	}
	is.mu.Lock()
	d := is.devices[r.PostFormValue("device_code")]
	var snapshot device
	if d != nil {
		snapshot = *d
		if d.approved || d.denied {
			delete(is.devices, r.PostFormValue("device_code"))
		}
	}
	is.mu.Unlock()
	switch {
	case d == nil:
		fail("expired_token")
		return
	case snapshot.denied:
		fail("access_denied")
		return
	case !snapshot.approved:
		fail("authorization_pending")
		return
	}
	tok, err := is.Issue(Claims{Subject: snapshot.subject, Audience: snapshot.clientID, Groups: snapshot.groups})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": randomCode(16), "token_type": "Bearer", "expires_in": 3600, "id_token": tok})
}

// PendingUserCodes lists the user codes of device authorizations not yet
// approved or denied.
func (is *Issuer) PendingUserCodes() []string {
	is.mu.Lock()
	defer is.mu.Unlock()
	var out []string
	for _, d := range is.devices {
		if !d.approved && !d.denied {
			out = append(out, d.userCode)
		}
	}
	return out
}

// Expire ends the device authorization with userCode unanswered, as its
// expires_in running out would: the client's next poll gets expired_token.
func (is *Issuer) Expire(userCode string) error {
	is.mu.Lock()
	defer is.mu.Unlock()
	for code, d := range is.devices {
		if d.userCode == userCode {
			delete(is.devices, code)
			return nil
		}
	}
	return fmt.Errorf("oidctest: no device authorization with user code %q", userCode)
}

// Approve signs subject in for the device authorization with userCode, as
// the user would on the verification page; deny refuses it instead.
func (is *Issuer) Approve(userCode, subject string, deny bool, groups ...string) error {
	is.mu.Lock()
	defer is.mu.Unlock()
	for _, d := range is.devices {
		if d.userCode == userCode {
			d.subject, d.groups = subject, groups
			d.approved, d.denied = !deny, deny
			return nil
		}
	}
	return fmt.Errorf("no pending device authorization with user code %s", userCode)
}
