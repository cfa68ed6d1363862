package fleet

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
)

// Member brings one cluster in line with the management side: it copies
// the whole tenant tree (Tenants) and the Spaces and VirtualClusters placed
// on its cluster (AnnotationCluster) into the cluster, where that
// cluster's own Engine reconciles them, and copies their status back. It
// runs next to its cluster (in the agent, which connects out) or on the
// management side for a Credential cluster; either way it only ever makes
// outgoing calls to both APIs.
//
// It deletes a copy only when a complete read of the management API shows
// the source is gone, and only copies it made (LabelMirrored): a cut link
// is an error of that pass, which changes nothing, so losing the link
// never deletes anything; the next pass after the link returns converges.
type Member struct {
	// Cluster is the name of the Cluster this member serves; required.
	Cluster string
	// Management is a client of the management API; required.
	Management client.Client
	// Host is a client of the member cluster; required. Its scheme must
	// know the tenancy and vcluster types (AddToSchemes), and the CRDs
	// must be installed there (the member's Engine does it).
	Host client.Client
	// Interval between passes; zero means 5 s.
	Interval time.Duration
}

func (m *Member) check() error {
	switch {
	case m.Cluster == "":
		return errors.New("fleet.Member.Cluster: required")
	case m.Management == nil:
		return errors.New("fleet.Member.Management: required")
	case m.Host == nil:
		return errors.New("fleet.Member.Host: required")
	}
	return nil
}

// Start runs passes every Interval until ctx ends (a manager.Runnable). A
// failed pass is logged and retried at the next one.
func (m *Member) Start(ctx context.Context) error {
	if err := m.check(); err != nil {
		return err
	}
	interval := m.Interval
	if interval == 0 {
		interval = 5 * time.Second
	}
	log := ctrl.LoggerFrom(ctx).WithValues("cluster", m.Cluster)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := m.Sync(ctx); err != nil && ctx.Err() == nil {
			log.Info("fleet member: pass failed; nothing was deleted, retrying", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Sync makes one pass.
func (m *Member) Sync(ctx context.Context) error {
	if err := m.check(); err != nil {
		return err
	}
	var tenants tenancy.TenantList
	var spaces tenancy.SpaceList
	var vcs vcluster.VirtualClusterList
	for _, l := range []client.ObjectList{&tenants, &spaces, &vcs} {
		if err := m.Management.List(ctx, l); err != nil {
			return fmt.Errorf("reading the management API: %w", err)
		}
	}
	var errs []error
	want := map[string]bool{}
	for i := range tenants.Items {
		src := &tenants.Items[i]
		if src.DeletionTimestamp != nil {
			continue
		}
		want["t/"+src.Name] = true
		errs = append(errs, m.mirror(ctx, src, &tenancy.Tenant{}, func(dst client.Object) { dst.(*tenancy.Tenant).Spec = *src.Spec.DeepCopy() }))
	}
	for i := range spaces.Items {
		src := &spaces.Items[i]
		if src.Annotations[AnnotationCluster] != m.Cluster || src.DeletionTimestamp != nil {
			continue
		}
		want["s/"+src.Name] = true
		errs = append(errs, m.mirror(ctx, src, &tenancy.Space{}, func(dst client.Object) { dst.(*tenancy.Space).Spec = *src.Spec.DeepCopy() }))
		errs = append(errs, m.statusBack(ctx, src, &tenancy.Space{}))
	}
	for i := range vcs.Items {
		src := &vcs.Items[i]
		if src.Annotations[AnnotationCluster] != m.Cluster || src.DeletionTimestamp != nil {
			continue
		}
		want["v/"+src.Namespace+"/"+src.Name] = true
		if err := m.ensureNamespace(ctx, src.Namespace); err != nil {
			errs = append(errs, err)
			continue
		}
		errs = append(errs, m.mirror(ctx, src, &vcluster.VirtualCluster{}, func(dst client.Object) { dst.(*vcluster.VirtualCluster).Spec = *src.Spec.DeepCopy() }))
		errs = append(errs, m.statusBack(ctx, src, &vcluster.VirtualCluster{}))
	}
	if err := errors.Join(errs...); err != nil {
		return err // a partial pass deletes nothing
	}
	return m.prune(ctx, want)
}

// mirror creates or updates the host copy of src.
func (m *Member) mirror(ctx context.Context, src, dst client.Object, copySpec func(client.Object)) error {
	key := client.ObjectKeyFromObject(src)
	err := m.Host.Get(ctx, key, dst)
	switch {
	case apierrors.IsNotFound(err):
		dst.SetName(src.GetName())
		dst.SetNamespace(src.GetNamespace())
		dst.SetLabels(mirrorLabels(src, m.Cluster))
		dst.SetAnnotations(maps.Clone(src.GetAnnotations()))
		copySpec(dst)
		if err := m.Host.Create(ctx, dst); err != nil {
			return fmt.Errorf("creating %T %s on %s: %w", dst, key, m.Cluster, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("reading %T %s on %s: %w", dst, key, m.Cluster, err)
	}
	if dst.GetLabels()[LabelMirrored] != m.Cluster {
		return fmt.Errorf("%T %s exists on %s without the %s=%s label: not touching it", dst, key, m.Cluster, LabelMirrored, m.Cluster)
	}
	before := dst.DeepCopyObject().(client.Object)
	labels := dst.GetLabels()
	maps.Copy(labels, mirrorLabels(src, m.Cluster))
	dst.SetLabels(labels)
	ann := dst.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	maps.Copy(ann, src.GetAnnotations())
	dst.SetAnnotations(ann)
	copySpec(dst)
	if equality.Semantic.DeepEqual(before, dst) {
		return nil
	}
	if err := m.Host.Update(ctx, dst); err != nil {
		return fmt.Errorf("updating %T %s on %s: %w", dst, key, m.Cluster, err)
	}
	return nil
}

func mirrorLabels(src client.Object, cluster string) map[string]string {
	l := maps.Clone(src.GetLabels())
	if l == nil {
		l = map[string]string{}
	}
	l[LabelMirrored] = cluster
	return l
}

// statusBack copies the host copy's status to the management object,
// keeping the conditions the management side owns there (Placed,
// ClusterReachable).
func (m *Member) statusBack(ctx context.Context, src, hostObj client.Object) error {
	if err := m.Host.Get(ctx, client.ObjectKeyFromObject(src), hostObj); err != nil {
		return client.IgnoreNotFound(err)
	}
	dst := src.DeepCopyObject().(client.Object)
	switch d := dst.(type) {
	case *tenancy.Space:
		d.Status = *hostObj.(*tenancy.Space).Status.DeepCopy()
		keepFleetConditions(&d.Status.Conditions, src.(*tenancy.Space).Status.Conditions)
	case *vcluster.VirtualCluster:
		d.Status = *hostObj.(*vcluster.VirtualCluster).Status.DeepCopy()
		keepFleetConditions(&d.Status.Conditions, src.(*vcluster.VirtualCluster).Status.Conditions)
	}
	if equality.Semantic.DeepEqual(src, dst) {
		return nil
	}
	if err := m.Management.Status().Update(ctx, dst); err != nil && !apierrors.IsConflict(err) {
		return fmt.Errorf("copying status of %T %s back: %w", dst, client.ObjectKeyFromObject(src), err)
	}
	return nil
}

func keepFleetConditions(dst *[]metav1.Condition, mgmt []metav1.Condition) {
	for _, t := range []string{ConditionPlaced, ConditionClusterReachable} {
		meta.RemoveStatusCondition(dst, t)
		if c := meta.FindStatusCondition(mgmt, t); c != nil {
			*dst = append(*dst, *c)
		}
	}
}

// ensureNamespace creates a VirtualCluster's namespace on the host.
func (m *Member) ensureNamespace(ctx context.Context, name string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{LabelMirrored: m.Cluster}}}
	if err := m.Host.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s on %s: %w", name, m.Cluster, err)
	}
	return nil
}

// prune deletes the copies whose source is gone from the management API
// (want, from a complete read): virtual clusters, then spaces, then
// tenants, children first.
func (m *Member) prune(ctx context.Context, want map[string]bool) error {
	sel := client.MatchingLabels{LabelMirrored: m.Cluster}
	var errs []error
	var vcs vcluster.VirtualClusterList
	if err := m.Host.List(ctx, &vcs, sel); err != nil {
		return err
	}
	for i := range vcs.Items {
		if o := &vcs.Items[i]; !want["v/"+o.Namespace+"/"+o.Name] {
			errs = append(errs, client.IgnoreNotFound(m.Host.Delete(ctx, o)))
		}
	}
	var spaces tenancy.SpaceList
	if err := m.Host.List(ctx, &spaces, sel); err != nil {
		return err
	}
	for i := range spaces.Items {
		if o := &spaces.Items[i]; !want["s/"+o.Name] {
			errs = append(errs, client.IgnoreNotFound(m.Host.Delete(ctx, o)))
		}
	}
	var tenants tenancy.TenantList
	if err := m.Host.List(ctx, &tenants, sel); err != nil {
		return err
	}
	for i := range tenants.Items {
		if o := &tenants.Items[i]; !want["t/"+o.Name] {
			errs = append(errs, client.IgnoreNotFound(m.Host.Delete(ctx, o)))
		}
	}
	return errors.Join(errs...)
}
