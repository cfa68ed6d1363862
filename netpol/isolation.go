package netpol

import (
	"errors"
	"fmt"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

// ErrUnknownTenant is returned when a tenant or one of its ancestors is not in the list.
var ErrUnknownTenant = errors.New("unknown tenant")

// EffectiveIsolation returns the isolation mode in force for tenant name and, in tenant
// mode, the boundary: the tenant whose subtree its namespaces may reach.
//
// The mode is the tightest set on the path from the root to the tenant (children may
// only tighten, so a looser child setting is ignored). The boundary is the nearest
// tenant on that path, starting at the tenant itself, that sets tenant mode: a sub-tenant
// that sets tenant mode again narrows its boundary to its own subtree.
func EffectiveIsolation(tenants []tenancy.Tenant, name string) (tenancy.IsolationMode, string, error) {
	byName := make(map[string]*tenancy.Tenant, len(tenants))
	for i := range tenants {
		byName[tenants[i].Name] = &tenants[i]
	}
	mode := tenancy.IsolationNone
	boundary := ""
	seen := map[string]bool{}
	for cur := name; cur != ""; {
		t, ok := byName[cur]
		if !ok {
			return "", "", fmt.Errorf("tenant %q (ancestor of %q): %w", cur, name, ErrUnknownTenant)
		}
		if seen[cur] {
			return "", "", fmt.Errorf("tenant %q: parent cycle through %q", name, cur)
		}
		seen[cur] = true
		m := t.Spec.Policy.NetworkIsolation
		if rank(m) > rank(mode) {
			mode = m
		}
		if m == tenancy.IsolationTenant && boundary == "" {
			boundary = cur
		}
		cur = t.Spec.Parent
	}
	if mode != tenancy.IsolationTenant {
		boundary = ""
	}
	return mode, boundary, nil
}

func rank(m tenancy.IsolationMode) int {
	switch m {
	case tenancy.IsolationNone:
		return 1
	case tenancy.IsolationTenant:
		return 2
	case tenancy.IsolationStrict:
		return 3
	}
	return 0
}

// TargetFor builds the Target of a host namespace owned by tenant, resolving the mode and
// boundary with EffectiveIsolation. virtualCluster is empty for a space.
func TargetFor(tenants []tenancy.Tenant, tenant, namespace, virtualCluster string) (Target, error) {
	mode, boundary, err := EffectiveIsolation(tenants, tenant)
	if err != nil {
		return Target{}, err
	}
	return Target{Namespace: namespace, Tenant: tenant, Mode: mode, Boundary: boundary, VirtualCluster: virtualCluster}, nil
}
