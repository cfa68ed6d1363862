package fleet

import (
	"context"
	"errors"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
)

// PlacementReconciler places the Spaces and VirtualClusters of the
// management API on clusters: spec.placement.cluster names one directly,
// spec.placement.claim through a bound ClusterClaim of the same tenant,
// and with neither the default rule applies (DefaultRule). The choice is
// written once into the AnnotationCluster annotation, where the cluster's
// Member finds it, and explained by the Placed condition; the
// ClusterReachable condition mirrors the cluster's Ready, so a lost
// cluster shows on what runs there. Nothing is ever moved or deleted.
type PlacementReconciler struct {
	// Client reads and writes the management API.
	Client client.Client
	// APIReader reads clusters and claims uncached; default the manager's.
	APIReader client.Reader
	// DefaultRule selects the clusters for objects that name neither a
	// claim nor a cluster: Place with a claim of the object's tenant with
	// this selector and no resources, so the first fitting cluster by
	// name. Nil selects every cluster.
	DefaultRule *metav1.LabelSelector
}

// SetupWithManager registers one controller for Spaces and one for
// VirtualClusters; Client is required.
func (r *PlacementReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Client == nil {
		return errors.New("fleet.PlacementReconciler: Client is required")
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	for _, kind := range []client.Object{&tenancy.Space{}, &vcluster.VirtualCluster{}} {
		all := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, _ client.Object) []ctrl.Request {
			return r.all(ctx, kind)
		})
		name := "fleet-placement-space"
		if _, ok := kind.(*vcluster.VirtualCluster); ok {
			name = "fleet-placement-virtualcluster"
		}
		if err := ctrl.NewControllerManagedBy(mgr).Named(name).For(kind).
			Watches(&Cluster{}, all).Watches(&ClusterClaim{}, all).Complete(reconcilerFor(r, kind)); err != nil {
			return err
		}
	}
	return nil
}

func (r *PlacementReconciler) all(ctx context.Context, kind client.Object) []ctrl.Request {
	var out []ctrl.Request
	switch kind.(type) {
	case *tenancy.Space:
		var l tenancy.SpaceList
		if err := r.Client.List(ctx, &l); err == nil {
			for _, o := range l.Items {
				out = append(out, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(&o)})
			}
		}
	default:
		var l vcluster.VirtualClusterList
		if err := r.Client.List(ctx, &l); err == nil {
			for _, o := range l.Items {
				out = append(out, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(&o)})
			}
		}
	}
	return out
}

// placed is what placement needs of a Space or a VirtualCluster.
type placed struct {
	obj        client.Object
	tenant     string
	cluster    string
	claim      string
	conditions *[]metav1.Condition
}

func asPlaced(o client.Object) placed {
	switch o := o.(type) {
	case *tenancy.Space:
		p := placed{obj: o, tenant: o.Spec.Tenant, conditions: &o.Status.Conditions}
		if o.Spec.Placement != nil {
			p.cluster, p.claim = o.Spec.Placement.Cluster, o.Spec.Placement.Claim
		}
		return p
	case *vcluster.VirtualCluster:
		p := placed{obj: o, tenant: o.Spec.Tenant, conditions: &o.Status.Conditions}
		if o.Spec.Placement != nil {
			p.cluster, p.claim = o.Spec.Placement.Cluster, o.Spec.Placement.Claim
		}
		return p
	}
	panic(fmt.Sprintf("fleet: cannot place %T", o))
}

func reconcilerFor(r *PlacementReconciler, kind client.Object) reconcile.Reconciler {
	return reconcile.Func(func(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
		return ctrl.Result{}, r.reconcile(ctx, req, kind)
	})
}

func (r *PlacementReconciler) reconcile(ctx context.Context, req ctrl.Request, kind client.Object) error {
	obj := kind.DeepCopyObject().(client.Object)
	if err := r.Client.Get(ctx, req.NamespacedName, obj); err != nil {
		return client.IgnoreNotFound(err)
	}
	if obj.GetDeletionTimestamp() != nil {
		return nil
	}
	p := asPlaced(obj)
	cluster := obj.GetAnnotations()[AnnotationCluster]
	if cluster == "" {
		var reason, msg string
		cluster, reason, msg = r.choose(ctx, p)
		if cluster == "" {
			return r.setStatus(ctx, obj, func(p placed) bool {
				return setCondition(p.conditions, p.obj.GetGeneration(), ConditionPlaced, metav1.ConditionFalse, reason, msg)
			})
		}
		// The annotation first: it is the binding; the condition follows.
		base := obj.DeepCopyObject().(client.Object)
		ann := obj.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		ann[AnnotationCluster] = cluster
		obj.SetAnnotations(ann)
		if err := r.Client.Patch(ctx, obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
			return err
		}
		ctrl.LoggerFrom(ctx).Info("placed", "cluster", cluster, "why", msg)
		if err := r.setStatus(ctx, obj, func(p placed) bool {
			return setCondition(p.conditions, p.obj.GetGeneration(), ConditionPlaced, metav1.ConditionTrue, "Placed", msg)
		}); err != nil {
			return err
		}
	}
	c := &Cluster{}
	status, reason, msg := metav1.ConditionFalse, "ClusterNotFound", fmt.Sprintf("cluster %s is not registered", cluster)
	if err := r.APIReader.Get(ctx, client.ObjectKey{Name: cluster}, c); err == nil {
		if ready := meta.FindStatusCondition(c.Status.Conditions, ConditionReady); ready != nil {
			status, reason, msg = ready.Status, ready.Reason, fmt.Sprintf("cluster %s: %s", cluster, ready.Message)
			if status == metav1.ConditionFalse {
				reason = ReasonUnreachable
			}
		} else {
			reason, msg = "ClusterUnknown", fmt.Sprintf("cluster %s has not been reached yet", cluster)
		}
	} else if !apierrors.IsNotFound(err) {
		return err
	}
	return r.setStatus(ctx, obj, func(p placed) bool {
		return setCondition(p.conditions, p.obj.GetGeneration(), ConditionClusterReachable, status, reason, msg)
	})
}

// choose resolves spec.placement, or the default rule, to a cluster.
func (r *PlacementReconciler) choose(ctx context.Context, p placed) (cluster, reason, msg string) {
	allowed, err := allowedClusters(ctx, r.APIReader, p.tenant)
	if err != nil {
		return "", "TenantInvalid", err.Error()
	}
	switch {
	case p.cluster != "":
		c := &Cluster{}
		if err := r.APIReader.Get(ctx, client.ObjectKey{Name: p.cluster}, c); err != nil {
			return "", "ClusterNotFound", fmt.Sprintf("spec.placement.cluster: %v", err)
		}
		if len(allowed) > 0 && !slices.Contains(allowed, p.cluster) {
			return "", "ClusterNotAllowed", fmt.Sprintf("spec.placement.cluster: %s is not in tenant %s's allowedClusters %v", p.cluster, p.tenant, allowed)
		}
		return p.cluster, "Placed", fmt.Sprintf("spec.placement.cluster names %s", p.cluster)
	case p.claim != "":
		claim := &ClusterClaim{}
		if err := r.APIReader.Get(ctx, client.ObjectKey{Name: p.claim}, claim); err != nil {
			return "", "ClaimNotFound", fmt.Sprintf("spec.placement.claim: %v", err)
		}
		if claim.Spec.Tenant != p.tenant {
			return "", "ClaimNotFound", fmt.Sprintf("spec.placement.claim: claim %s belongs to tenant %s, not %s", p.claim, claim.Spec.Tenant, p.tenant)
		}
		if claim.Status.Cluster == "" {
			msg := "not bound yet"
			if b := meta.FindStatusCondition(claim.Status.Conditions, ConditionBound); b != nil {
				msg = b.Message
			}
			return "", "ClaimNotBound", fmt.Sprintf("spec.placement.claim: claim %s: %s", p.claim, msg)
		}
		return claim.Status.Cluster, "Placed", fmt.Sprintf("claim %s is bound to %s", p.claim, claim.Status.Cluster)
	}
	clusters, err := clustersWithClaims(ctx, r.APIReader)
	if err != nil {
		return "", "Error", err.Error()
	}
	d, err := Place(&ClusterClaim{Spec: ClusterClaimSpec{Tenant: p.tenant, Selector: r.DefaultRule}}, clusters, allowed)
	if err != nil {
		return "", "Invalid", err.Error()
	}
	if d.Cluster == "" {
		return "", "NoCluster", "default placement: " + d.Reason
	}
	return d.Cluster, "Placed", "default placement: " + d.Reason
}

// setStatus applies change to the latest object and writes its status when
// it changed anything, retrying on conflicts (a Member copies status back
// too).
func (r *PlacementReconciler) setStatus(ctx context.Context, obj client.Object, change func(placed) bool) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		if !change(asPlaced(obj)) {
			return nil
		}
		return r.Client.Status().Update(ctx, obj)
	})
}
