package vclusterkit

import (
	"context"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/vclusterkit/vclusterkit/lifecycle"
	"github.com/vclusterkit/vclusterkit/quota"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
)

func (e *Engine) recorder(name string) lifecycle.Recorder {
	if e.opts.Recorder != nil {
		return e.opts.Recorder
	}
	return e.mgr.GetEventRecorder(name)
}

// setupTenants registers the Tenant controller: it validates the tree and
// the tenant's effective policy, keeps the quota ledger's tree current,
// reports usage, and on delete refuses (or cascades, when asked) while the
// tenant still owns anything.
func (e *Engine) setupTenants() error {
	r := &lifecycle.Reconciler[*tenancy.Tenant]{
		Name:      "tenant",
		Client:    e.client,
		Recorder:  e.recorder("vclusterkit-tenant"),
		Finalizer: FinalizerTenant,
		NewObject: func() *tenancy.Tenant { return &tenancy.Tenant{} },
		Status: lifecycle.StatusAccess[*tenancy.Tenant]{
			Conditions:         func(t *tenancy.Tenant) *[]metav1.Condition { return &t.Status.Conditions },
			ObservedGeneration: func(t *tenancy.Tenant) *int64 { return &t.Status.ObservedGeneration },
		},
		Provision: lifecycle.Steps[*tenancy.Tenant]{
			{Name: "PolicyValid", Run: e.tenantPolicyValid},
			{Name: "UsageReported", Run: e.tenantUsage},
		},
		Teardown: lifecycle.Steps[*tenancy.Tenant]{
			{Name: "SubtreeEmpty", Run: e.tenantSubtreeEmpty},
			{Name: "QuotaReleased", Run: e.tenantQuotaReleased},
		},
		ResyncAfter: e.resync(30 * time.Second),
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
		return e.ancestorRequests(ctx, tenant)
	})
	return r.SetupWithManager(e.mgr, func(b *ctrl.Builder) *ctrl.Builder {
		return b.Watches(&tenancy.Space{}, toAncestors).
			Watches(&vcluster.VirtualCluster{}, toAncestors).
			Watches(&tenancy.Tenant{}, toAncestors)
	})
}

func (e *Engine) resync(d time.Duration) time.Duration {
	if e.opts.ResyncPeriod != 0 {
		return e.opts.ResyncPeriod
	}
	return d
}

func (e *Engine) ancestorRequests(ctx context.Context, tenant string) []reconcile.Request {
	if tenant == "" {
		return nil
	}
	s, err := e.snapshot(ctx)
	if err != nil {
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: tenant}}}
	}
	var out []reconcile.Request
	for _, name := range s.tree.Path(tenant) {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKey{Name: name}})
	}
	return out
}

func (e *Engine) tenantPolicyValid(ctx context.Context, t *tenancy.Tenant) error {
	s, err := e.snapshot(ctx)
	if err != nil {
		return err
	}
	if err := s.invalid["tenant/"+t.Name]; err != nil {
		return lifecycle.Permanent(err)
	}
	if !s.tree.Has(t.Name) {
		return lifecycle.Permanent(fmt.Errorf("tenant %s is not part of a valid tree (its parent %q is missing or invalid)", t.Name, t.Spec.Parent))
	}
	if _, err := s.tree.EffectivePolicy(t.Name); err != nil {
		return lifecycle.Permanent(err)
	}
	if err := e.ledger.SetNodes(quota.Nodes(s.tenants, s.spaces)); err != nil {
		return lifecycle.Permanent(fmt.Errorf("quota tree: %w", err))
	}
	// A limit on a new object count starts following that resource.
	e.requestCountsSync()
	return nil
}

func (e *Engine) tenantUsage(ctx context.Context, t *tenancy.Tenant) error {
	s, err := e.snapshot(ctx)
	if err != nil {
		return err
	}
	used, own, err := e.usage(s, t.Name)
	if err != nil {
		return err
	}
	t.Status.Usage, t.Status.OwnUsage = used, own
	subtree := map[string]bool{}
	for _, n := range s.tree.Subtree(t.Name) {
		subtree[n] = true
	}
	var spaces, vcs int32
	for _, sp := range s.spaces {
		if subtree[sp.Spec.Tenant] {
			spaces++
		}
	}
	var vl vcluster.VirtualClusterList
	if err := e.client.List(ctx, &vl); err != nil {
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

// tenantSubtreeEmpty refuses to finish deleting a tenant that still owns
// child tenants, spaces or virtual clusters, listing them, unless the
// tenant carries AnnotationCascade: then it deletes them (children inherit
// the cascade) and waits for them to be gone.
func (e *Engine) tenantSubtreeEmpty(ctx context.Context, t *tenancy.Tenant) error {
	var tl tenancy.TenantList
	if err := e.client.List(ctx, &tl); err != nil {
		return err
	}
	var sl tenancy.SpaceList
	if err := e.client.List(ctx, &sl); err != nil {
		return err
	}
	var vl vcluster.VirtualClusterList
	if err := e.client.List(ctx, &vl); err != nil {
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
	if t.Annotations[AnnotationCascade] != "true" {
		return lifecycle.Wait(30*time.Second, "refused: tenant %s still has %s; delete them first, or annotate the tenant with %s=true to delete its whole subtree",
			t.Name, strings.Join(names, ", "), AnnotationCascade)
	}
	for _, o := range blockers {
		if ct, ok := o.(*tenancy.Tenant); ok && ct.Annotations[AnnotationCascade] != "true" {
			patch := client.MergeFrom(ct.DeepCopy())
			if ct.Annotations == nil {
				ct.Annotations = map[string]string{}
			}
			ct.Annotations[AnnotationCascade] = "true"
			if err := e.client.Patch(ctx, ct, patch); client.IgnoreNotFound(err) != nil {
				return err
			}
		}
		if o.GetDeletionTimestamp().IsZero() {
			if err := e.client.Delete(ctx, o); client.IgnoreNotFound(err) != nil {
				return err
			}
		}
	}
	return lifecycle.Wait(time.Second, "cascading: waiting for %s to be deleted", strings.Join(names, ", "))
}

// tenantQuotaReleased drops the tenant from the quota ledger's tree.
func (e *Engine) tenantQuotaReleased(ctx context.Context, t *tenancy.Tenant) error {
	s, err := e.snapshot(ctx)
	if err != nil {
		return err
	}
	var tenants []tenancy.Tenant
	for _, x := range s.tenants {
		if x.Name != t.Name {
			tenants = append(tenants, x)
		}
	}
	if err := e.ledger.SetNodes(quota.Nodes(tenants, s.spaces)); err == nil {
		return nil
	}
	// The subtree is empty by now: whatever the ledger still charges to
	// this tenant belongs to objects that are gone. Rebuild from what
	// exists; a reservation of an object never created lapses on its own.
	if e.tracker != nil && e.tracker.Context != nil {
		if err := e.resyncQuota(ctx); err != nil {
			return err
		}
	}
	if err := e.ledger.SetNodes(quota.Nodes(tenants, s.spaces)); err != nil {
		return lifecycle.Wait(10*time.Second, "quota: %v (reservations of objects never created lapse after their TTL)", err)
	}
	return nil
}
