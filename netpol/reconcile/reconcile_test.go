package reconcile_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/vclusterkit/vclusterkit/netpol"
	"github.com/vclusterkit/vclusterkit/netpol/reconcile"
	"github.com/vclusterkit/vclusterkit/tenancy"
)

var opts = netpol.Options{InternetEgress: true, ClusterCIDRs: []string{"10.244.0.0/16", "10.96.0.0/12"}}

// desired generates tenant-mode isolation for namespaces labelled with a tenant.
func desired(c client.Client) reconcile.DesiredFunc {
	return func(ctx context.Context, namespace string) ([]networkingv1.NetworkPolicy, error) {
		var ns corev1.Namespace
		if err := c.Get(ctx, client.ObjectKey{Name: namespace}, &ns); err != nil {
			return nil, err
		}
		tenant := ns.Labels[tenancy.LabelTenant]
		if tenant == "" {
			return nil, nil
		}
		return netpol.Generate(netpol.Target{Namespace: namespace, Tenant: tenant, Mode: tenancy.IsolationTenant}, opts)
	}
}

func TestHandEditsArePutBack(t *testing.T) {
	t.Cleanup(func() { host.LogsOnFailure(t) })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	mgr, err := ctrl.NewManager(host.Config, ctrl.Options{
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	c := mgr.GetClient()
	if err := (&reconcile.Reconciler{Client: c}).SetupWithManager(mgr); err == nil || !strings.Contains(err.Error(), "Desired") {
		t.Fatalf("missing Desired accepted: %v", err)
	}
	if err := (&reconcile.Reconciler{Client: c, Desired: desired(c)}).SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	direct, err := client.New(host.Config, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	nsName := fmt.Sprintf("rc-%d", time.Now().UnixNano()%1_000_000)
	labels := tenancy.TreeLabels([]string{"acme"})
	labels[tenancy.LabelTenant] = "acme"
	if err := direct.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: nsName, Labels: labels}}); err != nil {
		t.Fatal(err)
	}
	// A tenant's own policy: never touched.
	mine := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: nsName, Name: "mine"},
		Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}}}
	if err := direct.Create(ctx, mine); err != nil {
		t.Fatal(err)
	}
	want, err := netpol.Generate(netpol.Target{Namespace: nsName, Tenant: "acme", Mode: tenancy.IsolationTenant}, opts)
	if err != nil {
		t.Fatal(err)
	}
	converged := func(what string) {
		t.Helper()
		var last []string
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			var list networkingv1.NetworkPolicyList
			if err := direct.List(ctx, &list, client.InNamespace(nsName)); err != nil {
				return false, err
			}
			got := map[string]networkingv1.NetworkPolicy{}
			last = nil
			for _, p := range list.Items {
				got[p.Name] = p
				last = append(last, p.Name)
			}
			if _, ok := got["mine"]; !ok || len(got) != len(want)+1 {
				return false, nil
			}
			for _, w := range want {
				g, ok := got[w.Name]
				if !ok || !equality.Semantic.DeepEqual(g.Spec, w.Spec) || !equality.Semantic.DeepEqual(g.Labels, w.Labels) {
					return false, nil
				}
			}
			return true, nil
		})
		if err != nil {
			t.Fatalf("%s: policies never converged (have %v): %v", what, last, err)
		}
	}
	converged("initial")

	// A hand edit opening the namespace to everyone is put back.
	var iso networkingv1.NetworkPolicy
	if err := direct.Get(ctx, client.ObjectKey{Namespace: nsName, Name: netpol.NamePrefix + "isolation"}, &iso); err != nil {
		t.Fatal(err)
	}
	iso.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{}}
	if err := direct.Update(ctx, &iso); err != nil {
		t.Fatal(err)
	}
	converged("after a hand edit")

	// A hand delete is undone.
	if err := direct.Delete(ctx, &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: nsName, Name: netpol.NamePrefix + "dns"}}); err != nil {
		t.Fatal(err)
	}
	converged("after a hand delete")

	// A policy that claims to be ours but is not desired is removed.
	rogue := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: nsName, Name: netpol.NamePrefix + "rogue",
		Labels: map[string]string{netpol.LabelManagedBy: netpol.ManagedByValue}},
		Spec: networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{}}}}
	if err := direct.Create(ctx, rogue); err != nil {
		t.Fatal(err)
	}
	converged("after a rogue policy")
	if err := direct.Get(ctx, client.ObjectKeyFromObject(rogue), rogue); !apierrors.IsNotFound(err) {
		t.Fatalf("rogue policy still there: %v", err)
	}

	if err := reconcile.Apply(ctx, direct, nsName, []networkingv1.NetworkPolicy{{ObjectMeta: metav1.ObjectMeta{Namespace: "other", Name: "x"}}}); err == nil {
		t.Fatal("Apply accepted a policy of another namespace")
	}
}
