package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/tenancy/webhook"
)

// fields turns a CheckTenant/CheckSpace result into "field: detail" lines
// (nil for no error), so each case states exactly what it expects.
func fields(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var inv *tenancy.InvalidError
	if !errors.As(err, &inv) {
		t.Fatalf("want *tenancy.InvalidError, got %T: %v", err, err)
	}
	out := make([]string, len(inv.Errs))
	for i, e := range inv.Errs {
		out[i] = e.Field + ": " + e.Detail
	}
	return out
}

func TestCheckTenant(t *testing.T) {
	// org (cpu 4, restricted, storage [fast]) -> team (cpu 2) -> dev
	// other (MaxSpaces-free root); legacy is a child of org that is
	// already invalid (cpu 8 > 4), as written while no webhook ran.
	base := []tenancy.Tenant{
		tenant("org", "", quota("cpu", "4"), podSecurity(tenancy.PodSecurityRestricted), storageClasses("fast")),
		tenant("team", "org", quota("cpu", "2")),
		tenant("dev", "team"),
		tenant("other", ""),
		tenant("legacy", "org", quota("cpu", "8")),
		tenant("lab", "", podSecurity(tenancy.PodSecurityBaseline)),
		tenant("kid", "lab", podSecurity(tenancy.PodSecurityBaseline)),
	}
	get := func(name string) *tenancy.Tenant {
		for i := range base {
			if base[i].Name == name {
				return base[i].DeepCopy()
			}
		}
		t.Fatalf("no tenant %s", name)
		return nil
	}
	with := func(name string, mods ...func(*tenancy.Tenant)) *tenancy.Tenant {
		tn := get(name)
		for _, m := range mods {
			m(tn)
		}
		return tn
	}
	cases := []struct {
		name     string
		maxDepth int
		old      *tenancy.Tenant // nil: create
		obj      *tenancy.Tenant
		want     []string
	}{
		{name: "new root", obj: ptr(tenant("acme", "", quota("cpu", "100")))},
		{name: "child within its parent", obj: ptr(tenant("qa", "team", quota("cpu", "1"), podSecurity(tenancy.PodSecurityRestricted)))},
		{name: "child quota above parent", obj: ptr(tenant("qa", "team", quota("cpu", "3"))),
			want: []string{`spec.quota[cpu]: exceeds 2 set by ancestor "team"`}},
		{name: "grandchild quota above the nearest ancestor that sets it", obj: ptr(tenant("qa", "dev", quota("cpu", "5", "memory", "1Gi"))),
			want: []string{`spec.quota[cpu]: exceeds 2 set by ancestor "team"`}},
		{name: "child loosens pod security", obj: ptr(tenant("qa", "team", podSecurity(tenancy.PodSecurityBaseline))),
			want: []string{`spec.policy.podSecurity: looser than "restricted" set by ancestor "org"; a child may only tighten its parent's policy`}},
		{name: "child widens an allowed list", obj: ptr(tenant("qa", "dev", storageClasses("fast", "slow"))),
			want: []string{`spec.policy.allowedStorageClasses[1]: not allowed by ancestor "org", which allows only [fast]`}},
		{name: "missing parent", obj: ptr(tenant("qa", "nope")),
			want: []string{`spec.parent: `}},
		{name: "depth limit", maxDepth: 3, obj: ptr(tenant("qa", "dev")),
			want: []string{`spec.parent: the tenant would be at depth 3; a tree may have at most 3 levels`}},
		{name: "reserved name", obj: ptr(tenant("kube-system", "")),
			want: []string{`metadata.name: "kube-system" is reserved (reserved: default, kube-node-lease, kube-public, kube-system)`}},

		{name: "update: cycle through a descendant", old: get("team"), obj: with("team", func(t *tenancy.Tenant) { t.Spec.Parent = "dev" }),
			want: []string{`spec.parent: would form a cycle: team -> dev -> team`}},
		{name: "update: root under another root", old: get("other"), obj: with("other", func(t *tenancy.Tenant) { t.Spec.Parent = "dev" })},
		{name: "update: parent lowers a quota no descendant sets", old: get("team"), obj: with("team", quota("cpu", "1"))},
		{name: "update: org lowers quota below team's", old: get("org"), obj: with("org", quota("cpu", "1")),
			want: []string{
				`spec.quota: descendant "legacy" would become invalid: spec.quota[cpu]: exceeds 1 set by ancestor "org"`,
				`spec.quota: descendant "team" would become invalid: spec.quota[cpu]: exceeds 1 set by ancestor "org"`,
			}},
		{name: "update: parent tightens pod security above a child's explicit level", old: get("lab"), obj: with("lab", podSecurity(tenancy.PodSecurityRestricted)),
			want: []string{`spec.policy: descendant "kid" would become invalid: spec.policy.podSecurity: looser than "restricted" set by ancestor "lab"; a child may only tighten its parent's policy`}},
		// legacy is already over org's cpu: org's unrelated change is not
		// refused for it, but a change that makes legacy worse off is.
		{name: "update: parent loosens its own policy over an already invalid child", old: get("org"), obj: with("org", podSecurity(tenancy.PodSecurityBaseline))},
		// Ratcheting is word for word: a different limit is a new problem,
		// even a higher one (raise it to 8, or lower legacy first).
		{name: "update: parent raises quota, child still over", old: get("org"), obj: with("org", quota("cpu", "6")),
			want: []string{`spec.quota: descendant "legacy" would become invalid: spec.quota[cpu]: exceeds 6 set by ancestor "org"`}},
		{name: "update: parent raises quota to the child's", old: get("org"), obj: with("org", quota("cpu", "8"))},
		{name: "update: parent lowers quota, already invalid child reported with the new limit", old: get("org"), obj: with("org", quota("cpu", "3")),
			want: []string{`spec.quota: descendant "legacy" would become invalid: spec.quota[cpu]: exceeds 3 set by ancestor "org"`}},
		{name: "update: moving drops an inherited restriction", old: get("dev"), obj: with("dev", func(t *tenancy.Tenant) { t.Spec.Parent = "other" }),
			want: []string{
				`spec.policy.podSecurity: re-parenting would drop "restricted" inherited from ancestor "org", which the moved subtree relies on`,
				`spec.policy.allowedStorageClasses: re-parenting would drop "fast" inherited from ancestor "org", which the moved subtree relies on`,
			}},
		{name: "update: already invalid tenant, metadata only", old: get("legacy"), obj: with("legacy", func(t *tenancy.Tenant) { t.Finalizers = []string{"x"} })},
		{name: "update: already invalid tenant, unrelated spec change", old: get("legacy"), obj: with("legacy", member("ann"))},
		{name: "update: already invalid tenant made worse", old: get("legacy"), obj: with("legacy", quota("cpu", "9")),
			want: []string{`spec.quota[cpu]: exceeds 4 set by ancestor "org"`}},
		{name: "update: already invalid tenant repaired", old: get("legacy"), obj: with("legacy", quota("cpu", "4"))},
		{name: "update: already invalid tenant gets a new problem", old: get("legacy"), obj: with("legacy", podSecurity(tenancy.PodSecurityPrivileged)),
			want: []string{`spec.policy.podSecurity: looser than "restricted" set by ancestor "org"; a child may only tighten its parent's policy`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tenants := make([]tenancy.Tenant, len(base))
			for i := range base {
				base[i].DeepCopyInto(&tenants[i])
			}
			v := &webhook.Validator{MaxDepth: tc.maxDepth}
			got := fields(t, v.CheckTenant(tenants, nil, tc.old, tc.obj))
			if tc.name == "missing parent" {
				if len(got) != 1 || !strings.HasPrefix(got[0], "spec.parent") {
					t.Fatalf("got %q, want one error on spec.parent", got)
				}
				return
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(base, tenants); diff != "" {
				t.Errorf("the snapshot was modified (-before +after):\n%s", diff)
			}
		})
	}
}

func TestCheckSpace(t *testing.T) {
	// org (MaxSpaces 3) -> a (MaxSpaces 1), b; c is a root with cpu 2.
	tenants := []tenancy.Tenant{
		tenant("org", "", maxSpaces(3)),
		tenant("a", "org", maxSpaces(1)),
		tenant("b", "org"),
		tenant("c", "", quota("cpu", "2")),
	}
	cases := []struct {
		name   string
		spaces []tenancy.Space
		old    *tenancy.Space
		obj    tenancy.Space
		want   []string
	}{
		{name: "tenant exists", obj: space("s1", "c", spaceQuota("cpu", "1"))},
		{name: "tenant missing", obj: space("s1", "nope"), want: []string{"spec.tenant: "}},
		{name: "quota above the tenant's", obj: space("s1", "c", spaceQuota("cpu", "3")),
			want: []string{`spec.quota[cpu]: exceeds 2 set by tenant "c"`}},
		{name: "first space under a limit of one", obj: space("s1", "a")},
		{name: "tenant's own limit reached", spaces: []tenancy.Space{space("s0", "a")}, obj: space("s1", "a"),
			want: []string{`spec.tenant: tenant "a" allows at most 1 spaces in its subtree, which already has 1`}},
		{name: "ancestor's limit counts sibling subtrees", spaces: []tenancy.Space{space("s0", "a"), space("s2", "b"), space("s3", "org")}, obj: space("s1", "b"),
			want: []string{`spec.tenant: ancestor "org" allows at most 3 spaces in its subtree, which already has 3`}},
		{name: "the same name in the snapshot is not counted twice", spaces: []tenancy.Space{space("s1", "a")}, obj: space("s1", "a")},
		{name: "other tenants' spaces do not count", spaces: []tenancy.Space{space("x1", "c"), space("x2", "c")}, obj: space("s1", "b")},
		{name: "update: tenant is immutable", spaces: []tenancy.Space{space("s1", "c")}, old: ptr(space("s1", "c")), obj: space("s1", "b"),
			want: []string{`spec.tenant: field is immutable (was "c")`}},
		{name: "update: quota raised above the tenant's", spaces: []tenancy.Space{space("s1", "c")}, old: ptr(space("s1", "c")), obj: space("s1", "c", spaceQuota("cpu", "5")),
			want: []string{`spec.quota[cpu]: exceeds 2 set by tenant "c"`}},
		{name: "update: over a MaxSpaces limit is not re-counted", spaces: []tenancy.Space{space("s0", "a"), space("s1", "a")}, old: ptr(space("s1", "a")),
			obj: space("s1", "a", func(s *tenancy.Space) { s.Spec.Labels = map[string]string{"x": "y"} })},
		{name: "update: already over quota, labels change", spaces: []tenancy.Space{space("s1", "c", spaceQuota("cpu", "9"))}, old: ptr(space("s1", "c", spaceQuota("cpu", "9"))),
			obj: space("s1", "c", spaceQuota("cpu", "9"), func(s *tenancy.Space) { s.Spec.Labels = map[string]string{"x": "y"} })},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := fields(t, (&webhook.Validator{}).CheckSpace(tenants, tc.spaces, tc.old, &tc.obj))
			if tc.name == "tenant missing" {
				if len(got) != 1 || !strings.HasPrefix(got[0], "spec.tenant") {
					t.Fatalf("got %q, want one error on spec.tenant", got)
				}
				return
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func request(t *testing.T, op admissionv1.Operation, kind string, obj, old any) *admissionv1.AdmissionRequest {
	t.Helper()
	raw := func(o any) runtime.RawExtension {
		if o == nil {
			return runtime.RawExtension{}
		}
		b, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		return runtime.RawExtension{Raw: b}
	}
	return &admissionv1.AdmissionRequest{
		UID:       "uid-1",
		Kind:      metav1.GroupVersionKind{Group: tenancy.Group, Version: "v1alpha1", Kind: kind},
		Operation: op,
		Object:    raw(obj),
		OldObject: raw(old),
	}
}

func TestReview(t *testing.T) {
	tree := []tenancy.Tenant{tenant("org", "", quota("cpu", "4")), tenant("team", "org")}
	lists := 0
	v := &webhook.Validator{Source: webhook.SourceFunc(func(context.Context) ([]tenancy.Tenant, []tenancy.Space, error) {
		lists++
		return tree, nil, nil
	})}
	tooBig := tenant("qa", "org", quota("cpu", "5"))
	ctx := context.Background()

	t.Run("refusal is 422 Invalid with a cause per field", func(t *testing.T) {
		for _, dry := range []bool{false, true} {
			req := request(t, admissionv1.Create, tenancy.KindTenant, tooBig, nil)
			req.Name = "qa"
			req.DryRun = &dry
			resp, err := v.Review(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Allowed || resp.Result == nil {
				t.Fatalf("dryRun=%v: allowed %v", dry, resp.Allowed)
			}
			if resp.Result.Code != http.StatusUnprocessableEntity || resp.Result.Reason != metav1.StatusReasonInvalid {
				t.Errorf("dryRun=%v: code %d reason %s, want 422 Invalid", dry, resp.Result.Code, resp.Result.Reason)
			}
			want := `Tenant.tenancy.vclusterkit.io "qa" is invalid: spec.quota[cpu]: Invalid value: "5": exceeds 4 set by ancestor "org"`
			if resp.Result.Message != want {
				t.Errorf("dryRun=%v: message\n%s\nwant\n%s", dry, resp.Result.Message, want)
			}
			if d := resp.Result.Details; d == nil || len(d.Causes) != 1 || d.Causes[0].Field != "spec.quota[cpu]" {
				t.Errorf("dryRun=%v: causes %+v", dry, d)
			}
		}
	})
	t.Run("allowed", func(t *testing.T) {
		resp, err := v.Review(ctx, request(t, admissionv1.Create, tenancy.KindTenant, tenant("qa", "org", quota("cpu", "4")), nil))
		if err != nil || !resp.Allowed {
			t.Fatalf("got %+v, %v", resp, err)
		}
	})
	t.Run("not its business", func(t *testing.T) {
		before := lists
		del := request(t, admissionv1.Delete, tenancy.KindTenant, nil, tooBig)
		status := request(t, admissionv1.Update, tenancy.KindTenant, tooBig, tenant("qa", "org"))
		status.SubResource = "status"
		other := request(t, admissionv1.Create, "Tenant", tooBig, nil)
		other.Kind.Group = "example.com"
		meta := request(t, admissionv1.Update, tenancy.KindTenant, tooBig, tooBig)
		for _, req := range []*admissionv1.AdmissionRequest{del, status, other, meta} {
			resp, err := v.Review(ctx, req)
			if err != nil || !resp.Allowed {
				t.Errorf("%s %s/%s: got %+v, %v", req.Operation, req.Kind.Group, req.SubResource, resp, err)
			}
		}
		if lists != before {
			t.Errorf("listed the tree %d times for requests that need no tree", lists-before)
		}
	})
	t.Run("undecodable object is a 400 refusal", func(t *testing.T) {
		req := request(t, admissionv1.Create, tenancy.KindSpace, nil, nil)
		req.Object.Raw = []byte(`{"spec":{"quota":{"cpu":"two"}}}`)
		resp, err := v.Review(ctx, req)
		if err != nil || resp.Allowed || resp.Result.Code != http.StatusBadRequest {
			t.Fatalf("got %+v, %v", resp, err)
		}
	})
	t.Run("source failure is an error, not a decision", func(t *testing.T) {
		boom := errors.New("cache not synced")
		bad := &webhook.Validator{Source: webhook.SourceFunc(func(context.Context) ([]tenancy.Tenant, []tenancy.Space, error) { return nil, nil, boom })}
		if _, err := bad.Review(ctx, request(t, admissionv1.Create, tenancy.KindTenant, tooBig, nil)); !errors.Is(err, boom) {
			t.Errorf("got %v, want %v", err, boom)
		}
		if _, err := (&webhook.Validator{}).Review(ctx, request(t, admissionv1.Create, tenancy.KindTenant, tooBig, nil)); !errors.Is(err, webhook.ErrNoSource) {
			t.Errorf("got %v, want ErrNoSource", err)
		}
		// Over HTTP it is a 500, so the API server applies the failure policy.
		body, _ := json.Marshal(admissionv1.AdmissionReview{Request: request(t, admissionv1.Create, tenancy.KindTenant, tooBig, nil)})
		rec := httptest.NewRecorder()
		bad.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, webhook.Path, strings.NewReader(string(body))))
		if rec.Code != http.StatusInternalServerError {
			t.Errorf("HTTP %d, want 500", rec.Code)
		}
	})
	t.Run("http round trip", func(t *testing.T) {
		body, _ := json.Marshal(admissionv1.AdmissionReview{Request: request(t, admissionv1.Create, tenancy.KindTenant, tooBig, nil)})
		rec := httptest.NewRecorder()
		v.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, webhook.Path, strings.NewReader(string(body))))
		var out admissionv1.AdmissionReview
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("HTTP %d: %v: %s", rec.Code, err, rec.Body)
		}
		if out.Response == nil || out.Response.UID != "uid-1" || out.Response.Allowed || out.Kind != "AdmissionReview" {
			t.Errorf("response %+v", out)
		}
		rec = httptest.NewRecorder()
		v.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, webhook.Path, nil))
		if rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("GET: HTTP %d", rec.Code)
		}
	})
}
