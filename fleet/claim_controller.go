package fleet

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

// ClaimReconciler binds ClusterClaims to Clusters with Place. A binding is
// never changed: a claim whose cluster is lost stays bound to it (what
// runs there is not moved or deleted), and an unbound claim is tried
// again whenever a Cluster changes. It reconciles one claim at a time and
// counts the claims bound so far from the API server, so two claims never
// take the same free room.
type ClaimReconciler struct {
	// Client reads and writes the management API.
	Client client.Client
	// APIReader reads claims and clusters uncached; default the manager's.
	APIReader client.Reader
}

// SetupWithManager registers the reconciler; Client is required.
func (r *ClaimReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Client == nil {
		return errors.New("fleet.ClaimReconciler: Client is required")
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	return ctrl.NewControllerManagedBy(mgr).Named("fleet-clusterclaim").For(&ClusterClaim{}).
		Watches(&Cluster{}, handler.EnqueueRequestsFromMapFunc(r.unbound)).
		Watches(&tenancy.Tenant{}, handler.EnqueueRequestsFromMapFunc(r.unbound)).
		Complete(r)
}

func (r *ClaimReconciler) unbound(ctx context.Context, _ client.Object) []ctrl.Request {
	var claims ClusterClaimList
	if err := r.Client.List(ctx, &claims); err != nil {
		return nil
	}
	var out []ctrl.Request
	for _, c := range claims.Items {
		if c.Status.Cluster == "" {
			out = append(out, ctrl.Request{NamespacedName: client.ObjectKey{Name: c.Name}})
		}
	}
	return out
}

// Reconcile implements reconcile.Reconciler.
func (r *ClaimReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	claim := &ClusterClaim{}
	if err := r.APIReader.Get(ctx, req.NamespacedName, claim); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if claim.Status.Cluster != "" || claim.DeletionTimestamp != nil {
		return ctrl.Result{}, nil
	}
	patch := client.MergeFromWithOptions(claim.DeepCopy(), client.MergeFromWithOptimisticLock{})
	if err := r.bind(ctx, claim); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.Client.Status().Patch(ctx, claim, patch); err != nil {
		if apierrors.IsConflict(err) {
			return ctrl.Result{Requeue: true}, nil
		}
		return ctrl.Result{}, err
	}
	if claim.Status.Cluster != "" {
		ctrl.LoggerFrom(ctx).Info("claim bound", "claim", claim.Name, "cluster", claim.Status.Cluster)
	}
	return ctrl.Result{}, nil
}

func (r *ClaimReconciler) bind(ctx context.Context, claim *ClusterClaim) error {
	allowed, err := allowedClusters(ctx, r.APIReader, claim.Spec.Tenant)
	if err != nil {
		setCondition(&claim.Status.Conditions, claim.Generation, ConditionBound, metav1.ConditionFalse, "TenantInvalid", err.Error())
		return nil
	}
	clusters, err := clustersWithClaims(ctx, r.APIReader)
	if err != nil {
		return err
	}
	d, err := Place(claim, clusters, allowed)
	if err != nil {
		setCondition(&claim.Status.Conditions, claim.Generation, ConditionBound, metav1.ConditionFalse, "Invalid", err.Error())
		return nil
	}
	if d.Cluster == "" {
		setCondition(&claim.Status.Conditions, claim.Generation, ConditionBound, metav1.ConditionFalse, ReasonUnplaceable, d.Reason)
		return nil
	}
	claim.Status.Cluster = d.Cluster
	setCondition(&claim.Status.Conditions, claim.Generation, ConditionBound, metav1.ConditionTrue, "Placed", d.Reason)
	return nil
}

// clustersWithClaims lists the clusters with Status.Allocated counted
// afresh from the bound claims (the clusters' own status may lag).
func clustersWithClaims(ctx context.Context, rd client.Reader) ([]Cluster, error) {
	var clusters ClusterList
	if err := rd.List(ctx, &clusters); err != nil {
		return nil, err
	}
	var claims ClusterClaimList
	if err := rd.List(ctx, &claims); err != nil {
		return nil, err
	}
	held := map[string][]corev1.ResourceList{}
	for _, c := range claims.Items {
		if c.Status.Cluster != "" && c.DeletionTimestamp == nil {
			held[c.Status.Cluster] = append(held[c.Status.Cluster], c.Spec.Resources)
		}
	}
	for i := range clusters.Items {
		clusters.Items[i].Status.Allocated = Sum(held[clusters.Items[i].Name]...)
	}
	return clusters.Items, nil
}

// allowedClusters is the tenant's effective AllowedClusters (empty: all).
func allowedClusters(ctx context.Context, rd client.Reader, tenant string) ([]string, error) {
	var tenants tenancy.TenantList
	if err := rd.List(ctx, &tenants); err != nil {
		return nil, err
	}
	tree, err := tenancy.NewTree(tenants.Items, nil, tenancy.TreeOptions{})
	if err != nil {
		return nil, fmt.Errorf("tenant tree: %w", err)
	}
	if !tree.Has(tenant) {
		return nil, fmt.Errorf("spec.tenant: tenant %q not found", tenant)
	}
	p, err := tree.EffectivePolicy(tenant)
	if err != nil {
		return nil, fmt.Errorf("spec.tenant: %w", err)
	}
	return p.AllowedClusters, nil
}
