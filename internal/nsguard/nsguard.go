// Package nsguard is the controller that keeps the engine's tenancy labels
// and owner references off namespaces the engine does not own: labelling a
// foreign namespace to look like a tenant's (to join its network, its quota
// or its RBAC) is undone and recorded as a Warning event on the namespace.
// A namespace the engine does own gets its labels back from the Space or
// VirtualCluster controller, not from here.
package nsguard

import (
	"context"
	"errors"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/vclusterkit/vclusterkit/internal/hostns"
	"github.com/vclusterkit/vclusterkit/lifecycle"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
)

// adoptionGrace is how long a freshly created namespace may carry engine
// labels before its owner has recorded its UID (the engine writes the
// namespace first, then the owner's annotation).
const adoptionGrace = time.Minute

// Reconciler guards namespaces. Its fields are required.
type Reconciler struct {
	// Client reads Spaces, VirtualClusters and namespaces and patches
	// namespaces.
	Client client.Client
	// Recorder records the Warning events.
	Recorder lifecycle.Recorder
}

// SetupWithManager registers the controller, after checking the fields.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	switch {
	case r.Client == nil:
		return errors.New("nsguard.Reconciler: Client is required")
	case r.Recorder == nil:
		return errors.New("nsguard.Reconciler: Recorder is required")
	}
	hasEngineLabel := predicate.NewPredicateFuncs(func(o client.Object) bool {
		for k := range o.GetLabels() {
			if hostns.IsEngineLabel(k) {
				return true
			}
		}
		return len(hostns.EngineOwnerRefs(o)) > 0
	})
	return ctrl.NewControllerManagedBy(mgr).Named("namespace-guard").
		For(&corev1.Namespace{}, builder.WithPredicates(hasEngineLabel)).
		Complete(r)
}

// Reconcile implements reconcile.Reconciler.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	ns := &corev1.Namespace{}
	if err := r.Client.Get(ctx, req.NamespacedName, ns); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !ns.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, nil
	}
	owned, retry, err := r.namespaceHasOwner(ctx, ns)
	if err != nil || owned {
		return reconcile.Result{RequeueAfter: retry}, err
	}
	patch := client.MergeFrom(ns.DeepCopy())
	var removed []string
	for k := range ns.Labels {
		if hostns.IsEngineLabel(k) {
			removed = append(removed, k)
			delete(ns.Labels, k)
		}
	}
	// An ownerReference to a Space or VirtualCluster would let the garbage
	// collector delete this foreign namespace with that object.
	if refs := hostns.EngineOwnerRefs(ns); len(refs) > 0 {
		var keep []metav1.OwnerReference
		for _, ref := range ns.OwnerReferences {
			if !hostns.IsEngineOwnerRef(ref) {
				keep = append(keep, ref)
			} else {
				removed = append(removed, "ownerReference "+ref.Kind+"/"+ref.Name)
			}
		}
		ns.OwnerReferences = keep
	}
	if len(removed) == 0 {
		return reconcile.Result{}, nil
	}
	if err := r.Client.Patch(ctx, ns, patch); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	r.Recorder.Eventf(ns, nil, corev1.EventTypeWarning, "EngineLabelsRemoved", "Guard",
		"namespace %s is owned by no Space or VirtualCluster; removed %s", ns.Name, strings.Join(removed, ", "))
	return reconcile.Result{}, nil
}

// namespaceHasOwner tells whether a Space or VirtualCluster owns ns: it
// recorded ns's UID, or it is named by ns's labels, has recorded nothing
// yet and ns is younger than adoptionGrace (then retry says when to look
// again).
func (r *Reconciler) namespaceHasOwner(ctx context.Context, ns *corev1.Namespace) (owned bool, retry time.Duration, err error) {
	var candidates []client.Object
	sp := &tenancy.Space{}
	switch err := r.Client.Get(ctx, client.ObjectKey{Name: ns.Name}, sp); {
	case err == nil:
		candidates = append(candidates, sp)
	case !apierrors.IsNotFound(err):
		return false, 0, err
	}
	if name := ns.Labels[vcluster.LabelVirtualCluster]; name != "" {
		var list vcluster.VirtualClusterList
		if err := r.Client.List(ctx, &list); err != nil {
			return false, 0, err
		}
		for i := range list.Items {
			if list.Items[i].Name == name && list.Items[i].EffectiveHostNamespace() == ns.Name {
				candidates = append(candidates, &list.Items[i])
			}
		}
	}
	for _, c := range candidates {
		uid := c.GetAnnotations()[tenancy.AnnotationNamespaceUID]
		if uid == string(ns.UID) {
			return true, 0, nil
		}
		if uid == "" {
			if age := time.Since(ns.CreationTimestamp.Time); age < adoptionGrace {
				return true, adoptionGrace - age, nil
			}
		}
	}
	return false, 0, nil
}
