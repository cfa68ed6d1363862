package kubestore_test

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/quota"
	"github.com/vclusterkit/vclusterkit/quota/kubestore"
)

// Every replica of the engine builds the same SharedLedger over the same ConfigMap.
func ExampleConfigMapStore() {
	var cfg *rest.Config // the host cluster
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	ledger := quota.NewSharedLedger(&kubestore.ConfigMapStore{Client: c, Namespace: "vclusterkit-system", Name: "quota-ledger"},
		quota.SharedLedgerOptions{})
	if err := ledger.SetNodes([]quota.Node{{Name: "acme", Hard: corev1.ResourceList{"count/pods": resource.MustParse("100")}}}); err != nil {
		fmt.Println(err)
		return
	}
	err = ledger.Admit(context.Background(), "pod-uid", "acme", corev1.ResourceList{"count/pods": resource.MustParse("1")})
	fmt.Println(err)
}
