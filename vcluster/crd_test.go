package vcluster_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/vcluster"
)

func newClient(t *testing.T) client.Client {
	t.Helper()
	sch := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(sch)
	_ = vcluster.AddToScheme(sch)
	_ = apiextensionsv1.AddToScheme(sch)
	c, err := client.New(api.Config, client.Options{Scheme: sch})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ns(t *testing.T, c client.Client, name string) {
	t.Helper()
	if err := c.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatal(err)
	}
}

// The CRD round-trips the type, enforces its enums and keeps status a
// subresource; InstallCRDs is idempotent.
func TestCRDOnRealAPIServer(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	if err := vcluster.InstallCRDs(ctx, c); err != nil {
		t.Fatalf("InstallCRDs again: %v", err)
	}
	ns(t, c, "crd-a")
	vc := &vcluster.VirtualCluster{
		ObjectMeta: metav1.ObjectMeta{Name: "dev", Namespace: "crd-a"},
		Spec: vcluster.VirtualClusterSpec{Tenant: "acme", BackingStore: vcluster.BackingStore{Type: vcluster.BackingStorePostgres,
			DSNSecretRef: &vcluster.SecretKeyRef{Name: "db", Key: "dsn"}},
			Sleep:  &vcluster.SleepSpec{AfterInactivity: &metav1.Duration{Duration: time.Hour}},
			Values: &apiextensionsv1.JSON{Raw: []byte(`{"storage":{"size":"1Gi"}}`)}},
	}
	if err := c.Create(ctx, vc); err != nil {
		t.Fatal(err)
	}
	var got vcluster.VirtualCluster
	if err := c.Get(ctx, client.ObjectKeyFromObject(vc), &got); err != nil {
		t.Fatal(err)
	}
	if got.Spec.BackingStore.DSNSecretRef.Key != "dsn" || string(got.Spec.Values.Raw) != `{"storage":{"size":"1Gi"}}` || got.Spec.Sleep.AfterInactivity.Duration != time.Hour {
		t.Errorf("round trip lost data: %+v", got.Spec)
	}
	// status is a subresource: a spec update does not write it.
	got.Status.Phase = vcluster.PhaseRunning
	if err := c.Update(ctx, &got); err != nil {
		t.Fatal(err)
	}
	_ = c.Get(ctx, client.ObjectKeyFromObject(vc), &got)
	if got.Status.Phase != "" {
		t.Errorf("status written through the main resource")
	}
	vcluster.SetCondition(&got, vcluster.ConditionControlPlaneReady, metav1.ConditionTrue, vcluster.ReasonRunning, "ok")
	got.Status.Phase = vcluster.PhaseRunning
	if err := c.Status().Update(ctx, &got); err != nil {
		t.Fatalf("status update: %v", err)
	}
	// Immutable fields are enforced by the API server too.
	_ = c.Get(ctx, client.ObjectKeyFromObject(vc), &got)
	moved := got.DeepCopy()
	moved.Spec.HostNamespace = "elsewhere"
	if err := c.Update(ctx, moved); err == nil || !strings.Contains(err.Error(), "hostNamespace is immutable") {
		t.Errorf("host namespace change: %v", err)
	}
	swapped := got.DeepCopy()
	swapped.Spec.Provisioner = "helm"
	if err := c.Update(ctx, swapped); err == nil || !strings.Contains(err.Error(), "provisioner is immutable") {
		t.Errorf("provisioner change: %v", err)
	}
	restored := got.DeepCopy()
	restored.Spec.BackingStore.Type = vcluster.BackingStoreEtcd
	if err := c.Update(ctx, restored); err == nil || !strings.Contains(err.Error(), "backingStore.type is immutable") {
		t.Errorf("store change: %v", err)
	}
	spelled := got.DeepCopy()
	spelled.Spec.Provisioner = "" // same as "local"
	spelled.Spec.Tenant = "acme-renamed"
	if err := c.Update(ctx, spelled); err != nil {
		t.Errorf("allowed update refused: %v", err)
	}
	long := &vcluster.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: strings.Repeat("x", 41), Namespace: "crd-a"}, Spec: vcluster.VirtualClusterSpec{Tenant: "acme"}}
	if err := c.Create(ctx, long); err == nil || !strings.Contains(err.Error(), "at most 40") {
		t.Errorf("long name: %v", err)
	}
	bad := vc.DeepCopy()
	bad.ResourceVersion, bad.Name = "", "bad"
	bad.Spec.BackingStore.Type = "mysql"
	err := c.Create(ctx, bad)
	if err == nil || !strings.Contains(err.Error(), "spec.backingStore.type") {
		t.Errorf("CRD accepted an unknown store type: %v", err)
	}
}

// A second VirtualCluster claiming the same host namespace and name is
// refused, whichever order the claims are checked in.
func TestCheckClaimOnRealAPIServer(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	ns(t, c, "claim-a")
	ns(t, c, "claim-b")
	first := &vcluster.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: "dev", Namespace: "claim-a"},
		Spec: vcluster.VirtualClusterSpec{Tenant: "a", HostNamespace: "shared-host"}}
	if err := c.Create(ctx, first); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // creation timestamps have second resolution
	second := &vcluster.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: "dev", Namespace: "claim-b"},
		Spec: vcluster.VirtualClusterSpec{Tenant: "b", HostNamespace: "shared-host"}}
	if err := c.Create(ctx, second); err != nil {
		t.Fatal(err)
	}
	if err := vcluster.CheckClaim(ctx, c, first); err != nil {
		t.Errorf("first claimant refused: %v", err)
	}
	if err := vcluster.CheckClaim(ctx, c, second); !errors.Is(err, vcluster.ErrConflict) || !strings.Contains(err.Error(), "claim-a/dev") {
		t.Errorf("second claimant: %v", err)
	}
}
