package api_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vclusterkit/vclusterkit/api"
	"github.com/vclusterkit/vclusterkit/internal/testenv"
)

// TestNotFoundSaysNothing: a virtual cluster or space of a tenant the
// caller cannot see answers exactly as one that never existed, and a name
// that cannot exist (a slash in it) is not found either, not an internal
// error.
func TestNotFoundSaysNothing(t *testing.T) {
	alice, bob := pf.Token("alice"), pf.Token("bob")
	if a := call(t, "POST", "/spaces", alice, api.CreateSpace{Name: "hidden-space", Tenant: "acme-data"}); a.code != 201 {
		t.Fatalf("creating hidden-space: %d %s", a.code, a.body)
	}
	defer call(t, "DELETE", "/spaces/hidden-space", alice, nil)
	if a := call(t, "POST", "/virtualclusters", alice, api.CreateVirtualCluster{Name: "hidden", Tenant: "acme-data"}); a.code != 201 {
		t.Fatalf("creating hidden: %d %s", a.code, a.body)
	}
	defer func() {
		call(t, "DELETE", "/virtualclusters/hidden", alice, nil)
		testenv.Eventually(t, 2*time.Minute, "hidden to be gone", func(ctx context.Context) (bool, string) {
			a := call(t, "GET", "/virtualclusters/hidden", alice, nil)
			return a.code == 404, string(a.body)
		})
	}()
	// bob (edit in acme-web) cannot see acme-data.
	for _, tc := range []struct{ method, exists, never string }{
		{"GET", "/virtualclusters/hidden", "/virtualclusters/never-was"},
		{"POST", "/virtualclusters/hidden/sleep", "/virtualclusters/never-was/sleep"},
		{"GET", "/virtualclusters/hidden/kubeconfig", "/virtualclusters/never-was/kubeconfig"},
		{"DELETE", "/virtualclusters/hidden", "/virtualclusters/never-was"},
		{"GET", "/spaces/hidden-space", "/spaces/never-was"},
		{"DELETE", "/spaces/hidden-space", "/spaces/never-was"},
	} {
		a, b := call(t, tc.method, tc.exists, bob, nil), call(t, tc.method, tc.never, bob, nil)
		ea, eb := a.err(t), b.err(t)
		name := func(p string) string { return strings.Split(strings.SplitN(p, "/", 3)[2], "/")[0] }
		if a.code != 404 || b.code != 404 || ea.Error.Reason != eb.Error.Reason ||
			strings.ReplaceAll(ea.Error.Message, name(tc.exists), "X") != strings.ReplaceAll(eb.Error.Message, name(tc.never), "X") {
			t.Fatalf("%s %s → %d %q, but %s → %d %q: the answers tell an existing object from a missing one",
				tc.method, tc.exists, a.code, ea.Error.Message, tc.never, b.code, eb.Error.Message)
		}
		t.Logf("bob %s %s and %s → %d %s / %s", tc.method, tc.exists, tc.never, a.code, ea.Error.Message, eb.Error.Message)
	}
	for _, tc := range []struct{ method, path string }{
		{"GET", "/virtualclusters/a%2Fb"},
		{"GET", "/virtualclusters/..%2F..%2Fkube-system"},
		{"GET", "/virtualclusters/a%2Fb/kubeconfig"},
		{"POST", "/virtualclusters/a%2Fb/sleep"},
		{"DELETE", "/virtualclusters/a%2Fb"},
		{"GET", "/spaces/a%2Fb"},
		{"DELETE", "/spaces/..%2F"},
	} {
		a := call(t, tc.method, tc.path, alice, nil)
		if e := a.err(t); a.code != 404 || e.Error.Reason != "NotFound" {
			t.Fatalf("%s %s: %d %s, want 404", tc.method, tc.path, a.code, a.body)
		}
		t.Logf("%s %s → %d %s", tc.method, tc.path, a.code, a.err(t).Error.Message)
	}
}
