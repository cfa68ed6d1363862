package netpol_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/netpol"
	"github.com/vclusterkit/vclusterkit/tenancy"
)

// In a virtual cluster's host namespace the isolation leaves the tenant's
// own policies in charge of the pods they select: a deny-all written
// inside the virtual cluster (translated, selecting db, which the pods
// syncer marks with LabelIngressPolicies) denies db's neighbours and the
// tenant's other namespaces, while unselected pods keep the isolation's
// allowance, other tenants stay out, and platform peers stay in. A space
// (no virtual cluster) keeps the single policy.
func TestVirtualClusterIsolationLeavesSelectedPodsToTenantPolicies(t *testing.T) {
	ns := func(name, tenant string) corev1.Namespace {
		labels := tenancy.TreeLabels([]string{tenant})
		labels[tenancy.LabelTenant] = tenant
		labels[corev1.LabelMetadataName] = name
		return corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	}
	pod := func(ns, name string, labels map[string]string) corev1.Pod {
		l := map[string]string{"app": name}
		for k, v := range labels {
			l[k] = v
		}
		return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: l}, Status: corev1.PodStatus{PodIP: ""}}
	}
	namespaces := []corev1.Namespace{ns("vc-a", "a"), ns("a-space", "a"), ns("b-space", "b"), ns("monitoring", "platform")}
	pods := []corev1.Pod{
		pod("vc-a", "db", map[string]string{netpol.LabelIngressPolicies: "true"}),
		pod("vc-a", "web", map[string]string{netpol.LabelIngressPolicies: "false", netpol.LabelEgressPolicies: "false"}),
		pod("vc-a", "api", map[string]string{netpol.LabelEgressPolicies: "true"}),
		pod("a-space", "job", nil),
		pod("b-space", "intruder", nil),
		pod("monitoring", "prometheus", nil),
	}
	opts := netpol.Options{AllowedPeers: []netpol.Peer{{NamespaceLabels: map[string]string{corev1.LabelMetadataName: "monitoring"}, PodLabels: map[string]string{}}}}
	var policies []networkingv1.NetworkPolicy
	for _, tg := range []netpol.Target{
		{Namespace: "vc-a", Tenant: "a", Mode: tenancy.IsolationTenant, VirtualCluster: "a"},
		{Namespace: "a-space", Tenant: "a", Mode: tenancy.IsolationTenant},
		{Namespace: "b-space", Tenant: "b", Mode: tenancy.IsolationTenant},
	} {
		ps, err := netpol.Generate(tg, opts)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range ps {
			names = append(names, p.Name)
		}
		t.Logf("%s: %v", tg.Namespace, names)
		policies = append(policies, ps...)
	}
	// The tenant's translated deny-all for db (ingress) and api (egress).
	policies = append(policies,
		networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "vc-a", Name: "deny-db"}, Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}}},
		networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "vc-a", Name: "api-egress-web-only"}, Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{
				{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}}}}},
	)
	ev, err := netpol.NewEvaluator(policies, namespaces, pods)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		from, to [2]string
		want     bool
	}{
		{[2]string{"vc-a", "web"}, [2]string{"vc-a", "db"}, false},              // the tenant's deny-all holds inside the virtual cluster
		{[2]string{"a-space", "job"}, [2]string{"vc-a", "db"}, false},           // and for the tenant's other namespaces
		{[2]string{"monitoring", "prometheus"}, [2]string{"vc-a", "db"}, true},  // platform peers stay allowed
		{[2]string{"b-space", "intruder"}, [2]string{"vc-a", "db"}, false},      // other tenants stay out
		{[2]string{"vc-a", "db"}, [2]string{"vc-a", "web"}, true},               // db's egress is not the policy's
		{[2]string{"vc-a", "api"}, [2]string{"vc-a", "web"}, true},              // api may reach web
		{[2]string{"vc-a", "api"}, [2]string{"a-space", "job"}, false},          // and nothing else of the scope
		{[2]string{"a-space", "job"}, [2]string{"vc-a", "web"}, true},           // unselected pods keep the tenant scope
		{[2]string{"b-space", "intruder"}, [2]string{"vc-a", "web"}, false},     // and the isolation
		{[2]string{"vc-a", "web"}, [2]string{"b-space", "intruder"}, false},     // in both directions
		{[2]string{"vc-a", "web"}, [2]string{"monitoring", "prometheus"}, true}, // platform peers for egress too
	} {
		v, err := ev.Check(netpol.PodEndpoint(tc.from[0], tc.from[1]), netpol.PodEndpoint(tc.to[0], tc.to[1]), 80, corev1.ProtocolTCP)
		if err != nil {
			t.Fatal(err)
		}
		if v.Allowed != tc.want {
			t.Errorf("%s/%s -> %s/%s: allowed %v, want %v (%s)", tc.from[0], tc.from[1], tc.to[0], tc.to[1], v.Allowed, tc.want, v.Explain())
		}
	}
	// A space keeps the single isolation policy; a rule without peers (which would
	// allow everything) is never generated.
	ps, err := netpol.Generate(netpol.Target{Namespace: "vc-b", Tenant: "b", Mode: tenancy.IsolationStrict, VirtualCluster: "b"}, netpol.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		for _, r := range p.Spec.Ingress {
			if len(r.From) == 0 {
				t.Errorf("%s has an ingress rule without peers (allows everything)", p.Name)
			}
		}
		for _, r := range p.Spec.Egress {
			if len(r.To) == 0 {
				t.Errorf("%s has an egress rule without peers (allows everything)", p.Name)
			}
		}
	}
}
