package tenancy

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// PartialTree is the tree of the valid part of a snapshot, and what was
// left out of it and why. A controller or a UI that must keep working for
// every other tenant when one is invalid (a child loosening its parent's
// policy, a cycle, a missing parent) reads it instead of failing on the
// whole tree.
type PartialTree struct {
	// Tree holds the valid tenants and spaces.
	Tree *Tree
	// Tenants and Spaces are the valid ones, in the order given.
	Tenants []Tenant
	Spaces  []Space
	// Invalid maps each tenant or space left out, keyed "tenant/<name>" or
	// "space/<name>" (InvalidKey), to what is wrong with it. A child of a
	// tenant left out is left out too, with its missing parent as reason.
	Invalid map[string]field.ErrorList
}

// InvalidKey is the key of a tenant (kind KindTenant) or space (KindSpace)
// in PartialTree.Invalid.
func InvalidKey(kind, name string) string {
	return strings.ToLower(kind) + "/" + name
}

// InvalidErr returns what is wrong with the tenant or space, as one error,
// or nil when it is part of the tree (or unknown).
func (p *PartialTree) InvalidErr(kind, name string) error {
	errs := p.Invalid[InvalidKey(kind, name)]
	if len(errs) == 0 {
		return nil
	}
	return errs.ToAggregate()
}

// NewPartialTree builds the tree of the valid tenants and spaces: it calls
// NewTree, leaves out every tenant and space its errors name, and tries
// again until the rest is valid. It fails only on an error that names no
// tenant or space. The slices are not modified.
//
// It runs NewTree once per level of invalidity (usually once or twice).
func NewPartialTree(tenants []Tenant, spaces []Space, opts TreeOptions) (*PartialTree, error) {
	p := &PartialTree{Tenants: tenants, Spaces: spaces, Invalid: map[string]field.ErrorList{}}
	for {
		tree, err := NewTree(p.Tenants, p.Spaces, opts)
		if err == nil {
			p.Tree = tree
			return p, nil
		}
		var inv *InvalidError
		if !errors.As(err, &inv) {
			return nil, fmt.Errorf("tenant tree: %w", err)
		}
		bad := map[string]field.ErrorList{}
		for _, fe := range inv.Errs {
			if key := offender(fe.Field); key != "" {
				bad[key] = append(bad[key], fe)
			}
		}
		if len(bad) == 0 {
			return nil, fmt.Errorf("tenant tree: %w", err)
		}
		for key, errs := range bad {
			p.Invalid[key] = append(p.Invalid[key], errs...)
		}
		// Without the offenders; their children then miss a parent and are
		// left out on the next round, with that as their reason.
		p.Tenants = slices.DeleteFunc(slices.Clone(p.Tenants), func(t Tenant) bool { return bad[InvalidKey(KindTenant, t.Name)] != nil })
		p.Spaces = slices.DeleteFunc(slices.Clone(p.Spaces), func(sp Space) bool { return bad[InvalidKey(KindSpace, sp.Name)] != nil })
	}
}

// offender turns a tree validation path ("tenants[x].spec.parent") into
// the InvalidKey of the object it names ("tenant/x").
func offender(path string) string {
	for _, kind := range []string{KindTenant, KindSpace} {
		list := strings.ToLower(kind) + "s["
		if rest, ok := strings.CutPrefix(path, list); ok {
			if name, _, ok := strings.Cut(rest, "]"); ok {
				return InvalidKey(kind, name)
			}
		}
	}
	return ""
}
