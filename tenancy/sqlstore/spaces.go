package sqlstore

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

// spaceKind keeps spaces in table spaces, indexed by tenant.
var spaceKind = kind[tenancy.Space, *tenancy.Space]{
	name:           tenancy.KindSpace,
	sql:            tableQueries("spaces", "tenant"),
	owner:          func(sp *tenancy.Space) string { return sp.Spec.Tenant },
	validateCreate: tenancy.Validator.ValidateSpaceCreate,
	validateUpdate: tenancy.Validator.ValidateSpaceUpdate,
	setSpec:        func(dst, src *tenancy.Space) bool { return replace(&dst.Spec, src.Spec) },
	setStatus:      func(dst, src *tenancy.Space) { dst.Status = src.Status },
}

// GetSpace implements tenancy.SpaceReader.
func (s *Store) GetSpace(ctx context.Context, name string) (*tenancy.Space, error) {
	return spaceKind.get(ctx, s, name)
}

// ListSpaces implements tenancy.SpaceReader, like ListTenants.
func (s *Store) ListSpaces(ctx context.Context) (*tenancy.SpaceList, error) {
	items, rv, err := spaceKind.list(ctx, s)
	if err != nil {
		return nil, err
	}
	return &tenancy.SpaceList{
		TypeMeta: metav1.TypeMeta{APIVersion: tenancy.GroupVersion.String(), Kind: "SpaceList"},
		ListMeta: metav1.ListMeta{ResourceVersion: rv},
		Items:    items,
	}, nil
}

// CreateSpace implements tenancy.SpaceWriter.
func (s *Store) CreateSpace(ctx context.Context, sp *tenancy.Space) (*tenancy.Space, error) {
	return spaceKind.create(ctx, s, sp)
}

// UpdateSpace implements tenancy.SpaceWriter.
func (s *Store) UpdateSpace(ctx context.Context, sp *tenancy.Space) (*tenancy.Space, error) {
	return spaceKind.update(ctx, s, sp, false)
}

// UpdateSpaceStatus implements tenancy.SpaceStatusWriter.
func (s *Store) UpdateSpaceStatus(ctx context.Context, sp *tenancy.Space) (*tenancy.Space, error) {
	return spaceKind.update(ctx, s, sp, true)
}

// DeleteSpace implements tenancy.SpaceWriter.
func (s *Store) DeleteSpace(ctx context.Context, name string) error {
	return s.write(ctx, func(w *wtx) error { return spaceKind.remove(w, name) })
}

// WatchSpaces implements tenancy.SpaceWatcher, like WatchTenants.
func (s *Store) WatchSpaces(ctx context.Context, resourceVersion string) (<-chan tenancy.SpaceEvent, error) {
	return watch(ctx, s, spaceKind, resourceVersion, func(typ tenancy.EventType, sp *tenancy.Space, err error) tenancy.SpaceEvent {
		return tenancy.SpaceEvent{Type: typ, Space: sp, Err: err}
	})
}
