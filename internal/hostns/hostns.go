// Package hostns shapes the host namespaces of spaces and virtual clusters:
// the namespace itself with the tenant's engine-owned labels and Pod
// Security Admission level, its ResourceQuota and LimitRange, its isolation
// NetworkPolicies and the members' RoleBindings; and it deletes them again.
// A namespace that exists but was not created for its owner is never
// adopted, and nothing without the engine's mark is modified or deleted.
//
// It is the engine's mechanics, shared by the Space and VirtualCluster
// controllers; it is not an API.
package hostns

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/internal/names"
	"github.com/vclusterkit/vclusterkit/internal/ssa"
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
	// LabelManagedBy, with value ManagedBy, marks RoleBindings, Secrets and
	// other objects the engine owns; nothing without it is ever modified or
	// deleted.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "vclusterkit"
	// psaEnforce is the Pod Security Admission label the engine sets from
	// the tenant's effective pod security level.
	psaEnforce        = "pod-security.kubernetes.io/enforce"
	psaEnforceVersion = "pod-security.kubernetes.io/enforce-version"
)

// Namespace is what the engine makes of one host namespace, for a Space
// or for a VirtualCluster's host namespace.
type Namespace struct {
	Name           string
	Tenant         string
	Space          string // set for a space's namespace
	VirtualCluster string // set for a virtual cluster's host namespace
	Quota          corev1.ResourceList
	ExtraLabels    map[string]string
	// ControlPlane are peers of a virtual cluster's control plane outside
	// the namespace (its API server's address), which the namespace's
	// isolation policies let its pods reach.
	ControlPlane []networkingv1.NetworkPolicyPeer
	// Owner is the Space or VirtualCluster the namespace is for; the UID
	// of the namespace it created is recorded on it (tenancy.AnnotationNamespaceUID),
	// which is how the engine knows its namespace even after someone
	// rewrote the namespace's labels.
	Owner client.Object
}

// ForSpace is the host namespace of a space (named like the space).
func ForSpace(sp *tenancy.Space) Namespace {
	return Namespace{Name: sp.Name, Tenant: sp.Spec.Tenant, Space: sp.Name, Quota: sp.Spec.Quota, ExtraLabels: sp.Spec.Labels, Owner: sp}
}

// ForVirtualCluster is the host namespace of a virtual cluster. Its pods
// may reach the virtual API server at the cluster's endpoint, whatever the
// tenant's isolation (they are its pods: in-cluster config).
func ForVirtualCluster(vc *vcluster.VirtualCluster) Namespace {
	return Namespace{Name: vc.EffectiveHostNamespace(), Tenant: vc.Spec.Tenant, VirtualCluster: vc.Name, Owner: vc,
		ControlPlane: EndpointPeers(vc.Status.Endpoint)}
}

// EndpointPeers is the NetworkPolicy peer of an API server endpoint
// ("https://10.233.0.1:6443"): an ipBlock of its one address. A host name,
// a loopback or unspecified address, or no endpoint yields none: pods
// cannot reach loopback anyway, and a control plane behind a Service runs
// in the namespace, where isolation allows it.
func EndpointPeers(endpoint string) []networkingv1.NetworkPolicyPeer {
	u, err := url.Parse(endpoint)
	if err != nil || u.Hostname() == "" {
		return nil
	}
	ip := net.ParseIP(u.Hostname())
	if ip == nil || ip.IsLoopback() || ip.IsUnspecified() {
		return nil
	}
	bits := 32
	if ip.To4() == nil {
		bits = 128
	}
	return []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: fmt.Sprintf("%s/%d", ip, bits)}}}
}

// Shaper writes host namespaces and what the engine keeps in them. It is
// safe for concurrent use.
type Shaper struct {
	// Client reads and writes the host; required.
	Client client.Client
	// NetworkPolicy tunes the generated isolation policies.
	NetworkPolicy netpol.Options
}

// engineLabels are the labels that carry tenancy on a host namespace. A
// tenant may not change them: the reconcile puts them back.
func engineLabels(s *tenancy.PartialTree, hn Namespace) map[string]string {
	l := map[string]string{tenancy.LabelTenant: hn.Tenant}
	maps.Copy(l, s.Tree.TreeLabels(hn.Tenant))
	if hn.Space != "" {
		l[tenancy.LabelSpace] = hn.Space
	}
	if hn.VirtualCluster != "" {
		l[vcluster.LabelVirtualCluster] = hn.VirtualCluster
	}
	return l
}

// EnsureNamespace creates the namespace or brings its tenancy labels back
// to what the tree says. A namespace that exists but belongs to no tenant,
// or to another one, is never adopted.
func (h *Shaper) EnsureNamespace(ctx context.Context, s *tenancy.PartialTree, hn Namespace) error {
	pol, err := s.Tree.EffectivePolicy(hn.Tenant)
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
	err = h.Client.Get(ctx, client.ObjectKey{Name: hn.Name}, ns)
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
		if err := h.Client.Create(ctx, ns); err != nil {
			return err
		}
		return h.recordNamespace(ctx, hn.Owner, ns)
	}
	if err != nil {
		return err
	}
	if !ns.DeletionTimestamp.IsZero() {
		return lifecycle.Wait(0, "namespace %s is still being deleted", hn.Name)
	}
	if !Owns(hn, ns) {
		return lifecycle.Permanent(fmt.Errorf("namespace %s exists and was not created for this %s; a namespace is never adopted", hn.Name, ownerKind(hn)))
	}
	if err := h.recordNamespace(ctx, hn.Owner, ns); err != nil {
		return err
	}
	patch := client.MergeFrom(ns.DeepCopy())
	if ns.Labels == nil {
		ns.Labels = map[string]string{}
	}
	// Tree labels of ancestors the tenant no longer has (re-parenting) go.
	for k := range ns.Labels {
		if _, keep := want[k]; !keep && IsTreeLabel(k) {
			delete(ns.Labels, k)
		}
	}
	maps.Copy(ns.Labels, want)
	// The engine deletes its namespaces itself, in teardown order; an
	// ownerReference to one of its objects (set by someone else) would let
	// the garbage collector do it out of order.
	if refs := EngineOwnerRefs(ns); len(refs) > 0 {
		var keep []metav1.OwnerReference
		for _, r := range ns.OwnerReferences {
			if !IsEngineOwnerRef(r) {
				keep = append(keep, r)
			}
		}
		ns.OwnerReferences = keep
	}
	if ns.Annotations == nil && len(pol.RequiredNamespaceAnnotations) > 0 {
		ns.Annotations = map[string]string{}
	}
	maps.Copy(ns.Annotations, pol.RequiredNamespaceAnnotations)
	return h.Client.Patch(ctx, ns, patch)
}

// Owns tells whether ns is the namespace the engine made for
// hn.Owner: its UID is the one recorded on the owner, or (when the owner has
// none recorded yet, after a crash between creating and recording) its
// engine labels name the owner.
func Owns(hn Namespace, ns *corev1.Namespace) bool {
	if hn.Owner != nil {
		if uid := hn.Owner.GetAnnotations()[tenancy.AnnotationNamespaceUID]; uid != "" {
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

func ownerKind(hn Namespace) string {
	if hn.Space != "" {
		return "space"
	}
	return "virtual cluster"
}

// recordNamespace writes ns's UID on owner (metadata, not status: only
// platform admins may edit Spaces and VirtualClusters).
func (h *Shaper) recordNamespace(ctx context.Context, owner client.Object, ns *corev1.Namespace) error {
	if owner == nil || owner.GetAnnotations()[tenancy.AnnotationNamespaceUID] == string(ns.UID) {
		return nil
	}
	patch := client.MergeFrom(owner.DeepCopyObject().(client.Object))
	a := owner.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[tenancy.AnnotationNamespaceUID] = string(ns.UID)
	owner.SetAnnotations(a)
	return h.Client.Patch(ctx, owner, patch)
}

// IsTreeLabel reports whether k is a tenant tree label (tenancy.TreeLabel).
func IsTreeLabel(k string) bool {
	const suffix = ".tree." + tenancy.Group + "/depth"
	return len(k) > len(suffix) && k[len(k)-len(suffix):] == suffix
}

// namespaceQuota is the hard limit for one namespace: its own quota if it
// has one, capped by every limit on its tenant's path (no namespace can use
// more than the tightest ancestor allows for the whole subtree).
func namespaceQuota(s *tenancy.PartialTree, tenant string, own corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{}
	for k, v := range own {
		out[k] = v.DeepCopy()
	}
	for _, name := range s.Tree.Path(tenant) {
		t := s.Tree.Tenant(name)
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

// EnsureQuota applies the ResourceQuota and LimitRange of a namespace, or
// removes ours when there is nothing to limit.
func (h *Shaper) EnsureQuota(ctx context.Context, s *tenancy.PartialTree, hn Namespace) error {
	limits := namespaceQuota(s, hn.Tenant, hn.Quota)
	if rq := quota.RenderResourceQuota(hn.Name, hn.Tenant, limits); rq != nil {
		if err := ssa.Apply(ctx, h.Client, rq); err != nil {
			return fmt.Errorf("ResourceQuota: %w", err)
		}
	} else if err := h.deleteIfOurs(ctx, &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Namespace: hn.Name, Name: quota.ObjectName}}); err != nil {
		return err
	}
	if lr := quota.RenderLimitRange(hn.Name, hn.Tenant, quota.EffectiveLimitRange(s.Tenants, hn.Tenant)); lr != nil {
		if err := ssa.Apply(ctx, h.Client, lr); err != nil {
			return fmt.Errorf("LimitRange: %w", err)
		}
	} else if err := h.deleteIfOurs(ctx, &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Namespace: hn.Name, Name: quota.ObjectName}}); err != nil {
		return err
	}
	return nil
}

// EnsureNetworkPolicies makes the generated policies of a namespace exactly
// the ones present: missing ones created, edited ones put back, stale ones
// deleted. Policies without our label are never touched.
func (h *Shaper) EnsureNetworkPolicies(ctx context.Context, s *tenancy.PartialTree, hn Namespace, mode tenancy.IsolationMode) error {
	target, err := netpol.TargetFor(s.Tenants, hn.Tenant, hn.Name, hn.VirtualCluster)
	if err != nil {
		return lifecycle.Permanent(err)
	}
	if mode != "" && isolationRank(mode) > isolationRank(target.Mode) {
		target.Mode = mode
	}
	opts := h.NetworkPolicy
	opts.ControlPlane = append(slices.Clone(opts.ControlPlane), hn.ControlPlane...)
	policies, err := netpol.Generate(target, opts)
	if err != nil {
		return lifecycle.Permanent(err)
	}
	return npreconcile.Apply(ctx, h.Client, hn.Name, policies)
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

// EnsureAccess makes the member RoleBindings of a namespace match the
// tenant's effective members (inherited from ancestors).
func (h *Shaper) EnsureAccess(ctx context.Context, s *tenancy.PartialTree, hn Namespace) error {
	members, err := s.Tree.EffectiveMembers(hn.Tenant)
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
				Name:      names.MemberBinding(m.Member),
				Namespace: hn.Name,
				Labels:    map[string]string{LabelManagedBy: ManagedBy, tenancy.LabelTenant: hn.Tenant},
				Annotations: map[string]string{
					"tenancy.vclusterkit.io/granted-by": m.From,
				},
			},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: clusterRoleFor(m.Role)},
			Subjects: []rbacv1.Subject{{Kind: kind, APIGroup: rbacv1.GroupName, Name: m.Name}},
		}
		keep[rb.Name] = true
		existing := &rbacv1.RoleBinding{}
		err := h.Client.Get(ctx, client.ObjectKeyFromObject(rb), existing)
		switch {
		case apierrors.IsNotFound(err):
			if err := h.Client.Create(ctx, rb); err != nil {
				return err
			}
		case err != nil:
			return err
		case existing.RoleRef != rb.RoleRef:
			// roleRef is immutable: replace the binding.
			if err := h.Client.Delete(ctx, existing); client.IgnoreNotFound(err) != nil {
				return err
			}
			if err := h.Client.Create(ctx, rb); err != nil {
				return err
			}
		default:
			if err := ssa.Apply(ctx, h.Client, rb); err != nil {
				return err
			}
		}
	}
	return h.RevokeAccess(ctx, hn.Name, keep)
}

// RevokeAccess deletes our member RoleBindings in namespace except keep.
func (h *Shaper) RevokeAccess(ctx context.Context, namespace string, keep map[string]bool) error {
	var list rbacv1.RoleBindingList
	if err := h.Client.List(ctx, &list, client.InNamespace(namespace), client.MatchingLabels{LabelManagedBy: ManagedBy}); err != nil {
		return err
	}
	for i := range list.Items {
		if !keep[list.Items[i].Name] {
			if err := client.IgnoreNotFound(h.Client.Delete(ctx, &list.Items[i])); err != nil {
				return err
			}
		}
	}
	return nil
}

// DeleteNamespace deletes a namespace the engine created and waits until it
// is gone, so that quota and names are free when teardown finishes.
func (h *Shaper) DeleteNamespace(ctx context.Context, hn Namespace) error {
	name := hn.Name
	ns := &corev1.Namespace{}
	if err := h.Client.Get(ctx, client.ObjectKey{Name: name}, ns); err != nil {
		return client.IgnoreNotFound(err)
	}
	if !Owns(hn, ns) {
		// Never ours: leave it alone.
		return nil
	}
	if ns.DeletionTimestamp.IsZero() {
		if err := h.Client.Delete(ctx, ns); client.IgnoreNotFound(err) != nil {
			return err
		}
	}
	return lifecycle.Wait(0, "waiting for namespace %s to be deleted", name)
}

func (h *Shaper) deleteIfOurs(ctx context.Context, obj client.Object) error {
	if err := h.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
		return client.IgnoreNotFound(err)
	}
	if !ours(obj) {
		return nil
	}
	return client.IgnoreNotFound(h.Client.Delete(ctx, obj))
}

func ours(obj client.Object) bool {
	l := obj.GetLabels()
	return l[LabelManagedBy] == ManagedBy || l[netpol.LabelManagedBy] == netpol.ManagedByValue || l[tenancy.LabelTenant] != ""
}

// Usage is a tenant's observed usage from the quota ledger, which charges
// every pod, claim, Service and counted object of its namespaces: the whole
// subtree, and its own part (its node and the nodes of its spaces with a
// quota of their own, without its child tenants).
func Usage(ledger *quota.Ledger, s *tenancy.PartialTree, tenant string) (subtree, own corev1.ResourceList, err error) {
	u, err := ledger.Usage(tenant)
	if err != nil {
		return nil, nil, err
	}
	own = u.Own
	for i := range s.Spaces {
		sp := &s.Spaces[i]
		if sp.Spec.Tenant != tenant || len(sp.Spec.Quota) == 0 {
			continue
		}
		su, err := ledger.Usage(quota.SpaceNode(sp.Name))
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

// NamespaceUsage is what the API server's own quota counts in a namespace:
// the status of the ResourceQuota the engine renders there (the limited
// resources only; nil when the namespace has none).
func (h *Shaper) NamespaceUsage(ctx context.Context, namespace string) (corev1.ResourceList, error) {
	var rq corev1.ResourceQuota
	err := h.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: quota.ObjectName}, &rq)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return rq.Status.Used, nil
}

// OlderThan orders objects by creation time, then namespace and name (the
// API server stamps whole seconds), so that of two objects created in the
// same second both sides agree which came first.
func OlderThan(a, b client.Object) bool {
	ta, tb := a.GetCreationTimestamp(), b.GetCreationTimestamp()
	if !ta.Equal(&tb) {
		return ta.Before(&tb)
	}
	if a.GetNamespace() != b.GetNamespace() {
		return a.GetNamespace() < b.GetNamespace()
	}
	return a.GetName() < b.GetName()
}

// IsEngineLabel reports whether key is one of the labels that carry
// tenancy on a namespace: quota, network isolation and RBAC all select
// namespaces by them, so only the engine may set them.
func IsEngineLabel(key string) bool {
	return key == tenancy.LabelTenant || key == tenancy.LabelSpace || key == vcluster.LabelVirtualCluster || IsTreeLabel(key)
}

// IsEngineOwnerRef reports whether r points at one of the engine's API
// objects (a Space, a VirtualCluster).
func IsEngineOwnerRef(r metav1.OwnerReference) bool {
	return strings.HasPrefix(r.APIVersion, tenancy.Group+"/") || strings.HasPrefix(r.APIVersion, vcluster.GroupVersion.Group+"/")
}

// EngineOwnerRefs are o's owner references to the engine's API objects.
func EngineOwnerRefs(o client.Object) []metav1.OwnerReference {
	var out []metav1.OwnerReference
	for _, r := range o.GetOwnerReferences() {
		if IsEngineOwnerRef(r) {
			out = append(out, r)
		}
	}
	return out
}

// Counted is an object counted against a per-subtree maximum, with the
// tenant it belongs to.
type Counted struct {
	Obj    client.Object
	Tenant string
}

// OverLimit checks obj (belonging to tenant) against every maximum on its
// chain (MaxSpaces, MaxVirtualClusters): each tenant that sets one caps its
// whole subtree, so for each the objects of that tenant's subtree older than
// obj are counted. The newest objects are the ones over a limit, so an
// existing one never loses its place to a new one.
func OverLimit(s *tenancy.PartialTree, obj client.Object, tenant string, all []Counted, noun string, limit func(tenancy.Policy) *int32) error {
	for _, name := range s.Tree.Path(tenant) {
		t := s.Tree.Tenant(name)
		if t == nil || limit(t.Spec.Policy) == nil {
			continue
		}
		allowed := int(*limit(t.Spec.Policy))
		subtree := map[string]bool{}
		for _, n := range s.Tree.Subtree(name) {
			subtree[n] = true
		}
		older := 0
		for _, o := range all {
			if subtree[o.Tenant] && o.Obj.GetUID() != obj.GetUID() && OlderThan(o.Obj, obj) {
				older++
			}
		}
		if older >= allowed {
			return fmt.Errorf("tenant %s allows at most %d %s in its subtree (%d exist)", name, allowed, noun, older)
		}
	}
	return nil
}
