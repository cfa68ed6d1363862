package fleet_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/vclusterkit/vclusterkit/fleet"
	"github.com/vclusterkit/vclusterkit/fleet/agent"
	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
)

// The fleet of this package's tests, shared by all of them: a management
// API server (kube-apiserver + etcd) and two KWOK host clusters.
//
//   - alpha (one node, labels region=eu) is registered by credential: a
//     kubeconfig Secret whose server is linkA, the management side's
//     network path to alpha. The management side probes it and runs its
//     Member and Quota (CredentialMembers).
//   - beta (two nodes, labels region=us) is registered by its agent, which
//     runs "in" beta and reaches the management API through linkM, its
//     outgoing path; nothing dials beta.
//
// Cutting linkA and linkM partitions the clusters from the management side.
var (
	mgmt         *testenv.APIServer
	hostA, hostB *testenv.Host
	linkA, linkM *link
	scheme       = runtime.NewScheme()
	mc           client.Client // management, admin, uncached
	ac, bc       client.Client // hosts alpha and beta
)

const (
	alpha = "alpha"
	beta  = "beta"
	// The management side's timing, short so that the tests are quick.
	probeInterval  = time.Second
	heartbeatGrace = 3 * time.Second
	agentInterval  = 500 * time.Millisecond
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	var (
		mu   sync.Mutex
		errs []error
		sw   sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, err)
	}
	sw.Go(func() {
		s, err := testenv.StartAPIServer(testenv.APIServerOptions{})
		if err != nil {
			fail(fmt.Errorf("management API server: %w", err))
		}
		mgmt = s
	})
	// The hosts one after the other: kwokctl picks its ports by binding
	// and releasing them, and two clusters created at the same moment can
	// pick the same one (then the first attempt hangs until its timeout).
	sw.Go(func() {
		for _, h := range []struct {
			dst   **testenv.Host
			nodes int
		}{{&hostA, 1}, {&hostB, 2}} {
			s, err := testenv.StartHost(ctx, testenv.HostOptions{Nodes: h.nodes})
			if err != nil {
				fail(fmt.Errorf("host cluster: %w", err))
				return
			}
			*h.dst = s
		}
	})
	sw.Wait()
	defer func() {
		for _, h := range []*testenv.Host{hostA, hostB} {
			if err := h.Stop(); err != nil {
				fmt.Fprintln(os.Stderr, "fleet tests: stopping a host:", err)
			}
		}
		if mgmt != nil {
			_ = mgmt.Stop()
		}
	}()
	if err := setup(ctx, &wg, errs); err != nil {
		fmt.Fprintln(os.Stderr, "fleet tests:", err)
		fmt.Fprintln(os.Stderr, "FAIL: the tests of this package need a management API server and two host clusters (see above)")
		return 1
	}
	code := m.Run()
	cancel()
	wg.Wait()
	return code
}

func setup(ctx context.Context, wg *sync.WaitGroup, startErrs []error) error {
	if len(startErrs) > 0 {
		return fmt.Errorf("%v", startErrs)
	}
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme, fleet.AddToSchemes} {
		if err := add(scheme); err != nil {
			return err
		}
	}
	var err error
	newClient := func(cfg *rest.Config) client.Client {
		if err != nil {
			return nil
		}
		cfg = rest.CopyConfig(cfg)
		cfg.QPS, cfg.Burst = 1000, 1000
		var c client.Client
		c, err = client.New(cfg, client.Options{Scheme: scheme})
		return c
	}
	mc, ac, bc = newClient(mgmt.Config), newClient(hostA.Config), newClient(hostB.Config)
	if err != nil {
		return err
	}
	if err := fleet.InstallManagementCRDs(ctx, mc); err != nil {
		return err
	}
	// Each member's Engine would install these; the tests run none.
	for _, c := range []client.Client{ac, bc} {
		if err := tenancy.InstallCRDs(ctx, c); err != nil {
			return err
		}
		if err := vcluster.InstallCRDs(ctx, c); err != nil {
			return err
		}
	}
	if err := mc.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fleet.DefaultLedgerNamespace}}); err != nil {
		return err
	}
	if linkA, err = newLink(hostPort(hostA.Config.Host)); err != nil {
		return err
	}
	if linkM, err = newLink(hostPort(mgmt.Config.Host)); err != nil {
		return err
	}

	// The management side.
	skip := true
	mgr, err := ctrl.NewManager(mgmt.Config, ctrl.Options{
		Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"},
		Controller: config.Controller{SkipNameValidation: &skip},
	})
	if err != nil {
		return err
	}
	if err := fleet.SetupManagement(mgr, fleet.ManagementOptions{ProbeInterval: probeInterval, HeartbeatGrace: heartbeatGrace}); err != nil {
		return err
	}
	if err := mgr.Add(&fleet.CredentialMembers{Management: mc, Interval: time.Second,
		Quota: func(string) *fleet.Quota { return &fleet.Quota{Interval: time.Second} }}); err != nil {
		return err
	}
	wg.Go(func() {
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "fleet tests: management manager:", err)
		}
	})

	// alpha, by credential: its kubeconfig, pointed at linkA.
	kc, err := clientcmd.LoadFromFile(hostA.KubeconfigPath)
	if err != nil {
		return err
	}
	if err := clientcmdapi.FlattenConfig(kc); err != nil {
		return err
	}
	for _, c := range kc.Clusters {
		c.Server = "https://" + linkA.Addr()
	}
	raw, err := clientcmd.Write(*kc)
	if err != nil {
		return err
	}
	if err := mc.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: fleet.DefaultLedgerNamespace, Name: "alpha-kubeconfig"},
		Data:       map[string][]byte{"kubeconfig": raw},
	}); err != nil {
		return err
	}
	if err := mc.Create(ctx, &fleet.Cluster{
		ObjectMeta: metav1.ObjectMeta{Name: alpha, Labels: map[string]string{"region": "eu"}},
		Spec: fleet.ClusterSpec{Connection: fleet.ConnectionCredential,
			KubeconfigSecret: &fleet.SecretKeyRef{Namespace: fleet.DefaultLedgerNamespace, Name: "alpha-kubeconfig"}},
	}); err != nil {
		return err
	}

	// beta, by its agent, connecting out through linkM.
	out := rest.CopyConfig(mgmt.Config)
	out.Host = "https://" + linkM.Addr()
	out.QPS, out.Burst = 1000, 1000
	a, err := agent.New(agent.Options{Cluster: beta, Management: out, Host: hostB.Config,
		Labels: map[string]string{"region": "us"}, Interval: agentInterval, Quota: &fleet.Quota{Interval: time.Second}})
	if err != nil {
		return err
	}
	wg.Go(func() {
		if err := a.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "fleet tests: agent:", err)
		}
	})
	return nil
}

// hostPort is the host:port of a rest.Config's Host.
func hostPort(h string) string {
	if !strings.Contains(h, "://") {
		return h
	}
	u, err := url.Parse(h)
	if err != nil {
		return h
	}
	return u.Host
}
