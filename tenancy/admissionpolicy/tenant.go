package admissionpolicy

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

// Labels on every object this package renders.
const (
	// LabelManagedBy / ManagedBy mark the objects as the engine's.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "vclusterkit"
	// LabelKind says what an object is for: KindTenant (one tenant's class
	// and node-selector rules) or KindNamespaceGuard.
	LabelKind          = "tenancy.vclusterkit.io/admission-policy"
	KindTenant         = "tenant"
	KindNamespaceGuard = "namespace-guard"
)

// tenantPrefix starts the name of a tenant's policy and binding.
const tenantPrefix = "vclusterkit-tenant-"

// TenantPolicyName is the name of the ValidatingAdmissionPolicy and of its
// binding that enforce tenant's policy in its spaces.
func TenantPolicyName(tenant string) string { return tenantPrefix + tenant }

// TenantOf returns the tenant a policy or binding named name is for, and
// whether name is such a name.
func TenantOf(name string) (string, bool) {
	t, ok := strings.CutPrefix(name, tenantPrefix)
	return t, ok && t != ""
}

// Enforced reports whether p restricts anything ForTenant enforces: runtime,
// priority, storage or ingress classes, or a node selector.
func Enforced(p tenancy.Policy) bool {
	return len(p.AllowedRuntimeClasses) > 0 || len(p.AllowedPriorityClasses) > 0 || len(p.NodeSelector) > 0 ||
		len(p.AllowedStorageClasses) > 0 || len(p.AllowedIngressClasses) > 0
}

// ForTenant renders the policy and binding that enforce p, the effective
// policy of tenant, in the tenant's spaces: the namespaces labelled
// tenancy.LabelTenant=tenant that carry tenancy.LabelSpace (a virtual
// cluster's host namespace is left to its syncer, which enforces the same
// rules before anything reaches the host). It returns nil, nil when p
// restricts nothing ForTenant enforces.
//
// What is refused, each with a message naming the field and the allowed
// values:
//
//   - a pod created with spec.runtimeClassName or spec.priorityClassName
//     outside the allowed list (a pod naming none is allowed: it runs with
//     the node's default handler and the cluster's default priority, which
//     the API server's Priority admission fills in before this check, so a
//     global default class must be listed to be usable);
//   - a pod created without every pair of the node selector in
//     spec.nodeSelector (admission cannot add them as the syncer does);
//   - a claim created with, or changed to, a spec.storageClassName outside
//     the list; an unset class counts as "" (the API server's
//     DefaultStorageClass admission fills in the default class first);
//   - an ingress created with, or changed to, a class outside the list,
//     by spec.ingressClassName or the legacy kubernetes.io/ingress.class
//     annotation; an unset class counts as "".
//
// Pods are checked on create only (these fields are immutable); claims and
// ingresses on update only when their class changes, so objects created
// before a restriction can still be updated and deleted.
func ForTenant(tenant string, p tenancy.Policy) (*admissionregistrationv1.ValidatingAdmissionPolicy, *admissionregistrationv1.ValidatingAdmissionPolicyBinding) {
	if !Enforced(p) {
		return nil, nil
	}
	var rules []admissionregistrationv1.NamedRuleWithOperations
	var validations []admissionregistrationv1.Validation
	rule := func(group, resource string, ops ...admissionregistrationv1.OperationType) {
		rules = append(rules, admissionregistrationv1.NamedRuleWithOperations{RuleWithOperations: admissionregistrationv1.RuleWithOperations{
			Operations: ops,
			Rule: admissionregistrationv1.Rule{APIGroups: []string{group}, APIVersions: []string{"v1"},
				Resources: []string{resource}, Scope: ptr(admissionregistrationv1.NamespacedScope)},
		}})
	}
	if len(p.AllowedRuntimeClasses) > 0 || len(p.AllowedPriorityClasses) > 0 || len(p.NodeSelector) > 0 {
		rule("", "pods", admissionregistrationv1.Create)
		if l := p.AllowedRuntimeClasses; len(l) > 0 {
			validations = append(validations, podClass("spec.runtimeClassName", "object.spec.runtimeClassName", l))
		}
		if l := p.AllowedPriorityClasses; len(l) > 0 {
			validations = append(validations, podClass("spec.priorityClassName", "object.spec.priorityClassName", l))
		}
		if len(p.NodeSelector) > 0 {
			validations = append(validations, nodeSelector(p.NodeSelector))
		}
	}
	if l := p.AllowedStorageClasses; len(l) > 0 {
		rule("", "persistentvolumeclaims", admissionregistrationv1.Create, admissionregistrationv1.Update)
		validations = append(validations, changedClass("persistentvolumeclaims", "spec.storageClassName", specOr("object", "storageClassName", `""`), specOr("oldObject", "storageClassName", `""`), l))
	}
	if l := p.AllowedIngressClasses; len(l) > 0 {
		rule("networking.k8s.io", "ingresses", admissionregistrationv1.Create, admissionregistrationv1.Update)
		// The class is spec.ingressClassName, else the legacy annotation.
		cur := specOr("object", "ingressClassName", annotationOr("object", legacyIngressClass, `""`))
		old := specOr("oldObject", "ingressClassName", annotationOr("oldObject", legacyIngressClass, `""`))
		validations = append(validations, changedClass("ingresses", "spec.ingressClassName", cur, old, l), ingressAnnotation(l))
	}
	name := TenantPolicyName(tenant)
	meta := func() metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Labels: map[string]string{
			LabelManagedBy: ManagedBy, LabelKind: KindTenant, tenancy.LabelTenant: tenant,
		}}
	}
	pol := &admissionregistrationv1.ValidatingAdmissionPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: admissionregistrationv1.SchemeGroupVersion.String(), Kind: "ValidatingAdmissionPolicy"},
		ObjectMeta: meta(),
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy:    ptr(admissionregistrationv1.Fail),
			MatchConstraints: matchResources(rules, &metav1.LabelSelector{}),
			Validations:      validations,
		},
	}
	bind := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: admissionregistrationv1.SchemeGroupVersion.String(), Kind: "ValidatingAdmissionPolicyBinding"},
		ObjectMeta: meta(),
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        name,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
			MatchResources: matchResources(nil, &metav1.LabelSelector{
				MatchLabels:      map[string]string{tenancy.LabelTenant: tenant},
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: tenancy.LabelSpace, Operator: metav1.LabelSelectorOpExists}},
			}),
		},
	}
	return pol, bind
}

// ForTree renders ForTenant for every tenant of tree with its effective
// policy, in depth-first order from the roots; tenants that restrict
// nothing have no objects.
func ForTree(tree *tenancy.Tree) ([]*admissionregistrationv1.ValidatingAdmissionPolicy, []*admissionregistrationv1.ValidatingAdmissionPolicyBinding, error) {
	var pols []*admissionregistrationv1.ValidatingAdmissionPolicy
	var binds []*admissionregistrationv1.ValidatingAdmissionPolicyBinding
	for _, root := range tree.Roots() {
		for _, name := range tree.Subtree(root) {
			p, err := tree.EffectivePolicy(name)
			if err != nil {
				return nil, nil, fmt.Errorf("tenant %s: %w", name, err)
			}
			if pol, bind := ForTenant(name, p); pol != nil {
				pols = append(pols, pol)
				binds = append(binds, bind)
			}
		}
	}
	return pols, binds, nil
}

// matchResources fills in what the API server would default, so a
// rendered object compares equal to what it stores.
func matchResources(rules []admissionregistrationv1.NamedRuleWithOperations, ns *metav1.LabelSelector) *admissionregistrationv1.MatchResources {
	return &admissionregistrationv1.MatchResources{
		NamespaceSelector: ns,
		ObjectSelector:    &metav1.LabelSelector{},
		ResourceRules:     rules,
		MatchPolicy:       ptr(admissionregistrationv1.Equivalent),
	}
}

// celString quotes s as a CEL string literal (CEL accepts Go's escapes).
func celString(s string) string { return strconv.Quote(s) }

func celList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = celString(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// allowedText is how messages show a list, as the syncers do (%v).
func allowedText(l []string) string { return fmt.Sprintf("%v", l) }

func podClass(field, expr string, allowed []string) admissionregistrationv1.Validation {
	suffix := fmt.Sprintf("\" is not allowed (allowed: %s)", allowedText(allowed))
	return admissionregistrationv1.Validation{
		Expression: fmt.Sprintf(`request.resource.resource != "pods" || !has(%[1]s) || %[1]s == "" || %[1]s in %[2]s`, expr, celList(allowed)),
		Message:    fmt.Sprintf("%s: not allowed (allowed: %s)", field, allowedText(allowed)),
		MessageExpression: fmt.Sprintf(`%s + %s + %s`,
			celString(field+": \""), expr, celString(suffix)),
		Reason: ptr(metav1.StatusReasonForbidden),
	}
}

func nodeSelector(sel map[string]string) admissionregistrationv1.Validation {
	keys := slices.Sorted(maps.Keys(sel))
	var conds, pairs []string
	for _, k := range keys {
		conds = append(conds, fmt.Sprintf(`%[1]s in object.spec.nodeSelector && object.spec.nodeSelector[%[1]s] == %[2]s`, celString(k), celString(sel[k])))
		pairs = append(pairs, fmt.Sprintf("%q: %q", k, sel[k]))
	}
	msg := fmt.Sprintf("spec.nodeSelector: must contain the tenant's node selector {%s}", strings.Join(pairs, ", "))
	return admissionregistrationv1.Validation{
		Expression: fmt.Sprintf(`request.resource.resource != "pods" || (has(object.spec.nodeSelector) && %s)`, strings.Join(conds, " && ")),
		Message:    msg,
		Reason:     ptr(metav1.StatusReasonForbidden),
	}
}

// specOr is obj.spec.<field> when set, else def.
func specOr(obj, field, def string) string {
	return fmt.Sprintf(`(has(%[1]s.spec.%[2]s) ? %[1]s.spec.%[2]s : %[3]s)`, obj, field, def)
}

// annotationOr is obj's annotation key when set, else def.
func annotationOr(obj, key, def string) string {
	return fmt.Sprintf(`(has(%[1]s.metadata.annotations) && %[2]s in %[1]s.metadata.annotations ? %[1]s.metadata.annotations[%[2]s] : %[3]s)`, obj, celString(key), def)
}

// changedClass checks the class cur of resource on create, and on update
// when it differs from old.
func changedClass(resource, field, cur, old string, allowed []string) admissionregistrationv1.Validation {
	suffix := fmt.Sprintf("\" is not allowed (allowed: %s)", allowedText(allowed))
	return admissionregistrationv1.Validation{
		Expression: fmt.Sprintf(`request.resource.resource != %s || (request.operation == "UPDATE" && %s == %s) || %s in %s`,
			celString(resource), old, cur, cur, celList(allowed)),
		Message:           fmt.Sprintf("%s: not allowed (allowed: %s)", field, allowedText(allowed)),
		MessageExpression: fmt.Sprintf(`%s + %s + %s`, celString(field+": \""), cur, celString(suffix)),
		Reason:            ptr(metav1.StatusReasonForbidden),
	}
}

// legacyIngressClass is the annotation ingress controllers read when
// spec.ingressClassName is unset.
const legacyIngressClass = "kubernetes.io/ingress.class"

func ingressAnnotation(allowed []string) admissionregistrationv1.Validation {
	key := celString(legacyIngressClass)
	cur := fmt.Sprintf(`object.metadata.annotations[%s]`, key)
	present := fmt.Sprintf(`has(object.metadata.annotations) && %s in object.metadata.annotations`, key)
	oldPresent := fmt.Sprintf(`has(oldObject.metadata.annotations) && %s in oldObject.metadata.annotations`, key)
	field := "metadata.annotations[" + legacyIngressClass + "]"
	suffix := fmt.Sprintf("\" is not allowed (allowed: %s)", allowedText(allowed))
	return admissionregistrationv1.Validation{
		Expression: fmt.Sprintf(`request.resource.resource != "ingresses" || !(%s) || (request.operation == "UPDATE" && %s && oldObject.metadata.annotations[%s] == %s) || %s in %s`,
			present, oldPresent, key, cur, cur, celList(allowed)),
		Message:           fmt.Sprintf("%s: not allowed (allowed: %s)", field, allowedText(allowed)),
		MessageExpression: fmt.Sprintf(`%s + %s + %s`, celString(field+": \""), cur, celString(suffix)),
		Reason:            ptr(metav1.StatusReasonForbidden),
	}
}

func ptr[T any](v T) *T { return &v }
