package memstore

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

// tenantKind indexes tenants by parent, for ListChildren.
var tenantKind = kind[tenancy.Tenant, *tenancy.Tenant]{
	name:           tenancy.KindTenant,
	owner:          func(t *tenancy.Tenant) string { return t.Spec.Parent },
	validateCreate: tenancy.Validator.ValidateTenantCreate,
	validateUpdate: tenancy.Validator.ValidateTenantUpdate,
	setSpec:        func(dst, src *tenancy.Tenant) bool { return replace(&dst.Spec, *src.Spec.DeepCopy()) },
	setStatus:      func(dst, src *tenancy.Tenant) { dst.Status = *src.Status.DeepCopy() },
}

// GetTenant implements tenancy.TenantReader.
func (s *Store) GetTenant(ctx context.Context, name string) (*tenancy.Tenant, error) {
	return s.tenants.get(name)
}

// ListTenants implements tenancy.TenantReader.
func (s *Store) ListTenants(ctx context.Context) (*tenancy.TenantList, error) {
	items, rv := s.tenants.list()
	return &tenancy.TenantList{
		TypeMeta: metav1.TypeMeta{APIVersion: tenancy.GroupVersion.String(), Kind: "TenantList"},
		ListMeta: metav1.ListMeta{ResourceVersion: rv},
		Items:    items,
	}, nil
}

// CreateTenant implements tenancy.TenantWriter.
func (s *Store) CreateTenant(ctx context.Context, t *tenancy.Tenant) (*tenancy.Tenant, error) {
	return s.tenants.create(ctx, t)
}

// UpdateTenant implements tenancy.TenantWriter.
func (s *Store) UpdateTenant(ctx context.Context, t *tenancy.Tenant) (*tenancy.Tenant, error) {
	return s.tenants.update(ctx, t, false)
}

// UpdateTenantStatus implements tenancy.TenantStatusWriter.
func (s *Store) UpdateTenantStatus(ctx context.Context, t *tenancy.Tenant) (*tenancy.Tenant, error) {
	return s.tenants.update(ctx, t, true)
}

// DeleteTenant implements tenancy.TenantWriter.
func (s *Store) DeleteTenant(ctx context.Context, name string, opts tenancy.DeleteOptions) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	plan, err := tenancy.PlanTenantDelete(view{s}, name, opts.Cascade)
	if err != nil {
		return err
	}
	for _, sp := range plan.Spaces {
		s.spaces.deleteLocked(sp)
	}
	for _, tn := range plan.Tenants {
		s.tenants.deleteLocked(tn)
	}
	s.notify.Broadcast()
	return nil
}

// WatchTenants implements tenancy.TenantWatcher.
func (s *Store) WatchTenants(ctx context.Context, resourceVersion string) (<-chan tenancy.TenantEvent, error) {
	return watch(ctx, s, resourceVersion, func(typ tenancy.EventType, t *tenancy.Tenant, err error) tenancy.TenantEvent {
		return tenancy.TenantEvent{Type: typ, Tenant: t, Err: err}
	})
}
