package memstore

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

// spaceKind indexes spaces by tenant, for ListSpaces of the view.
var spaceKind = kind[tenancy.Space, *tenancy.Space]{
	name:           tenancy.KindSpace,
	owner:          func(sp *tenancy.Space) string { return sp.Spec.Tenant },
	validateCreate: tenancy.Validator.ValidateSpaceCreate,
	validateUpdate: tenancy.Validator.ValidateSpaceUpdate,
	setSpec:        func(dst, src *tenancy.Space) bool { return replace(&dst.Spec, *src.Spec.DeepCopy()) },
	setStatus:      func(dst, src *tenancy.Space) { dst.Status = *src.Status.DeepCopy() },
}

// GetSpace implements tenancy.SpaceReader.
func (s *Store) GetSpace(ctx context.Context, name string) (*tenancy.Space, error) {
	return s.spaces.get(name)
}

// ListSpaces implements tenancy.SpaceReader.
func (s *Store) ListSpaces(ctx context.Context) (*tenancy.SpaceList, error) {
	items, rv := s.spaces.list()
	return &tenancy.SpaceList{
		TypeMeta: metav1.TypeMeta{APIVersion: tenancy.GroupVersion.String(), Kind: "SpaceList"},
		ListMeta: metav1.ListMeta{ResourceVersion: rv},
		Items:    items,
	}, nil
}

// CreateSpace implements tenancy.SpaceWriter.
func (s *Store) CreateSpace(ctx context.Context, sp *tenancy.Space) (*tenancy.Space, error) {
	return s.spaces.create(ctx, sp)
}

// UpdateSpace implements tenancy.SpaceWriter.
func (s *Store) UpdateSpace(ctx context.Context, sp *tenancy.Space) (*tenancy.Space, error) {
	return s.spaces.update(ctx, sp, false)
}

// UpdateSpaceStatus implements tenancy.SpaceStatusWriter.
func (s *Store) UpdateSpaceStatus(ctx context.Context, sp *tenancy.Space) (*tenancy.Space, error) {
	return s.spaces.update(ctx, sp, true)
}

// DeleteSpace implements tenancy.SpaceWriter.
func (s *Store) DeleteSpace(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.spaces.objs[name]; !ok {
		return tenancy.NotFoundError(tenancy.KindSpace, name)
	}
	s.spaces.deleteLocked(name)
	s.notify.Broadcast()
	return nil
}

// WatchSpaces implements tenancy.SpaceWatcher.
func (s *Store) WatchSpaces(ctx context.Context, resourceVersion string) (<-chan tenancy.SpaceEvent, error) {
	return watch(ctx, s, resourceVersion, func(typ tenancy.EventType, sp *tenancy.Space, err error) tenancy.SpaceEvent {
		return tenancy.SpaceEvent{Type: typ, Space: sp, Err: err}
	})
}
