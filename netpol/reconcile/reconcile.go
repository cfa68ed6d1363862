package reconcile

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/vclusterkit/vclusterkit/netpol"
)

// DesiredFunc returns the policies a namespace should have; none (nil) removes ours.
type DesiredFunc func(ctx context.Context, namespace string) ([]networkingv1.NetworkPolicy, error)

// Apply makes the namespace's managed policies equal to desired: missing ones are
// created, edited ones put back, and managed ones no longer desired deleted. Every
// desired policy must be in namespace and carry the managed label.
func Apply(ctx context.Context, c client.Client, namespace string, desired []networkingv1.NetworkPolicy) error {
	want := map[string]*networkingv1.NetworkPolicy{}
	for i := range desired {
		p := &desired[i]
		if p.Namespace != namespace || p.Labels[netpol.LabelManagedBy] != netpol.ManagedByValue {
			return fmt.Errorf("reconcile: desired[%d] %s/%s: must be in namespace %s and labelled %s=%s",
				i, p.Namespace, p.Name, namespace, netpol.LabelManagedBy, netpol.ManagedByValue)
		}
		want[p.Name] = p
	}
	var have networkingv1.NetworkPolicyList
	if err := c.List(ctx, &have, client.InNamespace(namespace), client.MatchingLabels{netpol.LabelManagedBy: netpol.ManagedByValue}); err != nil {
		return fmt.Errorf("reconcile: listing policies of %s: %w", namespace, err)
	}
	var errs []error
	for i := range have.Items {
		cur := &have.Items[i]
		d, ok := want[cur.Name]
		if !ok {
			if err := c.Delete(ctx, cur); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("deleting %s/%s: %w", namespace, cur.Name, err))
			}
			continue
		}
		delete(want, cur.Name)
		if equality.Semantic.DeepEqual(cur.Spec, d.Spec) && equality.Semantic.DeepEqual(cur.Labels, d.Labels) {
			continue
		}
		cur.Spec = *d.Spec.DeepCopy()
		cur.Labels = d.DeepCopy().Labels
		if err := c.Update(ctx, cur); err != nil {
			errs = append(errs, fmt.Errorf("restoring %s/%s: %w", namespace, cur.Name, err))
		} else {
			ctrl.LoggerFrom(ctx).Info("network policy put back", "namespace", namespace, "name", cur.Name)
		}
	}
	for _, d := range want {
		obj := d.DeepCopy()
		obj.ResourceVersion = ""
		if err := c.Create(ctx, obj); err != nil {
			errs = append(errs, fmt.Errorf("creating %s/%s: %w", namespace, d.Name, err))
		}
	}
	return errors.Join(errs...)
}

// Reconciler re-applies the desired policies of a namespace whenever the namespace or one
// of its managed policies changes.
type Reconciler struct {
	Client  client.Client
	Desired DesiredFunc
}

// Reconcile implements reconcile.Reconciler; the request names a namespace.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var ns corev1.Namespace
	if err := r.Client.Get(ctx, types.NamespacedName{Name: req.Name}, &ns); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !ns.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	desired, err := r.Desired(ctx, req.Name)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("desired policies of %s: %w", req.Name, err)
	}
	return ctrl.Result{}, Apply(ctx, r.Client, req.Name, desired)
}

// SetupWithManager registers the reconciler; Client and Desired are required.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	switch {
	case r.Client == nil:
		return errors.New("reconcile: Reconciler.Client is required")
	case r.Desired == nil:
		return errors.New("reconcile: Reconciler.Desired is required")
	}
	ours := predicate.NewPredicateFuncs(func(o client.Object) bool {
		return o.GetLabels()[netpol.LabelManagedBy] == netpol.ManagedByValue
	})
	toNamespace := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: o.GetNamespace()}}}
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("vclusterkit-netpol").
		For(&corev1.Namespace{}).
		Watches(&networkingv1.NetworkPolicy{}, toNamespace, builder.WithPredicates(ours)).
		Complete(r)
}
