package tenancy_test

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

// An invalid tenant is left out with its reason, its children and spaces
// with theirs (a missing parent or tenant), and the rest is a tree.
func TestNewPartialTreeLeavesOutTheInvalidPart(t *testing.T) {
	tenants := []tenancy.Tenant{
		{ObjectMeta: metav1.ObjectMeta{Name: "org"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "team"}, Spec: tenancy.TenantSpec{Parent: "org"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "lost"}, Spec: tenancy.TenantSpec{Parent: "nowhere"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "lost-child"}, Spec: tenancy.TenantSpec{Parent: "lost"}},
	}
	spaces := []tenancy.Space{
		{ObjectMeta: metav1.ObjectMeta{Name: "team-dev"}, Spec: tenancy.SpaceSpec{Tenant: "team"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "lost-dev"}, Spec: tenancy.SpaceSpec{Tenant: "lost-child"}},
	}
	p, err := tenancy.NewPartialTree(tenants, spaces, tenancy.TreeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tn := range p.Tenants {
		names = append(names, tn.Name)
	}
	if diff := cmp.Diff([]string{"org", "team"}, names); diff != "" {
		t.Errorf("valid tenants (-want +got):\n%s", diff)
	}
	if p.Tree.Len() != 2 || !p.Tree.Has("team") || len(p.Spaces) != 1 {
		t.Errorf("tree: %d tenants, has team %v, %d spaces", p.Tree.Len(), p.Tree.Has("team"), len(p.Spaces))
	}
	keys := slices.Sorted(maps.Keys(p.Invalid))
	if diff := cmp.Diff([]string{"space/lost-dev", "tenant/lost", "tenant/lost-child"}, keys); diff != "" {
		t.Errorf("invalid (-want +got):\n%s", diff)
	}
	if err := p.InvalidErr(tenancy.KindTenant, "lost"); err == nil || !strings.Contains(err.Error(), "nowhere") {
		t.Errorf("InvalidErr(lost) = %v, want the missing parent named", err)
	}
	if err := p.InvalidErr(tenancy.KindTenant, "team"); err != nil {
		t.Errorf("InvalidErr(team) = %v, want nil", err)
	}
	if len(tenants) != 4 || len(spaces) != 2 {
		t.Error("the input slices were modified")
	}
}
