package webhook

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

// view is a tenancy.View over a snapshot, indexed once per decision. It
// keeps pointers into the snapshot and never writes through them.
type view struct {
	tenants  map[string]*tenancy.Tenant
	children map[string][]*tenancy.Tenant
	spaces   map[string][]*tenancy.Space // by tenant
}

var _ tenancy.View = (*view)(nil)

// newView indexes the snapshot. A tenant named like tenant, or a space
// named like space, is left out of the snapshot; the non-nil one of the
// two is put in its place (the old object of an update, which the API
// server sent and which is newer than any cache).
func newView(tenants []tenancy.Tenant, spaces []tenancy.Space, tenant *tenancy.Tenant, space *tenancy.Space, skipTenant, skipSpace string) *view {
	v := &view{
		tenants:  make(map[string]*tenancy.Tenant, len(tenants)+1),
		children: map[string][]*tenancy.Tenant{},
		spaces:   map[string][]*tenancy.Space{},
	}
	addTenant := func(t *tenancy.Tenant) {
		v.tenants[t.Name] = t
		if t.Spec.Parent != "" {
			v.children[t.Spec.Parent] = append(v.children[t.Spec.Parent], t)
		}
	}
	for i := range tenants {
		if tenants[i].Name != skipTenant {
			addTenant(&tenants[i])
		}
	}
	if tenant != nil {
		addTenant(tenant)
	}
	addSpace := func(s *tenancy.Space) { v.spaces[s.Spec.Tenant] = append(v.spaces[s.Spec.Tenant], s) }
	for i := range spaces {
		if spaces[i].Name != skipSpace {
			addSpace(&spaces[i])
		}
	}
	if space != nil {
		addSpace(space)
	}
	// Sorted, so that errors about descendants come in a stable order
	// whatever order the source listed them in.
	for _, c := range v.children {
		slices.SortFunc(c, func(a, b *tenancy.Tenant) int { return strings.Compare(a.Name, b.Name) })
	}
	for _, s := range v.spaces {
		slices.SortFunc(s, func(a, b *tenancy.Space) int { return strings.Compare(a.Name, b.Name) })
	}
	return v
}

func (v *view) LookupTenant(name string) (*tenancy.Tenant, error) { return v.tenants[name], nil }

func (v *view) ListChildren(name string) ([]*tenancy.Tenant, error) { return v.children[name], nil }

func (v *view) ListSpaces(tenant string) ([]*tenancy.Space, error) { return v.spaces[tenant], nil }

// checkMaxSpaces counts, for every tenant from s's tenant up to its root
// whose own policy sets MaxSpaces, the spaces of that tenant's subtree,
// and reports each one the new space would take over its limit. The view
// must not hold s. Each tenant's MaxSpaces caps its whole subtree (see
// tenancy.Policy), so a limit set on an ancestor counts the spaces of
// sibling subtrees too. limit bounds the walk up on corrupt data.
func (v *view) checkMaxSpaces(fld *field.Path, s *tenancy.Space, limit int) field.ErrorList {
	var errs field.ErrorList
	seen := map[string]bool{}
	for cur := v.tenants[s.Spec.Tenant]; cur != nil && !seen[cur.Name] && len(seen) <= limit; cur = v.tenants[cur.Spec.Parent] {
		seen[cur.Name] = true
		mx := cur.Spec.Policy.MaxSpaces
		if mx == nil {
			continue
		}
		n := v.subtreeSpaces(cur.Name, limit)
		if n+1 <= int(*mx) {
			continue
		}
		who := "ancestor"
		if cur.Name == s.Spec.Tenant {
			who = "tenant"
		}
		errs = append(errs, field.Forbidden(fld,
			fmt.Sprintf("%s %q allows at most %d spaces in its subtree, which already has %d", who, cur.Name, *mx, n)))
	}
	return errs
}

// subtreeSpaces counts the spaces of name and its descendants.
func (v *view) subtreeSpaces(name string, limit int) int {
	n := 0
	seen := map[string]bool{}
	var visit func(name string, depth int)
	visit = func(name string, depth int) {
		if seen[name] || depth > limit {
			return
		}
		seen[name] = true
		n += len(v.spaces[name])
		for _, c := range v.children[name] {
			visit(c.Name, depth+1)
		}
	}
	visit(name, 0)
	return n
}
