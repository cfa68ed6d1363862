package local_test

import (
	"context"
	"fmt"
	"os"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/vcluster"
	"github.com/vclusterkit/vclusterkit/vcluster/local"
)

// Start a virtual cluster as child processes, use it, put it to sleep and
// remove it. Needs the binaries `make tools` builds.
func Example() {
	dir, _ := os.MkdirTemp("", "vclusters-")
	defer os.RemoveAll(dir)
	p, err := local.New(local.Options{Dir: dir})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	vc := &vcluster.VirtualCluster{
		ObjectMeta: metav1.ObjectMeta{Name: "dev", Namespace: "team-a"},
		Spec:       vcluster.VirtualClusterSpec{Tenant: "team-a"},
	}
	res, err := p.Provision(ctx, vcluster.Request{Cluster: vc})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("ready:", res.Ready)
	kc, _ := p.Kubeconfig(ctx, vc)
	fmt.Println("kubeconfig:", len(kc) > 0)
	_ = p.Pause(ctx, vc)
	h, _ := p.Health(ctx, vc)
	fmt.Println("sleeping:", h.Sleeping)
	_ = p.Deprovision(ctx, vc)
	_, err = os.Stat(p.StateDir(vc))
	fmt.Println("state removed:", os.IsNotExist(err))
	// Output:
	// ready: true
	// kubeconfig: true
	// sleeping: true
	// state removed: true
}
