package pods

import (
	"context"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/netpol"
	"github.com/vclusterkit/vclusterkit/sync/syncer"
)

// PolicyLabels are the labels (netpol.LabelIngressPolicies,
// netpol.LabelEgressPolicies) of the host copy of virtual pod v given the
// NetworkPolicies of its virtual namespace: which directions of v the
// tenant's own policies select. A selector that cannot be parsed selects
// nothing (the networkpolicies syncer refuses that policy).
func PolicyLabels(v *corev1.Pod, policies []networkingv1.NetworkPolicy) map[string]string {
	var in, eg bool
	for i := range policies {
		p := &policies[i]
		if p.Namespace != v.Namespace || p.DeletionTimestamp != nil {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(&p.Spec.PodSelector)
		if err != nil || !sel.Matches(labels.Set(v.Labels)) {
			continue
		}
		i, e := netpol.PolicyTypes(p)
		in, eg = in || i, eg || e
	}
	// Always both, "false" included: the sync engine only writes a host
	// pod that lacks something desired, so a label that must go away is
	// changed, not dropped.
	return map[string]string{
		netpol.LabelIngressPolicies: strconv.FormatBool(in),
		netpol.LabelEgressPolicies:  strconv.FormatBool(eg),
	}
}

// policyLabels lists v's namespace's virtual NetworkPolicies when
// Options.NetworkPolicyLabels is set.
func (s *Syncer) policyLabels(ctx context.Context, sc *syncer.Context, v *corev1.Pod) (map[string]string, error) {
	if !s.opts.NetworkPolicyLabels {
		return nil, nil
	}
	var l networkingv1.NetworkPolicyList
	if err := sc.Virtual.List(ctx, &l, ctrl.InNamespace(v.Namespace)); err != nil {
		return nil, err
	}
	return PolicyLabels(v, l.Items), nil
}

// Watches implements syncer.Watcher: with Options.NetworkPolicyLabels, a
// NetworkPolicy created, changed or deleted inside the virtual cluster
// labels the host pods of its namespace again.
func (s *Syncer) Watches() []syncer.Watch {
	if !s.opts.NetworkPolicyLabels {
		return nil
	}
	return []syncer.Watch{{
		Object: &networkingv1.NetworkPolicy{},
		Map: func(ctx context.Context, sc *syncer.Context, obj ctrl.Object) []types.NamespacedName {
			var l corev1.PodList
			if err := sc.Virtual.List(ctx, &l, ctrl.InNamespace(obj.GetNamespace())); err != nil {
				return nil
			}
			out := make([]types.NamespacedName, 0, len(l.Items))
			for i := range l.Items {
				out = append(out, ctrl.ObjectKeyFromObject(&l.Items[i]))
			}
			return out
		},
	}}
}
