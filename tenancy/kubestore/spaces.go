package kubestore

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

var spaceKind = kind[tenancy.Space, *tenancy.Space]{
	name:           tenancy.KindSpace,
	validateCreate: tenancy.Validator.ValidateSpaceCreate,
	validateUpdate: tenancy.Validator.ValidateSpaceUpdate,
	setSpec:        func(dst, src *tenancy.Space) { dst.Spec = src.Spec },
}

// GetSpace implements tenancy.SpaceReader from the cache.
func (s *Store) GetSpace(ctx context.Context, name string) (*tenancy.Space, error) {
	return spaceKind.get(ctx, s, name)
}

// ListSpaces implements tenancy.SpaceReader from the cache, like
// ListTenants.
func (s *Store) ListSpaces(ctx context.Context) (*tenancy.SpaceList, error) {
	list := &tenancy.SpaceList{}
	if err := spaceKind.list(ctx, s, list, &list.Items); err != nil {
		return nil, err
	}
	return list, nil
}

// CreateSpace implements tenancy.SpaceWriter.
func (s *Store) CreateSpace(ctx context.Context, sp *tenancy.Space) (*tenancy.Space, error) {
	return spaceKind.create(ctx, s, sp)
}

// UpdateSpace implements tenancy.SpaceWriter.
func (s *Store) UpdateSpace(ctx context.Context, sp *tenancy.Space) (*tenancy.Space, error) {
	return spaceKind.update(ctx, s, sp)
}

// UpdateSpaceStatus implements tenancy.SpaceStatusWriter.
func (s *Store) UpdateSpaceStatus(ctx context.Context, sp *tenancy.Space) (*tenancy.Space, error) {
	return spaceKind.updateStatus(ctx, s, sp)
}

// DeleteSpace implements tenancy.SpaceWriter. Removing a space cannot make
// the tree invalid, so it does not take the Lease.
func (s *Store) DeleteSpace(ctx context.Context, name string) error {
	if err := s.c.Delete(ctx, &tenancy.Space{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		return mapErr(tenancy.KindSpace, name, err)
	}
	s.waitCached(ctx, &tenancy.Space{}, name, "")
	return nil
}

// WatchSpaces implements tenancy.SpaceWatcher, like WatchTenants.
func (s *Store) WatchSpaces(ctx context.Context, resourceVersion string) (<-chan tenancy.SpaceEvent, error) {
	return watchKind(ctx, s, spaceKind, &tenancy.SpaceList{}, resourceVersion, func(typ tenancy.EventType, sp *tenancy.Space, err error) tenancy.SpaceEvent {
		return tenancy.SpaceEvent{Type: typ, Space: sp, Err: err}
	})
}
