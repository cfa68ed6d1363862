package kubeletproxy_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/sync/kubeletproxy"
	"github.com/vclusterkit/vclusterkit/vcluster"
	"github.com/vclusterkit/vclusterkit/vcluster/kubeconfig"
	"github.com/vclusterkit/vclusterkit/vcluster/local"
)

// The bed: a host API server (envtest) with a fake kubelet behind its one
// Node, and two virtual clusters of the local provisioner — real API
// servers started with the kubelet flags the engine relies on — each with
// its kubelet proxy.
var (
	host  *testenv.APIServer
	prov  *local.Provisioner
	vcs   = map[string]*virtualCluster{}
	fakeK *fakeKubelet
)

type virtualCluster struct {
	vc     *vcluster.VirtualCluster
	cfg    *rest.Config
	c      client.Client
	proxy  *kubeletproxy.Server
	cancel context.CancelFunc
	done   chan struct{}
}

func TestMain(m *testing.M) {
	ctrl.SetLogger(logr.Discard())
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "kubeletproxy-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	prov, err = local.New(local.Options{Dir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer prov.Shutdown(ctx)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		h, err := testenv.StartAPIServer(testenv.APIServerOptions{})
		if err != nil {
			fail(err)
			return
		}
		host = h
	}()
	for _, name := range []string{"a", "b"} {
		vc := &vcluster.VirtualCluster{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "vc-" + name, UID: types.UID("uid-" + name)},
			Spec:       vcluster.VirtualClusterSpec{Tenant: "team-" + name},
		}
		vcs[name] = &virtualCluster{vc: vc}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := prov.Provision(ctx, vcluster.Request{Cluster: vc}); err != nil {
				fail(fmt.Errorf("provisioning %s: %w", vc.Name, err))
			}
		}()
	}
	wg.Wait()
	defer func() {
		if host != nil {
			_ = host.Stop()
		}
	}()
	if len(errs) > 0 {
		fmt.Fprintln(os.Stderr, "FAIL: the tests of this package need real API servers:", errs)
		return 1
	}
	fakeK, err = startFakeKubelet()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer fakeK.Close()
	hc, err := client.New(host.Config, client.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for _, v := range vcs {
		if err := v.start(ctx, hc); err != nil {
			fmt.Fprintln(os.Stderr, "FAIL:", err)
			return 1
		}
		defer v.stop()
	}
	return m.Run()
}

func (v *virtualCluster) start(ctx context.Context, hc client.Client) error {
	kc, err := prov.Kubeconfig(ctx, v.vc)
	if err != nil {
		return err
	}
	if v.cfg, err = kubeconfig.RESTConfig(kc); err != nil {
		return err
	}
	if v.c, err = client.New(v.cfg, client.Options{}); err != nil {
		return err
	}
	tlsMat, err := prov.KubeletTLS(ctx, v.vc, loopbackIPs)
	if err != nil {
		return err
	}
	v.proxy, err = kubeletproxy.New(kubeletproxy.Options{
		VirtualCluster: v.vc.Name, HostNamespace: v.vc.EffectiveHostNamespace(),
		Virtual: v.c, Host: hc, HostConfig: host.Config,
		ClientCA: tlsMat.ClientCA, ClientName: tlsMat.ClientName, Cert: tlsMat.Cert, Key: tlsMat.Key,
	})
	if err != nil {
		return err
	}
	pctx, cancel := context.WithCancel(ctx)
	v.cancel, v.done = cancel, make(chan struct{})
	go func() {
		defer close(v.done)
		_ = v.proxy.Start(pctx)
	}()
	return nil
}

func (v *virtualCluster) stop() {
	v.cancel()
	select {
	case <-v.done:
	case <-time.After(10 * time.Second):
	}
}
