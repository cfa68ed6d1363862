package tenancy

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
)

// Len is the number of tenants.
func (t *Tree) Len() int { return len(t.tenants) }

// Has reports whether the tree holds a tenant of that name.
func (t *Tree) Has(name string) bool { _, ok := t.index[name]; return ok }

// Tenant returns the tenant, or nil. The result is shared: do not modify it.
func (t *Tree) Tenant(name string) *Tenant {
	i, ok := t.index[name]
	if !ok {
		return nil
	}
	return t.tenants[i]
}

// Space returns the space, or nil. The result is shared: do not modify it.
func (t *Tree) Space(name string) *Space {
	i, ok := t.spaceIndex[name]
	if !ok {
		return nil
	}
	return t.spaces[i]
}

// Roots returns the names of the tenants without a parent, in snapshot
// order.
func (t *Tree) Roots() []string {
	out := make([]string, len(t.roots))
	for i, r := range t.roots {
		out[i] = t.tenants[r].Name
	}
	return out
}

// Depth is the number of ancestors of name (0 for a root), or -1 if the
// tree has no such tenant.
func (t *Tree) Depth(name string) int {
	i, ok := t.index[name]
	if !ok {
		return -1
	}
	return int(t.depth[i])
}

// Path returns the names from the root down to name (inclusive), or nil.
func (t *Tree) Path(name string) []string {
	i, ok := t.index[name]
	if !ok {
		return nil
	}
	out := make([]string, t.depth[i]+1)
	for k := len(out) - 1; k >= 0; k-- {
		out[k] = t.tenants[i].Name
		i = t.parent[i]
	}
	return out
}

// Ancestors returns the names from the root down to name's parent, or nil
// for a root or an unknown name.
func (t *Tree) Ancestors(name string) []string {
	p := t.Path(name)
	if len(p) < 2 {
		return nil
	}
	return p[:len(p)-1]
}

// Parent returns name's parent ("" for a root) and whether name exists.
func (t *Tree) Parent(name string) (string, bool) {
	tn := t.Tenant(name)
	if tn == nil {
		return "", false
	}
	return tn.Spec.Parent, true
}

// IsAncestor reports whether ancestor is a proper ancestor of name, in
// O(depth).
func (t *Tree) IsAncestor(ancestor, name string) bool {
	a, ok1 := t.index[ancestor]
	i, ok2 := t.index[name]
	if !ok1 || !ok2 {
		return false
	}
	for i = t.parent[i]; i >= 0 && t.depth[i] >= t.depth[a]; i = t.parent[i] {
		if i == a {
			return true
		}
	}
	return false
}

// Children returns the names of name's child tenants, in snapshot order.
func (t *Tree) Children(name string) []string {
	i, ok := t.index[name]
	if !ok {
		return nil
	}
	kids := t.childIdx[t.childStart[i]:t.childStart[i+1]]
	out := make([]string, len(kids))
	for k, c := range kids {
		out[k] = t.tenants[c].Name
	}
	return out
}

// Descendants returns the names below name, depth-first pre-order, in
// O(subtree).
func (t *Tree) Descendants(name string) []string {
	sub := t.Subtree(name)
	if len(sub) == 0 {
		return nil
	}
	return sub[1:]
}

// Subtree returns name followed by its descendants, depth-first pre-order.
func (t *Tree) Subtree(name string) []string {
	i, ok := t.index[name]
	if !ok {
		return nil
	}
	var out []string
	stack := []int32{i}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		out = append(out, t.tenants[n].Name)
		kids := t.childIdx[t.childStart[n]:t.childStart[n+1]]
		for k := len(kids) - 1; k >= 0; k-- {
			stack = append(stack, kids[k])
		}
	}
	return out
}

// Spaces returns the names of the spaces name owns directly.
func (t *Tree) Spaces(name string) []string {
	i, ok := t.index[name]
	if !ok {
		return nil
	}
	idx := t.spaceIdx[t.spaceStart[i]:t.spaceStart[i+1]]
	out := make([]string, len(idx))
	for k, s := range idx {
		out[k] = t.spaces[s].Name
	}
	return out
}

// TreeLabels returns the tree labels for a host namespace of name: one
// TreeLabel per tenant on its path, valued with the distance.
func (t *Tree) TreeLabels(name string) map[string]string {
	p := t.Path(name)
	if p == nil {
		return nil
	}
	return TreeLabels(p)
}

// chainOf returns the tenants from the root down to i, using buf when it
// is large enough.
func (t *Tree) chainOf(i int32, buf []*Tenant) []*Tenant {
	d := int(t.depth[i]) + 1
	chain := buf[:0]
	if cap(chain) < d {
		chain = make([]*Tenant, d)
	}
	chain = chain[:d]
	for k := d - 1; k >= 0; k-- {
		chain[k] = t.tenants[i]
		i = t.parent[i]
	}
	return chain
}

// EffectivePolicy merges the policies from the root down to name: each
// field takes its tightest value on the path. It costs O(depth). Unknown
// names give ErrNotFound. The result is the caller's to modify.
func (t *Tree) EffectivePolicy(name string) (Policy, error) {
	i, ok := t.index[name]
	if !ok {
		return Policy{}, NotFoundError(KindTenant, name)
	}
	var buf [32]*Tenant
	eff := effectiveOf(t.chainOf(i, buf[:]))
	return *eff.DeepCopy(), nil
}

// EffectiveMember is a member of a tenant, directly or through an
// ancestor, with the highest role granted on the path.
type EffectiveMember struct {
	Member
	// From is the tenant that grants Role (the nearest one on ties).
	From string
}

// EffectiveMembers returns who has which role in name: every member of
// name and its ancestors with the highest role granted along the path,
// sorted by kind and name. It costs O(depth × members).
func (t *Tree) EffectiveMembers(name string) ([]EffectiveMember, error) {
	i, ok := t.index[name]
	if !ok {
		return nil, NotFoundError(KindTenant, name)
	}
	var buf [32]*Tenant
	chain := t.chainOf(i, buf[:])
	type key struct {
		kind MemberKind
		name string
	}
	best := map[key]EffectiveMember{}
	for _, tn := range chain {
		for _, m := range tn.Spec.Members {
			k := key{m.Kind, m.Name}
			if cur, ok := best[k]; !ok || m.Role.rank() >= cur.Role.rank() {
				best[k] = EffectiveMember{Member: m, From: tn.Name}
			}
		}
	}
	out := make([]EffectiveMember, 0, len(best))
	for _, m := range best {
		out = append(out, m)
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].Kind != out[b].Kind {
			return out[a].Kind < out[b].Kind
		}
		return out[a].Name < out[b].Name
	})
	return out, nil
}

// CheckReparent reports whether moving name under newParent ("" for a
// root) would be valid: no cycle, the depth limit, and the moved subtree
// neither loosens the new inherited policy nor loses a restriction it
// relied on. It returns nil or an *InvalidError naming spec.parent or
// spec.policy.
func (t *Tree) CheckReparent(name, newParent string) error {
	old := t.Tenant(name)
	if old == nil {
		return NotFoundError(KindTenant, name)
	}
	moved := old.DeepCopy()
	moved.Spec.Parent = newParent
	return t.validator.ValidateTenantUpdate(t, old, moved)
}

// LookupTenant implements View.
func (t *Tree) LookupTenant(name string) (*Tenant, error) { return t.Tenant(name), nil }

// ListChildren implements View.
func (t *Tree) ListChildren(name string) ([]*Tenant, error) {
	i, ok := t.index[name]
	if !ok {
		return nil, nil
	}
	kids := t.childIdx[t.childStart[i]:t.childStart[i+1]]
	out := make([]*Tenant, len(kids))
	for k, c := range kids {
		out[k] = t.tenants[c]
	}
	return out, nil
}

// ListSpaces implements View.
func (t *Tree) ListSpaces(tenant string) ([]*Space, error) {
	i, ok := t.index[tenant]
	if !ok {
		return nil, nil
	}
	idx := t.spaceIdx[t.spaceStart[i]:t.spaceStart[i+1]]
	out := make([]*Space, len(idx))
	for k, s := range idx {
		out[k] = t.spaces[s]
	}
	return out, nil
}

var _ View = (*Tree)(nil)

// EffectiveQuota is the tightest limit on name's path for each resource
// (a tenant's own quota or, where it sets none, its nearest ancestor's),
// in O(depth). The result is the caller's to modify.
func (t *Tree) EffectiveQuota(name string) (corev1.ResourceList, error) {
	i, ok := t.index[name]
	if !ok {
		return nil, NotFoundError(KindTenant, name)
	}
	out := corev1.ResourceList{}
	for ; i >= 0; i = t.parent[i] {
		for r, q := range t.tenants[i].Spec.Quota {
			if cur, ok := out[r]; !ok || q.Cmp(cur) < 0 {
				out[r] = q.DeepCopy()
			}
		}
	}
	return out, nil
}

// SubtreeSpaces returns the names of the spaces of name and all its
// descendants, in O(subtree).
func (t *Tree) SubtreeSpaces(name string) []string {
	var out []string
	for _, tn := range t.Subtree(name) {
		out = append(out, t.Spaces(tn)...)
	}
	return out
}
