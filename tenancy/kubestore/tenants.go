package kubestore

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

var tenantKind = kind[tenancy.Tenant, *tenancy.Tenant]{
	name:           tenancy.KindTenant,
	validateCreate: tenancy.Validator.ValidateTenantCreate,
	validateUpdate: tenancy.Validator.ValidateTenantUpdate,
	setSpec:        func(dst, src *tenancy.Tenant) { dst.Spec = src.Spec },
}

// GetTenant implements tenancy.TenantReader from the cache.
func (s *Store) GetTenant(ctx context.Context, name string) (*tenancy.Tenant, error) {
	return tenantKind.get(ctx, s, name)
}

// ListTenants implements tenancy.TenantReader from the cache. Its
// ResourceVersion is the informer's: the version the listed state is at.
func (s *Store) ListTenants(ctx context.Context) (*tenancy.TenantList, error) {
	list := &tenancy.TenantList{}
	if err := tenantKind.list(ctx, s, list, &list.Items); err != nil {
		return nil, err
	}
	return list, nil
}

// CreateTenant implements tenancy.TenantWriter.
func (s *Store) CreateTenant(ctx context.Context, t *tenancy.Tenant) (*tenancy.Tenant, error) {
	return tenantKind.create(ctx, s, t)
}

// UpdateTenant implements tenancy.TenantWriter.
func (s *Store) UpdateTenant(ctx context.Context, t *tenancy.Tenant) (*tenancy.Tenant, error) {
	return tenantKind.update(ctx, s, t)
}

// UpdateTenantStatus implements tenancy.TenantStatusWriter through the
// status subresource. It does not take the tree Lease.
func (s *Store) UpdateTenantStatus(ctx context.Context, t *tenancy.Tenant) (*tenancy.Tenant, error) {
	return tenantKind.updateStatus(ctx, s, t)
}

// DeleteTenant implements tenancy.TenantWriter. A cascade deletes the
// spaces, then the tenants bottom-up, under the Lease.
func (s *Store) DeleteTenant(ctx context.Context, name string, opts tenancy.DeleteOptions) error {
	var plan *tenancy.DeletePlan
	err := s.locked(ctx, func(v view) error {
		var err error
		plan, err = tenancy.PlanTenantDelete(v, name, opts.Cascade)
		if err != nil {
			return err
		}
		for _, sp := range plan.Spaces {
			err := s.c.Delete(ctx, &tenancy.Space{ObjectMeta: metav1.ObjectMeta{Name: sp}})
			if err != nil && !apierrors.IsNotFound(err) {
				return mapErr(tenancy.KindSpace, sp, err)
			}
		}
		for _, tn := range plan.Tenants {
			err := s.c.Delete(ctx, &tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: tn}})
			if err != nil && !apierrors.IsNotFound(err) {
				return mapErr(tenancy.KindTenant, tn, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, sp := range plan.Spaces {
		s.waitCached(ctx, &tenancy.Space{}, sp, "")
	}
	for _, tn := range plan.Tenants {
		s.waitCached(ctx, &tenancy.Tenant{}, tn, "")
	}
	return nil
}

// WatchTenants implements tenancy.TenantWatcher with an API server watch.
//
// Resource versions follow the API server: a watch from version v delivers
// every change after v as long as etcd still has it (by default about five
// minutes of history; older versions give tenancy.ErrExpired). "" starts
// at the current version, found with a one-item list. The watch is
// re-established from the last seen version (bookmarks included) whenever
// the server closes it.
func (s *Store) WatchTenants(ctx context.Context, resourceVersion string) (<-chan tenancy.TenantEvent, error) {
	return watchKind(ctx, s, tenantKind, &tenancy.TenantList{}, resourceVersion, func(typ tenancy.EventType, t *tenancy.Tenant, err error) tenancy.TenantEvent {
		return tenancy.TenantEvent{Type: typ, Tenant: t, Err: err}
	})
}
