package netpol_test

import (
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/netpol"
	"github.com/vclusterkit/vclusterkit/tenancy"
)

func ExampleEvaluate() {
	namespaces := []corev1.Namespace{
		{ObjectMeta: metav1.ObjectMeta{Name: "shop"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "other"}},
	}
	pod := func(ns, name string) corev1.Pod {
		return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app": name}}}
	}
	pods := []corev1.Pod{pod("shop", "web"), pod("shop", "db"), pod("other", "web")}
	// db accepts connections from pods of its own namespace only.
	policies := []networkingv1.NetworkPolicy{{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db-same-namespace"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Ingress:     []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}}}},
		},
	}}
	for _, from := range []netpol.Endpoint{netpol.PodEndpoint("shop", "web"), netpol.PodEndpoint("other", "web")} {
		v, err := netpol.Evaluate(policies, namespaces, pods, from, netpol.PodEndpoint("shop", "db"), 5432, corev1.ProtocolTCP)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(v.Explain())
	}
	// Output:
	// shop/web -> shop/db tcp/5432: allowed; egress: no policy selects shop/web (default allow); ingress: allowed by shop/db-same-namespace#0
	// other/web -> shop/db tcp/5432: denied; egress: no policy selects other/web (default allow); ingress: isolated by shop/db-same-namespace and no rule matches
}

func ExampleReport() {
	ns := func(name, tenant string) corev1.Namespace {
		labels := tenancy.TreeLabels([]string{tenant})
		labels[tenancy.LabelTenant] = tenant
		return corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	}
	in := netpol.ConnectivityInput{
		Targets: []netpol.Target{
			{Namespace: "a-web", Tenant: "a", Mode: tenancy.IsolationTenant},
			{Namespace: "a-db", Tenant: "a", Mode: tenancy.IsolationTenant},
			{Namespace: "b-web", Tenant: "b", Mode: tenancy.IsolationStrict},
		},
		Namespaces: []corev1.Namespace{ns("a-web", "a"), ns("a-db", "a"), ns("b-web", "b")},
	}
	if err := netpol.Report(os.Stdout, in); err != nil {
		fmt.Println(err)
	}
	// Output:
	// -                     space/a-web[a,tenant] space/a-db[a,tenant]  space/b-web[b,strict]
	// space/a-web[a,tenant] .                     .                     X
	// space/a-db[a,tenant]  .                     .                     X
	// space/b-web[b,strict] X                     X                     .
}

func ExampleGenerate() {
	policies, err := netpol.Generate(netpol.Target{Namespace: "team-a-dev", Tenant: "team-a", Mode: tenancy.IsolationTenant, Boundary: "org"},
		netpol.Options{InternetEgress: true, ClusterCIDRs: []string{"10.244.0.0/16", "10.96.0.0/12"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range policies {
		fmt.Println(p.Name, p.Spec.PolicyTypes)
	}
	fmt.Println(policies[0].Spec.Ingress[0].From[0].NamespaceSelector.MatchExpressions[0].Key)
	fmt.Println(policies[2].Spec.Egress[0].To[0].IPBlock.Except)
	// Output:
	// vclusterkit-isolation [Ingress Egress]
	// vclusterkit-dns [Egress]
	// vclusterkit-internet [Egress]
	// org.tree.tenancy.vclusterkit.io/depth
	// [10.0.0.0/8 10.244.0.0/16 10.96.0.0/12 100.64.0.0/10 127.0.0.0/8 169.254.0.0/16 172.16.0.0/12 192.168.0.0/16]
}
