package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	vclusterkit "github.com/vclusterkit/vclusterkit"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
	"github.com/vclusterkit/vclusterkit/vcluster/provisionertest"
)

// TestConformance runs the provisioner conformance kit against Inventory
// with real control planes (local provisioner) and a real host API.
func TestConformance(t *testing.T) {
	apiServer.LogsOnFailure(t)
	inv, lp := newInventory(t, Options{Namespace: "inventory-conformance", RequiredLabels: []string{costCenter}, MaxPerTenant: 10})
	provisionertest.Run(t, provisionertest.Options{
		Provisioner: inv,
		Customize: func(vc *vcluster.VirtualCluster) string {
			vc.Labels = map[string]string{costCenter: "cc-42"}
			return ""
		},
		Leftovers: leftovers(inv, lp),
	})
}

func newVC(name, tenant string, labels map[string]string) *vcluster.VirtualCluster {
	return &vcluster.VirtualCluster{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "platform", UID: types.UID("uid-" + name), Labels: labels},
		Spec:       vcluster.VirtualClusterSpec{Tenant: tenant, HostNamespace: "host-" + name},
	}
}

// TestPolicy checks the labelling and capacity policies: refusals wrap
// ErrPolicy, name the field, and start nothing; the inventory entry carries
// the labels and frees the tenant's slot when deprovisioned.
func TestPolicy(t *testing.T) {
	apiServer.LogsOnFailure(t)
	ctx := context.Background()
	inv, lp := newInventory(t, Options{Namespace: "inventory-policy", RequiredLabels: []string{costCenter}, MaxPerTenant: 1})
	left := leftovers(inv, lp)

	unlabelled := newVC("nolabel", "acme", nil)
	_, err := inv.Provision(ctx, vcluster.Request{Cluster: unlabelled})
	if !errors.Is(err, ErrPolicy) || !strings.Contains(err.Error(), "metadata.labels[platform.example.com/cost-center]: Required value") {
		t.Errorf("unlabelled VirtualCluster: %v; want ErrPolicy naming the label", err)
	}
	if l, _ := left(ctx, unlabelled); len(l) > 0 {
		t.Errorf("refused VirtualCluster left %v", l)
	}

	first := newVC("first", "acme", map[string]string{costCenter: "cc-7"})
	res, err := inv.Provision(ctx, vcluster.Request{Cluster: first})
	if err != nil || !res.Ready {
		t.Fatalf("Provision(first): %+v %v", res, err)
	}
	var cm corev1.ConfigMap
	if err := inv.opts.Host.Get(ctx, inv.entry(first), &cm); err != nil {
		t.Fatalf("no inventory entry: %v", err)
	}
	if cm.Labels[LabelTenant] != "acme" || cm.Labels[costCenter] != "cc-7" || cm.Data["endpoint"] != res.Endpoint {
		t.Errorf("inventory entry labels %v data %v", cm.Labels, cm.Data)
	}
	// Calling again for the same cluster is not a second one.
	if _, err := inv.Provision(ctx, vcluster.Request{Cluster: first}); err != nil {
		t.Errorf("re-Provision(first) counted against the cap: %v", err)
	}

	second := newVC("second", "acme", map[string]string{costCenter: "cc-7"})
	_, err = inv.Provision(ctx, vcluster.Request{Cluster: second})
	if !errors.Is(err, ErrPolicy) || !strings.Contains(err.Error(), `tenant "acme" already has 1 of at most 1`) {
		t.Errorf("second of tenant acme: %v; want the capacity refusal", err)
	}
	if l, _ := left(ctx, second); len(l) > 0 {
		t.Errorf("refused VirtualCluster left %v", l)
	}

	if err := inv.Deprovision(ctx, first); err != nil {
		t.Fatal(err)
	}
	if l, _ := left(ctx, first); len(l) > 0 {
		t.Errorf("deprovisioned VirtualCluster left %v", l)
	}
	res, err = inv.Provision(ctx, vcluster.Request{Cluster: second})
	if err != nil || !res.Ready {
		t.Fatalf("after the first is gone, the second fits: %+v %v", res, err)
	}
	if err := inv.Deprovision(ctx, second); err != nil {
		t.Fatal(err)
	}
}

// TestEngineUsesInventory runs this program's run function — the Engine
// with Inventory registered under Name — against the real API server: a
// VirtualCluster asking for it becomes Running with an inventory entry and a
// member kubeconfig (a capability promoted from the local provisioner), a
// second one of the same tenant is refused with the policy's message on its
// conditions, and deleting the first deprovisions it.
func TestEngineUsesInventory(t *testing.T) {
	apiServer.LogsOnFailure(t)
	c := hostClient(t)
	ensureNamespace(t, c, "platform")
	ensureNamespace(t, c, "inventory-engine")
	stateDir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	log := testLogger(t)
	go func() {
		done <- run(ctx, log, apiServer.KubeconfigPath, stateDir,
			Options{Namespace: "inventory-engine", RequiredLabels: []string{costCenter}, MaxPerTenant: 1})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run returned %v", err)
			}
		case <-time.After(60 * time.Second):
			t.Error("run did not return after cancel")
		}
		if p := processesMentioning(stateDir); len(p) > 0 {
			t.Errorf("control planes outlive the program: %v", p)
		}
	})
	// The engine installs the CRDs at start.
	eventually(t, 60*time.Second, "the tenant CRD", func(ctx context.Context) (bool, string) {
		err := c.List(ctx, &tenancy.TenantList{})
		return err == nil, fmt.Sprint(err)
	})
	tn := &tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "acme"}, Spec: tenancy.TenantSpec{
		Members: []tenancy.Member{{Kind: tenancy.MemberUser, Name: "alice", Role: tenancy.RoleEdit}}}}
	if err := c.Create(context.Background(), tn); err != nil {
		t.Fatal(err)
	}
	vc := newVC("dev", "acme", map[string]string{costCenter: "cc-1"})
	vc.UID = ""
	vc.Spec.Provisioner = Name
	if err := c.Create(context.Background(), vc); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Minute, "VirtualCluster dev Running", func(ctx context.Context) (bool, string) {
		got := &vcluster.VirtualCluster{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(vc), got); err != nil {
			return false, err.Error()
		}
		return got.Status.Phase == vcluster.PhaseRunning, fmt.Sprintf("phase %s conditions %+v", got.Status.Phase, got.Status.Conditions)
	})
	entry := client.ObjectKey{Namespace: "inventory-engine", Name: "host-dev.dev"}
	var cm corev1.ConfigMap
	if err := c.Get(context.Background(), entry, &cm); err != nil || cm.Labels[costCenter] != "cc-1" {
		t.Errorf("inventory entry: %v %v", cm.Labels, err)
	}
	eventually(t, 60*time.Second, "alice's kubeconfig Secret", func(ctx context.Context) (bool, string) {
		var s corev1.Secret
		err := c.Get(ctx, client.ObjectKey{Namespace: "platform", Name: vclusterkit.MemberKubeconfigSecret("dev", "alice")}, &s)
		return err == nil && len(s.Data["config"]) > 0, fmt.Sprint(err)
	})

	over := newVC("staging", "acme", map[string]string{costCenter: "cc-1"})
	over.UID = ""
	over.Spec.Provisioner = Name
	if err := c.Create(context.Background(), over); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "the capacity refusal on staging's conditions", func(ctx context.Context) (bool, string) {
		got := &vcluster.VirtualCluster{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(over), got); err != nil {
			return false, err.Error()
		}
		for _, cond := range got.Status.Conditions {
			if strings.Contains(cond.Message, `refused by platform policy: tenant "acme" already has 1 of at most 1`) {
				return got.Status.Phase != vcluster.PhaseRunning, "phase " + string(got.Status.Phase)
			}
		}
		return false, fmt.Sprintf("phase %s conditions %+v", got.Status.Phase, got.Status.Conditions)
	})
	if _, err := os.Stat(stateDir + "/host-staging"); !os.IsNotExist(err) {
		t.Errorf("refused VirtualCluster has a state directory: %v", err)
	}

	if err := c.Delete(context.Background(), vc); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, "dev's inventory entry and control plane to be gone", func(ctx context.Context) (bool, string) {
		err := c.Get(ctx, entry, &corev1.ConfigMap{})
		p := processesMentioning(stateDir + "/host-dev")
		return apierrors.IsNotFound(err) && len(p) == 0, fmt.Sprintf("entry: %v, processes %v", err, p)
	})
}
