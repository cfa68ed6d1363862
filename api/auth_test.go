package api_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vclusterkit/vclusterkit/api"
	"github.com/vclusterkit/vclusterkit/api/audit"
	"github.com/vclusterkit/vclusterkit/api/auth"
	"github.com/vclusterkit/vclusterkit/internal/oidctest"
	"github.com/vclusterkit/vclusterkit/internal/platformtest"
	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestBadTokensRefused sends each kind of bad credential to a mutating
// route: each gets 401 with a message saying why, nothing is created, and
// the refusal is audited as denied.
func TestBadTokensRefused(t *testing.T) {
	foreign, err := oidctest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer foreign.Close()
	issue := func(is *oidctest.Issuer, c oidctest.Claims) string {
		tok, err := is.Issue(c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	good := pf.Token("alice")
	past := time.Now().Add(-2 * time.Hour)
	// Real keys from the store: one to present with a wrong secret, one
	// that lives a second and has expired by the time it is sent.
	issued, _, err := pf.Keys.Issue(context.Background(), &auth.Identity{Name: "alice"}, "bad-token-test", "acme", tenancy.RoleAdmin, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	brief, briefKey, err := pf.Keys.Issue(context.Background(), &auth.Identity{Name: "alice"}, "bad-token-brief", "acme", tenancy.RoleAdmin, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = pf.Keys.Revoke(context.Background(), issued.ID)
		_ = pf.Keys.Revoke(context.Background(), brief.ID)
	})
	time.Sleep(time.Until(brief.ExpiresAt) + 100*time.Millisecond)
	cases := []struct {
		name, token, want string
	}{
		{"no credential", "", "no credential"},
		{"not bearer", "raw:Basic YWxpY2U6c2VjcmV0", "no credential"},
		{"expired", issue(pf.Issuer, oidctest.Claims{Subject: "alice", Audience: platformtest.ClientID, IssuedAt: past, ExpiresAt: past.Add(time.Hour)}), "expired"},
		{"foreign issuer", issue(foreign, oidctest.Claims{Subject: "alice", Audience: platformtest.ClientID}), "failed to verify signature"},
		{"foreign issuer claiming ours", issue(foreign, oidctest.Claims{Subject: "alice", Audience: platformtest.ClientID, Issuer: pf.Issuer.URL()}), "signature"},
		// Signed with our issuer's key but naming another issuer: only the
		// issuer check refuses it (the two above fail on the signature).
		{"our key, foreign iss claim", issue(pf.Issuer, oidctest.Claims{Subject: "alice", Audience: platformtest.ClientID, Issuer: foreign.URL()}), "issued by a different provider"},
		{"wrong audience", issue(pf.Issuer, oidctest.Claims{Subject: "alice", Audience: "another-app"}), "audience"},
		{"alg none", oidctest.Unsigned(good), "refused"},
		{"tampered", oidctest.Tampered(pf.Token("bob"), "alice"), "signature"},
		{"garbage", "not-a-jwt", "refused"},
		{"no user claim", issue(pf.Issuer, oidctest.Claims{Audience: platformtest.ClientID}), `no "sub" claim`},
		{"malformed API key", "vck_zz", "malformed API key"},
		{"unknown API key", "vck_0123456789abcdef_c2VjcmV0", "revoked or was never issued"},
		{"API key, wrong secret", auth.KeyPrefix + issued.ID + "_AAAA", "wrong secret"},
		{"expired API key", briefKey, "expired at"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(pf.Audit.Events())
			a := call(t, "POST", "/virtualclusters", tc.token, map[string]string{"name": "intruder", "tenant": "acme"})
			if a.code != 401 {
				t.Fatalf("got %d %s, want 401", a.code, a.body)
			}
			if e := a.err(t); !strings.Contains(e.Error.Message, tc.want) || e.Error.Reason != "Unauthorized" {
				t.Errorf("message %q (reason %s), want it to contain %q", e.Error.Message, e.Error.Reason, tc.want)
			}
			t.Logf("%s → %d %s", tc.name, a.code, a.err(t).Error.Message)
			evs := pf.Audit.Events()[before:]
			if len(evs) != 1 || evs[0].Result != audit.ResultDenied || evs[0].Actor != "anonymous" || evs[0].Code != 401 {
				t.Errorf("audit events %+v, want one denied event for anonymous", evs)
			}
		})
	}
	var vc vcluster.VirtualCluster
	if err := pf.Client.Get(context.Background(), client.ObjectKey{Namespace: platformtest.Namespace, Name: "intruder"}, &vc); err == nil {
		t.Fatal("a refused call created virtual cluster intruder")
	}
	// The good token works, so the refusals above are the credentials'.
	if a := call(t, "GET", "/whoami", good, nil); a.code != 200 {
		t.Fatalf("whoami with a good token: %d %s", a.code, a.body)
	}
}

// TestBearerScheme: the auth scheme is matched case-insensitively, as
// HTTP defines it; other schemes are no credential.
func TestBearerScheme(t *testing.T) {
	tok := pf.Token("alice")
	for _, scheme := range []string{"Bearer", "bearer", "BEARER"} {
		if a := call(t, "GET", "/whoami", "raw:"+scheme+" "+tok, nil); a.code != 200 {
			t.Fatalf("Authorization: %s <token>: %d %s", scheme, a.code, a.body)
		}
	}
	for _, raw := range []string{"Bearertoken", "Token " + tok, tok} {
		if a := call(t, "GET", "/whoami", "raw:"+raw, nil); a.code != 401 || !strings.Contains(a.err(t).Error.Message, "no credential") {
			t.Fatalf("Authorization: %.20s…: %d %s, want 401 no credential", raw, a.code, a.body)
		}
	}
}

// TestKeyRotation: after the issuer rotates its keys (dropping the old
// one), a token signed with the new key verifies (the verifier refetches
// the JWKS), and one signed with the dropped key does not.
func TestKeyRotation(t *testing.T) {
	old := pf.Token("alice")
	if a := call(t, "GET", "/whoami", old, nil); a.code != 200 {
		t.Fatalf("before rotation: %d %s", a.code, a.body)
	}
	fetches := pf.Issuer.JWKSFetches()
	if err := pf.Issuer.Rotate(true); err != nil {
		t.Fatal(err)
	}
	fresh := pf.Token("alice")
	if a := call(t, "GET", "/whoami", fresh, nil); a.code != 200 {
		t.Fatalf("token signed with the rotated key: %d %s", a.code, a.body)
	}
	if pf.Issuer.JWKSFetches() == fetches {
		t.Error("the verifier did not refetch the JWKS after rotation")
	}
	if a := call(t, "GET", "/whoami", old, nil); a.code != 401 {
		t.Fatalf("token signed with the dropped key: %d %s, want 401", a.code, a.body)
	} else {
		t.Logf("token signed with the dropped key → %d %s", a.code, a.err(t).Error.Message)
	}
}

// TestAPIKeys: a key scoped to acme-web acts there, is refused on its
// parent and on another tree, cannot mint keys or get kubeconfigs,
// expires, and stops working when revoked. Only its hash is stored.
func TestAPIKeys(t *testing.T) {
	ctx := context.Background()
	alice := pf.Token("alice")
	a := call(t, "POST", "/apikeys", alice, api.CreateKey{Name: "ci", Tenant: "acme-web", Role: "admin", ExpiresIn: "24h"})
	if a.code != 201 {
		t.Fatalf("issuing a key: %d %s", a.code, a.body)
	}
	var ck api.CreatedKey
	a.json(t, &ck)
	if !strings.HasPrefix(ck.Key, auth.KeyPrefix) {
		t.Fatalf("key %q", ck.Key)
	}
	// Stored hashed: the secret part appears nowhere in the Secret.
	keys, err := pf.Keys.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, k := range keys {
		found = found || k.ID == ck.ID
	}
	if !found {
		t.Fatalf("key %s not listed", ck.ID)
	}
	secretPart := ck.Key[strings.LastIndex(ck.Key, "_")+1:]
	var sl = &corev1SecretList{}
	if err := pf.Client.List(ctx, &sl.SecretList, client.InNamespace(platformtest.Namespace)); err != nil {
		t.Fatal(err)
	}
	for _, s := range sl.Items {
		for k, v := range s.Data {
			if strings.Contains(string(v), secretPart) {
				t.Fatalf("Secret %s key %s holds the key's secret in clear", s.Name, k)
			}
		}
	}

	// In scope: listing works and shows only acme-web's subtree.
	if a := call(t, "GET", "/tenants", ck.Key, nil); a.code != 200 || strings.Contains(string(a.body), `"name": "acme"`) {
		t.Fatalf("tenants with the key: %d %s", a.code, a.body)
	}
	// Out of scope: the parent tenant (alice is admin there) and another tree.
	a = call(t, "POST", "/spaces", ck.Key, api.CreateSpace{Name: "key-escape", Tenant: "acme"})
	if a.code != 403 || !strings.Contains(a.err(t).Error.Message, "outside that scope") {
		t.Fatalf("key on the parent tenant: %d %s, want 403 naming the scope", a.code, a.body)
	}
	t.Logf("key outside its scope → %d %s", a.code, a.err(t).Error.Message)
	// The refusal changed nothing and is audited as denied, naming the key.
	var escaped tenancy.Space
	if err := pf.Client.Get(ctx, client.ObjectKey{Name: "key-escape"}, &escaped); err == nil {
		t.Fatal("a refused out-of-scope call created space key-escape")
	}
	if !slices.ContainsFunc(pf.Audit.Events(), func(e audit.Event) bool {
		return e.Action == "space.create" && e.Target == "key-escape" && e.Tenant == "acme" && e.Result == audit.ResultDenied &&
			e.Code == 403 && e.Actor == "alice (apikey "+ck.ID+")" && e.Method == "apikey"
	}) {
		t.Fatal("the out-of-scope call was not audited as denied for the key")
	}
	a = call(t, "POST", "/spaces", ck.Key, api.CreateSpace{Name: "key-escape", Tenant: "globex"})
	if a.code != 404 {
		t.Fatalf("key on another tree: %d %s, want 404", a.code, a.body)
	}
	t.Logf("key on another tree → %d %s", a.code, a.err(t).Error.Message)
	a = call(t, "POST", "/apikeys", ck.Key, api.CreateKey{Name: "child", Tenant: "acme-web", Role: "view", ExpiresIn: "1h"})
	if a.code != 403 {
		t.Fatalf("a key minting a key: %d %s, want 403", a.code, a.body)
	}
	t.Logf("a key minting a key → %d %s", a.code, a.err(t).Error.Message)
	// Role cap: bob (edit in acme-web) cannot issue an admin key there.
	a = call(t, "POST", "/apikeys", pf.Token("bob"), api.CreateKey{Name: "up", Tenant: "acme-web", Role: "admin", ExpiresIn: "1h"})
	if a.code != 403 {
		t.Fatalf("bob issuing an admin key: %d %s, want 403", a.code, a.body)
	}
	t.Logf("bob (edit) issuing an admin key → %d %s", a.code, a.err(t).Error.Message)
	// Lifetime bound.
	a = call(t, "POST", "/apikeys", alice, api.CreateKey{Name: "forever", Tenant: "acme", Role: "view", ExpiresIn: "100000h"})
	if a.code != 400 || a.err(t).Error.Field != "expiresIn" {
		t.Fatalf("a key living too long: %d %s, want 400 naming expiresIn", a.code, a.body)
	}
	t.Logf("a key living too long → %d field=%q %s", a.code, a.err(t).Error.Field, a.err(t).Error.Message)
	keysNow, err := pf.Keys.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keysNow {
		if k.Name == "child" || k.Name == "up" || k.Name == "forever" {
			t.Fatalf("a refused key request stored key %s (%s)", k.Name, k.ID)
		}
	}
	// A key gets no kubeconfig, even for a virtual cluster in its scope.
	if a := call(t, "POST", "/virtualclusters", alice, api.CreateVirtualCluster{Name: "keyvc", Tenant: "acme-web"}); a.code != 201 {
		t.Fatalf("creating keyvc: %d %s", a.code, a.body)
	}
	a = call(t, "GET", "/virtualclusters/keyvc/kubeconfig", ck.Key, nil)
	if a.code != 403 || !strings.Contains(a.err(t).Error.Message, "not to API keys") {
		t.Fatalf("a key asking for a kubeconfig: %d %s, want 403", a.code, a.body)
	}
	t.Logf("a key asking for a kubeconfig → %d %s", a.code, a.err(t).Error.Message)
	if a := call(t, "DELETE", "/virtualclusters/keyvc", alice, nil); a.code != 202 {
		t.Fatalf("deleting keyvc: %d %s", a.code, a.body)
	}
	testenv.Eventually(t, 2*time.Minute, "keyvc to be gone", func(ctx context.Context) (bool, string) {
		a := call(t, "GET", "/virtualclusters/keyvc", alice, nil)
		return a.code == 404, string(a.body)
	})
	var sp struct{ Name string }
	if a := call(t, "POST", "/spaces", ck.Key, api.CreateSpace{Name: "key-space", Tenant: "acme-web"}); a.code != 201 {
		t.Fatalf("key creating a space in scope: %d %s", a.code, a.body)
	} else {
		a.json(t, &sp)
	}
	if a := call(t, "DELETE", "/spaces/key-space", ck.Key, nil); a.code != 202 {
		t.Fatalf("key deleting its space: %d %s", a.code, a.body)
	}

	// Expired: the same store read 25 hours later refuses it.
	later := &auth.KeyStore{Client: pf.Client, Namespace: platformtest.Namespace, Now: func() time.Time { return time.Now().Add(25 * time.Hour) }}
	if _, err := later.Authenticate(ctx, ck.Key); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired key: %v", err)
	} else {
		t.Logf("expired key → %v", err)
	}
	// Wrong secret for a real id.
	if _, err := pf.Keys.Authenticate(ctx, auth.KeyPrefix+ck.ID+"_AAAA"); err == nil || !strings.Contains(err.Error(), "wrong secret") {
		t.Fatalf("wrong secret: %v", err)
	}

	// Revoked.
	if a := call(t, "DELETE", "/apikeys/"+ck.ID, alice, nil); a.code != 204 {
		t.Fatalf("revoking: %d %s", a.code, a.body)
	}
	a = call(t, "GET", "/whoami", ck.Key, nil)
	if a.code != 401 || !strings.Contains(a.err(t).Error.Message, "revoked") {
		t.Fatalf("revoked key: %d %s", a.code, a.body)
	}
	t.Logf("revoked key → %d %s", a.code, a.err(t).Error.Message)
}
