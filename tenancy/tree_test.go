package tenancy_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

func orgTree(t *testing.T) *tenancy.Tree {
	t.Helper()
	tenants := []tenancy.Tenant{
		tenant("acme", "", podSecurity(tenancy.PodSecurityBaseline), storageClasses("fast", "slow"),
			quota("cpu", "100", "memory", "200Gi"), member(tenancy.MemberGroup, "acme-admins", tenancy.RoleAdmin),
			member(tenancy.MemberUser, "bob", tenancy.RoleView), sleepAfter(time.Hour)),
		tenant("eng", "acme", isolation(tenancy.IsolationTenant), nodeSelector("pool", "eng"), quota("cpu", "50"),
			member(tenancy.MemberUser, "bob", tenancy.RoleEdit)),
		tenant("web", "eng", podSecurity(tenancy.PodSecurityRestricted), storageClasses("fast"),
			member(tenancy.MemberUser, "carol", tenancy.RoleAdmin), sleepAfter(10*time.Minute)),
		tenant("data", "eng"),
		tenant("sales", "acme"),
		tenant("other", ""),
	}
	spaces := []tenancy.Space{space("web-prod", "web"), space("web-dev", "web"), space("sales-crm", "sales")}
	tr, err := tenancy.NewTree(tenants, spaces, tenancy.TreeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestTreeNavigation(t *testing.T) {
	tr := orgTree(t)
	for _, tc := range []struct {
		name string
		got  any
		want any
	}{
		{"len", tr.Len(), 6},
		{"roots", tr.Roots(), []string{"acme", "other"}},
		{"path", tr.Path("web"), []string{"acme", "eng", "web"}},
		{"ancestors", tr.Ancestors("web"), []string{"acme", "eng"}},
		{"ancestors of root", tr.Ancestors("acme"), []string(nil)},
		{"depth root", tr.Depth("acme"), 0},
		{"depth leaf", tr.Depth("web"), 2},
		{"depth unknown", tr.Depth("nope"), -1},
		{"children", tr.Children("eng"), []string{"web", "data"}},
		{"descendants", tr.Descendants("acme"), []string{"eng", "web", "data", "sales"}},
		{"subtree", tr.Subtree("eng"), []string{"eng", "web", "data"}},
		{"subtree leaf", tr.Subtree("data"), []string{"data"}},
		{"spaces", tr.Spaces("web"), []string{"web-prod", "web-dev"}},
		{"is ancestor", tr.IsAncestor("acme", "web"), true},
		{"not ancestor of self", tr.IsAncestor("web", "web"), false},
		{"sibling not ancestor", tr.IsAncestor("sales", "web"), false},
		{"other tree", tr.IsAncestor("other", "web"), false},
		{"subtree spaces", tr.SubtreeSpaces("acme"), []string{"web-prod", "web-dev", "sales-crm"}},
		{"effective quota", func() any { q, _ := tr.EffectiveQuota("web"); return q }(), rl("cpu", "50", "memory", "200Gi")},
		{"tree labels", tr.TreeLabels("web"), map[string]string{
			"acme.tree.tenancy.vclusterkit.io/depth": "2",
			"eng.tree.tenancy.vclusterkit.io/depth":  "1",
			"web.tree.tenancy.vclusterkit.io/depth":  "0",
		}},
	} {
		if d := cmp.Diff(tc.want, tc.got); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, d)
		}
	}
}

func TestEffectivePolicy(t *testing.T) {
	tr := orgTree(t)
	got, err := tr.EffectivePolicy("web")
	if err != nil {
		t.Fatal(err)
	}
	want := tenancy.Policy{
		PodSecurity:           tenancy.PodSecurityRestricted,
		NetworkIsolation:      tenancy.IsolationTenant,
		AllowedStorageClasses: []string{"fast"},
		NodeSelector:          map[string]string{"pool": "eng"},
		SleepAfter:            &metav1.Duration{Duration: 10 * time.Minute},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("web (-want +got):\n%s", d)
	}
	got, _ = tr.EffectivePolicy("data")
	want = tenancy.Policy{
		PodSecurity:           tenancy.PodSecurityBaseline,
		NetworkIsolation:      tenancy.IsolationTenant,
		AllowedStorageClasses: []string{"fast", "slow"},
		NodeSelector:          map[string]string{"pool": "eng"},
		SleepAfter:            &metav1.Duration{Duration: time.Hour},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("data (-want +got):\n%s", d)
	}
	// The result is a copy: changing it does not change the tree.
	got.AllowedStorageClasses[0] = "changed"
	again, _ := tr.EffectivePolicy("data")
	if again.AllowedStorageClasses[0] != "fast" {
		t.Errorf("EffectivePolicy returned shared state")
	}
	if _, err := tr.EffectivePolicy("nope"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("unknown tenant: %v", err)
	}
}

func TestEffectiveMembers(t *testing.T) {
	tr := orgTree(t)
	got, err := tr.EffectiveMembers("web")
	if err != nil {
		t.Fatal(err)
	}
	want := []tenancy.EffectiveMember{
		{Member: tenancy.Member{Kind: tenancy.MemberGroup, Name: "acme-admins", Role: tenancy.RoleAdmin}, From: "acme"},
		{Member: tenancy.Member{Kind: tenancy.MemberUser, Name: "bob", Role: tenancy.RoleEdit}, From: "eng"},
		{Member: tenancy.Member{Kind: tenancy.MemberUser, Name: "carol", Role: tenancy.RoleAdmin}, From: "web"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	got, _ = tr.EffectiveMembers("sales")
	if len(got) != 2 || got[1].Name != "bob" || got[1].Role != tenancy.RoleView {
		t.Errorf("sales members: %+v", got)
	}
}

func TestNewTreeRejects(t *testing.T) {
	long := strings.Repeat("a", 64)
	for _, tc := range []struct {
		name    string
		tenants []tenancy.Tenant
		spaces  []tenancy.Space
		opts    tenancy.TreeOptions
		want    []string
	}{
		{name: "self cycle", tenants: []tenancy.Tenant{tenant("a", "a")},
			want: []string{"tenants[a].spec.parent=own parent"}},
		{name: "cycle", tenants: []tenancy.Tenant{tenant("r", ""), tenant("a", "c"), tenant("b", "a"), tenant("c", "b"), tenant("d", "c")},
			want: []string{"tenants[a].spec.parent=cycle: a -> c -> b -> a"}},
		{name: "missing parent", tenants: []tenancy.Tenant{tenant("a", "ghost")},
			want: []string{"tenants[a].spec.parent=Not found"}},
		{name: "duplicate", tenants: []tenancy.Tenant{tenant("a", ""), tenant("a", "")},
			want: []string{"tenants[a].metadata.name=Duplicate"}},
		{name: "too long", tenants: []tenancy.Tenant{tenant(long, "")},
			want: []string{"tenants[" + long + "].metadata.name=no more than 63"}},
		{name: "upper case", tenants: []tenancy.Tenant{tenant("Acme", "")},
			want: []string{"tenants[Acme].metadata.name=lower case"}},
		{name: "unicode", tenants: []tenancy.Tenant{tenant("café", "")},
			want: []string{"tenants[café].metadata.name=lower case"}},
		{name: "empty", tenants: []tenancy.Tenant{tenant("", "")},
			want: []string{"tenants[].metadata.name=Required"}},
		{name: "reserved", tenants: []tenancy.Tenant{tenant("kube-system", ""), tenant("default", ""), tenant("kube-public", ""), tenant("kube-node-lease", "")},
			want: []string{"tenants[kube-system].metadata.name=reserved", "tenants[default].metadata.name=reserved",
				"tenants[kube-public].metadata.name=reserved", "tenants[kube-node-lease].metadata.name=reserved"}},
		{name: "depth", opts: tenancy.TreeOptions{MaxDepth: 3},
			tenants: []tenancy.Tenant{tenant("a", ""), tenant("b", "a"), tenant("c", "b"), tenant("d", "c")},
			want:    []string{"tenants[d].spec.parent=at most 3 levels"}},
		{name: "loosen pod security", tenants: []tenancy.Tenant{tenant("a", "", podSecurity(tenancy.PodSecurityRestricted)),
			tenant("b", "a"), tenant("c", "b", podSecurity(tenancy.PodSecurityBaseline))},
			want: []string{`tenants[c].spec.policy.podSecurity=looser than "restricted" set by ancestor "a"`}},
		{name: "loosen isolation", tenants: []tenancy.Tenant{tenant("a", "", isolation(tenancy.IsolationStrict)), tenant("b", "a", isolation(tenancy.IsolationNone))},
			want: []string{`tenants[b].spec.policy.networkIsolation=set by ancestor "a"`}},
		{name: "widen list", tenants: []tenancy.Tenant{tenant("a", "", storageClasses("fast")), tenant("b", "a", storageClasses("fast", "gold"))},
			want: []string{`tenants[b].spec.policy.allowedStorageClasses[1]=not allowed by ancestor "a"`}},
		{name: "change node selector", tenants: []tenancy.Tenant{tenant("a", "", nodeSelector("pool", "x")), tenant("b", "a", nodeSelector("pool", "y"))},
			want: []string{`tenants[b].spec.policy.nodeSelector[pool]=ancestor "a" requires "x"`}},
		{name: "longer sleep", tenants: []tenancy.Tenant{tenant("a", "", sleepAfter(time.Minute)), tenant("b", "a", sleepAfter(time.Hour))},
			want: []string{`tenants[b].spec.policy.sleepAfter=set by ancestor "a"`}},
		{name: "more vcs", tenants: []tenancy.Tenant{tenant("a", "", maxVCs(2)), tenant("b", "a"), tenant("c", "b", maxVCs(3))},
			want: []string{`tenants[c].spec.policy.maxVirtualClusters=above 2 set by ancestor "a"`}},
		{name: "negative quota", tenants: []tenancy.Tenant{tenant("a", "", quota("cpu", "-1"))},
			want: []string{"tenants[a].spec.quota[cpu]=greater than or equal to 0"}},
		{name: "child quota above parent", tenants: []tenancy.Tenant{tenant("a", "", quota("cpu", "4")), tenant("b", "a"), tenant("c", "b", quota("cpu", "8"))},
			want: []string{`tenants[c].spec.quota[cpu]=exceeds 4 set by ancestor "a"`}},
		{name: "space without tenant", tenants: []tenancy.Tenant{tenant("a", "")}, spaces: []tenancy.Space{space("s", "ghost")},
			want: []string{"spaces[s].spec.tenant=Not found"}},
		{name: "space quota above tenant", tenants: []tenancy.Tenant{tenant("a", "", quota("cpu", "1"))},
			spaces: []tenancy.Space{space("s", "a", func(s *tenancy.Space) { s.Spec.Quota = rl("cpu", "2") })},
			want:   []string{`spaces[s].spec.quota[cpu]=exceeds 1 set by tenant "a"`}},
		{name: "space reserved", tenants: []tenancy.Tenant{tenant("a", "")}, spaces: []tenancy.Space{space("default", "a")},
			want: []string{"spaces[default].metadata.name=reserved"}},
		{name: "space engine label", tenants: []tenancy.Tenant{tenant("a", "")},
			spaces: []tenancy.Space{space("s", "a", func(s *tenancy.Space) { s.Spec.Labels = map[string]string{tenancy.LabelTenant: "b"} })},
			want:   []string{"spaces[s].spec.labels[tenancy.vclusterkit.io/tenant]=set by the engine"}},
		{name: "bad enum", tenants: []tenancy.Tenant{tenant("a", "", podSecurity("lax"))},
			want: []string{"tenants[a].spec.policy.podSecurity=Unsupported value"}},
		{name: "bad member", tenants: []tenancy.Tenant{tenant("a", "", member("Robot", "x", "owner"), member(tenancy.MemberUser, "u", tenancy.RoleView), member(tenancy.MemberUser, "u", tenancy.RoleAdmin))},
			want: []string{"tenants[a].spec.members[0].kind=Unsupported", "tenants[a].spec.members[0].role=Unsupported", "tenants[a].spec.members[2]=Duplicate"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := tenancy.NewTree(tc.tenants, tc.spaces, tc.opts)
			if tr != nil {
				t.Errorf("got a tree for invalid input")
			}
			wantInvalid(t, err, tc.want...)
		})
	}
}

func TestCheckReparent(t *testing.T) {
	tenants := []tenancy.Tenant{
		tenant("root", "", podSecurity(tenancy.PodSecurityRestricted)),
		tenant("a", "root"), tenant("b", "a"), tenant("c", "b"),
		tenant("loose", ""),
		tenant("tight", "", podSecurity(tenancy.PodSecurityRestricted), storageClasses("gold")),
		tenant("picky", ""),
		tenant("uses-silver", "picky", storageClasses("silver")),
		tenant("q", "", quota("cpu", "1")),
		tenant("big", "", quota("cpu", "10")),
	}
	tr, err := tenancy.NewTree(tenants, nil, tenancy.TreeOptions{MaxDepth: 4})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, tenant, parent string
		want                 []string // nil: allowed
	}{
		{"to sibling subtree", "c", "root", nil},
		{"to tighter parent", "loose", "tight", nil},
		{"direct cycle", "a", "a", []string{"spec.parent=own parent"}},
		{"cycle through descendant", "a", "c", []string{"spec.parent=would form a cycle: a -> c -> b -> a"}},
		{"missing parent", "a", "ghost", []string{"spec.parent=Not found"}},
		{"loses inherited restriction", "a", "loose", []string{`spec.policy.podSecurity=inherited from ancestor "root"`}},
		{"subtree conflicts with new parent", "picky", "tight", []string{`spec.parent=descendant "uses-silver" would become invalid`}},
		{"too deep", "root", "big", []string{"spec.parent=at most 4 levels"}},
		{"quota above new parent", "big", "q", []string{`spec.quota[cpu]=exceeds 1 set by ancestor "q"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tr.CheckReparent(tc.tenant, tc.parent)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("want allowed, got %v", err)
				}
				return
			}
			wantInvalid(t, err, tc.want...)
		})
	}
}

func TestParseResourceList(t *testing.T) {
	_, errs := tenancy.ParseResourceList(nil, map[string]string{"cpu": "two", "memory": "-1Gi", "pods": "10"})
	got := errs.ToAggregate().Error()
	for _, want := range []string{`[cpu]: Invalid value: "two": not a quantity`, `[memory]: Invalid value: "-1Gi"`} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in %s", want, got)
		}
	}
	ok, errs := tenancy.ParseResourceList(nil, map[string]string{"cpu": "2", "memory": "4Gi"})
	if len(errs) > 0 || ok.Cpu().String() != "2" {
		t.Errorf("got %v, %v", ok, errs)
	}
}

// bigTree returns n tenants, fanout children per tenant, breadth-first.
func bigTree(n, fanout int) []tenancy.Tenant {
	out := make([]tenancy.Tenant, n)
	for i := range out {
		parent := ""
		if i > 0 {
			parent = fmt.Sprintf("t%d", (i-1)/fanout)
		}
		out[i] = tenant(fmt.Sprintf("t%d", i), parent)
		if i%7 == 0 {
			out[i].Spec.Policy.PodSecurity = tenancy.PodSecurityRestricted
		}
	}
	out[0].Spec.Policy.PodSecurity = tenancy.PodSecurityBaseline
	return out
}

func TestLargeTree(t *testing.T) {
	tenants := bigTree(20000, 10)
	tr, err := tenancy.NewTree(tenants, nil, tenancy.TreeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(tr.Descendants("t0")); got != 19999 {
		t.Errorf("descendants of the root: %d", got)
	}
	if d := tr.Depth("t19999"); d != 5 {
		t.Errorf("depth: %d", d)
	}
	// A cycle deep in a big tree is found.
	tenants[1].Spec.Parent = "t19999"
	if _, err := tenancy.NewTree(tenants, nil, tenancy.TreeOptions{}); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("want cycle, got %v", err)
	}
}

func benchSizes() []int { return []int{1000, 10000, 100000} }

func BenchmarkTreeBuild(b *testing.B) {
	for _, n := range benchSizes() {
		tenants := bigTree(n, 10)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := tenancy.NewTree(tenants, nil, tenancy.TreeOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEffectivePolicy(b *testing.B) {
	for _, n := range benchSizes() {
		tr, err := tenancy.NewTree(bigTree(n, 10), nil, tenancy.TreeOptions{})
		if err != nil {
			b.Fatal(err)
		}
		leaf := fmt.Sprintf("t%d", n-1) // deepest level
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := tr.EffectivePolicy(leaf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// A parent's change must still hold for its existing descendants and
// spaces: tightening past what a child sets, or shrinking a quota below a
// child's, is refused with the descendant named.
func TestValidateTenantUpdateSubtree(t *testing.T) {
	tenants := []tenancy.Tenant{
		tenant("org", "", quota("cpu", "10")),
		tenant("team", "org", podSecurity(tenancy.PodSecurityBaseline), quota("cpu", "6")),
		tenant("proj", "team", storageClasses("gold")),
	}
	spaces := []tenancy.Space{space("team-prod", "team", func(s *tenancy.Space) { s.Spec.Quota = rl("cpu", "5") })}
	tr, err := tenancy.NewTree(tenants, spaces, tenancy.TreeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	v := tenancy.Validator{}
	for _, tc := range []struct {
		name   string
		tenant string
		change func(*tenancy.Tenant)
		want   []string
	}{
		{"tighten pod security past a child", "org", podSecurity(tenancy.PodSecurityRestricted),
			[]string{`spec.policy=descendant "team" would become invalid: spec.policy.podSecurity`}},
		{"narrow classes past a grandchild", "org", storageClasses("silver"),
			[]string{`spec.policy=descendant "proj" would become invalid: spec.policy.allowedStorageClasses[0]`}},
		{"shrink quota below a child", "org", quota("cpu", "4"),
			[]string{`spec.quota=descendant "team" would become invalid: spec.quota[cpu]`}},
		{"shrink quota below a space", "team", quota("cpu", "4"),
			[]string{`spec.quota=space "team-prod" would become invalid: spec.quota[cpu]`}},
		{"compatible tightening", "org", podSecurity(tenancy.PodSecurityBaseline), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := tr.Tenant(tc.tenant)
			next := old.DeepCopy()
			tc.change(next)
			err := v.ValidateTenantUpdate(tr, old, next)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("want allowed, got %v", err)
				}
				return
			}
			wantInvalid(t, err, tc.want...)
		})
	}
}

func TestPlanTenantDelete(t *testing.T) {
	tr, err := tenancy.NewTree([]tenancy.Tenant{tenant("a", ""), tenant("b", "a"), tenant("c", "b"), tenant("d", "a")},
		[]tenancy.Space{space("b-1", "b"), space("a-1", "a")}, tenancy.TreeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := tenancy.PlanTenantDelete(tr, "a", true)
	if err != nil {
		t.Fatal(err)
	}
	want := &tenancy.DeletePlan{Spaces: []string{"a-1", "b-1"}, Tenants: []string{"c", "b", "d", "a"}}
	if d := cmp.Diff(want, plan); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	_, err = tenancy.PlanTenantDelete(tr, "a", false)
	if !errors.Is(err, tenancy.ErrHasDependents) || !strings.Contains(err.Error(), "child tenants [b, d] and spaces [a-1]") {
		t.Errorf("got %v", err)
	}
	if _, err := tenancy.PlanTenantDelete(tr, "zz", false); !errors.Is(err, tenancy.ErrNotFound) {
		t.Errorf("got %v", err)
	}
}

// Effective-policy lookups cost O(depth): 10,000 tenants as 10,000/d chains
// of depth d, looked up at the deepest level.
func BenchmarkEffectivePolicyDepth(b *testing.B) {
	for _, depth := range []int{2, 4, 8, 16} {
		const n = 10000
		tenants := make([]tenancy.Tenant, 0, n)
		for i := range n {
			parent := ""
			if i%depth != 0 {
				parent = fmt.Sprintf("t%d", i-1)
			}
			tenants = append(tenants, tenant(fmt.Sprintf("t%d", i), parent, podSecurity(tenancy.PodSecurityBaseline)))
		}
		tr, err := tenancy.NewTree(tenants, nil, tenancy.TreeOptions{})
		if err != nil {
			b.Fatal(err)
		}
		leaf := fmt.Sprintf("t%d", depth-1)
		if d := tr.Depth(leaf); d != depth-1 {
			b.Fatalf("depth %d", d)
		}
		b.Run(fmt.Sprint("depth", depth), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := tr.EffectivePolicy(leaf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
