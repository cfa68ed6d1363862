// Package space is the engine's Space controller: a space is a host
// namespace (named like the space) with the tenant's labels, Pod Security
// Admission level, quota, LimitRange, NetworkPolicies, member RoleBindings
// and the objects of its template. The tenancy labels are the engine's: an
// edit by anyone else is put back.
package space

import (
	"context"
	"errors"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/vclusterkit/vclusterkit/internal/hostns"
	"github.com/vclusterkit/vclusterkit/internal/snapshot"
	"github.com/vclusterkit/vclusterkit/internal/spacetemplate"
	"github.com/vclusterkit/vclusterkit/lifecycle"
	"github.com/vclusterkit/vclusterkit/tenancy"
)

// Reconciler reconciles Spaces. Fields without "optional" are required;
// SetupWithManager checks them.
type Reconciler struct {
	Client     client.Client
	Recorder   lifecycle.Recorder
	Snapshots  *snapshot.Reader
	Namespaces *hostns.Shaper
	Templates  *spacetemplate.Applier
	// ResyncAfter requeues Ready spaces; zero means five minutes.
	ResyncAfter time.Duration
	// Customize edits the steps; optional.
	Customize lifecycle.Customize[*tenancy.Space]
}

// SetupWithManager registers the controller with mgr.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	switch {
	case r.Client == nil:
		return errors.New("space.Reconciler: Client is required")
	case r.Recorder == nil:
		return errors.New("space.Reconciler: Recorder is required")
	case r.Snapshots == nil:
		return errors.New("space.Reconciler: Snapshots is required")
	case r.Namespaces == nil:
		return errors.New("space.Reconciler: Namespaces is required")
	case r.Templates == nil:
		return errors.New("space.Reconciler: Templates is required")
	}
	resync := r.ResyncAfter
	if resync == 0 {
		resync = 5 * time.Minute
	}
	h := r.Namespaces
	lr := &lifecycle.Reconciler[*tenancy.Space]{
		Name:      "space",
		Client:    r.Client,
		Recorder:  r.Recorder,
		Finalizer: tenancy.FinalizerSpace,
		NewObject: func() *tenancy.Space { return &tenancy.Space{} },
		Status: lifecycle.StatusAccess[*tenancy.Space]{
			Conditions:         func(s *tenancy.Space) *[]metav1.Condition { return &s.Status.Conditions },
			ObservedGeneration: func(s *tenancy.Space) *int64 { return &s.Status.ObservedGeneration },
		},
		Provision: lifecycle.Steps[*tenancy.Space]{
			{Name: "TenantReady", Run: r.tenantReady},
			{Name: "NamespaceReady", Run: r.step(h.EnsureNamespace)},
			{Name: "QuotaApplied", Run: func(ctx context.Context, sp *tenancy.Space) error {
				if err := r.step(h.EnsureQuota)(ctx, sp); err != nil {
					return err
				}
				used, err := h.NamespaceUsage(ctx, sp.Name)
				sp.Status.Usage = used
				return err
			}},
			{Name: "NetworkPoliciesApplied", Run: r.step(func(ctx context.Context, s *tenancy.PartialTree, hn hostns.Namespace) error {
				return h.EnsureNetworkPolicies(ctx, s, hn, "")
			})},
			{Name: "AccessGranted", Run: r.step(h.EnsureAccess)},
			{Name: "TemplateApplied", Run: r.Templates.Apply},
		},
		Teardown: lifecycle.Steps[*tenancy.Space]{
			{Name: "AccessRevoked", Run: func(ctx context.Context, sp *tenancy.Space) error { return h.RevokeAccess(ctx, sp.Name, nil) }},
			{Name: "NamespaceDeleted", Run: func(ctx context.Context, sp *tenancy.Space) error {
				return h.DeleteNamespace(ctx, hostns.ForSpace(sp))
			}},
		},
		ResyncAfter: resync,
	}
	if err := r.Customize.Apply(lr); err != nil {
		return err
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
		s, err := r.Snapshots.Get(ctx)
		if err != nil || !s.Tree.Has(o.GetName()) {
			return nil
		}
		var out []reconcile.Request
		for _, t := range s.Tree.Subtree(o.GetName()) {
			for _, sp := range s.Tree.Spaces(t) {
				out = append(out, reconcile.Request{NamespacedName: client.ObjectKey{Name: sp}})
			}
		}
		return out
	})
	return lr.SetupWithManager(mgr, func(b *ctrl.Builder) *ctrl.Builder {
		return b.Watches(&corev1.Namespace{}, byNamespace, withLabel(tenancy.LabelSpace)).
			Watches(&networkingv1.NetworkPolicy{}, byNamespace, withLabel(hostns.LabelManagedBy)).
			Watches(&rbacv1.RoleBinding{}, byNamespace, withLabel(hostns.LabelManagedBy)).
			Watches(&tenancy.Tenant{}, bySubtree)
	})
}

func withLabel(key string) builder.Predicates {
	return builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
		_, ok := o.GetLabels()[key]
		return ok
	}))
}

func (r *Reconciler) tenantReady(ctx context.Context, sp *tenancy.Space) error {
	s, err := r.Snapshots.Get(ctx)
	if err != nil {
		return err
	}
	if err := s.InvalidErr(tenancy.KindSpace, sp.Name); err != nil {
		return lifecycle.Permanent(err)
	}
	if !s.Tree.Has(sp.Spec.Tenant) {
		return lifecycle.Wait(5*time.Second, "tenant %q does not exist", sp.Spec.Tenant)
	}
	if _, err := s.Tree.EffectivePolicy(sp.Spec.Tenant); err != nil {
		return lifecycle.Permanent(err)
	}
	others := make([]hostns.Counted, 0, len(s.Spaces))
	for i := range s.Spaces {
		others = append(others, hostns.Counted{Obj: &s.Spaces[i], Tenant: s.Spaces[i].Spec.Tenant})
	}
	if err := hostns.OverLimit(s, sp, sp.Spec.Tenant, others, "spaces", func(p tenancy.Policy) *int32 { return p.MaxSpaces }); err != nil {
		return lifecycle.Permanent(err)
	}
	return nil
}

// step adapts a host-namespace function to a Space step.
func (r *Reconciler) step(f func(context.Context, *tenancy.PartialTree, hostns.Namespace) error) func(context.Context, *tenancy.Space) error {
	return func(ctx context.Context, sp *tenancy.Space) error {
		s, err := r.Snapshots.Get(ctx)
		if err != nil {
			return err
		}
		return f(ctx, s, hostns.ForSpace(sp))
	}
}
