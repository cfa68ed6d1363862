package kubestore

import (
	"context"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

func spaceTypeMeta() metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: tenancy.GroupVersion.String(), Kind: tenancy.KindSpace}
}

// GetSpace implements tenancy.SpaceReader from the cache.
func (s *Store) GetSpace(ctx context.Context, name string) (*tenancy.Space, error) {
	sp := &tenancy.Space{}
	if err := s.cache.Get(ctx, client.ObjectKey{Name: name}, sp); err != nil {
		return nil, mapErr(tenancy.KindSpace, name, err)
	}
	sp.TypeMeta = spaceTypeMeta()
	return sp, nil
}

// ListSpaces implements tenancy.SpaceReader from the cache.
func (s *Store) ListSpaces(ctx context.Context) (*tenancy.SpaceList, error) {
	list := &tenancy.SpaceList{}
	rv, err := s.cachedList(ctx, &tenancy.Space{}, list)
	if err != nil {
		return nil, mapErr(tenancy.KindSpace, "", err)
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	for i := range list.Items {
		list.Items[i].TypeMeta = spaceTypeMeta()
	}
	list.TypeMeta = metav1.TypeMeta{APIVersion: tenancy.GroupVersion.String(), Kind: "SpaceList"}
	list.ResourceVersion = rv
	return list, nil
}

// CreateSpace implements tenancy.SpaceWriter.
func (s *Store) CreateSpace(ctx context.Context, sp *tenancy.Space) (*tenancy.Space, error) {
	in := sp.DeepCopy()
	obj := &tenancy.Space{
		ObjectMeta: metav1.ObjectMeta{Name: in.Name, Labels: in.Labels, Annotations: in.Annotations,
			Finalizers: in.Finalizers, OwnerReferences: in.OwnerReferences},
		Spec: in.Spec,
	}
	err := s.locked(ctx, func(v view) error {
		if obj.Name == "" {
			return s.opts.Validator.ValidateSpaceCreate(v, obj) // reports the missing name
		}
		cur := &tenancy.Space{}
		err := s.c.Get(ctx, client.ObjectKey{Name: obj.Name}, cur)
		if err == nil {
			return tenancy.AlreadyExistsError(tenancy.KindSpace, obj.Name)
		}
		if !apierrors.IsNotFound(err) {
			return mapErr(tenancy.KindSpace, obj.Name, err)
		}
		if err := s.opts.Validator.ValidateSpaceCreate(v, obj); err != nil {
			return err
		}
		return mapErr(tenancy.KindSpace, obj.Name, s.c.Create(ctx, obj))
	})
	if err != nil {
		return nil, err
	}
	s.waitCached(ctx, &tenancy.Space{}, obj.Name, obj.ResourceVersion)
	obj.TypeMeta = spaceTypeMeta()
	return obj, nil
}

// UpdateSpace implements tenancy.SpaceWriter.
func (s *Store) UpdateSpace(ctx context.Context, sp *tenancy.Space) (*tenancy.Space, error) {
	in := sp.DeepCopy()
	var next *tenancy.Space
	for attempt := 0; ; attempt++ {
		err := s.locked(ctx, func(v view) error {
			cur := &tenancy.Space{}
			if err := s.c.Get(ctx, client.ObjectKey{Name: in.Name}, cur); err != nil {
				return mapErr(tenancy.KindSpace, in.Name, err)
			}
			if in.ResourceVersion != "" && in.ResourceVersion != cur.ResourceVersion {
				return tenancy.ConflictError(tenancy.KindSpace, in.Name, in.ResourceVersion, cur.ResourceVersion)
			}
			next = cur.DeepCopy()
			next.Labels, next.Annotations, next.Spec = in.Labels, in.Annotations, in.Spec
			if err := s.opts.Validator.ValidateSpaceUpdate(v, cur, next); err != nil {
				return err
			}
			return s.c.Update(ctx, next)
		})
		if apierrors.IsConflict(err) && in.ResourceVersion == "" && attempt < maxRetries {
			continue
		}
		if err != nil {
			return nil, mapErr(tenancy.KindSpace, in.Name, err)
		}
		break
	}
	s.waitCached(ctx, &tenancy.Space{}, next.Name, next.ResourceVersion)
	next.TypeMeta = spaceTypeMeta()
	return next, nil
}

// UpdateSpaceStatus implements tenancy.SpaceStatusWriter.
func (s *Store) UpdateSpaceStatus(ctx context.Context, sp *tenancy.Space) (*tenancy.Space, error) {
	for attempt := 0; ; attempt++ {
		obj := sp.DeepCopy()
		if obj.ResourceVersion == "" {
			cur := &tenancy.Space{}
			if err := s.c.Get(ctx, client.ObjectKey{Name: sp.Name}, cur); err != nil {
				return nil, mapErr(tenancy.KindSpace, sp.Name, err)
			}
			obj.ResourceVersion = cur.ResourceVersion
		}
		err := s.c.Status().Update(ctx, obj)
		if apierrors.IsConflict(err) && sp.ResourceVersion == "" && attempt < maxRetries {
			continue
		}
		if err != nil {
			return nil, mapErr(tenancy.KindSpace, sp.Name, err)
		}
		s.waitCached(ctx, &tenancy.Space{}, obj.Name, obj.ResourceVersion)
		obj.TypeMeta = spaceTypeMeta()
		return obj, nil
	}
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
