package hostns

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

// A maximum caps the whole subtree of the tenant that sets it: spaces in
// one branch count against the others' (the check behind the admission
// webhook, for objects written while no webhook ran). The newest are the
// ones over the limit.
func TestOverLimitCountsTheWholeSubtreeOfEachLimit(t *testing.T) {
	two, five := int32(2), int32(5)
	tenants := []tenancy.Tenant{
		{ObjectMeta: metav1.ObjectMeta{Name: "org"}, Spec: tenancy.TenantSpec{Policy: tenancy.Policy{MaxSpaces: &two}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Spec: tenancy.TenantSpec{Parent: "org", Policy: tenancy.Policy{MaxSpaces: &two}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Spec: tenancy.TenantSpec{Parent: "org"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "lab"}, Spec: tenancy.TenantSpec{Policy: tenancy.Policy{MaxSpaces: &five}}},
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	space := func(name, tenant string, age int) tenancy.Space {
		return tenancy.Space{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name),
			CreationTimestamp: metav1.NewTime(t0.Add(time.Duration(age) * time.Minute))}, Spec: tenancy.SpaceSpec{Tenant: tenant}}
	}
	spaces := []tenancy.Space{space("a1", "a", 0), space("a2", "a", 1), space("b1", "b", 2), space("l1", "lab", 3)}
	tree, err := tenancy.NewTree(tenants, spaces, tenancy.TreeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := &tenancy.PartialTree{Tenants: tenants, Spaces: spaces, Tree: tree}
	var all []Counted
	for i := range spaces {
		all = append(all, Counted{Obj: &spaces[i], Tenant: spaces[i].Spec.Tenant})
	}
	maxSpaces := func(p tenancy.Policy) *int32 { return p.MaxSpaces }
	for i, want := range map[int]string{
		0: "",                                   // a1: first
		1: "",                                   // a2: second of org's two
		2: "tenant org allows at most 2 spaces", // b1: b sets nothing, but org's subtree is full
		3: "",                                   // l1: another tree
	} {
		err := OverLimit(s, &spaces[i], spaces[i].Spec.Tenant, all, "spaces", maxSpaces)
		if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: got %v, want %q", spaces[i].Name, err, want)
		}
	}
}
