package reconcile_test

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/vclusterkit/vclusterkit/netpol"
	"github.com/vclusterkit/vclusterkit/netpol/reconcile"
	"github.com/vclusterkit/vclusterkit/tenancy"
)

func ExampleApply() {
	scheme := runtime.NewScheme()
	_ = corev1.AddToScheme(scheme)
	_ = networkingv1.AddToScheme(scheme)
	c := fake.NewClientBuilder().WithScheme(scheme).Build()
	ctx := context.Background()

	policies, err := netpol.Generate(netpol.Target{Namespace: "acme-prod", Tenant: "acme", Mode: tenancy.IsolationStrict}, netpol.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := reconcile.Apply(ctx, c, "acme-prod", policies); err != nil {
		fmt.Println(err)
		return
	}
	var list networkingv1.NetworkPolicyList
	_ = c.List(ctx, &list)
	for _, p := range list.Items {
		fmt.Println(p.Namespace, p.Name, p.Labels[netpol.LabelManagedBy])
	}
	// Output:
	// acme-prod vclusterkit-dns vclusterkit
	// acme-prod vclusterkit-isolation vclusterkit
}
