package vclusterkit

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/lifecycle"
	"github.com/vclusterkit/vclusterkit/netpol"
	npreconcile "github.com/vclusterkit/vclusterkit/netpol/reconcile"
	"github.com/vclusterkit/vclusterkit/quota"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/tenancy/admissionpolicy"
	"github.com/vclusterkit/vclusterkit/vcluster"
)

// Labels the engine puts on what it creates in host namespaces.
const (
	// LabelManagedBy marks RoleBindings, Secrets and other objects the
	// engine owns; nothing without it is ever modified or deleted.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	managedBy      = "vclusterkit"
	// psaEnforce is the Pod Security Admission label the engine sets from
	// the tenant's effective pod security level.
	psaEnforce        = "pod-security.kubernetes.io/enforce"
	psaEnforceVersion = "pod-security.kubernetes.io/enforce-version"
)

// hostNamespace is what the engine makes of one host namespace, for a
// Space or for a VirtualCluster's host namespace.
type hostNamespace struct {
	Name           string
	Tenant         string
	Space          string // set for a space's namespace
	VirtualCluster string // set for a virtual cluster's host namespace
	Quota          corev1.ResourceList
	ExtraLabels    map[string]string
	// Owner is the Space or VirtualCluster the namespace is for; the UID
	// of the namespace it created is recorded on it (AnnotationNamespaceUID),
	// which is how the engine knows its namespace even after someone
	// rewrote the namespace's labels.
	Owner client.Object
}

// AnnotationNamespaceUID on a Space or VirtualCluster records the UID of
// the host namespace the engine created for it.
const AnnotationNamespaceUID = "tenancy.vclusterkit.io/namespace-uid"

// snapshot is a consistent view of the tenant tree for one reconcile.
// Tenants and spaces that are invalid (a child loosening its parent's
// policy, a cycle, a missing parent) are left out of the tree and listed
// in invalid with their own errors, so one bad object never stops the
// engine from reconciling every other tenant.
type snapshot struct {
	tenants []tenancy.Tenant
	spaces  []tenancy.Space
	tree    *tenancy.Tree
	invalid map[string]error // "tenant/<name>" or "space/<name>"
}

// snapshot returns the current tree (shared, read-only: callers copy before
// they change anything), from the snapshot cache when it is armed.
func (e *Engine) snapshot(ctx context.Context) (*snapshot, error) {
	if e.snapshots != nil {
		return e.snapshots.get(ctx, e.buildSnapshot)
	}
	return e.buildSnapshot(ctx)
}

func (e *Engine) buildSnapshot(ctx context.Context) (*snapshot, error) {
	tl, err := e.store.ListTenants(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing tenants: %w", err)
	}
	sl, err := e.store.ListSpaces(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing spaces: %w", err)
	}
	s := &snapshot{tenants: tl.Items, spaces: sl.Items, invalid: map[string]error{}}
	for {
		s.tree, err = tenancy.NewTree(s.tenants, s.spaces, tenancy.TreeOptions{})
		if err == nil {
			return s, nil
		}
		var inv *tenancy.InvalidError
		if !errors.As(err, &inv) {
			return nil, fmt.Errorf("tenant tree: %w", err)
		}
		bad := map[string]field.ErrorList{}
		for _, fe := range inv.Errs {
			if key := offender(fe.Field); key != "" {
				bad[key] = append(bad[key], fe)
			}
		}
		if len(bad) == 0 {
			return nil, fmt.Errorf("tenant tree: %w", err)
		}
		for key, errs := range bad {
			s.invalid[key] = errs.ToAggregate()
		}
		// Without the offenders; their children then miss a parent and
		// are left out on the next round, with that as their reason.
		s.tenants = slices.DeleteFunc(slices.Clone(s.tenants), func(t tenancy.Tenant) bool { return bad["tenant/"+t.Name] != nil })
		s.spaces = slices.DeleteFunc(slices.Clone(s.spaces), func(sp tenancy.Space) bool { return bad["space/"+sp.Name] != nil })
	}
}

// offender turns a tree validation path ("tenants[x].spec.parent") into
// "tenant/x".
func offender(path string) string {
	for _, kind := range []string{"tenants", "spaces"} {
		if rest, ok := strings.CutPrefix(path, kind+"["); ok {
			if name, _, ok := strings.Cut(rest, "]"); ok {
				return strings.TrimSuffix(kind, "s") + "/" + name
			}
		}
	}
	return ""
}

// engineLabels are the labels that carry tenancy on a host namespace. A
// tenant may not change them: the reconcile puts them back.
func engineLabels(s *snapshot, hn hostNamespace) map[string]string {
	l := map[string]string{tenancy.LabelTenant: hn.Tenant}
	maps.Copy(l, s.tree.TreeLabels(hn.Tenant))
	if hn.Space != "" {
		l[tenancy.LabelSpace] = hn.Space
	}
	if hn.VirtualCluster != "" {
		l[vcluster.LabelVirtualCluster] = hn.VirtualCluster
	}
	return l
}

// ensureNamespace creates the namespace or brings its tenancy labels back
// to what the tree says. A namespace that exists but belongs to no tenant,
// or to another one, is never adopted.
func (e *Engine) ensureNamespace(ctx context.Context, s *snapshot, hn hostNamespace) error {
	pol, err := s.tree.EffectivePolicy(hn.Tenant)
	if err != nil {
		return lifecycle.Permanent(err)
	}
	want := map[string]string{}
	maps.Copy(want, pol.RequiredNamespaceLabels)
	maps.Copy(want, hn.ExtraLabels)
	level := string(pol.PodSecurity)
	if level == "" {
		level = string(tenancy.PodSecurityBaseline)
	}
	want[psaEnforce] = level
	want[psaEnforceVersion] = "latest"
	// Engine labels last: nothing a tenant sets can override them.
	maps.Copy(want, engineLabels(s, hn))

	ns := &corev1.Namespace{}
	err = e.client.Get(ctx, client.ObjectKey{Name: hn.Name}, ns)
	if apierrors.IsNotFound(err) {
		annotations := maps.Clone(pol.RequiredNamespaceAnnotations)
		if hn.Space != "" {
			// A space's namespace is born with its policy annotations, so
			// the space admission policy never has to refuse a member for
			// want of them (an unencodable policy leaves that to the policy
			// reconcile, which reports it).
			if pa, err := admissionpolicy.SpaceAnnotations(hn.Tenant, pol); err == nil {
				if annotations == nil {
					annotations = map[string]string{}
				}
				maps.Copy(annotations, pa)
			}
		}
		ns = &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: hn.Name, Labels: want, Annotations: annotations}}
		if err := e.client.Create(ctx, ns); err != nil {
			return err
		}
		return e.recordNamespace(ctx, hn.Owner, ns)
	}
	if err != nil {
		return err
	}
	if !ns.DeletionTimestamp.IsZero() {
		return lifecycle.Wait(0, "namespace %s is still being deleted", hn.Name)
	}
	if !e.ownsNamespace(hn, ns) {
		return lifecycle.Permanent(fmt.Errorf("namespace %s exists and was not created for this %s; a namespace is never adopted", hn.Name, ownerKind(hn)))
	}
	if err := e.recordNamespace(ctx, hn.Owner, ns); err != nil {
		return err
	}
	patch := client.MergeFrom(ns.DeepCopy())
	if ns.Labels == nil {
		ns.Labels = map[string]string{}
	}
	// Tree labels of ancestors the tenant no longer has (re-parenting) go.
	for k := range ns.Labels {
		if _, keep := want[k]; !keep && isTreeLabel(k) {
			delete(ns.Labels, k)
		}
	}
	maps.Copy(ns.Labels, want)
	// The engine deletes its namespaces itself, in teardown order; an
	// ownerReference to one of its objects (set by someone else) would let
	// the garbage collector do it out of order.
	if refs := engineOwnerRefs(ns); len(refs) > 0 {
		var keep []metav1.OwnerReference
		for _, r := range ns.OwnerReferences {
			if !isEngineOwnerRef(r) {
				keep = append(keep, r)
			}
		}
		ns.OwnerReferences = keep
	}
	if ns.Annotations == nil && len(pol.RequiredNamespaceAnnotations) > 0 {
		ns.Annotations = map[string]string{}
	}
	maps.Copy(ns.Annotations, pol.RequiredNamespaceAnnotations)
	return e.client.Patch(ctx, ns, patch)
}

// ownsNamespace tells whether ns is the namespace the engine made for
// hn.Owner: its UID is the one recorded on the owner, or (when the owner has
// none recorded yet, after a crash between creating and recording) its
// engine labels name the owner.
func (e *Engine) ownsNamespace(hn hostNamespace, ns *corev1.Namespace) bool {
	if hn.Owner != nil {
		if uid := hn.Owner.GetAnnotations()[AnnotationNamespaceUID]; uid != "" {
			return uid == string(ns.UID)
		}
	}
	l := ns.Labels
	if l[tenancy.LabelTenant] != hn.Tenant {
		return false
	}
	if hn.Space != "" {
		return l[tenancy.LabelSpace] == hn.Space
	}
	return hn.VirtualCluster != "" && l[vcluster.LabelVirtualCluster] == hn.VirtualCluster
}

func ownerKind(hn hostNamespace) string {
	if hn.Space != "" {
		return "space"
	}
	return "virtual cluster"
}

// recordNamespace writes ns's UID on owner (metadata, not status: only
// platform admins may edit Spaces and VirtualClusters).
func (e *Engine) recordNamespace(ctx context.Context, owner client.Object, ns *corev1.Namespace) error {
	if owner == nil || owner.GetAnnotations()[AnnotationNamespaceUID] == string(ns.UID) {
		return nil
	}
	patch := client.MergeFrom(owner.DeepCopyObject().(client.Object))
	a := owner.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[AnnotationNamespaceUID] = string(ns.UID)
	owner.SetAnnotations(a)
	return e.client.Patch(ctx, owner, patch)
}

func isTreeLabel(k string) bool {
	const suffix = ".tree." + tenancy.Group + "/depth"
	return len(k) > len(suffix) && k[len(k)-len(suffix):] == suffix
}

// namespaceQuota is the hard limit for one namespace: its own quota if it
// has one, capped by every limit on its tenant's path (no namespace can use
// more than the tightest ancestor allows for the whole subtree).
func namespaceQuota(s *snapshot, tenant string, own corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{}
	for k, v := range own {
		out[k] = v.DeepCopy()
	}
	for _, name := range s.tree.Path(tenant) {
		t := s.tree.Tenant(name)
		if t == nil {
			continue
		}
		for k, v := range t.Spec.Quota {
			if cur, ok := out[k]; !ok || v.Cmp(cur) < 0 {
				out[k] = v.DeepCopy()
			}
		}
	}
	return out
}

// ensureQuota applies the ResourceQuota and LimitRange of a namespace, or
// removes ours when there is nothing to limit.
func (e *Engine) ensureQuota(ctx context.Context, s *snapshot, hn hostNamespace) error {
	limits := namespaceQuota(s, hn.Tenant, hn.Quota)
	if rq := quota.RenderResourceQuota(hn.Name, hn.Tenant, limits); rq != nil {
		if err := e.apply(ctx, rq); err != nil {
			return fmt.Errorf("ResourceQuota: %w", err)
		}
	} else if err := e.deleteIfOurs(ctx, &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Namespace: hn.Name, Name: quota.ObjectName}}); err != nil {
		return err
	}
	if lr := quota.RenderLimitRange(hn.Name, hn.Tenant, quota.EffectiveLimitRange(s.tenants, hn.Tenant)); lr != nil {
		if err := e.apply(ctx, lr); err != nil {
			return fmt.Errorf("LimitRange: %w", err)
		}
	} else if err := e.deleteIfOurs(ctx, &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Namespace: hn.Name, Name: quota.ObjectName}}); err != nil {
		return err
	}
	return nil
}

// ensureNetworkPolicies makes the generated policies of a namespace exactly
// the ones present: missing ones created, edited ones put back, stale ones
// deleted. Policies without our label are never touched.
func (e *Engine) ensureNetworkPolicies(ctx context.Context, s *snapshot, hn hostNamespace, mode tenancy.IsolationMode) error {
	target, err := netpol.TargetFor(s.tenants, hn.Tenant, hn.Name, hn.VirtualCluster)
	if err != nil {
		return lifecycle.Permanent(err)
	}
	if mode != "" && isolationRank(mode) > isolationRank(target.Mode) {
		target.Mode = mode
	}
	policies, err := netpol.Generate(target, e.opts.NetworkPolicy)
	if err != nil {
		return lifecycle.Permanent(err)
	}
	return npreconcile.Apply(ctx, e.client, hn.Name, policies)
}

func isolationRank(m tenancy.IsolationMode) int {
	switch m {
	case tenancy.IsolationStrict:
		return 2
	case tenancy.IsolationTenant:
		return 1
	}
	return 0
}

// clusterRoleFor maps a tenant role to the built-in aggregated ClusterRole
// that grants it inside one namespace.
func clusterRoleFor(r tenancy.Role) string {
	switch r {
	case tenancy.RoleAdmin:
		return "admin"
	case tenancy.RoleEdit:
		return "edit"
	default:
		return "view"
	}
}

// ensureAccess makes the member RoleBindings of a namespace match the
// tenant's effective members (inherited from ancestors).
func (e *Engine) ensureAccess(ctx context.Context, s *snapshot, hn hostNamespace) error {
	members, err := s.tree.EffectiveMembers(hn.Tenant)
	if err != nil {
		return lifecycle.Permanent(err)
	}
	keep := map[string]bool{}
	for _, m := range members {
		kind := rbacv1.UserKind
		if m.Kind == tenancy.MemberGroup {
			kind = rbacv1.GroupKind
		}
		rb := &rbacv1.RoleBinding{
			TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
			ObjectMeta: metav1.ObjectMeta{
				Name:      memberBindingName(m.Member),
				Namespace: hn.Name,
				Labels:    map[string]string{LabelManagedBy: managedBy, tenancy.LabelTenant: hn.Tenant},
				Annotations: map[string]string{
					"tenancy.vclusterkit.io/granted-by": m.From,
				},
			},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: clusterRoleFor(m.Role)},
			Subjects: []rbacv1.Subject{{Kind: kind, APIGroup: rbacv1.GroupName, Name: m.Name}},
		}
		keep[rb.Name] = true
		existing := &rbacv1.RoleBinding{}
		err := e.client.Get(ctx, client.ObjectKeyFromObject(rb), existing)
		switch {
		case apierrors.IsNotFound(err):
			if err := e.client.Create(ctx, rb); err != nil {
				return err
			}
		case err != nil:
			return err
		case existing.RoleRef != rb.RoleRef:
			// roleRef is immutable: replace the binding.
			if err := e.client.Delete(ctx, existing); client.IgnoreNotFound(err) != nil {
				return err
			}
			if err := e.client.Create(ctx, rb); err != nil {
				return err
			}
		default:
			if err := e.apply(ctx, rb); err != nil {
				return err
			}
		}
	}
	return e.revokeAccess(ctx, hn.Name, keep)
}

// revokeAccess deletes our member RoleBindings in namespace except keep.
func (e *Engine) revokeAccess(ctx context.Context, namespace string, keep map[string]bool) error {
	var list rbacv1.RoleBindingList
	if err := e.client.List(ctx, &list, client.InNamespace(namespace), client.MatchingLabels{LabelManagedBy: managedBy}); err != nil {
		return err
	}
	for i := range list.Items {
		if !keep[list.Items[i].Name] {
			if err := client.IgnoreNotFound(e.client.Delete(ctx, &list.Items[i])); err != nil {
				return err
			}
		}
	}
	return nil
}

func memberBindingName(m tenancy.Member) string {
	return "vclusterkit-" + lowerKind(m.Kind) + "-" + dnsSafe(m.Name)
}

func lowerKind(k tenancy.MemberKind) string {
	if k == tenancy.MemberGroup {
		return "group"
	}
	return "user"
}

// deleteNamespace deletes a namespace the engine created and waits until it
// is gone, so that quota and names are free when teardown finishes.
func (e *Engine) deleteNamespace(ctx context.Context, hn hostNamespace) error {
	name := hn.Name
	ns := &corev1.Namespace{}
	if err := e.client.Get(ctx, client.ObjectKey{Name: name}, ns); err != nil {
		return client.IgnoreNotFound(err)
	}
	if !e.ownsNamespace(hn, ns) {
		// Never ours: leave it alone.
		return nil
	}
	if ns.DeletionTimestamp.IsZero() {
		if err := e.client.Delete(ctx, ns); client.IgnoreNotFound(err) != nil {
			return err
		}
	}
	return lifecycle.Wait(0, "waiting for namespace %s to be deleted", name)
}

// apply writes obj with server-side apply as the engine's field manager,
// taking ownership of the fields it sets (a hand edit is put back).
func (e *Engine) apply(ctx context.Context, obj client.Object) error {
	gvk, err := e.client.GroupVersionKindFor(obj)
	if err != nil {
		return err
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	obj.SetResourceVersion("")
	obj.SetManagedFields(nil)
	return e.client.Patch(ctx, obj, client.Apply, client.FieldOwner(fieldOwner), client.ForceOwnership) //nolint:staticcheck // SSA through Patch works for typed objects
}

func (e *Engine) deleteIfOurs(ctx context.Context, obj client.Object) error {
	if err := e.client.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
		return client.IgnoreNotFound(err)
	}
	if !ours(obj) {
		return nil
	}
	return client.IgnoreNotFound(e.client.Delete(ctx, obj))
}

func ours(obj client.Object) bool {
	l := obj.GetLabels()
	return l[LabelManagedBy] == managedBy || l[netpol.LabelManagedBy] == netpol.ManagedByValue || l[tenancy.LabelTenant] != ""
}

// usage is a tenant's observed usage from the quota ledger, which charges
// every pod, claim, Service and counted object of its namespaces: the whole
// subtree, and its own part (its node and the nodes of its spaces with a
// quota of their own, without its child tenants).
func (e *Engine) usage(s *snapshot, tenant string) (subtree, own corev1.ResourceList, err error) {
	u, err := e.ledger.Usage(tenant)
	if err != nil {
		return nil, nil, err
	}
	own = u.Own
	for i := range s.spaces {
		sp := &s.spaces[i]
		if sp.Spec.Tenant != tenant || len(sp.Spec.Quota) == 0 {
			continue
		}
		su, err := e.ledger.Usage(quota.SpaceNode(sp.Name))
		if err != nil {
			// Not in the ledger yet (the tree is loaded by the tenant's
			// reconcile): it holds nothing yet either.
			continue
		}
		for k, v := range su.Subtree {
			cur := own[k]
			cur.Add(v)
			own[k] = cur
		}
	}
	return u.Subtree, own, nil
}

// namespaceUsage is what the API server's own quota counts in a namespace:
// the status of the ResourceQuota the engine renders there (the limited
// resources only; nil when the namespace has none).
func (e *Engine) namespaceUsage(ctx context.Context, namespace string) (corev1.ResourceList, error) {
	var rq corev1.ResourceQuota
	err := e.client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: quota.ObjectName}, &rq)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return rq.Status.Used, nil
}

// olderThan orders objects by creation time, then namespace and name (the
// API server stamps whole seconds), so that of two objects created in the
// same second both sides agree which came first.
func olderThan(a, b client.Object) bool {
	ta, tb := a.GetCreationTimestamp(), b.GetCreationTimestamp()
	if !ta.Equal(&tb) {
		return ta.Before(&tb)
	}
	if a.GetNamespace() != b.GetNamespace() {
		return a.GetNamespace() < b.GetNamespace()
	}
	return a.GetName() < b.GetName()
}
