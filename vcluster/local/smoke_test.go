package local

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/vcluster"
)

func TestSmokeEtcd(t *testing.T) {
	p, err := New(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	vc := &vcluster.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: "smoke", Namespace: "team-a"},
		Spec: vcluster.VirtualClusterSpec{Tenant: "team-a", BackingStore: vcluster.BackingStore{Type: vcluster.BackingStoreEtcd}}}
	res, err := p.Provision(context.Background(), vcluster.Request{Cluster: vc, Progress: func(pr vcluster.Progress) { t.Log(pr.Step, pr.Message) }})
	t.Logf("%+v %v", res, err)
	if err == nil {
		h, _ := p.Health(context.Background(), vc)
		t.Logf("%+v", h)
	}
	_ = p.Deprovision(context.Background(), vc)
}
