package tenancy

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// DefaultMaxDepth is the depth limit when none is set: a root has depth 0,
// so a tree has at most DefaultMaxDepth levels.
const DefaultMaxDepth = 16

// View is the part of a tenant tree that validation reads. Tree implements
// it; a store implements it over its own state inside the transaction (or
// under the lock) of the write being validated, so that the check and the
// write are atomic.
type View interface {
	// LookupTenant returns the tenant, or nil and no error if it does not
	// exist.
	LookupTenant(name string) (*Tenant, error)
	// ListChildren returns the tenants whose parent is name.
	ListChildren(name string) ([]*Tenant, error)
	// ListSpaces returns the spaces owned by the tenant.
	ListSpaces(tenant string) ([]*Space, error)
}

// Validator is the one place every write is checked before it reaches a
// store. All stores in this module, and storetest, use it; an embedder's
// store should too. The zero value is ready to use.
type Validator struct {
	// MaxDepth is the number of levels a tree may have; 0 means
	// DefaultMaxDepth.
	MaxDepth int
}

func (v Validator) maxDepth() int {
	if v.MaxDepth > 0 {
		return v.MaxDepth
	}
	return DefaultMaxDepth
}

// ValidateTenantCreate checks a new tenant against the tree in view:
// the object itself, its parent exists, the depth limit, its policy only
// tightens the effective policy of its parent, its quota stays within its
// ancestors'. It returns an *InvalidError, a read error from view, or nil.
// It does not check whether the name is taken.
func (v Validator) ValidateTenantCreate(view View, t *Tenant) error {
	if errs := ValidateTenant(t); len(errs) > 0 {
		return NewInvalidError(KindTenant, t.Name, errs)
	}
	errs, err := v.treeChecks(view, nil, t)
	if err != nil {
		return err
	}
	return NewInvalidError(KindTenant, t.Name, errs)
}

// ValidateTenantUpdate checks a change from old to t. On top of the create
// checks: a new parent must not be the tenant or one of its descendants
// (cycle), the moved subtree must fit the depth limit and must not lose any
// restriction it inherited, and a changed policy or quota must still be
// satisfied by every descendant and space (checked in O(subtree)).
func (v Validator) ValidateTenantUpdate(view View, old, t *Tenant) error {
	errs := ValidateTenant(t)
	if old.Name != t.Name {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), t.Name, "the name cannot change"))
	}
	if len(errs) > 0 {
		return NewInvalidError(KindTenant, t.Name, errs)
	}
	errs, err := v.treeChecks(view, old, t)
	if err != nil {
		return err
	}
	return NewInvalidError(KindTenant, t.Name, errs)
}

// ValidateSpaceCreate checks a new space: the object, its tenant exists,
// and its quota stays within the effective quota of its tenant.
func (v Validator) ValidateSpaceCreate(view View, s *Space) error {
	return v.validateSpace(view, nil, s)
}

// ValidateSpaceUpdate checks a change to a space; its tenant cannot change.
func (v Validator) ValidateSpaceUpdate(view View, old, s *Space) error {
	return v.validateSpace(view, old, s)
}

func (v Validator) validateSpace(view View, old, s *Space) error {
	errs := ValidateSpace(s)
	spec := field.NewPath("spec")
	if old != nil {
		if old.Name != s.Name {
			errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), s.Name, "the name cannot change"))
		}
		if old.Spec.Tenant != s.Spec.Tenant {
			errs = append(errs, field.Invalid(spec.Child("tenant"), s.Spec.Tenant, fmt.Sprintf("field is immutable (was %q)", old.Spec.Tenant)))
		}
	}
	if len(errs) > 0 {
		return NewInvalidError(KindSpace, s.Name, errs)
	}
	chain, w, err := walkUp(view, s.Spec.Tenant, "", v.maxDepth())
	if err != nil {
		return err
	}
	switch {
	case w.missing == s.Spec.Tenant:
		errs = append(errs, field.NotFound(spec.Child("tenant"), s.Spec.Tenant))
	case w.missing != "" || w.cycle != nil:
		errs = append(errs, field.Invalid(spec.Child("tenant"), s.Spec.Tenant, "the tenant's ancestry is broken"))
	default:
		errs = append(errs, checkQuota(spec.Child("quota"), chain, s.Spec.Quota, "tenant")...)
	}
	return NewInvalidError(KindSpace, s.Name, errs)
}

type walkResult struct {
	missing string   // first name on the way up that does not exist
	cycle   []string // names from start up to and including self, if self was met
}

// walkUp returns the chain from the root down to start (inclusive). It
// stops when it meets self (a cycle), a missing tenant, or more than limit
// levels (corrupt data).
func walkUp(view View, start, self string, limit int) ([]*Tenant, walkResult, error) {
	var chain []*Tenant
	var w walkResult
	for cur := start; cur != ""; {
		if cur == self {
			// Following parent links: self -> start -> ... -> self.
			w.cycle = []string{self}
			for _, t := range chain {
				w.cycle = append(w.cycle, t.Name)
			}
			w.cycle = append(w.cycle, self)
			return nil, w, nil
		}
		if len(chain) > limit {
			break
		}
		t, err := view.LookupTenant(cur)
		if err != nil {
			return nil, w, err
		}
		if t == nil {
			w.missing = cur
			return nil, w, nil
		}
		chain = append(chain, t)
		cur = t.Spec.Parent
	}
	slices.Reverse(chain)
	return chain, w, nil
}

func (v Validator) treeChecks(view View, old, t *Tenant) (field.ErrorList, error) {
	spec := field.NewPath("spec")
	parentF := spec.Child("parent")
	var errs field.ErrorList
	var chain []*Tenant
	if t.Spec.Parent != "" {
		var w walkResult
		var err error
		chain, w, err = walkUp(view, t.Spec.Parent, t.Name, v.maxDepth())
		if err != nil {
			return nil, err
		}
		switch {
		case w.cycle != nil:
			return field.ErrorList{field.Invalid(parentF, t.Spec.Parent,
				"would form a cycle: "+strings.Join(w.cycle, " -> "))}, nil
		case w.missing == t.Spec.Parent:
			return field.ErrorList{field.NotFound(parentF, t.Spec.Parent)}, nil
		case w.missing != "":
			return field.ErrorList{field.Invalid(parentF, t.Spec.Parent, fmt.Sprintf("ancestor %q does not exist", w.missing))}, nil
		}
	}
	parentChanged := old != nil && old.Spec.Parent != t.Spec.Parent
	depth := len(chain)
	height := 0
	if parentChanged {
		h, err := subtreeHeight(view, t.Name, v.maxDepth())
		if err != nil {
			return nil, err
		}
		height = h
	}
	if depth+height >= v.maxDepth() {
		msg := fmt.Sprintf("the tenant would be at depth %d", depth)
		if height > 0 {
			msg += fmt.Sprintf(" with %d levels below it", height)
		}
		errs = append(errs, field.Invalid(parentF, t.Spec.Parent, fmt.Sprintf("%s; a tree may have at most %d levels", msg, v.maxDepth())))
		return errs, nil
	}
	eff := effectiveOf(chain)
	errs = append(errs, checkPolicy(spec.Child("policy"), &eff, &t.Spec.Policy, chain)...)
	errs = append(errs, checkQuota(spec.Child("quota"), chain, t.Spec.Quota, "ancestor")...)
	if old == nil || len(errs) > 0 {
		return errs, nil
	}
	newChain := append(slices.Clip(chain), t)
	if parentChanged {
		oldChain, w, err := walkUp(view, old.Spec.Parent, "", v.maxDepth())
		if err != nil {
			return nil, err
		}
		if w.missing == "" && w.cycle == nil {
			oldChain = append(oldChain, old)
			before, after := effectiveOf(oldChain), effectiveOf(newChain)
			errs = append(errs, checkNotLoosened(spec.Child("policy"), &before, &after, oldChain)...)
		}
	}
	policyChanged := !equality.Semantic.DeepEqual(old.Spec.Policy, t.Spec.Policy)
	quotaChanged := !equality.Semantic.DeepEqual(old.Spec.Quota, t.Spec.Quota)
	if len(errs) == 0 && (parentChanged || policyChanged || quotaChanged) {
		fld := spec.Child("policy")
		switch {
		case parentChanged:
			fld = parentF
		case !policyChanged:
			fld = spec.Child("quota")
		}
		sub, err := checkSubtree(view, fld, newChain, v.maxDepth())
		if err != nil {
			return nil, err
		}
		errs = append(errs, sub...)
	}
	return errs, nil
}

// checkQuota reports each resource of quota above the nearest value set
// for it along chain (root first).
func checkQuota(fld *field.Path, chain []*Tenant, quota corev1.ResourceList, who string) field.ErrorList {
	var errs field.ErrorList
	for _, r := range sortedResourceNames(quota) {
		q := quota[r]
		for i := len(chain) - 1; i >= 0; i-- {
			limit, ok := chain[i].Spec.Quota[r]
			if !ok {
				continue
			}
			if q.Cmp(limit) > 0 {
				kind := "ancestor"
				if who == "tenant" && i == len(chain)-1 {
					kind = "tenant"
				}
				errs = append(errs, field.Invalid(fld.Key(string(r)), q.String(),
					fmt.Sprintf("exceeds %s set by %s %q", limit.String(), kind, chain[i].Name)))
			}
			break
		}
	}
	return errs
}

// checkSubtree re-checks every descendant and space below the last tenant
// of chain against the (new) effective policy and quotas, top-down. Errors
// are reported on fld, the field of the written tenant that caused them.
func checkSubtree(view View, fld *field.Path, chain []*Tenant, limit int) (field.ErrorList, error) {
	var errs field.ErrorList
	wrap := func(who string, sub field.ErrorList) {
		for _, e := range sub {
			errs = append(errs, field.Forbidden(fld, fmt.Sprintf("%s would become invalid: %s: %s", who, e.Field, e.Detail)))
		}
	}
	var visit func(chain []*Tenant) error
	visit = func(chain []*Tenant) error {
		if len(chain) > limit+1 {
			return nil
		}
		self := chain[len(chain)-1]
		spaces, err := view.ListSpaces(self.Name)
		if err != nil {
			return err
		}
		for _, s := range spaces {
			wrap(fmt.Sprintf("space %q", s.Name), checkQuota(field.NewPath("spec", "quota"), chain, s.Spec.Quota, "tenant"))
		}
		children, err := view.ListChildren(self.Name)
		if err != nil {
			return err
		}
		eff := effectiveOf(chain)
		for _, c := range children {
			p := field.NewPath("spec")
			wrap(fmt.Sprintf("descendant %q", c.Name), checkPolicy(p.Child("policy"), &eff, &c.Spec.Policy, chain))
			wrap(fmt.Sprintf("descendant %q", c.Name), checkQuota(p.Child("quota"), chain, c.Spec.Quota, "ancestor"))
			if err := visit(append(slices.Clip(chain), c)); err != nil {
				return err
			}
		}
		return nil
	}
	if err := visit(chain); err != nil {
		return nil, err
	}
	return errs, nil
}

// subtreeHeight is the number of levels below name (0 for a leaf).
func subtreeHeight(view View, name string, limit int) (int, error) {
	children, err := view.ListChildren(name)
	if err != nil {
		return 0, err
	}
	h := 0
	for _, c := range children {
		if limit <= 0 {
			return 1, nil
		}
		ch, err := subtreeHeight(view, c.Name, limit-1)
		if err != nil {
			return 0, err
		}
		h = max(h, ch+1)
	}
	return h, nil
}

// DeletePlan is what deleting a tenant removes, in order.
type DeletePlan struct {
	// Spaces to delete first.
	Spaces []string
	// Tenants to delete, children before their parents; the tenant asked
	// for is last.
	Tenants []string
}

// PlanTenantDelete works out what deleting name removes. Without cascade a
// tenant that still has child tenants or spaces is refused with an error
// wrapping ErrHasDependents that lists them. A missing tenant gives
// ErrNotFound.
func PlanTenantDelete(view View, name string, cascade bool) (*DeletePlan, error) {
	t, err := view.LookupTenant(name)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, NotFoundError(KindTenant, name)
	}
	plan := &DeletePlan{}
	var visit func(name string, depth int) error
	visit = func(name string, depth int) error {
		spaces, err := view.ListSpaces(name)
		if err != nil {
			return err
		}
		children, err := view.ListChildren(name)
		if err != nil {
			return err
		}
		if !cascade && (len(spaces) > 0 || len(children) > 0) {
			var parts []string
			if len(children) > 0 {
				names := make([]string, len(children))
				for i, c := range children {
					names[i] = c.Name
				}
				slices.Sort(names)
				parts = append(parts, "child tenants ["+strings.Join(names, ", ")+"]")
			}
			if len(spaces) > 0 {
				names := make([]string, len(spaces))
				for i, s := range spaces {
					names[i] = s.Name
				}
				slices.Sort(names)
				parts = append(parts, "spaces ["+strings.Join(names, ", ")+"]")
			}
			return fmt.Errorf("%s %q still has %s; delete them first or delete with cascade: %w",
				KindTenant, name, strings.Join(parts, " and "), ErrHasDependents)
		}
		for _, s := range spaces {
			plan.Spaces = append(plan.Spaces, s.Name)
		}
		if depth > DefaultMaxDepth*64 {
			return fmt.Errorf("tenant %q: tree too deep to delete (corrupt parent links?)", name)
		}
		for _, c := range children {
			if err := visit(c.Name, depth+1); err != nil {
				return err
			}
		}
		plan.Tenants = append(plan.Tenants, name)
		return nil
	}
	if err := visit(name, 0); err != nil {
		return nil, err
	}
	return plan, nil
}
