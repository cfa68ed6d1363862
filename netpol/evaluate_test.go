package netpol

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestCheckExplains(t *testing.T) {
	m := newModel()
	pols := []networkingv1.NetworkPolicy{
		policySel("x", "deny-all", metav1.LabelSelector{}, ingress()),
		policy("x", "allow-b", map[string]string{"pod": "a"}, ingress(from(podPeer(labelsSel("pod", "b"))))),
		policy("y", "egress-80", map[string]string{}, egress(withEgressPorts(networkingv1.NetworkPolicyEgressRule{}, portNum(80, nil)))),
	}
	ev, err := NewEvaluator(pols, m.namespaces, m.pods)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		from, to Endpoint
		port     int32
		want     string
	}{
		{PodEndpoint("x", "b"), PodEndpoint("x", "a"), 80,
			"x/b -> x/a tcp/80: allowed; egress: no policy selects x/b (default allow); ingress: allowed by x/allow-b#0"},
		{PodEndpoint("x", "c"), PodEndpoint("x", "a"), 80,
			"x/c -> x/a tcp/80: denied; egress: no policy selects x/c (default allow); ingress: isolated by x/deny-all, x/allow-b and no rule matches"},
		{PodEndpoint("y", "a"), PodEndpoint("z", "a"), 81,
			"y/a -> z/a tcp/81: denied; egress: isolated by y/egress-80 and no rule matches; ingress: no policy selects z/a (default allow)"},
		{PodEndpoint("y", "a"), ExternalEndpoint("8.8.8.8"), 80,
			"y/a -> 8.8.8.8 tcp/80: allowed; egress: allowed by y/egress-80#0; ingress: not a pod, no policy applies"},
		{ExternalEndpoint("192.0.2.1"), PodEndpoint("x", "b"), 80,
			"192.0.2.1 -> x/b tcp/80: denied; egress: not a pod, no policy applies; ingress: isolated by x/deny-all and no rule matches"},
	}
	for _, tc := range tests {
		v, err := ev.Check(tc.from, tc.to, tc.port, corev1.ProtocolTCP)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, v.Explain()); diff != "" {
			t.Errorf("explain (-want +got):\n%s", diff)
		}
	}
}

func TestIPBlockExternalAndNamedPortToExternal(t *testing.T) {
	m := newModel()
	pols := []networkingv1.NetworkPolicy{
		policy("x", "from-net", map[string]string{"pod": "a"}, ingress(from(blockPeer("192.0.2.0/24", "192.0.2.128/25")))),
		policy("x", "named-egress", map[string]string{"pod": "b"}, egress(withEgressPorts(networkingv1.NetworkPolicyEgressRule{}, portName("serve-80-tcp", nil)))),
	}
	tests := []struct {
		from, to Endpoint
		want     bool
	}{
		{ExternalEndpoint("192.0.2.1"), PodEndpoint("x", "a"), true},
		{ExternalEndpoint("192.0.2.200"), PodEndpoint("x", "a"), false}, // in except
		{ExternalEndpoint("198.51.100.1"), PodEndpoint("x", "a"), false},
		{PodEndpoint("y", "a"), PodEndpoint("x", "a"), false}, // selector-less ipBlock peer: pod IP 10.0.1.1 outside
		{PodEndpoint("x", "b"), PodEndpoint("y", "a"), true},  // named port resolves on the destination pod
		{PodEndpoint("x", "b"), ExternalEndpoint("8.8.8.8"), false},
	}
	for _, tc := range tests {
		v, err := Evaluate(pols, m.namespaces, m.pods, tc.from, tc.to, 80, corev1.ProtocolTCP)
		if err != nil {
			t.Fatal(err)
		}
		if v.Allowed != tc.want {
			t.Errorf("%s", v.Explain())
		}
	}
}

func TestNewEvaluatorRejectsBadInput(t *testing.T) {
	m := newModel()
	bad := []networkingv1.NetworkPolicy{
		policy("x", "cidr", nil, egress(to(blockPeer("10.0.0.0/33")))),
		policy("x", "except", nil, egress(to(blockPeer("10.0.0.0/16", "10.1.0.0/24")))),
		policy("x", "sel", nil, ingress(from(podPeer(exprSel("pod", metav1.LabelSelectorOpIn))))),
		policy("x", "endport", nil, ingress(withPorts(networkingv1.NetworkPolicyIngressRule{}, portRange(90, 80, nil)))),
		policy("x", "named-range", nil, ingress(withPorts(networkingv1.NetworkPolicyIngressRule{}, func() networkingv1.NetworkPolicyPort {
			p := portName("http", nil)
			p.EndPort = ptr[int32](90)
			return p
		}()))),
		policy("x", "proto", nil, ingress(withPorts(networkingv1.NetworkPolicyIngressRule{}, protoOnly("ICMP")))),
	}
	pods := append(m.pods, corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "nowhere", Name: "p"}})
	_, err := NewEvaluator(bad, m.namespaces, pods)
	if !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("want ErrInvalidInput, got %v", err)
	}
	for _, want := range []string{
		"policies[0].spec.egress[0].to[0].ipBlock.cidr",
		"policies[1].spec.egress[0].to[0].ipBlock.except[0]",
		"policies[2].spec.ingress[0].from[0].podSelector",
		"policies[3].spec.ingress[0].ports[0].endPort",
		"policies[4].spec.ingress[0].ports[0].endPort",
		"policies[5].spec.ingress[0].ports[0].protocol",
		"pods[9].metadata.namespace",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s:\n%v", want, err)
		}
	}
	ev, err := NewEvaluator(nil, m.namespaces, m.pods)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ev.Check(PodEndpoint("x", "zz"), PodEndpoint("x", "a"), 80, tcp); !errors.Is(err, ErrUnknownEndpoint) {
		t.Errorf("unknown pod: got %v", err)
	}
	if _, err := ev.Check(ExternalEndpoint("not-an-ip"), PodEndpoint("x", "a"), 80, tcp); !errors.Is(err, ErrUnknownEndpoint) {
		t.Errorf("bad ip: got %v", err)
	}
}

// BenchmarkMatrix1000 evaluates a full 1,000 x 1,000 reachability matrix: 50 namespaces of
// 20 pods, each namespace with a default deny, an allow-same-namespace policy, an
// allow-from-labelled-namespaces policy on a named port, and an egress policy with an
// ipBlock and a port range.
func BenchmarkMatrix1000(b *testing.B) {
	var namespaces []corev1.Namespace
	var pods []corev1.Pod
	var pols []networkingv1.NetworkPolicy
	for n := range 50 {
		ns := fmt.Sprintf("ns-%02d", n)
		namespaces = append(namespaces, corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns,
			Labels: map[string]string{"team": fmt.Sprint(n % 5)}}})
		for p := range 20 {
			pods = append(pods, corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("p-%02d", p),
					Labels: map[string]string{"app": fmt.Sprint(p % 4), "tier": fmt.Sprint(p % 3)}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c",
					Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 80}}}}},
				Status: corev1.PodStatus{PodIP: fmt.Sprintf("10.%d.%d.%d", n/250, n%250, p+1)},
			})
		}
		pols = append(pols,
			policySel(ns, "deny", metav1.LabelSelector{}, ingress(), egress()),
			policySel(ns, "same-ns", metav1.LabelSelector{}, ingress(from(podPeer(labelsSel()))), egress(to(podPeer(labelsSel())))),
			policy(ns, "team", map[string]string{"tier": "0"}, ingress(withPorts(from(nsPodPeer(labelsSel("team", fmt.Sprint(n%5)), exprSel("app", metav1.LabelSelectorOpIn, "0", "1"))), portName("http", nil)))),
			policy(ns, "out", map[string]string{"app": "2"}, egress(withEgressPorts(to(blockPeer("10.0.0.0/8", "10.0.7.0/24"), nsPeer(labelsSel("team", "3"))), portRange(80, 90, nil)))),
		)
	}
	ev, err := NewEvaluator(pols, namespaces, pods)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := ev.Matrix(nil, 80, corev1.ProtocolTCP); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ns/pair")
}
