package kubestore

import (
	"context"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

// maxRetries bounds retries of unconditional writes (empty
// resourceVersion) that lose a race with a status writer.
const maxRetries = 5

func tenantTypeMeta() metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: tenancy.GroupVersion.String(), Kind: tenancy.KindTenant}
}

// GetTenant implements tenancy.TenantReader from the cache.
func (s *Store) GetTenant(ctx context.Context, name string) (*tenancy.Tenant, error) {
	t := &tenancy.Tenant{}
	if err := s.cache.Get(ctx, client.ObjectKey{Name: name}, t); err != nil {
		return nil, mapErr(tenancy.KindTenant, name, err)
	}
	t.TypeMeta = tenantTypeMeta()
	return t, nil
}

// ListTenants implements tenancy.TenantReader from the cache. Its
// ResourceVersion is the informer's: the version the listed state is at.
func (s *Store) ListTenants(ctx context.Context) (*tenancy.TenantList, error) {
	list := &tenancy.TenantList{}
	rv, err := s.cachedList(ctx, &tenancy.Tenant{}, list)
	if err != nil {
		return nil, mapErr(tenancy.KindTenant, "", err)
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	for i := range list.Items {
		list.Items[i].TypeMeta = tenantTypeMeta()
	}
	list.TypeMeta = metav1.TypeMeta{APIVersion: tenancy.GroupVersion.String(), Kind: "TenantList"}
	list.ResourceVersion = rv
	return list, nil
}

// cachedList lists from the cache and returns the informer's version,
// retrying until the version is the same before and after the list.
func (s *Store) cachedList(ctx context.Context, obj client.Object, list client.ObjectList) (string, error) {
	inf, err := s.cache.GetInformer(ctx, obj)
	if err != nil {
		return "", err
	}
	versioned, ok := inf.(interface{ LastSyncResourceVersion() string })
	for attempt := 0; ; attempt++ {
		before := ""
		if ok {
			before = versioned.LastSyncResourceVersion()
		}
		if err := s.cache.List(ctx, list); err != nil {
			return "", err
		}
		if !ok {
			return "", nil
		}
		if after := versioned.LastSyncResourceVersion(); after == before || attempt >= 10 {
			return after, nil
		}
	}
}

func newTenantObject(in *tenancy.Tenant) *tenancy.Tenant {
	return &tenancy.Tenant{
		ObjectMeta: metav1.ObjectMeta{Name: in.Name, Labels: in.Labels, Annotations: in.Annotations,
			Finalizers: in.Finalizers, OwnerReferences: in.OwnerReferences},
		Spec: in.Spec,
	}
}

// CreateTenant implements tenancy.TenantWriter.
func (s *Store) CreateTenant(ctx context.Context, t *tenancy.Tenant) (*tenancy.Tenant, error) {
	obj := newTenantObject(t.DeepCopy())
	err := s.locked(ctx, func(v view) error {
		cur, err := v.LookupTenant(obj.Name)
		if err != nil {
			return err
		}
		if cur != nil {
			return tenancy.AlreadyExistsError(tenancy.KindTenant, obj.Name)
		}
		if err := s.opts.Validator.ValidateTenantCreate(v, obj); err != nil {
			return err
		}
		return mapErr(tenancy.KindTenant, obj.Name, s.c.Create(ctx, obj))
	})
	if err != nil {
		return nil, err
	}
	s.waitCached(ctx, &tenancy.Tenant{}, obj.Name, obj.ResourceVersion)
	obj.TypeMeta = tenantTypeMeta()
	return obj, nil
}

// locked runs fn holding the tree Lease, with a view of the API server.
func (s *Store) locked(ctx context.Context, fn func(view) error) error {
	unlock, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	return fn(view{ctx: ctx, c: s.c})
}

// UpdateTenant implements tenancy.TenantWriter.
func (s *Store) UpdateTenant(ctx context.Context, t *tenancy.Tenant) (*tenancy.Tenant, error) {
	in := t.DeepCopy()
	var next *tenancy.Tenant
	for attempt := 0; ; attempt++ {
		err := s.locked(ctx, func(v view) error {
			cur, err := v.LookupTenant(in.Name)
			if err != nil {
				return err
			}
			if cur == nil {
				return tenancy.NotFoundError(tenancy.KindTenant, in.Name)
			}
			if in.ResourceVersion != "" && in.ResourceVersion != cur.ResourceVersion {
				return tenancy.ConflictError(tenancy.KindTenant, in.Name, in.ResourceVersion, cur.ResourceVersion)
			}
			next = cur.DeepCopy()
			next.Labels, next.Annotations, next.Spec = in.Labels, in.Annotations, in.Spec
			if err := s.opts.Validator.ValidateTenantUpdate(v, cur, next); err != nil {
				return err
			}
			return s.c.Update(ctx, next)
		})
		if apierrors.IsConflict(err) && in.ResourceVersion == "" && attempt < maxRetries {
			continue
		}
		if err != nil {
			return nil, mapErr(tenancy.KindTenant, in.Name, err)
		}
		break
	}
	s.waitCached(ctx, &tenancy.Tenant{}, next.Name, next.ResourceVersion)
	next.TypeMeta = tenantTypeMeta()
	return next, nil
}

// UpdateTenantStatus implements tenancy.TenantStatusWriter through the
// status subresource. It does not take the tree Lease.
func (s *Store) UpdateTenantStatus(ctx context.Context, t *tenancy.Tenant) (*tenancy.Tenant, error) {
	for attempt := 0; ; attempt++ {
		obj := t.DeepCopy()
		if obj.ResourceVersion == "" {
			cur := &tenancy.Tenant{}
			if err := s.c.Get(ctx, client.ObjectKey{Name: t.Name}, cur); err != nil {
				return nil, mapErr(tenancy.KindTenant, t.Name, err)
			}
			obj.ResourceVersion = cur.ResourceVersion
		}
		err := s.c.Status().Update(ctx, obj)
		if apierrors.IsConflict(err) && t.ResourceVersion == "" && attempt < maxRetries {
			continue
		}
		if err != nil {
			return nil, mapErr(tenancy.KindTenant, t.Name, err)
		}
		s.waitCached(ctx, &tenancy.Tenant{}, obj.Name, obj.ResourceVersion)
		obj.TypeMeta = tenantTypeMeta()
		return obj, nil
	}
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
