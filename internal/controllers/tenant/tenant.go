// Package tenant is the engine's Tenant controller: it validates the tree
// and the tenant's effective policy, keeps the quota ledger's tree current,
// reports usage, and on delete refuses (or cascades, when asked with
// tenancy.tenancy.AnnotationCascade) while the tenant still owns anything.
package tenant

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/vclusterkit/vclusterkit/internal/hostns"
	"github.com/vclusterkit/vclusterkit/internal/quotaenforce"
	"github.com/vclusterkit/vclusterkit/internal/snapshot"
	"github.com/vclusterkit/vclusterkit/lifecycle"
	"github.com/vclusterkit/vclusterkit/quota"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
)

// Reconciler reconciles Tenants. Fields without "optional" are required;
// SetupWithManager checks them.
type Reconciler struct {
	Client    client.Client
	Recorder  lifecycle.Recorder
	Snapshots *snapshot.Reader
	Ledger    *quota.Ledger
	Quota     *quotaenforce.Enforcer
	// ResyncAfter requeues Ready tenants; zero means 30 s.
	ResyncAfter time.Duration
	// Customize edits the steps; optional.
	Customize lifecycle.Customize[*tenancy.Tenant]
}

// SetupWithManager registers the controller with mgr.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	switch {
	case r.Client == nil:
		return errors.New("tenant.Reconciler: Client is required")
	case r.Recorder == nil:
		return errors.New("tenant.Reconciler: Recorder is required")
	case r.Snapshots == nil:
		return errors.New("tenant.Reconciler: Snapshots is required")
	case r.Ledger == nil:
		return errors.New("tenant.Reconciler: Ledger is required")
	case r.Quota == nil:
		return errors.New("tenant.Reconciler: Quota is required")
	}
	resync := r.ResyncAfter
	if resync == 0 {
		resync = 30 * time.Second
	}
	lr := &lifecycle.Reconciler[*tenancy.Tenant]{
		Name:      "tenant",
		Client:    r.Client,
		Recorder:  r.Recorder,
		Finalizer: tenancy.FinalizerTenant,
		NewObject: func() *tenancy.Tenant { return &tenancy.Tenant{} },
		Status: lifecycle.StatusAccess[*tenancy.Tenant]{
			Conditions:         func(t *tenancy.Tenant) *[]metav1.Condition { return &t.Status.Conditions },
			ObservedGeneration: func(t *tenancy.Tenant) *int64 { return &t.Status.ObservedGeneration },
		},
		Provision: lifecycle.Steps[*tenancy.Tenant]{
			{Name: "PolicyValid", Run: r.policyValid},
			{Name: "UsageReported", Run: r.usage},
		},
		Teardown: lifecycle.Steps[*tenancy.Tenant]{
			{Name: "SubtreeEmpty", Run: r.subtreeEmpty},
			{Name: "QuotaReleased", Run: r.quotaReleased},
		},
		ResyncAfter: resync,
	}
	if err := r.Customize.Apply(lr); err != nil {
		return err
	}
	// A change to a space or a virtual cluster changes the usage and counts
	// of its tenant and every ancestor.
	toAncestors := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		var tenant string
		switch v := o.(type) {
		case *tenancy.Space:
			tenant = v.Spec.Tenant
		case *vcluster.VirtualCluster:
			tenant = v.Spec.Tenant
		case *tenancy.Tenant:
			tenant = v.Spec.Parent
		}
		return r.ancestorRequests(ctx, tenant)
	})
	return lr.SetupWithManager(mgr, func(b *ctrl.Builder) *ctrl.Builder {
		return b.Watches(&tenancy.Space{}, toAncestors).
			Watches(&vcluster.VirtualCluster{}, toAncestors).
			Watches(&tenancy.Tenant{}, toAncestors)
	})
}

func (r *Reconciler) ancestorRequests(ctx context.Context, tenant string) []reconcile.Request {
	if tenant == "" {
		return nil
	}
	s, err := r.Snapshots.Get(ctx)
	if err != nil {
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: tenant}}}
	}
	var out []reconcile.Request
	for _, name := range s.Tree.Path(tenant) {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKey{Name: name}})
	}
	return out
}

func (r *Reconciler) policyValid(ctx context.Context, t *tenancy.Tenant) error {
	s, err := r.Snapshots.Get(ctx)
	if err != nil {
		return err
	}
	if err := s.InvalidErr(tenancy.KindTenant, t.Name); err != nil {
		return lifecycle.Permanent(err)
	}
	if !s.Tree.Has(t.Name) {
		return lifecycle.Permanent(fmt.Errorf("tenant %s is not part of a valid tree (its parent %q is missing or invalid)", t.Name, t.Spec.Parent))
	}
	if _, err := s.Tree.EffectivePolicy(t.Name); err != nil {
		return lifecycle.Permanent(err)
	}
	if err := r.Ledger.SetNodes(quota.Nodes(s.Tenants, s.Spaces)); err != nil {
		return lifecycle.Permanent(fmt.Errorf("quota tree: %w", err))
	}
	// A limit on a new object count starts following that resource.
	r.Quota.RequestCountsSync()
	return nil
}

func (r *Reconciler) usage(ctx context.Context, t *tenancy.Tenant) error {
	s, err := r.Snapshots.Get(ctx)
	if err != nil {
		return err
	}
	used, own, err := hostns.Usage(r.Ledger, s, t.Name)
	if err != nil {
		return err
	}
	t.Status.Usage, t.Status.OwnUsage = used, own
	subtree := map[string]bool{}
	for _, n := range s.Tree.Subtree(t.Name) {
		subtree[n] = true
	}
	var spaces, vcs int32
	for _, sp := range s.Spaces {
		if subtree[sp.Spec.Tenant] {
			spaces++
		}
	}
	var vl vcluster.VirtualClusterList
	if err := r.Client.List(ctx, &vl); err != nil {
		return err
	}
	for _, vc := range vl.Items {
		if subtree[vc.Spec.Tenant] {
			vcs++
		}
	}
	t.Status.Spaces, t.Status.VirtualClusters = spaces, vcs
	return nil
}

// subtreeEmpty refuses to finish deleting a tenant that still owns
// child tenants, spaces or virtual clusters, listing them, unless the
// tenant carries tenancy.AnnotationCascade: then it deletes them (children inherit
// the cascade) and waits for them to be gone.
func (r *Reconciler) subtreeEmpty(ctx context.Context, t *tenancy.Tenant) error {
	var tl tenancy.TenantList
	if err := r.Client.List(ctx, &tl); err != nil {
		return err
	}
	var sl tenancy.SpaceList
	if err := r.Client.List(ctx, &sl); err != nil {
		return err
	}
	var vl vcluster.VirtualClusterList
	if err := r.Client.List(ctx, &vl); err != nil {
		return err
	}
	var blockers []client.Object
	var names []string
	for i := range tl.Items {
		if tl.Items[i].Spec.Parent == t.Name {
			blockers = append(blockers, &tl.Items[i])
			names = append(names, "tenant/"+tl.Items[i].Name)
		}
	}
	for i := range sl.Items {
		if sl.Items[i].Spec.Tenant == t.Name {
			blockers = append(blockers, &sl.Items[i])
			names = append(names, "space/"+sl.Items[i].Name)
		}
	}
	for i := range vl.Items {
		if vl.Items[i].Spec.Tenant == t.Name {
			blockers = append(blockers, &vl.Items[i])
			names = append(names, "virtualcluster/"+vl.Items[i].Namespace+"/"+vl.Items[i].Name)
		}
	}
	if len(blockers) == 0 {
		return nil
	}
	if t.Annotations[tenancy.AnnotationCascade] != "true" {
		return lifecycle.Wait(30*time.Second, "refused: tenant %s still has %s; delete them first, or annotate the tenant with %s=true to delete its whole subtree",
			t.Name, strings.Join(names, ", "), tenancy.AnnotationCascade)
	}
	for _, o := range blockers {
		if ct, ok := o.(*tenancy.Tenant); ok && ct.Annotations[tenancy.AnnotationCascade] != "true" {
			patch := client.MergeFrom(ct.DeepCopy())
			if ct.Annotations == nil {
				ct.Annotations = map[string]string{}
			}
			ct.Annotations[tenancy.AnnotationCascade] = "true"
			if err := r.Client.Patch(ctx, ct, patch); client.IgnoreNotFound(err) != nil {
				return err
			}
		}
		if o.GetDeletionTimestamp().IsZero() {
			if err := r.Client.Delete(ctx, o); client.IgnoreNotFound(err) != nil {
				return err
			}
		}
	}
	return lifecycle.Wait(time.Second, "cascading: waiting for %s to be deleted", strings.Join(names, ", "))
}

// quotaReleased drops the tenant from the quota ledger's tree.
func (r *Reconciler) quotaReleased(ctx context.Context, t *tenancy.Tenant) error {
	s, err := r.Snapshots.Get(ctx)
	if err != nil {
		return err
	}
	var tenants []tenancy.Tenant
	for _, x := range s.Tenants {
		if x.Name != t.Name {
			tenants = append(tenants, x)
		}
	}
	if err := r.Ledger.SetNodes(quota.Nodes(tenants, s.Spaces)); err == nil {
		return nil
	}
	// The subtree is empty by now: whatever the ledger still charges to
	// this tenant belongs to objects that are gone. Rebuild from what
	// exists (reservations of creates that never happened go with the
	// node, they never hold it back).
	if r.Quota.Tracking() {
		if err := r.Quota.Resync(ctx); err != nil {
			return fmt.Errorf("quota resync: %w", err)
		}
	}
	if err := r.Ledger.SetNodes(quota.Nodes(tenants, s.Spaces)); err != nil {
		return lifecycle.Wait(10*time.Second, "quota: %v; %s", err, held(r.Ledger, t.Name))
	}
	return nil
}

// held says what the ledger still charges to node, so a deletion that
// waits on it can be diagnosed: the committed usage by resource, how many
// objects it is, and a few of their ledger keys (host UIDs, or virtual
// pods' UIDs).
func held(l *quota.Ledger, node string) string {
	var uids []string
	n := 0
	for _, e := range l.Entries() {
		if e.Node != node || !e.Committed {
			continue
		}
		n++
		if len(uids) < 3 {
			uids = append(uids, string(e.UID))
		}
	}
	if n == 0 {
		return fmt.Sprintf("tenant %s itself holds no committed usage (a descendant or space node does)", node)
	}
	u, err := l.Usage(node)
	if err != nil {
		return err.Error()
	}
	var res []string
	for name, q := range u.Own {
		res = append(res, fmt.Sprintf("%s: %s", name, q.String()))
	}
	sort.Strings(res)
	more := ""
	if n > len(uids) {
		more = ", …"
	}
	return fmt.Sprintf("tenant %s is still charged %s by %d object(s) the engine last saw (ledger keys %s%s); "+
		"a charge is dropped when its object's delete is seen or by the quota resync (every minute) once the object is gone",
		node, strings.Join(res, ", "), n, strings.Join(uids, ", "), more)
}
