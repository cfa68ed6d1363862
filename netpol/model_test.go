package netpol

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The upstream e2e model (kubernetes test/e2e/network/netpol): namespaces x, y, z labelled
// ns=<name>, pods a, b, c labelled pod=<name>, each serving 80 and 81 on TCP, UDP and SCTP
// through container ports named serve-<port>-<protocol>.
var (
	modelNamespaces = []string{"x", "y", "z"}
	modelPods       = []string{"a", "b", "c"}
	tcp             = corev1.ProtocolTCP
	udp             = corev1.ProtocolUDP
	sctp            = corev1.ProtocolSCTP
)

type model struct {
	namespaces []corev1.Namespace
	pods       []corev1.Pod
}

func newModel() *model {
	m := &model{}
	for i, ns := range modelNamespaces {
		m.namespaces = append(m.namespaces, corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"ns": ns}}})
		for j, p := range modelPods {
			var ports []corev1.ContainerPort
			for _, port := range []int32{80, 81} {
				for _, proto := range []corev1.Protocol{tcp, udp, sctp} {
					ports = append(ports, corev1.ContainerPort{
						Name:          fmt.Sprintf("serve-%d-%s", port, map[corev1.Protocol]string{tcp: "tcp", udp: "udp", sctp: "sctp"}[proto]),
						ContainerPort: port, Protocol: proto,
					})
				}
			}
			m.pods = append(m.pods, corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: p, Labels: map[string]string{"pod": p}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Ports: ports}}},
				Status:     corev1.PodStatus{PodIP: fmt.Sprintf("10.0.%d.%d", i, j+1)},
			})
		}
	}
	return m
}

func (m *model) ip(ns, pod string) string {
	for _, p := range m.pods {
		if p.Namespace == ns && p.Name == pod {
			return p.Status.PodIP
		}
	}
	panic("no pod " + ns + "/" + pod)
}

// reachability mirrors the upstream Reachability helper: start from a default and
// override with Expect* calls; an empty namespace or pod is a wildcard.
type reachability struct {
	eps []Endpoint
	m   [][]bool
}

func newReachability(def bool) *reachability {
	r := &reachability{}
	for _, ns := range modelNamespaces {
		for _, p := range modelPods {
			r.eps = append(r.eps, PodEndpoint(ns, p))
		}
	}
	for range r.eps {
		row := make([]bool, len(r.eps))
		for j := range row {
			row[j] = def
		}
		r.m = append(r.m, row)
	}
	return r
}

func match(e Endpoint, ns, pod string) bool {
	return (ns == "" || e.Namespace == ns) && (pod == "" || e.Pod == pod)
}

func (r *reachability) peer(fromNS, fromPod, toNS, toPod string, v bool) *reachability {
	for i, f := range r.eps {
		for j, t := range r.eps {
			if match(f, fromNS, fromPod) && match(t, toNS, toPod) {
				r.m[i][j] = v
			}
		}
	}
	return r
}

func (r *reachability) expect(from, to string, v bool) *reachability {
	fn, fp, _ := strings.Cut(from, "/")
	tn, tp, _ := strings.Cut(to, "/")
	return r.peer(fn, fp, tn, tp, v)
}

func (r *reachability) allIngress(to string, v bool) *reachability {
	ns, pod, _ := strings.Cut(to, "/")
	return r.peer("", "", ns, pod, v)
}

func (r *reachability) allEgress(from string, v bool) *reachability {
	ns, pod, _ := strings.Cut(from, "/")
	return r.peer(ns, pod, "", "", v)
}

func (r *reachability) matrix() *Matrix { return &Matrix{Endpoints: r.eps, Allowed: r.m} }

// Policy construction helpers, named after the upstream ones.

func policy(ns, name string, podSelector map[string]string, mods ...func(*networkingv1.NetworkPolicy)) networkingv1.NetworkPolicy {
	p := networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: podSelector}},
	}
	for _, m := range mods {
		m(&p)
	}
	return p
}

func policySel(ns, name string, sel metav1.LabelSelector, mods ...func(*networkingv1.NetworkPolicy)) networkingv1.NetworkPolicy {
	p := policy(ns, name, nil, mods...)
	p.Spec.PodSelector = sel
	return p
}

// ingress sets Ingress as a policy type with the given rules (none: deny all ingress).
func ingress(rules ...networkingv1.NetworkPolicyIngressRule) func(*networkingv1.NetworkPolicy) {
	return func(p *networkingv1.NetworkPolicy) {
		p.Spec.Ingress = rules
		p.Spec.PolicyTypes = append(p.Spec.PolicyTypes, networkingv1.PolicyTypeIngress)
	}
}

func egress(rules ...networkingv1.NetworkPolicyEgressRule) func(*networkingv1.NetworkPolicy) {
	return func(p *networkingv1.NetworkPolicy) {
		p.Spec.Egress = rules
		p.Spec.PolicyTypes = append(p.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
	}
}

func from(peers ...networkingv1.NetworkPolicyPeer) networkingv1.NetworkPolicyIngressRule {
	return networkingv1.NetworkPolicyIngressRule{From: peers}
}

func to(peers ...networkingv1.NetworkPolicyPeer) networkingv1.NetworkPolicyEgressRule {
	return networkingv1.NetworkPolicyEgressRule{To: peers}
}

func labelsSel(kv ...string) *metav1.LabelSelector {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return &metav1.LabelSelector{MatchLabels: m}
}

func exprSel(key string, op metav1.LabelSelectorOperator, values ...string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: key, Operator: op, Values: values}}}
}

func podPeer(s *metav1.LabelSelector) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{PodSelector: s}
}

func nsPeer(s *metav1.LabelSelector) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{NamespaceSelector: s}
}

func nsPodPeer(ns, pod *metav1.LabelSelector) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{NamespaceSelector: ns, PodSelector: pod}
}

func blockPeer(cidr string, except ...string) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: cidr, Except: except}}
}

func portNum(port int32, proto *corev1.Protocol) networkingv1.NetworkPolicyPort {
	p := intstr.FromInt32(port)
	return networkingv1.NetworkPolicyPort{Port: &p, Protocol: proto}
}

func portRange(port, end int32, proto *corev1.Protocol) networkingv1.NetworkPolicyPort {
	p := portNum(port, proto)
	p.EndPort = &end
	return p
}

func portName(name string, proto *corev1.Protocol) networkingv1.NetworkPolicyPort {
	p := intstr.FromString(name)
	return networkingv1.NetworkPolicyPort{Port: &p, Protocol: proto}
}

func protoOnly(proto corev1.Protocol) networkingv1.NetworkPolicyPort {
	return networkingv1.NetworkPolicyPort{Protocol: &proto}
}

func withPorts(r networkingv1.NetworkPolicyIngressRule, ports ...networkingv1.NetworkPolicyPort) networkingv1.NetworkPolicyIngressRule {
	r.Ports = ports
	return r
}

func withEgressPorts(r networkingv1.NetworkPolicyEgressRule, ports ...networkingv1.NetworkPolicyPort) networkingv1.NetworkPolicyEgressRule {
	r.Ports = ports
	return r
}

func ptr[T any](v T) *T { return &v }
