package local

import (
	"context"
	"strings"
	"testing"

	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/vcluster"
)

// The etcd backing store runs the etcd binary and keeps objects across
// pause and resume.
func TestEtcdBackingStore(t *testing.T) {
	ctx := context.Background()
	p := newProvisioner(t, Options{})
	vc := newVC("etcd")
	vc.Spec.BackingStore.Type = vcluster.BackingStoreEtcd
	if _, err := p.Provision(ctx, vcluster.Request{Cluster: vc}); err != nil {
		t.Fatal(err)
	}
	if got := p.getRunning(p.StateDir(vc)).procs[0].name; got != "etcd" {
		t.Errorf("store process %q, want etcd", got)
	}
	kc, _ := p.Kubeconfig(ctx, vc)
	runKubectl(t, kc, "create", "namespace", "in-etcd")
	if err := p.Pause(ctx, vc); err != nil {
		t.Fatal(err)
	}
	if err := p.Resume(ctx, vc); err != nil {
		t.Fatal(err)
	}
	kc, _ = p.Kubeconfig(ctx, vc)
	runKubectl(t, kc, "get", "namespace", "in-etcd")
	if err := p.Deprovision(ctx, vc); err != nil {
		t.Fatal(err)
	}
	if left, _ := leftovers(p)(ctx, vc); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

// Two virtual clusters named "a" and "aa" on the same PostgreSQL database
// (kine, one shared table): neither sees the other's keys, and objects
// survive pause and resume.
func TestPostgresSharedDatabaseIsolation(t *testing.T) {
	ctx := context.Background()
	pg, err := testenv.StartPostgres(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Stop() })
	dsn, err := pg.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p := newProvisioner(t, Options{})
	mk := func(name string) *vcluster.VirtualCluster {
		vc := newVC(name)
		vc.Spec.BackingStore = vcluster.BackingStore{Type: vcluster.BackingStorePostgres, DSNSecretRef: &vcluster.SecretKeyRef{Name: "db", Key: "dsn"}}
		return vc
	}
	a, aa := mk("a"), mk("aa")
	for _, vc := range []*vcluster.VirtualCluster{a, aa} {
		if _, err := p.Provision(ctx, vcluster.Request{Cluster: vc, BackingStoreDSN: dsn}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Deprovision(ctx, vc) })
	}
	kcA, _ := p.Kubeconfig(ctx, a)
	kcAA, _ := p.Kubeconfig(ctx, aa)
	runKubectl(t, kcA, "create", "namespace", "only-in-a")
	runKubectl(t, kcA, "-n", "only-in-a", "create", "configmap", "secret-plans", "--from-literal=k=v")
	if out := runKubectl(t, kcAA, "get", "namespaces", "-o", "name"); strings.Contains(out, "only-in-a") {
		t.Errorf("aa sees a's namespace:\n%s", out)
	}
	if out := runKubectl(t, kcAA, "get", "configmaps", "-A", "-o", "name"); strings.Contains(out, "secret-plans") {
		t.Errorf("aa sees a's ConfigMap:\n%s", out)
	}
	if err := p.Pause(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := p.Resume(ctx, a); err != nil {
		t.Fatal(err)
	}
	runKubectl(t, kcA, "-n", "only-in-a", "get", "configmap", "secret-plans")
}
