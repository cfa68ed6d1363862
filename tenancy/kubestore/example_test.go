package kubestore_test

import (
	"context"
	"fmt"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/tenancy/kubestore"
)

// Install the CRDs and use the cluster as the tenant store. (Not run: it
// needs a cluster.)
func Example() {
	ctx := context.Background()
	cfg, err := ctrl.GetConfig()
	if err != nil {
		fmt.Println(err)
		return
	}
	scheme := runtime.NewScheme()
	_ = apiextensionsv1.AddToScheme(scheme)
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := tenancy.InstallCRDs(ctx, c); err != nil {
		fmt.Println(err)
		return
	}
	store, err := kubestore.New(ctx, cfg, kubestore.Options{LockNamespace: "vclusterkit-system"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()
	tenants, err := store.ListTenants(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(tenants.Items), "tenants at version", tenants.ResourceVersion)
}
