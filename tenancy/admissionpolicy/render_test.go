package admissionpolicy_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/tenancy/admissionpolicy"
)

func TestForTenantRendersOnlyWhatIsRestricted(t *testing.T) {
	for _, tc := range []struct {
		name      string
		policy    tenancy.Policy
		resources []string
		messages  int
	}{
		{"nothing enforced here", tenancy.Policy{PodSecurity: tenancy.PodSecurityRestricted, AllowedProvisioners: []string{"local"}}, nil, 0},
		{"pods only", tenancy.Policy{AllowedPriorityClasses: []string{"low"}}, []string{"pods"}, 1},
		{"claims only", tenancy.Policy{AllowedStorageClasses: []string{"fast"}}, []string{"persistentvolumeclaims"}, 1},
		{"everything", tenancy.Policy{AllowedRuntimeClasses: []string{"a"}, AllowedPriorityClasses: []string{"b"}, NodeSelector: map[string]string{"k": "v"},
			AllowedStorageClasses: []string{"c"}, AllowedIngressClasses: []string{"d"}}, []string{"pods", "persistentvolumeclaims", "ingresses"}, 6},
	} {
		pol, bind := admissionpolicy.ForTenant("acme", tc.policy)
		if tc.resources == nil {
			if pol != nil || bind != nil {
				t.Errorf("%s: rendered %v", tc.name, pol)
			}
			continue
		}
		var got []string
		for _, r := range pol.Spec.MatchConstraints.ResourceRules {
			got = append(got, r.Resources...)
		}
		if diff := cmp.Diff(tc.resources, got); diff != "" {
			t.Errorf("%s: resources (-want +got):\n%s", tc.name, diff)
		}
		if len(pol.Spec.Validations) != tc.messages {
			t.Errorf("%s: %d validations, want %d", tc.name, len(pol.Spec.Validations), tc.messages)
		}
		if bind.Spec.PolicyName != pol.Name || pol.Name != admissionpolicy.TenantPolicyName("acme") ||
			pol.Labels[admissionpolicy.LabelManagedBy] != admissionpolicy.ManagedBy || bind.Labels[tenancy.LabelTenant] != "acme" {
			t.Errorf("%s: names/labels: policy %s %v, binding %s %v", tc.name, pol.Name, pol.Labels, bind.Spec.PolicyName, bind.Labels)
		}
		if tenant, ok := admissionpolicy.TenantOf(pol.Name); !ok || tenant != "acme" {
			t.Errorf("TenantOf(%q) = %q, %v", pol.Name, tenant, ok)
		}
	}
}

// A child's objects carry the effective policy: the parent's lists when it
// sets none, its own narrower ones, and the merged node selector.
func TestForTreeUsesEffectivePolicy(t *testing.T) {
	tenant := func(name, parent string, p tenancy.Policy) tenancy.Tenant {
		return tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: tenancy.TenantSpec{Parent: parent, Policy: p}}
	}
	tree, err := tenancy.NewTree([]tenancy.Tenant{
		tenant("org", "", tenancy.Policy{AllowedStorageClasses: []string{"fast", "slow"}, NodeSelector: map[string]string{"pool": "org"}}),
		tenant("team", "org", tenancy.Policy{AllowedStorageClasses: []string{"fast"}, NodeSelector: map[string]string{"zone": "a"}}),
		tenant("inherits", "org", tenancy.Policy{}),
		tenant("free", "", tenancy.Policy{}),
	}, nil, tenancy.TreeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pols, binds, err := admissionpolicy.ForTree(tree)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for i, p := range pols {
		if binds[i].Name != p.Name {
			t.Errorf("binding %d is %s for policy %s", i, binds[i].Name, p.Name)
		}
		for _, v := range p.Spec.Validations {
			got[p.Name] = append(got[p.Name], v.Message)
		}
	}
	want := map[string][]string{
		"vclusterkit-tenant-org": {`spec.nodeSelector: must contain the tenant's node selector {"pool": "org"}`,
			"spec.storageClassName: not allowed (allowed: [fast slow])"},
		"vclusterkit-tenant-team": {`spec.nodeSelector: must contain the tenant's node selector {"pool": "org", "zone": "a"}`,
			"spec.storageClassName: not allowed (allowed: [fast])"},
		"vclusterkit-tenant-inherits": {`spec.nodeSelector: must contain the tenant's node selector {"pool": "org"}`,
			"spec.storageClassName: not allowed (allowed: [fast slow])"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
}

func TestNamespaceGuardOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts admissionpolicy.GuardOptions
		want string
	}{
		{"no user", admissionpolicy.GuardOptions{Labels: []string{"x"}}, "GuardOptions.EngineUsers is required"},
		{"empty user", admissionpolicy.GuardOptions{EngineUsers: []string{"a", ""}}, "engineUsers[1]: Required value"},
		{"empty label key", admissionpolicy.GuardOptions{EngineUsers: []string{"a"}, Labels: []string{""}}, "labels[0]: Required value"},
		{"empty annotation key", admissionpolicy.GuardOptions{EngineUsers: []string{"a"}, Annotations: []string{"ok", ""}}, "annotations[1]: Required value"},
	} {
		pol, bind, err := admissionpolicy.NamespaceGuard(tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) || pol != nil || bind != nil {
			t.Errorf("%s: %v (policy %v), want an error with %q and nothing rendered", tc.name, err, pol != nil, tc.want)
		}
	}
	pol, _, err := admissionpolicy.NamespaceGuard(admissionpolicy.GuardOptions{EngineUsers: []string{"b", "a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", "b"}, admissionpolicy.EngineUsersOf(pol)); diff != "" {
		t.Errorf("EngineUsersOf (-want +got):\n%s", diff)
	}
	if got := admissionpolicy.EngineUsersOf(nil); got != nil {
		t.Errorf("EngineUsersOf(nil) = %v", got)
	}
}

// BenchmarkForTree renders every tenant of a tree of 10,000 (fan-out 10,
// the root restricting classes and node selector, so every tenant has
// objects).
func BenchmarkForTree(b *testing.B) {
	const n = 10000
	tenants := make([]tenancy.Tenant, n)
	for i := range tenants {
		tenants[i].Name = fmt.Sprintf("t%d", i)
		if i > 0 {
			tenants[i].Spec.Parent = fmt.Sprintf("t%d", (i-1)/10)
		}
	}
	tenants[0].Spec.Policy = tenancy.Policy{AllowedRuntimeClasses: []string{"gvisor"}, AllowedStorageClasses: []string{"fast", "slow"},
		AllowedIngressClasses: []string{"public"}, NodeSelector: map[string]string{"pool": "tenants"}}
	tree, err := tenancy.NewTree(tenants, nil, tenancy.TreeOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		pols, _, err := admissionpolicy.ForTree(tree)
		if err != nil || len(pols) != n {
			b.Fatalf("%d policies, %v", len(pols), err)
		}
	}
}
