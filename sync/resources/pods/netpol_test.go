package pods

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/netpol"
)

// PolicyLabels marks the directions the pod's own namespace's policies
// select, with policyTypes defaulted as the API does, and always both
// labels (a direction no longer selected must be written as "false").
func TestPolicyLabels(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "shop", Labels: map[string]string{"app": "db"}}}
	pol := func(ns string, sel map[string]string, types []networkingv1.PolicyType, egressRules int) networkingv1.NetworkPolicy {
		p := networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: ns},
			Spec: networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: sel}, PolicyTypes: types}}
		for range egressRules {
			p.Spec.Egress = append(p.Spec.Egress, networkingv1.NetworkPolicyEgressRule{})
		}
		return p
	}
	in, eg := networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress
	for _, tc := range []struct {
		what         string
		policies     []networkingv1.NetworkPolicy
		wantIn, want string
	}{
		{"no policy", nil, "false", "false"},
		{"deny-all ingress of the namespace", []networkingv1.NetworkPolicy{pol("shop", nil, []networkingv1.PolicyType{in}, 0)}, "true", "false"},
		{"types left out, no egress rules", []networkingv1.NetworkPolicy{pol("shop", map[string]string{"app": "db"}, nil, 0)}, "true", "false"},
		{"types left out, egress rules", []networkingv1.NetworkPolicy{pol("shop", map[string]string{"app": "db"}, nil, 1)}, "true", "true"},
		{"egress only", []networkingv1.NetworkPolicy{pol("shop", nil, []networkingv1.PolicyType{eg}, 0)}, "false", "true"},
		{"another pod's policy", []networkingv1.NetworkPolicy{pol("shop", map[string]string{"app": "web"}, []networkingv1.PolicyType{in, eg}, 0)}, "false", "false"},
		{"another namespace's policy", []networkingv1.NetworkPolicy{pol("other", nil, []networkingv1.PolicyType{in, eg}, 0)}, "false", "false"},
	} {
		got := PolicyLabels(pod, tc.policies)
		if got[netpol.LabelIngressPolicies] != tc.wantIn || got[netpol.LabelEgressPolicies] != tc.want {
			t.Errorf("%s: labels %v, want ingress %s egress %s", tc.what, got, tc.wantIn, tc.want)
		}
	}
}
