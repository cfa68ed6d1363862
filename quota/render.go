package quota

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

// Names and labels of the rendered objects.
const (
	// ObjectName is the name of the rendered ResourceQuota and LimitRange.
	ObjectName = "vclusterkit-quota"
	// LabelManagedBy / ManagedByValue mark rendered objects as the engine's.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedByValue = "vclusterkit"
)

// SpaceNode is the ledger node of a space with its own quota, under its tenant's node.
// Tenant names are DNS labels, so the prefix cannot collide with one.
func SpaceNode(space string) string { return "space:" + space }

// Nodes builds the quota tree: one node per tenant with its Spec.Quota, and one node per
// space that sets its own Spec.Quota, under its tenant. Validate the result with
// ValidateTree or load it with Ledger.SetNodes.
func Nodes(tenants []tenancy.Tenant, spaces []tenancy.Space) []Node {
	out := make([]Node, 0, len(tenants)+len(spaces))
	for _, t := range tenants {
		out = append(out, Node{Name: t.Name, Parent: t.Spec.Parent, Hard: t.Spec.Quota.DeepCopy()})
	}
	for _, s := range spaces {
		if len(s.Spec.Quota) > 0 {
			out = append(out, Node{Name: SpaceNode(s.Name), Parent: s.Spec.Tenant, Hard: s.Spec.Quota.DeepCopy()})
		}
	}
	return out
}

// NodeFor is the ledger node a space's namespace is charged to.
func NodeFor(space *tenancy.Space) string {
	if len(space.Spec.Quota) > 0 {
		return SpaceNode(space.Name)
	}
	return space.Spec.Tenant
}

// RenderResourceQuota renders the per-namespace ResourceQuota: the second line of defence
// behind the ledger, enforced by the API server itself. Pass Ledger.EffectiveLimits of
// the namespace's node: no namespace can use more than the tightest limit on its chain.
// It returns nil when there is nothing to limit.
func RenderResourceQuota(namespace, tenant string, limits corev1.ResourceList) *corev1.ResourceQuota {
	if len(limits) == 0 {
		return nil
	}
	return &corev1.ResourceQuota{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ResourceQuota"},
		ObjectMeta: objectMeta(namespace, tenant),
		Spec:       corev1.ResourceQuotaSpec{Hard: limits.DeepCopy()},
	}
}

// RenderLimitRange renders the tenant's container defaults as a LimitRange; nil when the
// tenant sets none.
func RenderLimitRange(namespace, tenant string, d *tenancy.LimitRangeDefaults) *corev1.LimitRange {
	if d == nil || (len(d.Default) == 0 && len(d.DefaultRequest) == 0 && len(d.Max) == 0 && len(d.Min) == 0) {
		return nil
	}
	return &corev1.LimitRange{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "LimitRange"},
		ObjectMeta: objectMeta(namespace, tenant),
		Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
			Type:           corev1.LimitTypeContainer,
			Default:        d.Default.DeepCopy(),
			DefaultRequest: d.DefaultRequest.DeepCopy(),
			Max:            d.Max.DeepCopy(),
			Min:            d.Min.DeepCopy(),
		}}},
	}
}

func objectMeta(namespace, tenant string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Namespace: namespace,
		Name:      ObjectName,
		Labels:    map[string]string{LabelManagedBy: ManagedByValue, tenancy.LabelTenant: tenant},
	}
}

// EffectiveLimitRange returns the LimitRange defaults in force for tenant: the nearest
// ancestor-or-self that sets Spec.LimitRange. nil when none does or the tenant is unknown.
func EffectiveLimitRange(tenants []tenancy.Tenant, tenant string) *tenancy.LimitRangeDefaults {
	byName := make(map[string]*tenancy.Tenant, len(tenants))
	for i := range tenants {
		byName[tenants[i].Name] = &tenants[i]
	}
	seen := map[string]bool{}
	for cur := tenant; cur != "" && !seen[cur]; {
		seen[cur] = true
		t, ok := byName[cur]
		if !ok {
			return nil
		}
		if t.Spec.LimitRange != nil {
			return t.Spec.LimitRange.DeepCopy()
		}
		cur = t.Spec.Parent
	}
	return nil
}
