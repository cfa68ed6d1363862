package memstore

import (
	"context"
	"sort"
	"strconv"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

// GetSpace implements tenancy.SpaceReader.
func (s *Store) GetSpace(ctx context.Context, name string) (*tenancy.Space, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sp, ok := s.spaces[name]
	if !ok {
		return nil, tenancy.NotFoundError(tenancy.KindSpace, name)
	}
	return sp.DeepCopy(), nil
}

// ListSpaces implements tenancy.SpaceReader.
func (s *Store) ListSpaces(ctx context.Context) (*tenancy.SpaceList, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := &tenancy.SpaceList{
		TypeMeta: metav1.TypeMeta{APIVersion: tenancy.GroupVersion.String(), Kind: "SpaceList"},
		ListMeta: metav1.ListMeta{ResourceVersion: strconv.FormatUint(s.rv, 10)},
		Items:    make([]tenancy.Space, 0, len(s.spaces)),
	}
	for _, sp := range s.spaces {
		out.Items = append(out.Items, *sp.DeepCopy())
	}
	sort.Slice(out.Items, func(i, j int) bool { return out.Items[i].Name < out.Items[j].Name })
	return out, nil
}

// CreateSpace implements tenancy.SpaceWriter.
func (s *Store) CreateSpace(ctx context.Context, sp *tenancy.Space) (*tenancy.Space, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	in := sp.DeepCopy()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.spaces[in.Name]; ok {
		return nil, tenancy.AlreadyExistsError(tenancy.KindSpace, in.Name)
	}
	if err := s.opts.Validator.ValidateSpaceCreate(view{s}, in); err != nil {
		return nil, err
	}
	in.TypeMeta = spaceTypeMeta()
	in.UID = uuid.NewUUID()
	in.CreationTimestamp = now()
	in.Generation = 1
	in.Status = tenancy.SpaceStatus{}
	in.ResourceVersion = s.next()
	s.spaces[in.Name] = in
	addIndex(s.byTenant, in.Spec.Tenant, in.Name)
	s.record(change{rv: s.rv, typ: tenancy.EventAdded, space: in})
	s.notify.Broadcast()
	return in.DeepCopy(), nil
}

// UpdateSpace implements tenancy.SpaceWriter.
func (s *Store) UpdateSpace(ctx context.Context, sp *tenancy.Space) (*tenancy.Space, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.spaces[sp.Name]
	if !ok {
		return nil, tenancy.NotFoundError(tenancy.KindSpace, sp.Name)
	}
	if err := checkVersion(tenancy.KindSpace, sp.Name, sp.ResourceVersion, cur.ResourceVersion); err != nil {
		return nil, err
	}
	next := cur.DeepCopy()
	next.Labels = sp.DeepCopy().Labels
	next.Annotations = sp.DeepCopy().Annotations
	next.Spec = *sp.Spec.DeepCopy()
	if err := s.opts.Validator.ValidateSpaceUpdate(view{s}, cur, next); err != nil {
		return nil, err
	}
	if !equality.Semantic.DeepEqual(cur.Spec, next.Spec) {
		next.Generation++
	}
	next.ResourceVersion = s.next()
	s.spaces[next.Name] = next
	s.record(change{rv: s.rv, typ: tenancy.EventModified, space: next})
	s.notify.Broadcast()
	return next.DeepCopy(), nil
}

// UpdateSpaceStatus implements tenancy.SpaceStatusWriter.
func (s *Store) UpdateSpaceStatus(ctx context.Context, sp *tenancy.Space) (*tenancy.Space, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.spaces[sp.Name]
	if !ok {
		return nil, tenancy.NotFoundError(tenancy.KindSpace, sp.Name)
	}
	if err := checkVersion(tenancy.KindSpace, sp.Name, sp.ResourceVersion, cur.ResourceVersion); err != nil {
		return nil, err
	}
	next := cur.DeepCopy()
	next.Status = *sp.Status.DeepCopy()
	next.ResourceVersion = s.next()
	s.spaces[next.Name] = next
	s.record(change{rv: s.rv, typ: tenancy.EventModified, space: next})
	s.notify.Broadcast()
	return next.DeepCopy(), nil
}

// DeleteSpace implements tenancy.SpaceWriter.
func (s *Store) DeleteSpace(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.spaces[name]; !ok {
		return tenancy.NotFoundError(tenancy.KindSpace, name)
	}
	s.deleteSpaceLocked(name)
	s.notify.Broadcast()
	return nil
}

func (s *Store) deleteSpaceLocked(name string) {
	cur := s.spaces[name]
	delete(s.spaces, name)
	delIndex(s.byTenant, cur.Spec.Tenant, name)
	gone := cur.DeepCopy()
	gone.ResourceVersion = s.next()
	s.record(change{rv: s.rv, typ: tenancy.EventDeleted, space: gone})
}
