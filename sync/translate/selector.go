package translate

import (
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ScopeSelector translates a virtual label selector of an object in virtual
// namespace vNamespace so that on the host it matches exactly the host
// copies of the objects it matched in vNamespace of this virtual cluster:
// keys are translated with HostKey, and LabelVirtualCluster and
// LabelNamespace are required. Requirements a tenant wrote on those scope
// keys themselves cannot widen the scope, because tenant keys under the
// reserved domain are escaped.
//
// A nil selector matches nothing in Kubernetes and stays nil. An empty
// selector (match everything) becomes "everything in vNamespace of this
// virtual cluster". path names the field in errors.
func (t *Translator) ScopeSelector(path *field.Path, vNamespace string, sel *metav1.LabelSelector) (*metav1.LabelSelector, error) {
	return t.ScopeSelectorNamespaces(path, []string{vNamespace}, sel)
}

// ScopeSelectorNamespaces is ScopeSelector for a selector that may match
// objects in several virtual namespaces (pod affinity terms with a namespace
// list). An empty namespaces slice means every virtual namespace of this
// virtual cluster.
func (t *Translator) ScopeSelectorNamespaces(path *field.Path, namespaces []string, sel *metav1.LabelSelector) (*metav1.LabelSelector, error) {
	if sel == nil {
		return nil, nil
	}
	out := &metav1.LabelSelector{MatchLabels: map[string]string{LabelVirtualCluster: t.vcluster}}
	var errs field.ErrorList
	for k, v := range sel.MatchLabels {
		hk, err := HostKey(k)
		if err != nil {
			errs = append(errs, field.Invalid(path.Child("matchLabels").Key(k), k, err.Error()))
			continue
		}
		out.MatchLabels[hk] = v
	}
	for i, r := range sel.MatchExpressions {
		hk, err := HostKey(r.Key)
		if err != nil {
			errs = append(errs, field.Invalid(path.Child("matchExpressions").Index(i).Child("key"), r.Key, err.Error()))
			continue
		}
		out.MatchExpressions = append(out.MatchExpressions, metav1.LabelSelectorRequirement{Key: hk, Operator: r.Operator, Values: slices.Clone(r.Values)})
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, errs.ToAggregate())
	}
	switch len(namespaces) {
	case 0:
		out.MatchExpressions = append(out.MatchExpressions, metav1.LabelSelectorRequirement{Key: LabelNamespace, Operator: metav1.LabelSelectorOpExists})
	case 1:
		out.MatchLabels[LabelNamespace] = namespaces[0]
	default:
		ns := slices.Clone(namespaces)
		slices.Sort(ns)
		out.MatchExpressions = append(out.MatchExpressions, metav1.LabelSelectorRequirement{Key: LabelNamespace, Operator: metav1.LabelSelectorOpIn, Values: slices.Compact(ns)})
	}
	return out, nil
}

// ScopeMapSelector translates an equality-only selector (a Service's
// spec.selector, a ReplicationController's) the way ScopeSelector does. An
// empty selector means "no selector" for a Service (its endpoints are
// managed by hand) and stays empty.
func (t *Translator) ScopeMapSelector(path *field.Path, vNamespace string, sel map[string]string) (map[string]string, error) {
	if len(sel) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(sel)+2)
	var errs field.ErrorList
	for k, v := range sel {
		hk, err := HostKey(k)
		if err != nil {
			errs = append(errs, field.Invalid(path.Key(k), k, err.Error()))
			continue
		}
		out[hk] = v
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, errs.ToAggregate())
	}
	out[LabelVirtualCluster] = t.vcluster
	out[LabelNamespace] = vNamespace
	return out, nil
}

// VirtualMapSelector is the inverse of ScopeMapSelector.
func VirtualMapSelector(host map[string]string) map[string]string {
	return virtualMap(host)
}
