package admissionpolicy

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

// Labels on every object this package renders.
const (
	// LabelManagedBy / ManagedBy mark the objects as the engine's.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "vclusterkit"
	// LabelKind says what an object is for: KindSpaces (the tenant policy
	// of every space) or KindNamespaceGuard.
	LabelKind          = "tenancy.vclusterkit.io/admission-policy"
	KindSpaces         = "spaces"
	KindNamespaceGuard = "namespace-guard"
)

// SpacePolicyName names the policy and binding that enforce tenant
// policies in spaces.
const SpacePolicyName = "vclusterkit-spaces"

// Annotations that carry a tenant's effective policy onto each namespace of
// its spaces, where SpacePolicy reads them (namespaceObject in CEL). Lists
// are comma-separated, the node selector is key=value pairs; an absent key
// means unrestricted. They belong to the engine: the namespace guard keeps
// everyone else from writing them.
const (
	// AnnotationPolicyTenant names the tenant whose policy the other
	// annotations carry. Until it is there, SpacePolicy refuses creates in
	// the namespace (a new space is never unrestricted for a moment).
	AnnotationPolicyTenant  = "policy.tenancy.vclusterkit.io/tenant"
	AnnotationRuntimeClass  = "policy.tenancy.vclusterkit.io/runtime-classes"
	AnnotationPriorityClass = "policy.tenancy.vclusterkit.io/priority-classes"
	AnnotationStorageClass  = "policy.tenancy.vclusterkit.io/storage-classes"
	AnnotationIngressClass  = "policy.tenancy.vclusterkit.io/ingress-classes"
	AnnotationNodeSelector  = "policy.tenancy.vclusterkit.io/node-selector"
)

// SpaceAnnotationKeys lists every annotation SpaceAnnotations may set, so
// a caller can remove those it no longer wants and guard them all.
func SpaceAnnotationKeys() []string {
	return []string{AnnotationPolicyTenant, AnnotationRuntimeClass, AnnotationPriorityClass, AnnotationStorageClass, AnnotationIngressClass, AnnotationNodeSelector}
}

// SpaceAnnotations returns the annotations that carry p, the effective
// policy of tenant, onto the namespace of one of its spaces. A class name
// or node-selector pair that the encoding cannot carry (a comma, or an
// equals sign in a key) is an error naming the field; valid Kubernetes
// names never contain one.
func SpaceAnnotations(tenant string, p tenancy.Policy) (map[string]string, error) {
	out := map[string]string{AnnotationPolicyTenant: tenant}
	fld := field.NewPath("policy")
	var errs field.ErrorList
	for _, l := range []struct {
		key, name string
		list      []string
	}{
		{AnnotationRuntimeClass, "allowedRuntimeClasses", p.AllowedRuntimeClasses},
		{AnnotationPriorityClass, "allowedPriorityClasses", p.AllowedPriorityClasses},
		{AnnotationStorageClass, "allowedStorageClasses", p.AllowedStorageClasses},
		{AnnotationIngressClass, "allowedIngressClasses", p.AllowedIngressClasses},
	} {
		if len(l.list) == 0 {
			continue
		}
		for i, v := range l.list {
			if strings.Contains(v, ",") {
				errs = append(errs, field.Invalid(fld.Child(l.name).Index(i), v, "a class name cannot contain a comma"))
			}
		}
		out[l.key] = strings.Join(l.list, ",")
	}
	if len(p.NodeSelector) > 0 {
		var pairs []string
		for _, k := range slices.Sorted(maps.Keys(p.NodeSelector)) {
			v := p.NodeSelector[k]
			if k == "" || strings.ContainsAny(k, ",=") || strings.Contains(v, ",") {
				errs = append(errs, field.Invalid(fld.Child("nodeSelector").Key(k), v, "not a valid label key and value"))
			}
			pairs = append(pairs, k+"="+v)
		}
		out[AnnotationNodeSelector] = strings.Join(pairs, ",")
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("tenant %s: %w", tenant, errs.ToAggregate())
	}
	return out, nil
}

// ForTree returns SpaceAnnotations for the namespace of every space in
// tree (a Space's name is its namespace's), from its tenant's effective
// policy. A tenant whose policy cannot be encoded is an error, and its
// spaces are left out of the result.
func ForTree(tree *tenancy.Tree) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	var errs []error
	for _, root := range tree.Roots() {
		for _, name := range tree.Subtree(root) {
			spaces := tree.Spaces(name)
			if len(spaces) == 0 {
				continue
			}
			p, err := tree.EffectivePolicy(name)
			if err != nil {
				errs = append(errs, fmt.Errorf("tenant %s: %w", name, err))
				continue
			}
			ann, err := SpaceAnnotations(name, p)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			for _, sp := range spaces {
				out[sp] = ann
			}
		}
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("admissionpolicy.ForTree: %w", errors.Join(errs...))
	}
	return out, nil
}

// SpacePolicy renders the one policy and binding that enforce tenant
// policies in every space: the namespaces labelled tenancy.LabelTenant and
// tenancy.LabelSpace (a virtual cluster's host namespace is left to its
// syncer, which enforces the same rules before anything reaches the host).
// The rules come from the namespace's annotations (SpaceAnnotations), so
// the cost of admission does not grow with the number of tenants.
//
// What is refused, each with a message naming the field and the allowed
// values:
//
//   - any create in a space namespace that does not carry
//     AnnotationPolicyTenant yet (the engine has not applied its tenant's
//     policy: a moment after the namespace is created), except by
//     engineUsers (the engine's own identities, which create what a space
//     template or a syncer puts there, checked against the same policy
//     before);
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
//   - an ingress created with, or changed to, a class outside the list, by
//     spec.ingressClassName or else the legacy kubernetes.io/ingress.class
//     annotation (which, when set, must be allowed too); an unset class
//     counts as "".
//
// Pods are checked on create only (these fields are immutable); claims and
// ingresses on update only when their class changes, so objects created
// before a restriction can still be updated and deleted.
func SpacePolicy(engineUsers ...string) (*admissionregistrationv1.ValidatingAdmissionPolicy, *admissionregistrationv1.ValidatingAdmissionPolicyBinding) {
	pending := fmt.Sprintf(`request.operation != "CREATE" || %s in variables.ann`, celString(AnnotationPolicyTenant))
	if users := slices.Compact(slices.Sorted(slices.Values(engineUsers))); len(users) > 0 {
		pending = fmt.Sprintf(`request.userInfo.username in %s || %s`, celList(users), pending)
	}
	var rules []admissionregistrationv1.NamedRuleWithOperations
	rule := func(group, resource string, ops ...admissionregistrationv1.OperationType) {
		rules = append(rules, admissionregistrationv1.NamedRuleWithOperations{RuleWithOperations: admissionregistrationv1.RuleWithOperations{
			Operations: ops,
			Rule: admissionregistrationv1.Rule{APIGroups: []string{group}, APIVersions: []string{"v1"},
				Resources: []string{resource}, Scope: ptr(admissionregistrationv1.NamespacedScope)},
		}})
	}
	rule("", "pods", admissionregistrationv1.Create)
	rule("", "persistentvolumeclaims", admissionregistrationv1.Create, admissionregistrationv1.Update)
	rule("networking.k8s.io", "ingresses", admissionregistrationv1.Create, admissionregistrationv1.Update)

	vars := []admissionregistrationv1.Variable{
		{Name: "ann", Expression: `has(namespaceObject.metadata.annotations) ? namespaceObject.metadata.annotations : {}`},
	}
	for _, l := range []struct{ name, key string }{
		{"runtime", AnnotationRuntimeClass}, {"priority", AnnotationPriorityClass},
		{"storage", AnnotationStorageClass}, {"ingress", AnnotationIngressClass}, {"nodeSelector", AnnotationNodeSelector},
	} {
		vars = append(vars, admissionregistrationv1.Variable{Name: l.name,
			Expression: fmt.Sprintf(`%[1]s in variables.ann ? variables.ann[%[1]s].split(",") : []`, celString(l.key))})
	}
	ingressCur := specOr("object", "ingressClassName", annotationOr("object", legacyIngressClass, `""`))
	ingressOld := specOr("oldObject", "ingressClassName", annotationOr("oldObject", legacyIngressClass, `""`))
	validations := []admissionregistrationv1.Validation{
		{
			Expression: pending,
			MessageExpression: `"namespace " + namespaceObject.metadata.name + ` +
				celString(": the platform has not applied its tenant's policy yet; try again in a moment"),
			Message: "the platform has not applied the tenant's policy to this namespace yet; try again in a moment",
			Reason:  ptr(metav1.StatusReasonForbidden),
		},
		podClass("spec.runtimeClassName", "object.spec.runtimeClassName", "variables.runtime"),
		podClass("spec.priorityClassName", "object.spec.priorityClassName", "variables.priority"),
		{
			Expression: `request.resource.resource != "pods" || variables.nodeSelector.all(kv, has(object.spec.nodeSelector) && ` +
				`kv.split("=", 2)[0] in object.spec.nodeSelector && object.spec.nodeSelector[kv.split("=", 2)[0]] == kv.split("=", 2)[1])`,
			MessageExpression: celString("spec.nodeSelector: must contain the tenant's node selector {") +
				` + variables.nodeSelector.map(kv, "\"" + kv.split("=", 2)[0] + "\": \"" + kv.split("=", 2)[1] + "\"").join(", ") + "}"`,
			Message: "spec.nodeSelector: must contain the tenant's node selector",
			Reason:  ptr(metav1.StatusReasonForbidden),
		},
		changedClass("persistentvolumeclaims", "spec.storageClassName", specOr("object", "storageClassName", `""`), specOr("oldObject", "storageClassName", `""`), "variables.storage"),
		changedClass("ingresses", "spec.ingressClassName", ingressCur, ingressOld, "variables.ingress"),
		ingressAnnotation("variables.ingress"),
	}
	meta := func() metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: SpacePolicyName, Labels: map[string]string{LabelManagedBy: ManagedBy, LabelKind: KindSpaces}}
	}
	pol := &admissionregistrationv1.ValidatingAdmissionPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: admissionregistrationv1.SchemeGroupVersion.String(), Kind: "ValidatingAdmissionPolicy"},
		ObjectMeta: meta(),
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy:    ptr(admissionregistrationv1.Fail),
			MatchConstraints: matchResources(rules, &metav1.LabelSelector{}),
			Variables:        vars,
			Validations:      validations,
		},
	}
	bind := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: admissionregistrationv1.SchemeGroupVersion.String(), Kind: "ValidatingAdmissionPolicyBinding"},
		ObjectMeta: meta(),
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        SpacePolicyName,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
			MatchResources: matchResources(nil, &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: tenancy.LabelTenant, Operator: metav1.LabelSelectorOpExists},
				{Key: tenancy.LabelSpace, Operator: metav1.LabelSelectorOpExists},
			}}),
		},
	}
	return pol, bind
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

// allowedText is the CEL for how messages show a list (as the syncers'
// %v does: [a b]).
func allowedText(list string) string { return `"[" + ` + list + `.join(" ") + "]"` }

// podClass checks a pod's class expr against the list variable (empty:
// unrestricted); a pod naming no class passes.
func podClass(fieldName, expr, list string) admissionregistrationv1.Validation {
	return admissionregistrationv1.Validation{
		Expression: fmt.Sprintf(`request.resource.resource != "pods" || size(%[2]s) == 0 || !has(%[1]s) || %[1]s == "" || %[1]s in %[2]s`, expr, list),
		Message:    fieldName + ": not allowed by the tenant's policy",
		MessageExpression: fmt.Sprintf(`%s + %s + %s + %s + ")"`,
			celString(fieldName+": \""), expr, celString("\" is not allowed (allowed: "), allowedText(list)),
		Reason: ptr(metav1.StatusReasonForbidden),
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

// changedClass checks the class cur of resource against the list variable
// (empty: unrestricted) on create, and on update when it differs from old.
func changedClass(resource, fieldName, cur, old, list string) admissionregistrationv1.Validation {
	return admissionregistrationv1.Validation{
		Expression: fmt.Sprintf(`request.resource.resource != %s || size(%s) == 0 || (request.operation == "UPDATE" && %s == %s) || %s in %s`,
			celString(resource), list, old, cur, cur, list),
		Message: fieldName + ": not allowed by the tenant's policy",
		MessageExpression: fmt.Sprintf(`%s + %s + %s + %s + ")"`,
			celString(fieldName+": \""), cur, celString("\" is not allowed (allowed: "), allowedText(list)),
		Reason: ptr(metav1.StatusReasonForbidden),
	}
}

// legacyIngressClass is the annotation ingress controllers read when
// spec.ingressClassName is unset.
const legacyIngressClass = "kubernetes.io/ingress.class"

func ingressAnnotation(list string) admissionregistrationv1.Validation {
	key := celString(legacyIngressClass)
	cur := fmt.Sprintf(`object.metadata.annotations[%s]`, key)
	present := fmt.Sprintf(`has(object.metadata.annotations) && %s in object.metadata.annotations`, key)
	oldPresent := fmt.Sprintf(`has(oldObject.metadata.annotations) && %s in oldObject.metadata.annotations`, key)
	fieldName := "metadata.annotations[" + legacyIngressClass + "]"
	return admissionregistrationv1.Validation{
		Expression: fmt.Sprintf(`request.resource.resource != "ingresses" || size(%[6]s) == 0 || !(%[1]s) || (request.operation == "UPDATE" && %[2]s && oldObject.metadata.annotations[%[3]s] == %[4]s) || %[5]s in %[6]s`,
			present, oldPresent, key, cur, cur, list),
		Message: fieldName + ": not allowed by the tenant's policy",
		MessageExpression: fmt.Sprintf(`%s + %s + %s + %s + ")"`,
			celString(fieldName+": \""), cur, celString("\" is not allowed (allowed: "), allowedText(list)),
		Reason: ptr(metav1.StatusReasonForbidden),
	}
}

func ptr[T any](v T) *T { return &v }
