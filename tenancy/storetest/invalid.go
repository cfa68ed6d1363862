package storetest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

func (s suite) invalidTenants(t *testing.T, st tenancy.Store) {
	c := ctx(t)
	parent := newTenant("org", "")
	parent.Spec.Policy.PodSecurity = tenancy.PodSecurityRestricted
	parent.Spec.Policy.AllowedStorageClasses = []string{"fast"}
	parent.Spec.Quota = rl("cpu", "4")
	mustCreate(t, st, parent)
	before := snap(t, st)
	with := func(name, p string, mod func(*tenancy.Tenant)) *tenancy.Tenant {
		x := newTenant(name, p)
		if mod != nil {
			mod(x)
		}
		return x
	}
	for _, tc := range []struct {
		name   string
		tenant *tenancy.Tenant
		field  string
		sub    string
	}{
		{"too long", with(strings.Repeat("a", 64), "", nil), "metadata.name", "no more than 63"},
		{"upper case", with("Acme", "", nil), "metadata.name", "lower case"},
		{"unicode", with("émile", "", nil), "metadata.name", "lower case"},
		{"empty", with("", "", nil), "metadata.name", "Required"},
		{"reserved kube-system", with("kube-system", "", nil), "metadata.name", "reserved"},
		{"reserved default", with("default", "", nil), "metadata.name", "reserved"},
		{"reserved kube-public", with("kube-public", "", nil), "metadata.name", "reserved"},
		{"reserved kube-node-lease", with("kube-node-lease", "", nil), "metadata.name", "reserved"},
		{"own parent", with("self", "self", nil), "spec.parent", "own parent"},
		{"missing parent", with("orphan", "ghost", nil), "spec.parent", "Not found"},
		{"bad parent name", with("kid", "Bad_Parent", nil), "spec.parent", "lower case"},
		{"negative quota", with("neg", "", func(x *tenancy.Tenant) { x.Spec.Quota = rl("cpu", "-1") }), "spec.quota[cpu]", "greater than or equal to 0"},
		{"quota above parent", with("big", "org", func(x *tenancy.Tenant) { x.Spec.Quota = rl("cpu", "5") }), "spec.quota[cpu]", `exceeds 4 set by ancestor "org"`},
		{"loosens pod security", with("lax", "org", func(x *tenancy.Tenant) { x.Spec.Policy.PodSecurity = tenancy.PodSecurityPrivileged }),
			"spec.policy.podSecurity", `set by ancestor "org"`},
		{"widens storage classes", with("wide", "org", func(x *tenancy.Tenant) { x.Spec.Policy.AllowedStorageClasses = []string{"slow"} }),
			"spec.policy.allowedStorageClasses[0]", `not allowed by ancestor "org"`},
		{"unknown enum", with("enum", "", func(x *tenancy.Tenant) { x.Spec.Policy.NetworkIsolation = "open" }), "spec.policy.networkIsolation", "Unsupported"},
		{"bad member", with("mem", "", func(x *tenancy.Tenant) {
			x.Spec.Members = []tenancy.Member{{Kind: tenancy.MemberUser, Name: "", Role: tenancy.RoleView}}
		}), "spec.members[0].name", "Required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := st.CreateTenant(c, tc.tenant)
			wantInvalid(t, err, tc.field, tc.sub)
		})
	}
	if d := cmp.Diff(before, snap(t, st)); d != "" {
		t.Errorf("rejected writes changed the store (-before +after):\n%s", d)
	}
}

func (s suite) invalidUpdates(t *testing.T, st tenancy.Store) {
	c := ctx(t)
	root := newTenant("root", "")
	root.Spec.Policy.PodSecurity = tenancy.PodSecurityBaseline
	root.Spec.Quota = rl("cpu", "8")
	mustCreate(t, st, root)
	a := mustCreate(t, st, newTenant("a", "root"))
	b := mustCreate(t, st, newTenant("b", "a"))
	c1 := mustCreate(t, st, newTenant("c", "b"))
	free := newTenant("free", "")
	mustCreate(t, st, free)
	kid := newTenant("kid", "free")
	kid.Spec.Quota = rl("cpu", "2")
	mustCreate(t, st, kid)
	sp := mustCreateSpace(t, st, newSpace("a-prod", "a"))
	before := snap(t, st)

	move := func(x *tenancy.Tenant, parent string) *tenancy.Tenant {
		y := x.DeepCopy()
		y.Spec.Parent = parent
		return y
	}
	_, err := st.UpdateTenant(c, move(a, "a"))
	wantInvalid(t, err, "spec.parent", "own parent")
	_, err = st.UpdateTenant(c, move(a, "c"))
	wantInvalid(t, err, "spec.parent", "cycle")
	_, err = st.UpdateTenant(c, move(b, "ghost"))
	wantInvalid(t, err, "spec.parent", "Not found")
	_, err = st.UpdateTenant(c, move(c1, "free"))
	wantInvalid(t, err, "spec.policy.podSecurity", `inherited from ancestor "root"`)
	loose := a.DeepCopy()
	loose.Spec.Policy.PodSecurity = tenancy.PodSecurityPrivileged
	_, err = st.UpdateTenant(c, loose)
	wantInvalid(t, err, "spec.policy.podSecurity", `set by ancestor "root"`)
	small := free.DeepCopy()
	got, _ := st.GetTenant(c, "free")
	small.ResourceVersion = got.ResourceVersion
	small.Spec.Quota = rl("cpu", "1")
	_, err = st.UpdateTenant(c, small)
	wantInvalid(t, err, "spec.quota", `descendant "kid"`)
	steal := sp.DeepCopy()
	steal.Spec.Tenant = "free"
	_, err = st.UpdateSpace(c, steal)
	wantInvalid(t, err, "spec.tenant", "immutable")
	if d := cmp.Diff(before, snap(t, st)); d != "" {
		t.Errorf("rejected updates changed the store (-before +after):\n%s", d)
	}
}

func (s suite) invalidSpaces(t *testing.T, st tenancy.Store) {
	c := ctx(t)
	x := newTenant("acme", "")
	x.Spec.Quota = rl("cpu", "2")
	mustCreate(t, st, x)
	before := snap(t, st)
	withQuota := newSpace("big", "acme")
	withQuota.Spec.Quota = rl("cpu", "3")
	negative := newSpace("neg", "acme")
	negative.Spec.Quota = rl("memory", "-1Gi")
	hijack := newSpace("hijack", "acme")
	hijack.Spec.Labels = map[string]string{tenancy.LabelTenant: "other"}
	for _, tc := range []struct {
		name  string
		space *tenancy.Space
		field string
		sub   string
	}{
		{"missing tenant", newSpace("orphan", "ghost"), "spec.tenant", "Not found"},
		{"no tenant", newSpace("none", ""), "spec.tenant", "Required"},
		{"reserved", newSpace("kube-system", "acme"), "metadata.name", "reserved"},
		{"upper case", newSpace("Prod", "acme"), "metadata.name", "lower case"},
		{"too long", newSpace(strings.Repeat("s", 64), "acme"), "metadata.name", "no more than 63"},
		{"quota above tenant", withQuota, "spec.quota[cpu]", `exceeds 2 set by tenant "acme"`},
		{"negative quota", negative, "spec.quota[memory]", "greater than or equal to 0"},
		{"engine label", hijack, "spec.labels[tenancy.vclusterkit.io/tenant]", "engine"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := st.CreateSpace(c, tc.space)
			wantInvalid(t, err, tc.field, tc.sub)
		})
	}
	if d := cmp.Diff(before, snap(t, st)); d != "" {
		t.Errorf("rejected writes changed the store (-before +after):\n%s", d)
	}
}
