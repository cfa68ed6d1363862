package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/vclusterkit/vclusterkit"
	"github.com/vclusterkit/vclusterkit/fleet"
	"github.com/vclusterkit/vclusterkit/fleet/agent"
	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
	"github.com/vclusterkit/vclusterkit/vcluster/local"
)

// secondCluster is the --clusters 2 part of the story: a management API
// for the fleet, the first host registered by credential, a second KWOK
// host with its own Engine joined by an agent that connects out, and a
// virtual cluster placed on the second host through a ClusterClaim. It
// returns a function that stops what it started.
func (s *story) secondCluster(ctx context.Context) (stop func(), err error) {
	s.section("A second host cluster (--clusters 2): a management API for the fleet, cluster-2 joined by an agent that connects out")
	var stops []func()
	stop = func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	defer func() {
		if err != nil {
			stop()
		}
	}()
	mgmt, err := testenv.StartAPIServer(testenv.APIServerOptions{})
	if err != nil {
		return stop, fmt.Errorf("management API server: %w", err)
	}
	stops = append(stops, func() { _ = mgmt.Stop() })
	host2, err := testenv.StartHost(ctx, testenv.HostOptions{Nodes: 1})
	if err != nil {
		return stop, fmt.Errorf("second host: %w", err)
	}
	stops = append(stops, func() { _ = host2.Stop() })
	mgmtKubeconfig := filepath.Join(s.out, "management.kubeconfig")
	if err := copyFile(mgmt.KubeconfigPath, mgmtKubeconfig); err != nil {
		return stop, err
	}
	if err := copyFile(host2.KubeconfigPath, filepath.Join(s.out, "cluster-2.kubeconfig")); err != nil {
		return stop, err
	}
	s.say("management API ready; kubeconfig: %s", mgmtKubeconfig)

	// cluster-2's own Engine: per-cluster work (namespaces, control
	// planes, syncers, webhooks) stays next to its host.
	stateDir, err := os.MkdirTemp("", "vclusterkit-quickstart-cluster2-")
	if err != nil {
		return stop, err
	}
	stops = append(stops, func() { _ = os.RemoveAll(stateDir) })
	eng, err := vclusterkit.NewContext(ctx, host2.Config, vclusterkit.Options{
		Local: local.Options{Dir: stateDir}, ResyncPeriod: 3 * time.Second,
		Logger: ctrl.Log.WithName("cluster-2"), Registerer: prometheus.NewRegistry(),
	})
	if err != nil {
		return stop, fmt.Errorf("cluster-2's engine: %w", err)
	}
	ectx, ecancel := context.WithCancel(context.Background())
	engineDone := make(chan error, 1)
	go func() { engineDone <- eng.Start(ectx) }()
	stops = append(stops, func() { ecancel(); <-engineDone })

	// The management side: cluster health, claims, placement, and a
	// Member for the cluster reached by credential.
	sch := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme, fleet.AddToSchemes} {
		if err := add(sch); err != nil {
			return stop, err
		}
	}
	mc, err := client.New(mgmt.Config, client.Options{Scheme: sch})
	if err != nil {
		return stop, err
	}
	if err := fleet.InstallManagementCRDs(ctx, mc); err != nil {
		return stop, err
	}
	skip := true
	mgr, err := ctrl.NewManager(mgmt.Config, ctrl.Options{Scheme: sch, Metrics: metricsserver.Options{BindAddress: "0"},
		Controller: config.Controller{SkipNameValidation: &skip}, Logger: ctrl.Log.WithName("management")})
	if err != nil {
		return stop, err
	}
	if err := fleet.SetupManagement(mgr, fleet.ManagementOptions{ProbeInterval: 2 * time.Second, HeartbeatGrace: 10 * time.Second}); err != nil {
		return stop, err
	}
	if err := mgr.Add(&fleet.CredentialMembers{Management: mc, Interval: 2 * time.Second}); err != nil {
		return stop, err
	}
	mctx, mcancel := context.WithCancel(context.Background())
	mgrDone := make(chan struct{})
	go func() { _ = mgr.Start(mctx); close(mgrDone) }()
	stops = append(stops, func() { mcancel(); <-mgrDone })

	// cluster-1 (the first host) by credential: the platform holds its kubeconfig.
	kc, err := clientcmd.LoadFromFile(s.host)
	if err != nil {
		return stop, err
	}
	if err := clientcmdapi.FlattenConfig(kc); err != nil {
		return stop, err
	}
	raw, err := clientcmd.Write(*kc)
	if err != nil {
		return stop, err
	}
	for _, o := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fleet.DefaultLedgerNamespace}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: fleet.DefaultLedgerNamespace, Name: "cluster-1-kubeconfig"},
			Data: map[string][]byte{"kubeconfig": raw}},
		&fleet.Cluster{ObjectMeta: metav1.ObjectMeta{Name: "cluster-1", Labels: map[string]string{"region": "eu"}},
			Spec: fleet.ClusterSpec{Connection: fleet.ConnectionCredential,
				KubeconfigSecret: &fleet.SecretKeyRef{Namespace: fleet.DefaultLedgerNamespace, Name: "cluster-1-kubeconfig"}}},
	} {
		if err := mc.Create(ctx, o); err != nil {
			return stop, err
		}
	}
	// cluster-2 by its agent, which dials the management API; nothing
	// dials cluster-2.
	a, err := agent.New(agent.Options{Cluster: "cluster-2", Management: mgmt.Config, Host: host2.Config,
		Labels: map[string]string{"region": "us"}, Interval: 2 * time.Second})
	if err != nil {
		return stop, err
	}
	actx, acancel := context.WithCancel(context.Background())
	agentDone := make(chan struct{})
	go func() { _ = a.Start(actx); close(agentDone) }()
	stops = append(stops, func() { acancel(); <-agentDone })

	for _, name := range []string{"cluster-1", "cluster-2"} {
		c := &fleet.Cluster{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if err := pollFleet(ctx, 2*time.Minute, func(ctx context.Context) (bool, error) {
			if err := mc.Get(ctx, client.ObjectKeyFromObject(c), c); err != nil {
				return false, client.IgnoreNotFound(err)
			}
			return meta.IsStatusConditionTrue(c.Status.Conditions, fleet.ConditionReady), nil
		}); err != nil {
			return stop, fmt.Errorf("cluster %s never became Ready: %w", name, err)
		}
		cpu := c.Status.Capacity[corev1.ResourceCPU]
		s.say("cluster %-9s connection %-10s labels region=%s  Ready, %d node(s), cpu %s, %s",
			c.Name, c.Spec.Connection, c.Labels["region"], c.Status.Nodes, cpu.String(), c.Status.KubernetesVersion)
	}

	s.section("Placing a virtual cluster on cluster-2 through a ClusterClaim")
	claim := &fleet.ClusterClaim{ObjectMeta: metav1.ObjectMeta{Name: "demo-us"}, Spec: fleet.ClusterClaimSpec{
		Tenant: "fleet-demo", Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"region": "us"}},
		Resources: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}}}
	vc := &vcluster.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Namespace: platformNamespace, Name: "demo-us"},
		Spec: vcluster.VirtualClusterSpec{Tenant: "fleet-demo", HostNamespace: "vc-demo-us", Placement: &vcluster.Placement{Claim: "demo-us"}}}
	for _, o := range []client.Object{
		&tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "fleet-demo"}, Spec: tenancy.TenantSpec{
			Members: []tenancy.Member{{Kind: tenancy.MemberUser, Name: "erin", Role: tenancy.RoleAdmin}}}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: platformNamespace}},
		claim, vc,
	} {
		if err := mc.Create(ctx, o); err != nil {
			return stop, err
		}
	}
	if err := pollFleet(ctx, time.Minute, func(ctx context.Context) (bool, error) {
		return claim.Status.Cluster != "", mc.Get(ctx, client.ObjectKeyFromObject(claim), claim)
	}); err != nil {
		return stop, fmt.Errorf("claim demo-us never bound: %w", err)
	}
	s.say("claim demo-us (tenant fleet-demo, region=us, cpu 2) bound: %s", meta.FindStatusCondition(claim.Status.Conditions, fleet.ConditionBound).Message)
	t0 := time.Now()
	if err := pollFleet(ctx, 3*time.Minute, func(ctx context.Context) (bool, error) {
		return vc.Status.Phase == vcluster.PhaseRunning, mc.Get(ctx, client.ObjectKeyFromObject(vc), vc)
	}); err != nil {
		return stop, fmt.Errorf("virtual cluster demo-us never Running (phase %q): %w", vc.Status.Phase, err)
	}
	s.say("virtual cluster demo-us placed on %s (%s); Running there, as cluster-2's engine reports back to the management API (%s)",
		vc.Annotations[fleet.AnnotationCluster], meta.FindStatusCondition(vc.Status.Conditions, fleet.ConditionPlaced).Message,
		time.Since(t0).Round(100*time.Millisecond))
	c2, err := client.New(host2.Config, client.Options{Scheme: sch})
	if err != nil {
		return stop, err
	}
	var onFirst, onSecond vcluster.VirtualClusterList
	if err := c2.List(ctx, &onSecond, client.MatchingLabels{fleet.LabelMirrored: "cluster-2"}); err != nil {
		return stop, err
	}
	if err := s.c.List(ctx, &onFirst, client.MatchingLabels{fleet.LabelMirrored: "cluster-1"}); err != nil {
		return stop, err
	}
	s.say("virtual clusters from the fleet on cluster-2: %d (%s), on cluster-1: %d", len(onSecond.Items), names(onSecond.Items), len(onFirst.Items))
	if len(onSecond.Items) != 1 || len(onFirst.Items) != 0 {
		return stop, fmt.Errorf("demo-us should run on cluster-2 only")
	}

	// Deleting it on the management side removes it from cluster-2.
	if err := mc.Delete(ctx, vc); err != nil {
		return stop, err
	}
	if err := pollFleet(ctx, 2*time.Minute, func(ctx context.Context) (bool, error) {
		var l vcluster.VirtualClusterList
		err := c2.List(ctx, &l, client.MatchingLabels{fleet.LabelMirrored: "cluster-2"})
		return err == nil && len(l.Items) == 0, err
	}); err != nil {
		return stop, fmt.Errorf("demo-us never left cluster-2: %w", err)
	}
	s.say("demo-us deleted on the management side: cluster-2's engine tore it down")
	// And the tenant, from both clusters (their Members remove the copies).
	if err := mc.Delete(ctx, &tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "fleet-demo"}}); err != nil {
		return stop, err
	}
	for _, c := range []client.Client{s.c, c2} {
		if err := pollFleet(ctx, 2*time.Minute, func(ctx context.Context) (bool, error) {
			err := c.Get(ctx, client.ObjectKey{Name: "fleet-demo"}, &tenancy.Tenant{})
			return apierrors.IsNotFound(err), nil
		}); err != nil {
			return stop, fmt.Errorf("tenant fleet-demo never left a cluster: %w", err)
		}
	}
	s.say("tenant fleet-demo deleted on the management side: gone from both clusters")
	return stop, nil
}

func names(vcs []vcluster.VirtualCluster) string {
	out := ""
	for i, vc := range vcs {
		if i > 0 {
			out += ", "
		}
		out += vc.Namespace + "/" + vc.Name
	}
	return out
}

func pollFleet(ctx context.Context, timeout time.Duration, cond func(context.Context) (bool, error)) error {
	return wait.PollUntilContextTimeout(ctx, 300*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		ok, err := cond(ctx)
		if err != nil {
			return false, nil //nolint:nilerr // keep polling through transient errors
		}
		return ok, nil
	})
}
