package sqlstore

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

// tenantKind keeps tenants in table tenants, indexed by parent.
var tenantKind = kind[tenancy.Tenant, *tenancy.Tenant]{
	name:           tenancy.KindTenant,
	sql:            tableQueries("tenants", "parent"),
	owner:          func(t *tenancy.Tenant) string { return t.Spec.Parent },
	validateCreate: tenancy.Validator.ValidateTenantCreate,
	validateUpdate: tenancy.Validator.ValidateTenantUpdate,
	setSpec:        func(dst, src *tenancy.Tenant) bool { return replace(&dst.Spec, src.Spec) },
	setStatus:      func(dst, src *tenancy.Tenant) { dst.Status = src.Status },
}

// GetTenant implements tenancy.TenantReader.
func (s *Store) GetTenant(ctx context.Context, name string) (*tenancy.Tenant, error) {
	return tenantKind.get(ctx, s, name)
}

// ListTenants implements tenancy.TenantReader. The list and its version
// come from one consistent snapshot.
func (s *Store) ListTenants(ctx context.Context) (*tenancy.TenantList, error) {
	items, rv, err := tenantKind.list(ctx, s)
	if err != nil {
		return nil, err
	}
	return &tenancy.TenantList{
		TypeMeta: metav1.TypeMeta{APIVersion: tenancy.GroupVersion.String(), Kind: "TenantList"},
		ListMeta: metav1.ListMeta{ResourceVersion: rv},
		Items:    items,
	}, nil
}

// CreateTenant implements tenancy.TenantWriter.
func (s *Store) CreateTenant(ctx context.Context, t *tenancy.Tenant) (*tenancy.Tenant, error) {
	return tenantKind.create(ctx, s, t)
}

// UpdateTenant implements tenancy.TenantWriter.
func (s *Store) UpdateTenant(ctx context.Context, t *tenancy.Tenant) (*tenancy.Tenant, error) {
	return tenantKind.update(ctx, s, t, false)
}

// UpdateTenantStatus implements tenancy.TenantStatusWriter.
func (s *Store) UpdateTenantStatus(ctx context.Context, t *tenancy.Tenant) (*tenancy.Tenant, error) {
	return tenantKind.update(ctx, s, t, true)
}

// DeleteTenant implements tenancy.TenantWriter.
func (s *Store) DeleteTenant(ctx context.Context, name string, opts tenancy.DeleteOptions) error {
	return s.write(ctx, func(w *wtx) error {
		plan, err := tenancy.PlanTenantDelete(view{w}, name, opts.Cascade)
		if err != nil {
			return err
		}
		for _, sp := range plan.Spaces {
			if err := spaceKind.remove(w, sp); err != nil {
				return err
			}
		}
		for _, tn := range plan.Tenants {
			if err := tenantKind.remove(w, tn); err != nil {
				return err
			}
		}
		return nil
	})
}

// WatchTenants implements tenancy.TenantWatcher from the change log: any
// version this store returned can be resumed from, unless Compact dropped
// it (then tenancy.ErrExpired).
func (s *Store) WatchTenants(ctx context.Context, resourceVersion string) (<-chan tenancy.TenantEvent, error) {
	return watch(ctx, s, tenantKind, resourceVersion, func(typ tenancy.EventType, t *tenancy.Tenant, err error) tenancy.TenantEvent {
		return tenancy.TenantEvent{Type: typ, Tenant: t, Err: err}
	})
}
