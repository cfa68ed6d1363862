package networkpolicies_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/vclusterkit/vclusterkit/netpol"
	"github.com/vclusterkit/vclusterkit/sync/resources/networkpolicies"
	"github.com/vclusterkit/vclusterkit/sync/translate"
)

const (
	vcKey = translate.LabelVirtualCluster
	nsKey = translate.LabelNamespace
)

func scoped(ns string, labels map[string]string, exprs ...metav1.LabelSelectorRequirement) *metav1.LabelSelector {
	ml := map[string]string{vcKey: "dev"}
	if ns != "" {
		ml[nsKey] = ns
	}
	for k, v := range labels {
		ml[k] = v
	}
	return &metav1.LabelSelector{MatchLabels: ml, MatchExpressions: exprs}
}

var (
	anyNS   = metav1.LabelSelectorRequirement{Key: nsKey, Operator: metav1.LabelSelectorOpExists}
	nothing = networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{
		MatchLabels:      map[string]string{vcKey: "dev"},
		MatchExpressions: []metav1.LabelSelectorRequirement{{Key: vcKey, Operator: metav1.LabelSelectorOpDoesNotExist}},
	}}
	hostCIDRs = []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"}
	// world is what an empty peer list becomes with hostCIDRs.
	world = []networkingv1.NetworkPolicyPeer{
		{PodSelector: scoped("", nil, anyNS)},
		{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0", Except: []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"}}},
		{IPBlock: &networkingv1.IPBlock{CIDR: "::/0", Except: []string{"fc00::/7"}}},
	}
	namespaces = []corev1.Namespace{
		{ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: map[string]string{"team": "web", corev1.LabelMetadataName: "shop"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "db", Labels: map[string]string{"team": "data", corev1.LabelMetadataName: "db"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "tools", Labels: map[string]string{"team": "web", corev1.LabelMetadataName: "tools"}}},
	}
)

func ingressFrom(peers ...networkingv1.NetworkPolicyPeer) networkingv1.NetworkPolicySpec {
	return networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
		Ingress: []networkingv1.NetworkPolicyIngressRule{{From: peers}}}
}

func egressTo(peers ...networkingv1.NetworkPolicyPeer) networkingv1.NetworkPolicySpec {
	return networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
		Egress: []networkingv1.NetworkPolicyEgressRule{{To: peers}}}
}

// withSelector sets the host policy's own scoped pod selector (every pod
// of "shop" unless the case says otherwise).
func withSelector(s networkingv1.NetworkPolicySpec) networkingv1.NetworkPolicySpec {
	s.PodSelector = *scoped("shop", nil)
	return s
}

func TestToHost(t *testing.T) {
	tr, err := translate.New("dev", "team-a")
	if err != nil {
		t.Fatal(err)
	}
	cidrs, err := networkpolicies.ParseHostCIDRs(nil, hostCIDRs)
	if err != nil {
		t.Fatal(err)
	}
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	p80, named, end := intstr.FromInt32(8000), intstr.FromString("http"), int32(9000)
	ports := []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &p80, EndPort: &end}, {Protocol: &udp, Port: &named}}
	for _, tc := range []struct {
		name     string
		spec     networkingv1.NetworkPolicySpec
		want     networkingv1.NetworkPolicySpec
		narrowed []string // substrings, one per narrowing note
	}{{
		name: "deny all ingress: every pod of the namespace, this virtual cluster only",
		spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}},
		want: withSelector(networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}}),
	}, {
		name: "pod selector and peer pod selector are scoped",
		spec: networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "role", Operator: metav1.LabelSelectorOpIn, Values: []string{"api"}}}}}}}}},
		want: networkingv1.NetworkPolicySpec{PodSelector: *scoped("shop", map[string]string{"app": "db"}),
			Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: scoped("shop", nil,
				metav1.LabelSelectorRequirement{Key: "role", Operator: metav1.LabelSelectorOpIn, Values: []string{"api"}})}}}}},
	}, {
		name: "hostile: forged marker labels in the pod selector are escaped, the real scope stays",
		spec: networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{vcKey: "victim", nsKey: "prod"}},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{vcKey: "victim"}}}}}}},
		want: networkingv1.NetworkPolicySpec{PodSelector: *scoped("shop", map[string]string{"vcluster.tenant.vclusterkit.io/name": "victim", "vcluster.tenant.vclusterkit.io/namespace": "prod"}),
			Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: scoped("shop", map[string]string{"vcluster.tenant.vclusterkit.io/name": "victim"})}}}}},
	}, {
		name: "hostile: forged marker key as an expression (NotIn, DoesNotExist) is escaped",
		spec: ingressFrom(networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: vcKey, Operator: metav1.LabelSelectorOpDoesNotExist}, {Key: nsKey, Operator: metav1.LabelSelectorOpNotIn, Values: []string{"shop"}}}}}),
		want: withSelector(ingressFrom(networkingv1.NetworkPolicyPeer{PodSelector: scoped("shop", nil,
			metav1.LabelSelectorRequirement{Key: "vcluster.tenant.vclusterkit.io/name", Operator: metav1.LabelSelectorOpDoesNotExist},
			metav1.LabelSelectorRequirement{Key: "vcluster.tenant.vclusterkit.io/namespace", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"shop"}})})),
	}, {
		name: "hostile: empty namespaceSelector is every namespace of this virtual cluster",
		spec: ingressFrom(networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{}}),
		want: withSelector(ingressFrom(networkingv1.NetworkPolicyPeer{PodSelector: scoped("", nil, anyNS)})),
	}, {
		name: "empty namespaceSelector with a pod selector",
		spec: egressTo(networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{}, PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}}),
		want: withSelector(egressTo(networkingv1.NetworkPolicyPeer{PodSelector: scoped("", map[string]string{"app": "db"}, anyNS)})),
	}, {
		name: "namespaceSelector resolves against the virtual namespaces' labels",
		spec: ingressFrom(networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "web"}},
			PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}}}),
		want: withSelector(ingressFrom(networkingv1.NetworkPolicyPeer{PodSelector: scoped("", map[string]string{"app": "api"},
			metav1.LabelSelectorRequirement{Key: nsKey, Operator: metav1.LabelSelectorOpIn, Values: []string{"shop", "tools"}})})),
	}, {
		name: "namespaceSelector by kubernetes.io/metadata.name, one namespace",
		spec: ingressFrom(networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: "db"}}}),
		want: withSelector(ingressFrom(networkingv1.NetworkPolicyPeer{PodSelector: scoped("db", nil)})),
	}, {
		name: "hostile: namespaceSelector naming a host namespace matches nothing",
		spec: ingressFrom(networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: "kube-system"}}}),
		want: withSelector(ingressFrom(nothing)),
	}, {
		name: "hostile: namespaceSelector on forged tenant labels matches nothing",
		spec: ingressFrom(networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"vclusterkit.io/tenant": "other"}}}),
		want: withSelector(ingressFrom(nothing)),
	}, {
		name: "empty from: this virtual cluster's pods and the world outside the host ranges",
		spec: networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{Ports: ports}}},
		want: withSelector(networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{From: world, Ports: ports}}}),
	}, {
		name: "empty to, egress",
		spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}, Egress: []networkingv1.NetworkPolicyEgressRule{{}}},
		want: withSelector(networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}, Egress: []networkingv1.NetworkPolicyEgressRule{{To: world}}}),
	}, {
		name:     "hostile: ipBlock 0.0.0.0/0 loses the host ranges",
		spec:     ingressFrom(networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0"}}),
		want:     withSelector(ingressFrom(networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0", Except: []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"}}})),
		narrowed: []string{"0.0.0.0/0: the host's ranges 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 are excepted"},
	}, {
		name:     "hostile: egress ipBlock with the tenant's own except keeps it and adds what it misses",
		spec:     egressTo(networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0", Except: []string{"10.0.0.0/8", "8.8.8.8/32"}}}),
		want:     withSelector(egressTo(networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0", Except: []string{"10.0.0.0/8", "8.8.8.8/32", "172.16.0.0/12", "192.168.0.0/16"}}})),
		narrowed: []string{"172.16.0.0/12, 192.168.0.0/16 are excepted"},
	}, {
		name:     "hostile: ipBlock over the pod range allows nothing",
		spec:     egressTo(networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "10.244.0.0/16"}}, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8"}}),
		want:     withSelector(egressTo(nothing, nothing)),
		narrowed: []string{"10.244.0.0/16 lies inside", "10.0.0.0/8 lies inside"},
	}, {
		name:     "hostile: IPv6 ipBlock ::/0",
		spec:     egressTo(networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "::/0"}}),
		want:     withSelector(egressTo(networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "::/0", Except: []string{"fc00::/7"}}})),
		narrowed: []string{"::/0"},
	}, {
		name: "public ipBlock outside the host ranges is kept as it is",
		spec: egressTo(networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "203.0.113.0/24", Except: []string{"203.0.113.7/32"}}}),
		want: withSelector(egressTo(networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "203.0.113.0/24", Except: []string{"203.0.113.7/32"}}})),
	}, {
		name: "named ports, endPort and protocols are carried through, ingress and egress",
		spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{Ports: ports, From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}}}},
			Egress:  []networkingv1.NetworkPolicyEgressRule{{Ports: ports, To: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}}}}},
		want: withSelector(networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{Ports: ports, From: []networkingv1.NetworkPolicyPeer{{PodSelector: scoped("shop", nil)}}}},
			Egress:  []networkingv1.NetworkPolicyEgressRule{{Ports: ports, To: []networkingv1.NetworkPolicyPeer{{PodSelector: scoped("shop", nil)}}}}}),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			in := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "shop"}, Spec: tc.spec}
			orig := in.DeepCopy()
			out, err := networkpolicies.ToHost(networkpolicies.Input{Translator: tr, Policy: in, Namespaces: namespaces, HostCIDRs: cidrs})
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, out.Policy.Spec); d != "" {
				t.Errorf("host spec (-want +got):\n%s", d)
			}
			if d := cmp.Diff(orig, in); d != "" {
				t.Errorf("input modified (-before +after):\n%s", d)
			}
			if len(out.Narrowed) != len(tc.narrowed) {
				t.Fatalf("narrowed = %q, want %d notes like %q", out.Narrowed, len(tc.narrowed), tc.narrowed)
			}
			for i, want := range tc.narrowed {
				if !strings.Contains(out.Narrowed[i], want) {
					t.Errorf("narrowed[%d] = %q, want it to contain %q", i, out.Narrowed[i], want)
				}
			}
			// Every host policy must be valid NetworkPolicy input.
			hp := out.Policy.DeepCopy()
			hp.Name, hp.Namespace = "p", "team-a"
			if _, err := netpol.NewEvaluator([]networkingv1.NetworkPolicy{*hp}, nil, nil); err != nil {
				t.Errorf("host policy does not compile: %v", err)
			}
		})
	}
}

func TestToHostRefusesWhatCannotBeEscaped(t *testing.T) {
	tr, _ := translate.New("dev", "team-a")
	long := strings.Repeat("a", 240) + ".vclusterkit.io/x" // the escaped prefix passes 253 characters
	for name, spec := range map[string]networkingv1.NetworkPolicySpec{
		"policy selector": {PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{long: "v"}}},
		"peer selector":   ingressFrom(networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{long: "v"}}}),
		"bad CIDR":        ingressFrom(networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0"}}),
	} {
		_, err := networkpolicies.ToHost(networkpolicies.Input{Translator: tr, Policy: &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "shop"}, Spec: spec}})
		if err == nil || !strings.Contains(err.Error(), "spec.") {
			t.Errorf("%s: err = %v, want one naming the field", name, err)
		}
	}
}

// The evaluator, on translated host objects: whatever a hostile tenant
// writes, its policies never let it reach another virtual cluster's pods
// or the host's, nor make another tenant's pods reachable.
func TestHostilePoliciesStayInside(t *testing.T) {
	dev, _ := translate.New("dev", "team-a")
	victim, _ := translate.New("victim", "team-a") // same host namespace: the hardest case
	cidrs, _ := networkpolicies.ParseHostCIDRs(nil, nil)
	pod := func(tr *translate.Translator, vns, name, ip string, l map[string]string) corev1.Pod {
		hl, err := tr.HostLabels(vns, l)
		if err != nil {
			t.Fatal(err)
		}
		return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: tr.HostName(name, vns), Namespace: tr.HostNamespace(), Labels: hl},
			Status: corev1.PodStatus{PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}}}
	}
	pods := []corev1.Pod{
		pod(dev, "shop", "web", "10.244.0.2", map[string]string{"app": "web"}),
		pod(victim, "shop", "db", "10.244.0.3", map[string]string{"app": "db"}),
		{ObjectMeta: metav1.ObjectMeta{Name: "coredns", Namespace: "kube-system", Labels: map[string]string{"k8s-app": "kube-dns"}}, Status: corev1.PodStatus{PodIP: "10.244.0.4"}},
	}
	nss := []corev1.Namespace{{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}, {ObjectMeta: metav1.ObjectMeta{Name: "kube-system"}}}
	// The victim isolates its pods for ingress and egress, except from
	// and to pods labelled role=trusted of its own: a forged label must
	// not pass as one.
	vpol, err := networkpolicies.ToHost(networkpolicies.Input{Translator: victim, HostCIDRs: cidrs, Policy: &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "trusted", Namespace: "shop"},
		Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"role": "trusted"}}}}}},
			Egress:  []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"role": "trusted"}}}}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	vpol.Policy.Name, vpol.Policy.Namespace = "victim-trusted", "team-a"
	hostile := map[string]networkingv1.NetworkPolicySpec{
		"allow all":               {Ingress: []networkingv1.NetworkPolicyIngressRule{{}}, Egress: []networkingv1.NetworkPolicyEgressRule{{}}},
		"ipBlock 0.0.0.0/0":       {PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}, Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0"}}}}}, Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0"}}}}}},
		"empty namespaceSelector": {PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}, Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}}}}, Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}}}}},
		"forged selector": {PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{vcKey: "victim"}}, PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{vcKey: "victim", "role": "trusted"}}}}}},
			Egress:  []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}, PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{vcKey: "victim"}}}}}}},
	}
	for name, spec := range hostile {
		out, err := networkpolicies.ToHost(networkpolicies.Input{Translator: dev, HostCIDRs: cidrs, Policy: &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "h", Namespace: "shop"}, Spec: spec}})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out.Policy.Name, out.Policy.Namespace = "dev-h", "team-a"
		// The hostile policy alone must not select the victim's pod, and
		// with the victim's policy the victim stays closed to dev.
		ev, err := netpol.NewEvaluator([]networkingv1.NetworkPolicy{*out.Policy, *vpol.Policy}, nss, pods)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		web, db, dns := netpol.PodEndpoint("team-a", pods[0].Name), netpol.PodEndpoint("team-a", pods[1].Name), netpol.PodEndpoint("kube-system", "coredns")
		for _, c := range []struct {
			from, to netpol.Endpoint
			want     bool
		}{{web, db, false}, {db, web, false}, {web, dns, name == "forged selector"}, {dns, web, name == "forged selector"}, {netpol.ExternalEndpoint("10.233.0.1"), web, name == "forged selector"}, {web, netpol.ExternalEndpoint("10.233.0.1"), name == "forged selector"}} {
			v, err := ev.Check(c.from, c.to, 80, corev1.ProtocolTCP)
			if err != nil {
				t.Fatal(err)
			}
			if v.Allowed != c.want {
				t.Errorf("%s: %s → %s allowed=%v, want %v:\n%s", name, c.from, c.to, v.Allowed, c.want, v.Explain())
			}
		}
		if ext, _ := ev.Check(netpol.ExternalEndpoint("203.0.113.9"), web, 80, corev1.ProtocolTCP); name != "empty namespaceSelector" && name != "forged selector" && !ext.Allowed {
			t.Errorf("%s: the internet no longer reaches web: %s", name, ext.Explain())
		}
	}
}
