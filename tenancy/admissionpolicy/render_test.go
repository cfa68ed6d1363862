package admissionpolicy_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/tenancy/admissionpolicy"
)

func TestSpaceAnnotations(t *testing.T) {
	for _, tc := range []struct {
		name    string
		policy  tenancy.Policy
		want    map[string]string
		wantErr string
	}{
		{"nothing enforced here", tenancy.Policy{PodSecurity: tenancy.PodSecurityRestricted, AllowedProvisioners: []string{"local"}},
			map[string]string{admissionpolicy.AnnotationPolicyTenant: "acme"}, ""},
		{"everything", tenancy.Policy{AllowedRuntimeClasses: []string{"a", "b"}, AllowedPriorityClasses: []string{"p"},
			NodeSelector: map[string]string{"zone": "z1", "pool": "p1"}, AllowedStorageClasses: []string{"", "fast"}, AllowedIngressClasses: []string{"d"}},
			map[string]string{
				admissionpolicy.AnnotationPolicyTenant:  "acme",
				admissionpolicy.AnnotationRuntimeClass:  "a,b",
				admissionpolicy.AnnotationPriorityClass: "p",
				admissionpolicy.AnnotationNodeSelector:  "pool=p1,zone=z1",
				admissionpolicy.AnnotationStorageClass:  ",fast",
				admissionpolicy.AnnotationIngressClass:  "d",
			}, ""},
		{"a comma in a class", tenancy.Policy{AllowedStorageClasses: []string{"fast,slow"}}, nil, "policy.allowedStorageClasses[0]"},
		{"an equals sign in a key", tenancy.Policy{NodeSelector: map[string]string{"a=b": "c"}}, nil, "policy.nodeSelector[a=b]"},
	} {
		got, err := admissionpolicy.SpaceAnnotations("acme", tc.policy)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || got != nil {
				t.Errorf("%s: %v, %v; want an error naming %s", tc.name, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
		for k := range got {
			if !slices.Contains(admissionpolicy.SpaceAnnotationKeys(), k) {
				t.Errorf("%s: key %s missing from SpaceAnnotationKeys", tc.name, k)
			}
		}
	}
}

// A child's spaces carry the effective policy: the parent's lists when it
// sets none, its own narrower ones, and the merged node selector.
func TestForTreeUsesEffectivePolicy(t *testing.T) {
	tenant := func(name, parent string, p tenancy.Policy) tenancy.Tenant {
		return tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: tenancy.TenantSpec{Parent: parent, Policy: p}}
	}
	space := func(name, tenant string) tenancy.Space {
		return tenancy.Space{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: tenancy.SpaceSpec{Tenant: tenant}}
	}
	tree, err := tenancy.NewTree([]tenancy.Tenant{
		tenant("org", "", tenancy.Policy{AllowedStorageClasses: []string{"fast", "slow"}, NodeSelector: map[string]string{"pool": "org"}}),
		tenant("team", "org", tenancy.Policy{AllowedStorageClasses: []string{"fast"}, NodeSelector: map[string]string{"zone": "a"}}),
		tenant("inherits", "org", tenancy.Policy{}),
		tenant("free", "", tenancy.Policy{}),
	}, []tenancy.Space{space("org-ops", "org"), space("team-a", "team"), space("team-b", "team"), space("inh", "inherits"), space("free-1", "free")},
		tenancy.TreeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := admissionpolicy.ForTree(tree)
	if err != nil {
		t.Fatal(err)
	}
	org := map[string]string{admissionpolicy.AnnotationPolicyTenant: "org", admissionpolicy.AnnotationStorageClass: "fast,slow", admissionpolicy.AnnotationNodeSelector: "pool=org"}
	team := map[string]string{admissionpolicy.AnnotationPolicyTenant: "team", admissionpolicy.AnnotationStorageClass: "fast", admissionpolicy.AnnotationNodeSelector: "pool=org,zone=a"}
	want := map[string]map[string]string{
		"org-ops": org,
		"team-a":  team,
		"team-b":  team,
		"inh":     {admissionpolicy.AnnotationPolicyTenant: "inherits", admissionpolicy.AnnotationStorageClass: "fast,slow", admissionpolicy.AnnotationNodeSelector: "pool=org"},
		"free-1":  {admissionpolicy.AnnotationPolicyTenant: "free"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("annotations by namespace (-want +got):\n%s", diff)
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

// BenchmarkForTree renders the annotations of every space of a tree of
// 10,000 tenants with one space each (fan-out 10, the root restricting
// classes and node selector, so every space is restricted).
func BenchmarkForTree(b *testing.B) {
	const n = 10000
	tenants := make([]tenancy.Tenant, n)
	spaces := make([]tenancy.Space, n)
	for i := range tenants {
		tenants[i].Name = fmt.Sprintf("t%d", i)
		if i > 0 {
			tenants[i].Spec.Parent = fmt.Sprintf("t%d", (i-1)/10)
		}
		spaces[i].Name = fmt.Sprintf("s%d", i)
		spaces[i].Spec.Tenant = tenants[i].Name
	}
	tenants[0].Spec.Policy = tenancy.Policy{AllowedRuntimeClasses: []string{"gvisor"}, AllowedStorageClasses: []string{"fast", "slow"},
		AllowedIngressClasses: []string{"public"}, NodeSelector: map[string]string{"pool": "tenants"}}
	tree, err := tenancy.NewTree(tenants, spaces, tenancy.TreeOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		got, err := admissionpolicy.ForTree(tree)
		if err != nil || len(got) != n {
			b.Fatalf("%d namespaces, %v", len(got), err)
		}
	}
}
