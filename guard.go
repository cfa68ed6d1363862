package vclusterkit

import (
	"context"
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

	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
)

// adoptionGrace is how long a freshly created namespace may carry engine
// labels before its owner has recorded its UID (the engine writes the
// namespace first, then the owner's annotation).
const adoptionGrace = time.Minute

// isEngineLabel reports whether key is one of the labels that carry
// tenancy on a namespace: quota, network isolation and RBAC all select
// namespaces by them, so only the engine may set them.
func isEngineLabel(key string) bool {
	return key == tenancy.LabelTenant || key == tenancy.LabelSpace || key == vcluster.LabelVirtualCluster || isTreeLabel(key)
}

// setupNamespaceGuard registers the controller that keeps engine labels off
// namespaces the engine does not own: labelling a foreign namespace to look
// like a tenant's (to join its network, its quota or its RBAC) is undone
// and recorded as a Warning event on the namespace. A namespace the engine
// does own gets its labels back from the Space or VirtualCluster
// controller.
func (e *Engine) setupNamespaceGuard() error {
	hasEngineLabel := predicate.NewPredicateFuncs(func(o client.Object) bool {
		for k := range o.GetLabels() {
			if isEngineLabel(k) {
				return true
			}
		}
		return len(engineOwnerRefs(o)) > 0
	})
	return ctrl.NewControllerManagedBy(e.mgr).Named("namespace-guard").
		For(&corev1.Namespace{}, builder.WithPredicates(hasEngineLabel)).
		Complete(reconcile.Func(e.guardNamespace))
}

func (e *Engine) guardNamespace(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	ns := &corev1.Namespace{}
	if err := e.client.Get(ctx, req.NamespacedName, ns); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !ns.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, nil
	}
	owned, retry, err := e.namespaceHasOwner(ctx, ns)
	if err != nil || owned {
		return reconcile.Result{RequeueAfter: retry}, err
	}
	patch := client.MergeFrom(ns.DeepCopy())
	var removed []string
	for k := range ns.Labels {
		if isEngineLabel(k) {
			removed = append(removed, k)
			delete(ns.Labels, k)
		}
	}
	// An ownerReference to a Space or VirtualCluster would let the garbage
	// collector delete this foreign namespace with that object.
	if refs := engineOwnerRefs(ns); len(refs) > 0 {
		var keep []metav1.OwnerReference
		for _, r := range ns.OwnerReferences {
			if !isEngineOwnerRef(r) {
				keep = append(keep, r)
			} else {
				removed = append(removed, "ownerReference "+r.Kind+"/"+r.Name)
			}
		}
		ns.OwnerReferences = keep
	}
	if len(removed) == 0 {
		return reconcile.Result{}, nil
	}
	if err := e.client.Patch(ctx, ns, patch); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	e.recorder("vclusterkit-namespace-guard").Eventf(ns, nil, corev1.EventTypeWarning, "EngineLabelsRemoved", "Guard",
		"namespace %s is owned by no Space or VirtualCluster; removed %s", ns.Name, strings.Join(removed, ", "))
	return reconcile.Result{}, nil
}

// namespaceHasOwner tells whether a Space or VirtualCluster owns ns: it
// recorded ns's UID, or it is named by ns's labels, has recorded nothing
// yet and ns is younger than adoptionGrace (then retry says when to look
// again).
func (e *Engine) namespaceHasOwner(ctx context.Context, ns *corev1.Namespace) (owned bool, retry time.Duration, err error) {
	var candidates []client.Object
	sp := &tenancy.Space{}
	switch err := e.client.Get(ctx, client.ObjectKey{Name: ns.Name}, sp); {
	case err == nil:
		candidates = append(candidates, sp)
	case !apierrors.IsNotFound(err):
		return false, 0, err
	}
	if name := ns.Labels[vcluster.LabelVirtualCluster]; name != "" {
		var list vcluster.VirtualClusterList
		if err := e.client.List(ctx, &list); err != nil {
			return false, 0, err
		}
		for i := range list.Items {
			if list.Items[i].Name == name && list.Items[i].EffectiveHostNamespace() == ns.Name {
				candidates = append(candidates, &list.Items[i])
			}
		}
	}
	for _, c := range candidates {
		uid := c.GetAnnotations()[AnnotationNamespaceUID]
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

func isEngineOwnerRef(r metav1.OwnerReference) bool {
	return strings.HasPrefix(r.APIVersion, tenancy.Group+"/") || strings.HasPrefix(r.APIVersion, vcluster.GroupVersion.Group+"/")
}

func engineOwnerRefs(o client.Object) []metav1.OwnerReference {
	var out []metav1.OwnerReference
	for _, r := range o.GetOwnerReferences() {
		if isEngineOwnerRef(r) {
			out = append(out, r)
		}
	}
	return out
}
