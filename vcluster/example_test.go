package vcluster_test

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/vcluster"
)

// A custom provisioner is three functions; the registry finds it by the
// name a VirtualCluster asks for.
func ExampleRegistry() {
	reg := vcluster.NewRegistry()
	err := reg.Register("static", vcluster.Funcs{
		ProvisionFunc: func(ctx context.Context, req vcluster.Request) (vcluster.Result, error) {
			return vcluster.Result{Ready: true, Endpoint: "https://10.0.0.1:6443"}, nil
		},
		DeprovisionFunc: func(ctx context.Context, vc *vcluster.VirtualCluster) error { return nil },
		KubeconfigFunc: func(ctx context.Context, vc *vcluster.VirtualCluster) ([]byte, error) {
			return []byte("apiVersion: v1\nkind: Config\n"), nil
		},
	})
	if err != nil {
		fmt.Println(err)
	}
	vc := &vcluster.VirtualCluster{
		ObjectMeta: metav1.ObjectMeta{Name: "dev", Namespace: "team-a"},
		Spec:       vcluster.VirtualClusterSpec{Tenant: "team-a", Provisioner: "static"},
	}
	p, _ := reg.For(vc)
	res, _ := p.Provision(context.Background(), vcluster.Request{Cluster: vc})
	fmt.Println(res.Ready, res.Endpoint)

	_, err = reg.Get("cloud")
	fmt.Println(err)
	// Output:
	// true https://10.0.0.1:6443
	// unknown provisioner "cloud" (registered: static)
}

func ExampleValidate() {
	vc := &vcluster.VirtualCluster{
		ObjectMeta: metav1.ObjectMeta{Name: "Dev", Namespace: "team-a"},
		Spec:       vcluster.VirtualClusterSpec{Tenant: "team-a", KubernetesVersion: "v1.20"},
	}
	for _, e := range vcluster.Validate(vc) {
		fmt.Println(e.Field)
	}
	// Output:
	// metadata.name
	// spec.kubernetesVersion
}
