package kubestore

import (
	"context"
	"fmt"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

// maxRetries bounds retries of unconditional writes (empty
// resourceVersion) that lose a race with a status writer.
const maxRetries = 5

// object is what the shared code needs of *tenancy.Tenant and
// *tenancy.Space: a client.Object with a typed deep copy.
type object[T any] interface {
	*T
	client.Object
	DeepCopy() *T
}

// kind is what tenants and spaces do differently: how they are checked
// and where their spec is. Its methods read and write both the same way.
type kind[T any, P object[T]] struct {
	name           string // tenancy.KindTenant or tenancy.KindSpace
	validateCreate func(tenancy.Validator, tenancy.View, P) error
	validateUpdate func(tenancy.Validator, tenancy.View, P, P) error
	// setSpec copies src's spec to dst.
	setSpec func(dst, src P)
}

// typed sets the TypeMeta the cache and the client leave empty.
func (k kind[T, P]) typed(o P) P {
	o.GetObjectKind().SetGroupVersionKind(tenancy.GroupVersion.WithKind(k.name))
	return o
}

// get reads an object from the cache.
func (k kind[T, P]) get(ctx context.Context, s *Store, name string) (P, error) {
	o := P(new(T))
	if err := s.cache.Get(ctx, client.ObjectKey{Name: name}, o); err != nil {
		return nil, mapErr(k.name, name, err)
	}
	return k.typed(o), nil
}

// list fills list, whose Items field is at itemsOf, from the cache, sorted
// by name. Its ResourceVersion is the informer's: the version the listed
// state is at.
func (k kind[T, P]) list(ctx context.Context, s *Store, list client.ObjectList, itemsOf *[]T) error {
	rv, err := s.cachedList(ctx, P(new(T)), list)
	if err != nil {
		return mapErr(k.name, "", err)
	}
	items := *itemsOf
	sort.Slice(items, func(i, j int) bool { return P(&items[i]).GetName() < P(&items[j]).GetName() })
	for i := range items {
		k.typed(&items[i])
	}
	list.GetObjectKind().SetGroupVersionKind(tenancy.GroupVersion.WithKind(k.name + "List"))
	list.SetResourceVersion(rv)
	return nil
}

// lookup reads an object directly from the API server (under the Lease,
// through v); nil if there is none.
func (k kind[T, P]) lookup(v view, name string) (P, error) {
	if name == "" {
		return nil, nil // no such object; the API rejects empty names
	}
	o := P(new(T))
	err := v.c.Get(v.ctx, client.ObjectKey{Name: name}, o)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("kubestore: reading %s %q: %w", strings.ToLower(k.name), name, err)
	}
	return o, nil
}

// create validates and creates the object under the Lease. Only the
// metadata a client may set, and the spec, are sent.
func (k kind[T, P]) create(ctx context.Context, s *Store, in P) (P, error) {
	src := P(in.DeepCopy())
	obj := P(new(T))
	obj.SetName(src.GetName())
	obj.SetLabels(src.GetLabels())
	obj.SetAnnotations(src.GetAnnotations())
	obj.SetFinalizers(src.GetFinalizers())
	obj.SetOwnerReferences(src.GetOwnerReferences())
	k.setSpec(obj, src)
	err := s.locked(ctx, func(v view) error {
		cur, err := k.lookup(v, obj.GetName())
		if err != nil {
			return err
		}
		if cur != nil {
			return tenancy.AlreadyExistsError(k.name, obj.GetName())
		}
		if err := k.validateCreate(s.opts.Validator, v, obj); err != nil {
			return err
		}
		return mapErr(k.name, obj.GetName(), s.c.Create(ctx, obj))
	})
	if err != nil {
		return nil, err
	}
	s.waitCached(ctx, P(new(T)), obj.GetName(), obj.GetResourceVersion())
	return k.typed(obj), nil
}

// update replaces the labels, annotations and spec of the object under the
// Lease. An unconditional write (empty resourceVersion) that loses a race
// is retried.
func (k kind[T, P]) update(ctx context.Context, s *Store, obj P) (P, error) {
	in := P(obj.DeepCopy())
	name := in.GetName()
	var next P
	for attempt := 0; ; attempt++ {
		err := s.locked(ctx, func(v view) error {
			cur, err := k.lookup(v, name)
			if err != nil {
				return err
			}
			if cur == nil {
				return tenancy.NotFoundError(k.name, name)
			}
			if sent := in.GetResourceVersion(); sent != "" && sent != cur.GetResourceVersion() {
				return tenancy.ConflictError(k.name, name, sent, cur.GetResourceVersion())
			}
			next = cur.DeepCopy()
			next.SetLabels(in.GetLabels())
			next.SetAnnotations(in.GetAnnotations())
			k.setSpec(next, in)
			if err := k.validateUpdate(s.opts.Validator, v, cur, next); err != nil {
				return err
			}
			return s.c.Update(ctx, next)
		})
		if apierrors.IsConflict(err) && in.GetResourceVersion() == "" && attempt < maxRetries {
			continue
		}
		if err != nil {
			return nil, mapErr(k.name, name, err)
		}
		break
	}
	s.waitCached(ctx, P(new(T)), next.GetName(), next.GetResourceVersion())
	return k.typed(next), nil
}

// updateStatus writes the status subresource. It does not take the tree
// Lease: a status cannot make the tree invalid.
func (k kind[T, P]) updateStatus(ctx context.Context, s *Store, in P) (P, error) {
	name := in.GetName()
	for attempt := 0; ; attempt++ {
		obj := P(in.DeepCopy())
		if obj.GetResourceVersion() == "" {
			cur := P(new(T))
			if err := s.c.Get(ctx, client.ObjectKey{Name: name}, cur); err != nil {
				return nil, mapErr(k.name, name, err)
			}
			obj.SetResourceVersion(cur.GetResourceVersion())
		}
		err := s.c.Status().Update(ctx, obj)
		if apierrors.IsConflict(err) && in.GetResourceVersion() == "" && attempt < maxRetries {
			continue
		}
		if err != nil {
			return nil, mapErr(k.name, name, err)
		}
		s.waitCached(ctx, P(new(T)), obj.GetName(), obj.GetResourceVersion())
		return k.typed(obj), nil
	}
}

// watchKind streams the changes to objects of kind k, as the events event
// makes; list is an empty list of the kind (see Store.watch).
func watchKind[T any, P object[T], E any](ctx context.Context, s *Store, k kind[T, P], list client.ObjectList,
	resourceVersion string, event func(tenancy.EventType, P, error) E) (<-chan E, error) {
	out := make(chan E)
	err := s.watch(ctx, list, resourceVersion, func(typ tenancy.EventType, obj runtime.Object, err error) bool {
		var o P // nil for EventError
		if typed, ok := obj.(P); ok {
			o = k.typed(typed)
		}
		select {
		case out <- event(typ, o, err):
			return true
		case <-ctx.Done():
			return false
		}
	}, func() { close(out) })
	if err != nil {
		return nil, mapErr(k.name, "", err)
	}
	return out, nil
}

// pointers returns pointers to the items, for tenancy.View.
func pointers[T any](items []T) []*T {
	out := make([]*T, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}
