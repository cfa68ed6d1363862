package vclusterkit

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/vclusterkit/vclusterkit/lifecycle"
	"github.com/vclusterkit/vclusterkit/tenancy"
)

// setupSpaces registers the Space controller: a space is a host namespace
// (named like the space) with the tenant's labels, Pod Security Admission
// level, quota, LimitRange, NetworkPolicies and member RoleBindings. The
// tenancy labels are the engine's: an edit by anyone else is put back.
func (e *Engine) setupSpaces() error {
	r := &lifecycle.Reconciler[*tenancy.Space]{
		Name:      "space",
		Client:    e.client,
		Recorder:  e.recorder("vclusterkit-space"),
		Finalizer: FinalizerSpace,
		NewObject: func() *tenancy.Space { return &tenancy.Space{} },
		Status: lifecycle.StatusAccess[*tenancy.Space]{
			Conditions:         func(s *tenancy.Space) *[]metav1.Condition { return &s.Status.Conditions },
			ObservedGeneration: func(s *tenancy.Space) *int64 { return &s.Status.ObservedGeneration },
		},
		Provision: lifecycle.Steps[*tenancy.Space]{
			{Name: "TenantReady", Run: e.spaceTenantReady},
			{Name: "NamespaceReady", Run: e.spaceStep(func(ctx context.Context, s *snapshot, hn hostNamespace) error { return e.ensureNamespace(ctx, s, hn) })},
			{Name: "QuotaApplied", Run: func(ctx context.Context, sp *tenancy.Space) error {
				if err := e.spaceStep(e.ensureQuota)(ctx, sp); err != nil {
					return err
				}
				used, err := e.namespaceUsage(ctx, sp.Name)
				sp.Status.Usage = used
				return err
			}},
			{Name: "NetworkPoliciesApplied", Run: e.spaceStep(func(ctx context.Context, s *snapshot, hn hostNamespace) error {
				return e.ensureNetworkPolicies(ctx, s, hn, "")
			})},
			{Name: "AccessGranted", Run: e.spaceStep(e.ensureAccess)},
			{Name: "TemplateApplied", Run: e.spaceTemplate},
		},
		Teardown: lifecycle.Steps[*tenancy.Space]{
			{Name: "AccessRevoked", Run: func(ctx context.Context, sp *tenancy.Space) error { return e.revokeAccess(ctx, sp.Name, nil) }},
			{Name: "NamespaceDeleted", Run: func(ctx context.Context, sp *tenancy.Space) error {
				return e.deleteNamespace(ctx, spaceNamespace(sp))
			}},
		},
		ResyncAfter: e.resync(5 * time.Minute),
	}
	// The namespace and what the engine put in it map back to the space of
	// the same name; a tenant change maps to every space of its subtree.
	byNamespace := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
		name := o.GetNamespace()
		if name == "" {
			name = o.GetName()
		}
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: name}}}
	})
	bySubtree := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		s, err := e.snapshot(ctx)
		if err != nil || !s.tree.Has(o.GetName()) {
			return nil
		}
		var out []reconcile.Request
		for _, t := range s.tree.Subtree(o.GetName()) {
			for _, sp := range s.tree.Spaces(t) {
				out = append(out, reconcile.Request{NamespacedName: client.ObjectKey{Name: sp}})
			}
		}
		return out
	})
	return r.SetupWithManager(e.mgr, func(b *ctrl.Builder) *ctrl.Builder {
		return b.Watches(&corev1.Namespace{}, byNamespace, withLabel(tenancy.LabelSpace)).
			Watches(&networkingv1.NetworkPolicy{}, byNamespace, withLabel(LabelManagedBy)).
			Watches(&rbacv1.RoleBinding{}, byNamespace, withLabel(LabelManagedBy)).
			Watches(&tenancy.Tenant{}, bySubtree)
	})
}

func (e *Engine) spaceTenantReady(ctx context.Context, sp *tenancy.Space) error {
	s, err := e.snapshot(ctx)
	if err != nil {
		return err
	}
	if err := s.invalid["space/"+sp.Name]; err != nil {
		return lifecycle.Permanent(err)
	}
	if !s.tree.Has(sp.Spec.Tenant) {
		return lifecycle.Wait(5*time.Second, "tenant %q does not exist", sp.Spec.Tenant)
	}
	if _, err := s.tree.EffectivePolicy(sp.Spec.Tenant); err != nil {
		return lifecycle.Permanent(err)
	}
	others := make([]countedUnder, 0, len(s.spaces))
	for i := range s.spaces {
		others = append(others, countedUnder{obj: &s.spaces[i], tenant: s.spaces[i].Spec.Tenant})
	}
	if err := overLimit(s, sp, sp.Spec.Tenant, others, "spaces", func(p tenancy.Policy) *int32 { return p.MaxSpaces }); err != nil {
		return lifecycle.Permanent(err)
	}
	return nil
}

// countedUnder is an object counted against a per-subtree maximum, with
// the tenant it belongs to.
type countedUnder struct {
	obj    client.Object
	tenant string
}

// overLimit checks obj (belonging to tenant) against every maximum on its
// chain (MaxSpaces, MaxVirtualClusters): each tenant that sets one caps its
// whole subtree, so for each the objects of that tenant's subtree older than
// obj are counted. The newest objects are the ones over a limit, so an
// existing one never loses its place to a new one.
func overLimit(s *snapshot, obj client.Object, tenant string, all []countedUnder, noun string, limit func(tenancy.Policy) *int32) error {
	for _, name := range s.tree.Path(tenant) {
		t := s.tree.Tenant(name)
		if t == nil || limit(t.Spec.Policy) == nil {
			continue
		}
		allowed := int(*limit(t.Spec.Policy))
		subtree := map[string]bool{}
		for _, n := range s.tree.Subtree(name) {
			subtree[n] = true
		}
		older := 0
		for _, o := range all {
			if subtree[o.tenant] && o.obj.GetUID() != obj.GetUID() && olderThan(o.obj, obj) {
				older++
			}
		}
		if older >= allowed {
			return fmt.Errorf("tenant %s allows at most %d %s in its subtree (%d exist)", name, allowed, noun, older)
		}
	}
	return nil
}

// spaceStep adapts a host-namespace function to a Space step.
func (e *Engine) spaceStep(f func(context.Context, *snapshot, hostNamespace) error) func(context.Context, *tenancy.Space) error {
	return func(ctx context.Context, sp *tenancy.Space) error {
		s, err := e.snapshot(ctx)
		if err != nil {
			return err
		}
		return f(ctx, s, spaceNamespace(sp))
	}
}

func spaceNamespace(sp *tenancy.Space) hostNamespace {
	return hostNamespace{Name: sp.Name, Tenant: sp.Spec.Tenant, Space: sp.Name, Quota: sp.Spec.Quota, ExtraLabels: sp.Spec.Labels, Owner: sp}
}
