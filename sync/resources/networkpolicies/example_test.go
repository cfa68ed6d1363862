package networkpolicies_test

import (
	"fmt"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/sync/resources/networkpolicies"
	"github.com/vclusterkit/vclusterkit/sync/translate"
)

func ExampleToHost() {
	tr, _ := translate.New("dev", "team-a")
	cidrs, _ := networkpolicies.ParseHostCIDRs(nil, []string{"10.0.0.0/8"})
	out, _ := networkpolicies.ToHost(networkpolicies.Input{Translator: tr, HostCIDRs: cidrs, Policy: &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"},
		Spec: networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{
			{NamespaceSelector: &metav1.LabelSelector{}},
			{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0"}},
		}}}},
	}})
	fmt.Println(out.Policy.Spec.PodSelector.MatchLabels)
	fmt.Println(out.Policy.Spec.Ingress[0].From[0].PodSelector)
	fmt.Println(out.Policy.Spec.Ingress[0].From[1].IPBlock.Except)
	fmt.Println(out.Narrowed)
	// Output:
	// map[vcluster.vclusterkit.io/name:dev vcluster.vclusterkit.io/namespace:shop]
	// &LabelSelector{MatchLabels:map[string]string{vcluster.vclusterkit.io/name: dev,},MatchExpressions:[]LabelSelectorRequirement{LabelSelectorRequirement{Key:vcluster.vclusterkit.io/namespace,Operator:Exists,Values:[],},},}
	// [10.0.0.0/8]
	// [ipBlock 0.0.0.0/0: the host's ranges 10.0.0.0/8 are excepted]
}
