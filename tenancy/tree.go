package tenancy

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// TreeOptions configure NewTree. The zero value is ready to use.
type TreeOptions struct {
	// MaxDepth is the number of levels the tree may have; 0 means
	// DefaultMaxDepth.
	MaxDepth int
}

// Tree is an immutable, validated view of a snapshot of tenants and
// spaces. Lookups by name cost O(depth) (ancestors, path, effective policy
// and members) or O(subtree) (descendants), never O(all tenants).
//
// A Tree keeps pointers into the slices given to NewTree: do not modify
// them while the tree is in use. A Tree is safe for concurrent reads.
type Tree struct {
	validator Validator
	tenants   []*Tenant
	index     map[string]int32
	parent    []int32 // -1 for a root
	depth     []int32
	// Children of i are childIdx[childStart[i]:childStart[i+1]], in
	// snapshot order; spaces likewise.
	childStart []int32
	childIdx   []int32
	roots      []int32

	spaces     []*Space
	spaceIndex map[string]int32
	spaceStart []int32
	spaceIdx   []int32
}

// NewTree builds and validates a tree from a snapshot. It reports, as an
// *InvalidError (errors.Is(err, ErrInvalid)) whose field paths start with
// tenants[<name>] or spaces[<name>], every problem it finds: invalid names
// and fields, duplicate names, missing parents, cycles, the depth limit, a
// child loosening an inherited policy, a quota above an ancestor's, and
// spaces whose tenant does not exist or whose quota exceeds it.
//
// It runs in O(tenants × depth).
func NewTree(tenants []Tenant, spaces []Space, opts TreeOptions) (*Tree, error) {
	t := &Tree{
		validator:  Validator{MaxDepth: opts.MaxDepth},
		tenants:    make([]*Tenant, 0, len(tenants)),
		index:      make(map[string]int32, len(tenants)),
		spaceIndex: make(map[string]int32, len(spaces)),
	}
	var errs field.ErrorList
	tpath := field.NewPath("tenants")
	for i := range tenants {
		tn := &tenants[i]
		p := tpath.Key(tn.Name)
		if oe := ValidateTenant(tn); len(oe) > 0 {
			errs = append(errs, rebase(p, oe)...)
			continue
		}
		if _, dup := t.index[tn.Name]; dup {
			errs = append(errs, field.Duplicate(p.Child("metadata", "name"), tn.Name))
			continue
		}
		t.index[tn.Name] = int32(len(t.tenants))
		t.tenants = append(t.tenants, tn)
	}
	n := len(t.tenants)
	t.parent = make([]int32, n)
	for i, tn := range t.tenants {
		t.parent[i] = -1
		if tn.Spec.Parent == "" {
			continue
		}
		pi, ok := t.index[tn.Spec.Parent]
		if !ok {
			t.parent[i] = -2
			errs = append(errs, field.NotFound(tpath.Key(tn.Name).Child("spec", "parent"), tn.Spec.Parent))
			continue
		}
		t.parent[i] = pi
	}
	errs = append(errs, t.computeDepths(tpath)...)
	if len(errs) > 0 {
		return nil, NewInvalidError("tree", "", errs)
	}
	t.link()
	t.indexSpaces(spaces, &errs)
	errs = append(errs, t.checkPolicies(tpath)...)
	if len(errs) > 0 {
		return nil, NewInvalidError("tree", "", errs)
	}
	return t, nil
}

func rebase(p *field.Path, errs field.ErrorList) field.ErrorList {
	out := make(field.ErrorList, len(errs))
	for i, e := range errs {
		c := *e
		c.Field = p.String() + "." + e.Field
		out[i] = &c
	}
	return out
}

// computeDepths sets depth[i] and reports cycles and the depth limit in
// O(n): each tenant is walked up only until a tenant of known depth.
func (t *Tree) computeDepths(tpath *field.Path) field.ErrorList {
	const (
		unknown = -1
		onStack = -2
		broken  = -3
	)
	var errs field.ErrorList
	n := len(t.tenants)
	t.depth = make([]int32, n)
	for i := range t.depth {
		t.depth[i] = unknown
	}
	var stack []int32
	for i := range n {
		if t.depth[i] != unknown {
			continue
		}
		stack = stack[:0]
		cur := int32(i)
		base := int32(-1) // depth of the tenant above the stack
		for {
			if cur < 0 {
				if cur == -2 {
					base = broken
				}
				break
			}
			d := t.depth[cur]
			if d >= 0 {
				base = d
				break
			}
			if d == broken {
				base = broken
				break
			}
			if d == onStack {
				// cur is on the stack: everything from it up is a cycle.
				at := slices.Index(stack, cur)
				names := make([]string, 0, len(stack)-at+1)
				for _, j := range stack[at:] {
					names = append(names, t.tenants[j].Name)
				}
				names = append(names, t.tenants[cur].Name)
				errs = append(errs, field.Invalid(tpath.Key(t.tenants[cur].Name).Child("spec", "parent"),
					t.tenants[cur].Spec.Parent, "cycle: "+strings.Join(names, " -> ")))
				base = broken
				break
			}
			t.depth[cur] = onStack
			stack = append(stack, cur)
			if t.parent[cur] == -2 {
				cur = -2
				continue
			}
			cur = t.parent[cur]
		}
		for k := len(stack) - 1; k >= 0; k-- {
			j := stack[k]
			if base == broken {
				t.depth[j] = broken
				continue
			}
			base++
			t.depth[j] = base
			if int(base) == t.validator.maxDepth() {
				errs = append(errs, field.Invalid(tpath.Key(t.tenants[j].Name).Child("spec", "parent"), t.tenants[j].Spec.Parent,
					fmt.Sprintf("the tenant is at depth %d; a tree may have at most %d levels", base, t.validator.maxDepth())))
			}
		}
	}
	return errs
}

// link fills the children index (one flat slice, no per-node allocation).
func (t *Tree) link() {
	n := len(t.tenants)
	t.childStart = make([]int32, n+1)
	for i, p := range t.parent {
		if p >= 0 {
			t.childStart[p+1]++
		} else {
			t.roots = append(t.roots, int32(i))
		}
	}
	for i := 1; i <= n; i++ {
		t.childStart[i] += t.childStart[i-1]
	}
	t.childIdx = make([]int32, n-len(t.roots))
	fill := slices.Clone(t.childStart[:n])
	for i, p := range t.parent {
		if p >= 0 {
			t.childIdx[fill[p]] = int32(i)
			fill[p]++
		}
	}
}

func (t *Tree) indexSpaces(spaces []Space, errs *field.ErrorList) {
	spath := field.NewPath("spaces")
	owner := make([]int32, 0, len(spaces))
	for i := range spaces {
		s := &spaces[i]
		p := spath.Key(s.Name)
		if oe := ValidateSpace(s); len(oe) > 0 {
			*errs = append(*errs, rebase(p, oe)...)
			continue
		}
		if _, dup := t.spaceIndex[s.Name]; dup {
			*errs = append(*errs, field.Duplicate(p.Child("metadata", "name"), s.Name))
			continue
		}
		ti, ok := t.index[s.Spec.Tenant]
		if !ok {
			*errs = append(*errs, field.NotFound(p.Child("spec", "tenant"), s.Spec.Tenant))
			continue
		}
		t.spaceIndex[s.Name] = int32(len(t.spaces))
		t.spaces = append(t.spaces, s)
		owner = append(owner, ti)
	}
	n := len(t.tenants)
	t.spaceStart = make([]int32, n+1)
	for _, o := range owner {
		t.spaceStart[o+1]++
	}
	for i := 1; i <= n; i++ {
		t.spaceStart[i] += t.spaceStart[i-1]
	}
	t.spaceIdx = make([]int32, len(owner))
	fill := slices.Clone(t.spaceStart[:n])
	for si, o := range owner {
		t.spaceIdx[fill[o]] = int32(si)
		fill[o]++
	}
}

// checkPolicies walks every root's subtree depth-first, carrying the
// effective policy of each level, so each tenant is checked once against
// its parent's effective policy.
func (t *Tree) checkPolicies(tpath *field.Path) field.ErrorList {
	var errs field.ErrorList
	type frame struct{ n, next int32 }
	var stack []frame
	var chain []*Tenant
	var effs []Policy
	visit := func(n int32) {
		tn := t.tenants[n]
		d := len(chain)
		var eff Policy
		if d > 0 {
			eff = effs[d-1]
			// Paths are built only for tenants that set something: an empty
			// policy or quota cannot loosen or exceed anything.
			if !tn.Spec.Policy.isZero() {
				p := tpath.Key(tn.Name).Child("spec", "policy")
				errs = append(errs, checkPolicy(p, &eff, &tn.Spec.Policy, chain)...)
			}
			if len(tn.Spec.Quota) > 0 {
				p := tpath.Key(tn.Name).Child("spec", "quota")
				errs = append(errs, checkQuota(p, chain, tn.Spec.Quota, "ancestor")...)
			}
		}
		mergePolicy(&eff, &tn.Spec.Policy)
		chain = append(chain, tn)
		effs = append(effs, eff)
		for _, si := range t.spaceIdx[t.spaceStart[n]:t.spaceStart[n+1]] {
			s := t.spaces[si]
			errs = append(errs, checkQuota(field.NewPath("spaces").Key(s.Name).Child("spec", "quota"), chain, s.Spec.Quota, "tenant")...)
		}
		stack = append(stack, frame{n, t.childStart[n]})
	}
	for _, r := range t.roots {
		visit(r)
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			if top.next < t.childStart[top.n+1] {
				c := t.childIdx[top.next]
				top.next++
				visit(c)
				continue
			}
			stack = stack[:len(stack)-1]
			chain = chain[:len(chain)-1]
			effs = effs[:len(effs)-1]
		}
	}
	return errs
}
