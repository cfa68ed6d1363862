package netpol_test

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/netpol"
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
