package admissionpolicy

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

// NamespaceGuardName names the namespace guard's policy and binding.
const NamespaceGuardName = "vclusterkit-namespace-guard"

// ErrNoEngineUser is returned by NamespaceGuard without
// GuardOptions.EngineUsers: a guard that exempts nobody would lock the
// engine out of its own labels.
var ErrNoEngineUser = errors.New("admissionpolicy: GuardOptions.EngineUsers is required")

// AnnotationEngineUsers on the guard policy lists (as a JSON array) the
// user names it exempts, so an engine can add its own to those of the
// engines before it (EngineUsersOf) instead of locking them out.
const AnnotationEngineUsers = "tenancy.vclusterkit.io/engine-users"

// GuardOptions configure NamespaceGuard.
type GuardOptions struct {
	// EngineUsers are the user names the engine authenticates as on the
	// host (what a SelfSubjectReview returns for its credentials); their
	// requests are the only ones exempt. More than one when engines with
	// different credentials share the host, or the engine's identity
	// changed. Required.
	EngineUsers []string
	// Labels are label keys owned by the engine besides tenancy.LabelTenant,
	// tenancy.LabelSpace and every tree label (key ending in
	// tenancy.TreeLabelSuffix), which are always protected.
	Labels []string
	// Annotations are annotation keys owned by the engine.
	Annotations []string
	// OwnerGroups are API groups whose objects no one but the engine may
	// add as an ownerReference of a namespace (the garbage collector would
	// delete the namespace with them).
	OwnerGroups []string
}

// NamespaceGuard renders the policy and binding that keep the tenancy of
// namespaces in the engine's hands. For any user but opts.EngineUsers, on
// create and update of namespaces (and namespaces/status, which also
// carries metadata changes):
//
//   - on a namespace labelled tenancy.LabelTenant, adding, changing or
//     removing an engine-owned label or annotation is refused;
//   - on any other namespace (or a new one), adding or changing one is
//     refused (removing a stray one is allowed);
//   - adding an ownerReference to an object of opts.OwnerGroups is refused.
//
// The refusal names the keys. Nothing else about a namespace is
// restricted, so users who may edit namespaces keep editing their own
// labels.
func NamespaceGuard(opts GuardOptions) (*admissionregistrationv1.ValidatingAdmissionPolicy, *admissionregistrationv1.ValidatingAdmissionPolicyBinding, error) {
	users := slices.Compact(slices.Sorted(slices.Values(opts.EngineUsers)))
	if len(users) == 0 {
		return nil, nil, ErrNoEngineUser
	}
	var errs field.ErrorList
	for i, u := range opts.EngineUsers {
		if u == "" {
			errs = append(errs, field.Required(field.NewPath("engineUsers").Index(i), "an empty user name"))
		}
	}
	for i, k := range opts.Labels {
		if k == "" {
			errs = append(errs, field.Required(field.NewPath("labels").Index(i), "an empty key protects nothing"))
		}
	}
	for i, k := range opts.Annotations {
		if k == "" {
			errs = append(errs, field.Required(field.NewPath("annotations").Index(i), "an empty key protects nothing"))
		}
	}
	if len(errs) > 0 {
		return nil, nil, fmt.Errorf("admissionpolicy.GuardOptions: %w", errs.ToAggregate())
	}
	labelKeys := append([]string{tenancy.LabelTenant, tenancy.LabelSpace}, opts.Labels...)
	slices.Sort(labelKeys)
	labelKeys = slices.Compact(labelKeys)
	isLabel := keyTest(labelKeys, tenancy.TreeLabelSuffix)
	annKeys := slices.Compact(slices.Sorted(slices.Values(opts.Annotations)))

	vars := []admissionregistrationv1.Variable{
		{Name: "isUpdate", Expression: `request.operation == "UPDATE"`},
		{Name: "newLabels", Expression: `has(object.metadata.labels) ? object.metadata.labels : {}`},
		{Name: "oldLabels", Expression: `variables.isUpdate && has(oldObject.metadata.labels) ? oldObject.metadata.labels : {}`},
		// Removals count on a tenant's namespace only.
		{Name: "tenantOwned", Expression: fmt.Sprintf(`%s in variables.oldLabels`, celString(tenancy.LabelTenant))},
		{Name: "changedLabels", Expression: changedKeys("variables.newLabels", "variables.oldLabels", isLabel)},
	}
	validations := []admissionregistrationv1.Validation{{
		Expression:        `size(variables.changedLabels) == 0`,
		Message:           fmt.Sprintf("metadata.labels: %s are set by the platform (vclusterkit) only", keysText(labelKeys, true)),
		MessageExpression: fmt.Sprintf(`"metadata.labels: " + variables.changedLabels.join(", ") + %s`, celString(": the tenancy labels of a namespace are set by the platform (vclusterkit) only")),
		Reason:            ptr(metav1.StatusReasonForbidden),
	}}
	if len(annKeys) > 0 {
		vars = append(vars,
			admissionregistrationv1.Variable{Name: "newAnnotations", Expression: `has(object.metadata.annotations) ? object.metadata.annotations : {}`},
			admissionregistrationv1.Variable{Name: "oldAnnotations", Expression: `variables.isUpdate && has(oldObject.metadata.annotations) ? oldObject.metadata.annotations : {}`},
			admissionregistrationv1.Variable{Name: "changedAnnotations", Expression: changedKeys("variables.newAnnotations", "variables.oldAnnotations", keyTest(annKeys, ""))},
		)
		validations = append(validations, admissionregistrationv1.Validation{
			Expression:        `size(variables.changedAnnotations) == 0`,
			Message:           fmt.Sprintf("metadata.annotations: %s are set by the platform (vclusterkit) only", keysText(annKeys, false)),
			MessageExpression: fmt.Sprintf(`"metadata.annotations: " + variables.changedAnnotations.join(", ") + %s`, celString(": set by the platform (vclusterkit) only")),
			Reason:            ptr(metav1.StatusReasonForbidden),
		})
	}
	if len(opts.OwnerGroups) > 0 {
		var tests []string
		for _, g := range slices.Compact(slices.Sorted(slices.Values(opts.OwnerGroups))) {
			tests = append(tests, fmt.Sprintf(`r.apiVersion.startsWith(%s)`, celString(g+"/")))
		}
		isEngineRef := strings.Join(tests, " || ")
		vars = append(vars,
			admissionregistrationv1.Variable{Name: "oldOwnerUIDs", Expression: `variables.isUpdate && has(oldObject.metadata.ownerReferences) ? oldObject.metadata.ownerReferences.map(r, r.uid) : []`},
			admissionregistrationv1.Variable{Name: "addedOwners", Expression: fmt.Sprintf(
				`has(object.metadata.ownerReferences) ? object.metadata.ownerReferences.filter(r, (%s) && !(r.uid in variables.oldOwnerUIDs)).map(r, r.kind + "/" + r.name) : []`, isEngineRef)},
		)
		validations = append(validations, admissionregistrationv1.Validation{
			Expression:        `size(variables.addedOwners) == 0`,
			Message:           fmt.Sprintf("metadata.ownerReferences: references to %v objects are set by the platform (vclusterkit) only", opts.OwnerGroups),
			MessageExpression: fmt.Sprintf(`"metadata.ownerReferences: " + variables.addedOwners.join(", ") + %s`, celString(": references to the platform's objects are set by the platform (vclusterkit) only")),
			Reason:            ptr(metav1.StatusReasonForbidden),
		})
	}
	usersJSON, err := json.Marshal(users)
	if err != nil {
		return nil, nil, err
	}
	meta := func() metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: NamespaceGuardName, Labels: map[string]string{LabelManagedBy: ManagedBy, LabelKind: KindNamespaceGuard}}
	}
	rules := []admissionregistrationv1.NamedRuleWithOperations{{RuleWithOperations: admissionregistrationv1.RuleWithOperations{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
		Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"},
			Resources: []string{"namespaces", "namespaces/status"}, Scope: ptr(admissionregistrationv1.AllScopes)},
	}}}
	pol := &admissionregistrationv1.ValidatingAdmissionPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: admissionregistrationv1.SchemeGroupVersion.String(), Kind: "ValidatingAdmissionPolicy"},
		ObjectMeta: meta(),
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy:    ptr(admissionregistrationv1.Fail),
			MatchConstraints: matchResources(rules, &metav1.LabelSelector{}),
			MatchConditions: []admissionregistrationv1.MatchCondition{{
				Name:       "not-the-engine",
				Expression: fmt.Sprintf(`!(request.userInfo.username in %s)`, celList(users)),
			}},
			Variables:   vars,
			Validations: validations,
		},
	}
	pol.Annotations = map[string]string{AnnotationEngineUsers: string(usersJSON)}
	bind := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: admissionregistrationv1.SchemeGroupVersion.String(), Kind: "ValidatingAdmissionPolicyBinding"},
		ObjectMeta: meta(),
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        NamespaceGuardName,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
			MatchResources:    matchResources(nil, &metav1.LabelSelector{}),
		},
	}
	return pol, bind, nil
}

// EngineUsersOf returns the user names a guard policy (as NamespaceGuard
// rendered it) exempts; nil for any other object or a malformed list.
func EngineUsersOf(pol *admissionregistrationv1.ValidatingAdmissionPolicy) []string {
	var users []string
	if pol == nil || json.Unmarshal([]byte(pol.Annotations[AnnotationEngineUsers]), &users) != nil {
		return nil
	}
	return users
}

// keyTest is a CEL predicate on k: one of keys, or (suffix not empty)
// ending in suffix.
func keyTest(keys []string, suffix string) string {
	var tests []string
	if len(keys) > 0 {
		tests = append(tests, "k in "+celList(keys))
	}
	if suffix != "" {
		tests = append(tests, fmt.Sprintf("k.endsWith(%s)", celString(suffix)))
	}
	return strings.Join(tests, " || ")
}

// changedKeys is a CEL list of the protected keys (isKey on k) added to or
// changed in newMap, and, on a tenant's namespace, removed from oldMap.
func changedKeys(newMap, oldMap, isKey string) string {
	return fmt.Sprintf(`%[1]s.filter(k, (%[3]s) && !(k in %[2]s && %[2]s[k] == %[1]s[k])) + `+
		`(variables.tenantOwned ? %[2]s.filter(k, (%[3]s) && !(k in %[1]s)) : [])`, newMap, oldMap, isKey)
}

func keysText(keys []string, tree bool) string {
	out := strings.Join(keys, ", ")
	if tree {
		out += ", *" + tenancy.TreeLabelSuffix
	}
	return out
}
