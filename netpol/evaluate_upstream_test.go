package netpol

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const nameLabel = corev1.LabelMetadataName

type probe struct {
	port  int32
	proto corev1.Protocol
	want  *reachability
}

type upstreamCase struct {
	name     string
	policies []networkingv1.NetworkPolicy
	// mutate changes the model (pod or namespace labels) before evaluation.
	mutate func(*model)
	probes []probe
}

// upstreamCases reconstructs the truth tables of kubernetes test/e2e/network/netpol
// (network_policy.go): same topology, same policies, same expected reachability. Where an
// upstream case mutates a policy or a label in several steps, each step is its own case.
func upstreamCases() []upstreamCase {
	m := newModel()
	allowY81 := withPorts(from(nsPeer(labelsSel(nameLabel, "y"))), portNum(81, &tcp))
	allowY80 := withPorts(from(nsPeer(labelsSel(nameLabel, "y"))), portNum(80, &tcp))
	allowPattern := func() *reachability {
		return newReachability(true).peer("x", "", "x", "a", false).peer("y", "", "x", "a", true).peer("z", "", "x", "a", false)
	}
	return []upstreamCase{
		{
			name:     "default-deny-ingress",
			policies: []networkingv1.NetworkPolicy{policySel("x", "deny-ingress", metav1.LabelSelector{}, ingress())},
			probes:   []probe{{80, tcp, newReachability(true).peer("", "", "x", "", false)}},
		},
		{
			name:     "default-deny-all",
			policies: []networkingv1.NetworkPolicy{policySel("x", "deny-all", metav1.LabelSelector{}, ingress(), egress())},
			probes:   []probe{{80, tcp, newReachability(true).peer("", "", "x", "", false).peer("x", "", "", "", false)}},
		},
		{
			name:     "allow traffic from pods within server namespace based on PodSelector",
			policies: []networkingv1.NetworkPolicy{policy("x", "x-a-allows-x-b", map[string]string{"pod": "a"}, ingress(from(podPeer(labelsSel("pod", "b")))))},
			probes:   []probe{{80, tcp, newReachability(true).allIngress("x/a", false).expect("x/b", "x/a", true)}},
		},
		{
			name: "allow ingress traffic for a target",
			policies: []networkingv1.NetworkPolicy{
				policySel("x", "deny-all", metav1.LabelSelector{}, ingress()),
				policy("x", "allow-all-to-a", map[string]string{"pod": "a"}, ingress(from(nsPodPeer(&metav1.LabelSelector{}, &metav1.LabelSelector{})))),
			},
			probes: []probe{{80, tcp, newReachability(true).allIngress("x/a", true).allIngress("x/b", false).allIngress("x/c", false)}},
		},
		{
			name:     "allow ingress traffic from pods in all namespaces",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-from-another-ns", map[string]string{"pod": "a"}, ingress(from(nsPeer(labelsSel()))))},
			probes:   []probe{{80, tcp, newReachability(true)}},
		},
		{
			name:     "allow traffic only from a different namespace, based on NamespaceSelector",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-client-a-via-ns-selector", map[string]string{"pod": "a"}, ingress(from(nsPeer(labelsSel(nameLabel, "y")))))},
			probes:   []probe{{80, tcp, newReachability(true).peer("x", "", "x", "a", false).peer("z", "", "x", "a", false)}},
		},
		{
			name:     "PodSelector with MatchExpressions",
			policies: []networkingv1.NetworkPolicy{policy("x", "x-a-allows-x-b", map[string]string{"pod": "a"}, ingress(from(podPeer(exprSel("pod", metav1.LabelSelectorOpIn, "b")))))},
			probes:   []probe{{80, tcp, newReachability(true).allIngress("x/a", false).expect("x/b", "x/a", true)}},
		},
		{
			name:     "NamespaceSelector with MatchExpressions",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-ns-y-match-selector", map[string]string{"pod": "a"}, ingress(from(nsPeer(exprSel(nameLabel, metav1.LabelSelectorOpIn, "y")))))},
			probes:   []probe{{80, tcp, newReachability(true).peer("x", "", "x", "a", false).peer("z", "", "x", "a", false)}},
		},
		{
			name: "PodSelector or NamespaceSelector",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-ns-y-match-selector", map[string]string{"pod": "a"},
				ingress(from(nsPeer(exprSel(nameLabel, metav1.LabelSelectorOpNotIn, "x")), podPeer(labelsSel("pod", "b")))))},
			probes: []probe{{80, tcp, newReachability(true).expect("x/a", "x/a", false).expect("x/c", "x/a", false)}},
		},
		{
			name: "PodSelector and NamespaceSelector",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-ns-y-podselector-and-nsselector", map[string]string{"pod": "a"},
				ingress(from(nsPodPeer(exprSel(nameLabel, metav1.LabelSelectorOpNotIn, "x"), labelsSel("pod", "b")))))},
			probes: []probe{{80, tcp, newReachability(true).allIngress("x/a", false).expect("y/b", "x/a", true).expect("z/b", "x/a", true)}},
		},
		{
			name: "Multiple PodSelectors and NamespaceSelectors",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-ns-y-z-pod-b-c", map[string]string{"pod": "a"},
				ingress(from(nsPodPeer(exprSel(nameLabel, metav1.LabelSelectorOpNotIn, "x"), exprSel("pod", metav1.LabelSelectorOpIn, "b", "c")))))},
			probes: []probe{{80, tcp, newReachability(true).peer("x", "", "x", "a", false).expect("y/a", "x/a", false).expect("z/a", "x/a", false)}},
		},
		{
			name: "any PodSelectors",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-ns-x-pod-b-c", map[string]string{"pod": "a"},
				ingress(from(podPeer(labelsSel("pod", "b")), podPeer(labelsSel("pod", "c")))))},
			probes: []probe{{80, tcp, newReachability(true).allIngress("x/a", false).expect("x/b", "x/a", true).expect("x/c", "x/a", true)}},
		},
		{
			name: "only from a pod in a different namespace based on PodSelector and NamespaceSelector",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-ns-y-pod-a-via-namespace-pod-selector", map[string]string{"pod": "a"},
				ingress(from(nsPodPeer(labelsSel(nameLabel, "y"), labelsSel("pod", "a")))))},
			probes: []probe{{80, tcp, newReachability(true).allIngress("x/a", false).expect("y/a", "x/a", true)}},
		},
		{
			name:     "Ports",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-client-a-via-ns-selector", map[string]string{"pod": "a"}, ingress(allowY81))},
			probes: []probe{
				{81, tcp, allowPattern()},
				{80, tcp, newReachability(true).allIngress("x/a", false)},
			},
		},
		{
			name: "multiple, stacked policies with overlapping podSelectors",
			policies: []networkingv1.NetworkPolicy{
				policy("x", "allow-client-a-via-ns-selector", map[string]string{"pod": "a"}, ingress(allowY81)),
				policy("x", "allow-client-a-via-ns-selector-80", map[string]string{"pod": "a"}, ingress(allowY80)),
			},
			probes: []probe{{81, tcp, allowPattern()}, {80, tcp, allowPattern()}},
		},
		{
			name:     "allow-all policy",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-all", map[string]string{}, ingress(networkingv1.NetworkPolicyIngressRule{}))},
			probes:   []probe{{80, tcp, newReachability(true)}, {81, tcp, newReachability(true)}},
		},
		{
			name:     "ingress access on one named port",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-all", map[string]string{}, ingress(withPorts(networkingv1.NetworkPolicyIngressRule{}, portName("serve-81-tcp", nil))))},
			probes:   []probe{{81, tcp, newReachability(true)}, {80, tcp, newReachability(true).peer("", "", "x", "", false)}},
		},
		{
			name: "ingress access from namespace on one named port",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-client-a-via-ns-selector-80", map[string]string{"pod": "a"},
				ingress(withPorts(from(nsPeer(labelsSel(nameLabel, "y"))), portName("serve-80-tcp", &tcp))))},
			probes: []probe{{80, tcp, allowPattern()}, {81, tcp, newReachability(true).allIngress("x/a", false)}},
		},
		{
			name:     "egress access on one named port",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-egress", map[string]string{}, egress(withEgressPorts(networkingv1.NetworkPolicyEgressRule{}, portName("serve-80-tcp", nil))))},
			probes:   []probe{{80, tcp, newReachability(true)}, {81, tcp, newReachability(true).peer("x", "", "", "", false)}},
		},
		{
			name:     "updated policy, step 1: allow all",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-all-mutate-to-deny-all", map[string]string{}, ingress(networkingv1.NetworkPolicyIngressRule{}))},
			probes:   []probe{{81, tcp, newReachability(true)}},
		},
		{
			name:     "updated policy, step 2: deny all",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-all-mutate-to-deny-all", map[string]string{}, ingress())},
			probes:   []probe{{81, tcp, newReachability(true).peer("", "", "x", "", false)}},
		},
		{
			name:     "ingress access from updated namespace, before",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-client-a-via-ns-selector", map[string]string{"pod": "a"}, ingress(from(nsPeer(labelsSel("ns2", "updated")))))},
			probes:   []probe{{80, tcp, newReachability(true).allIngress("x/a", false)}},
		},
		{
			name:     "ingress access from updated namespace, after",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-client-a-via-ns-selector", map[string]string{"pod": "a"}, ingress(from(nsPeer(labelsSel("ns2", "updated")))))},
			mutate:   func(m *model) { m.namespaces[1].Labels["ns2"] = "updated" },
			probes:   []probe{{80, tcp, newReachability(true).allIngress("x/a", false).peer("y", "", "", "", true)}},
		},
		{
			name:     "ingress access from updated pod, before",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-client-a-via-pod-selector", map[string]string{"pod": "a"}, ingress(from(podPeer(labelsSel("pod", "b", "pod2", "updated")))))},
			probes:   []probe{{80, tcp, newReachability(true).allIngress("x/a", false)}},
		},
		{
			name:     "ingress access from updated pod, after",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-client-a-via-pod-selector", map[string]string{"pod": "a"}, ingress(from(podPeer(labelsSel("pod", "b", "pod2", "updated")))))},
			mutate:   func(m *model) { m.pods[1].Labels["pod2"] = "updated" },
			probes:   []probe{{80, tcp, newReachability(true).allIngress("x/a", false).expect("x/b", "x/a", true)}},
		},
		{
			name:     "deny ingress from pods on other namespaces",
			policies: []networkingv1.NetworkPolicy{policySel("x", "deny-empty-policy", metav1.LabelSelector{}, ingress(from(podPeer(labelsSel()))))},
			probes:   []probe{{80, tcp, newReachability(true).peer("y", "", "x", "", false).peer("z", "", "x", "", false)}},
		},
		{
			name:     "deny ingress access to updated pod, before",
			policies: []networkingv1.NetworkPolicy{policy("x", "deny-ingress-via-label-selector", map[string]string{"target": "isolated"}, ingress())},
			probes:   []probe{{80, tcp, newReachability(true)}},
		},
		{
			name:     "deny ingress access to updated pod, after",
			policies: []networkingv1.NetworkPolicy{policy("x", "deny-ingress-via-label-selector", map[string]string{"target": "isolated"}, ingress())},
			mutate:   func(m *model) { m.pods[0].Labels["target"] = "isolated" },
			probes:   []probe{{80, tcp, newReachability(true).allIngress("x/a", false)}},
		},
		{
			name:     "deny egress from pods based on PodSelector",
			policies: []networkingv1.NetworkPolicy{policy("x", "deny-egress-pod-a", map[string]string{"pod": "a"}, egress())},
			probes:   []probe{{80, tcp, newReachability(true).allEgress("x/a", false)}},
		},
		{
			name:     "deny egress from all pods in a namespace",
			policies: []networkingv1.NetworkPolicy{policySel("x", "deny-egress-ns-x", metav1.LabelSelector{}, egress())},
			probes:   []probe{{80, tcp, newReachability(true).peer("x", "", "", "", false)}},
		},
		{
			name: "Ingress, Egress specified together",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-client-a-via-pod-selector", map[string]string{"pod": "a"},
				ingress(from(podPeer(labelsSel("pod", "b")))), egress(withEgressPorts(networkingv1.NetworkPolicyEgressRule{}, portNum(80, nil))))},
			probes: []probe{
				{80, tcp, newReachability(true).allIngress("x/a", false).expect("x/b", "x/a", true)},
				{81, tcp, newReachability(true).allIngress("x/a", false).allEgress("x/a", false).expect("x/b", "x/a", true)},
			},
		},
		{
			name: "denying of egress traffic on the client side even if the server allows it",
			policies: []networkingv1.NetworkPolicy{
				policy("x", "allow-to-ns-y-pod-a", map[string]string{"pod": "a"}, egress(to(nsPodPeer(labelsSel(nameLabel, "y"), labelsSel("pod", "a"))))),
				policy("y", "allow-from-xa-on-ya-match-selector", map[string]string{"pod": "a"}, ingress(from(nsPodPeer(labelsSel(nameLabel, "x"), labelsSel("pod", "a"))))),
				policy("y", "allow-from-xa-on-yb-match-selector", map[string]string{"pod": "b"}, ingress(from(nsPodPeer(labelsSel(nameLabel, "x"), labelsSel("pod", "a"))))),
			},
			probes: []probe{{80, tcp, newReachability(true).allEgress("x/a", false).allIngress("y/a", false).expect("x/a", "y/a", true).allIngress("y/b", false)}},
		},
		{
			name: "egress to a server in a different namespace based on PodSelector and NamespaceSelector",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-to-ns-y-pod-a", map[string]string{"pod": "a"},
				egress(to(nsPodPeer(labelsSel(nameLabel, "y"), labelsSel("pod", "a")))))},
			probes: []probe{{80, tcp, newReachability(true).allEgress("x/a", false).expect("x/a", "y/a", true)}},
		},
		{
			name:     "ingress allowing any port to a server on a specific protocol",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-ingress-by-proto", map[string]string{"pod": "a"}, ingress(withPorts(networkingv1.NetworkPolicyIngressRule{}, protoOnly(tcp))))},
			probes:   []probe{{80, tcp, newReachability(true)}, {80, udp, newReachability(true).allIngress("x/a", false)}},
		},
		{
			name:     "multiple ingress policies, step 1: only port 80",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-ingress-port-80", map[string]string{}, ingress(withPorts(networkingv1.NetworkPolicyIngressRule{}, portNum(80, nil))))},
			probes:   []probe{{81, tcp, newReachability(true).peer("", "", "x", "", false)}},
		},
		{
			name: "multiple ingress policies, step 2: allow-all takes precedence",
			policies: []networkingv1.NetworkPolicy{
				policy("x", "allow-ingress-port-80", map[string]string{}, ingress(withPorts(networkingv1.NetworkPolicyIngressRule{}, portNum(80, nil)))),
				policy("x", "allow-ingress", map[string]string{}, ingress(networkingv1.NetworkPolicyIngressRule{})),
			},
			probes: []probe{{81, tcp, newReachability(true)}},
		},
		{
			name:     "multiple egress policies, step 1: only port 80",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-egress-port-80", map[string]string{}, egress(withEgressPorts(networkingv1.NetworkPolicyEgressRule{}, portNum(80, nil))))},
			probes:   []probe{{81, tcp, newReachability(true).peer("x", "", "", "", false)}},
		},
		{
			name: "multiple egress policies, step 2: allow-all takes precedence",
			policies: []networkingv1.NetworkPolicy{
				policy("x", "allow-egress-port-80", map[string]string{}, egress(withEgressPorts(networkingv1.NetworkPolicyEgressRule{}, portNum(80, nil)))),
				policy("x", "allow-egress", map[string]string{}, egress(networkingv1.NetworkPolicyEgressRule{})),
			},
			probes: []probe{{81, tcp, newReachability(true)}},
		},
		{
			name:     "stop enforcing policies after they are deleted",
			policies: nil,
			probes:   []probe{{80, tcp, newReachability(true)}},
		},
		{
			name:     "egress access to server in CIDR block",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-client-a-via-cidr-egress-rule", map[string]string{"pod": "a"}, egress(to(blockPeer(m.ip("y", "b")+"/32"))))},
			probes:   []probe{{80, tcp, newReachability(true).allEgress("x/a", false).expect("x/a", "y/b", true)}},
		},
		{
			name: "except clause while egress access to server in CIDR block",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-client-a-via-cidr-egress-rule", map[string]string{"pod": "a"},
				egress(to(blockPeer("10.0.0.0/16", m.ip("x", "b")+"/32"))))},
			probes: []probe{{80, tcp, newReachability(true).expect("x/a", "x/b", false)}},
		},
		{
			name: "IP overlapping both IPBlock.CIDR and IPBlock.Except is allowed (policy replaced)",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-client-a-via-cidr-egress-rule", map[string]string{"pod": "a"},
				egress(to(blockPeer(m.ip("x", "b")+"/32"))))},
			probes: []probe{{80, tcp, newReachability(true).allEgress("x/a", false).expect("x/a", "x/b", true)}},
		},
		{
			name: "ingress and egress controlled independently, step 1",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-egress-for-target", map[string]string{"pod": "a"},
				egress(networkingv1.NetworkPolicyEgressRule{}))},
			probes: []probe{{80, tcp, newReachability(true)}},
		},
		{
			name: "ingress and egress controlled independently, step 2",
			policies: []networkingv1.NetworkPolicy{
				policy("x", "allow-egress-for-target", map[string]string{"pod": "a"}, egress(networkingv1.NetworkPolicyEgressRule{})),
				policy("x", "deny-ingress-via-label-selector", map[string]string{"pod": "a"}, ingress()),
			},
			probes: []probe{{80, tcp, newReachability(true).allIngress("x/a", false)}},
		},
		{
			name: "not mistakenly treat protocol SCTP as TCP",
			policies: []networkingv1.NetworkPolicy{
				policySel("x", "deny-ingress", metav1.LabelSelector{}, ingress()),
				policy("x", "allow-only-sctp-ingress-on-port-81", map[string]string{"pod": "a"}, ingress(withPorts(networkingv1.NetworkPolicyIngressRule{}, portNum(81, &sctp)))),
			},
			probes: []probe{{81, tcp, newReachability(true).peer("", "", "x", "", false)}, {81, sctp, newReachability(true).peer("", "", "x", "", false).allIngress("x/a", true)}},
		},
		{
			name:     "isolate pods selected by a policy allowing SCTP",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-only-sctp-ingress-on-port-80", map[string]string{"pod": "a"}, ingress(withPorts(networkingv1.NetworkPolicyIngressRule{}, portNum(80, &sctp))))},
			probes:   []probe{{81, tcp, newReachability(true).allIngress("x/a", false)}},
		},
		{
			name:     "not allow access by TCP when a policy specifies only UDP",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-only-udp-ingress-on-port-81", map[string]string{"pod": "a"}, ingress(withPorts(networkingv1.NetworkPolicyIngressRule{}, portNum(81, &udp))))},
			probes:   []probe{{81, tcp, newReachability(true).allIngress("x/a", false)}, {81, udp, newReachability(true)}},
		},
		{
			name:     "NamespaceSelector with MatchLabels using the default ns label, via the custom ns label",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-client-a-via-ns-selector-for-custom-ns-label", map[string]string{"pod": "a"}, ingress(from(nsPeer(labelsSel("ns", "y")))))},
			probes:   []probe{{80, tcp, newReachability(true).peer("x", "", "x", "a", false).peer("z", "", "x", "a", false)}},
		},
		{
			name: "NamespaceSelector with MatchExpressions using the default ns label (egress)",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-ns-y-match-selector-for-immutable-ns-label", map[string]string{"pod": "a"},
				egress(to(nsPeer(exprSel(nameLabel, metav1.LabelSelectorOpNotIn, "y")))))},
			probes: []probe{{80, tcp, newReachability(true).peer("x", "a", "y", "", false)}},
		},
		{
			name:     "UDP default-deny-ingress",
			policies: []networkingv1.NetworkPolicy{policySel("x", "deny-all", metav1.LabelSelector{}, ingress())},
			probes:   []probe{{80, udp, newReachability(true).peer("", "", "x", "", false)}},
		},
		{
			name: "UDP Ports",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-ingress-on-port-81-ns-x", map[string]string{"pod": "a"},
				ingress(withPorts(from(nsPeer(labelsSel(nameLabel, "y"))), portNum(81, &udp))))},
			probes: []probe{{81, udp, allowPattern()}, {81, tcp, newReachability(true).allIngress("x/a", false)}},
		},
		{
			name: "SCTP only from a pod in a different namespace",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-ns-y-pod-a-via-namespace-pod-selector", map[string]string{"pod": "a"},
				ingress(from(nsPodPeer(labelsSel(nameLabel, "y"), labelsSel("pod", "a")))))},
			probes: []probe{{80, sctp, newReachability(true).allIngress("x/a", false).expect("y/a", "x/a", true)}},
		},
		// Port ranges (endPort, the upstream [Feature:NetworkPolicyEndPort] cases).
		{
			name: "ingress port range covering the probed port",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-y-80-81", map[string]string{"pod": "a"},
				ingress(withPorts(from(nsPeer(labelsSel(nameLabel, "y"))), portRange(80, 81, &tcp))))},
			probes: []probe{{80, tcp, allowPattern()}, {81, tcp, allowPattern()}, {82, tcp, newReachability(true).allIngress("x/a", false)}},
		},
		{
			name: "egress port range not covering the probed port",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-egress-81-90", map[string]string{"pod": "a"},
				egress(withEgressPorts(to(nsPeer(labelsSel())), portRange(81, 90, nil))))},
			probes: []probe{{80, tcp, newReachability(true).allEgress("x/a", false)}, {90, tcp, newReachability(true)}, {91, tcp, newReachability(true).allEgress("x/a", false)}},
		},
		// Beyond upstream: both the except-clause policy and the /32 policy at once.
		{
			name: "union of an except clause and a policy allowing the excepted address",
			policies: []networkingv1.NetworkPolicy{
				policy("x", "wide", map[string]string{"pod": "a"}, egress(to(blockPeer("10.0.0.0/16", m.ip("x", "b")+"/32")))),
				policy("x", "narrow", map[string]string{"pod": "a"}, egress(to(blockPeer(m.ip("x", "b")+"/32")))),
			},
			probes: []probe{{80, tcp, newReachability(true)}},
		},
		// Implicit policy types: egress rules without policyTypes make an egress policy.
		{
			name: "implicit egress policy type",
			policies: []networkingv1.NetworkPolicy{{
				ObjectMeta: metav1.ObjectMeta{Namespace: "x", Name: "implicit"},
				Spec: networkingv1.NetworkPolicySpec{
					PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"pod": "a"}},
					Egress:      []networkingv1.NetworkPolicyEgressRule{to(nsPeer(labelsSel(nameLabel, "x")))},
				},
			}},
			probes: []probe{{80, tcp, newReachability(true).allIngress("x/a", false).allEgress("x/a", false).peer("x", "a", "x", "", true).peer("x", "a", "x", "a", false)}},
		},
	}
}

func TestEvaluatorUpstreamTruthTables(t *testing.T) {
	for _, tc := range upstreamCases() {
		t.Run(tc.name, func(t *testing.T) {
			m := newModel()
			if tc.mutate != nil {
				tc.mutate(m)
			}
			ev, err := NewEvaluator(tc.policies, m.namespaces, m.pods)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range tc.probes {
				got, err := ev.Matrix(nil, p.port, p.proto)
				if err != nil {
					t.Fatal(err)
				}
				want := p.want.matrix()
				if diff := cmp.Diff(want.String(), got.String()); diff != "" {
					t.Errorf("%s/%d reachability (-want +got):\n%s\nmismatches: %v", p.proto, p.port, diff, got.Diff(want))
				}
			}
		})
	}
}
