package vclusterkit_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	vclusterkit "github.com/vclusterkit/vclusterkit"
	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
	"github.com/vclusterkit/vclusterkit/vcluster/local"
)

var (
	host     *testenv.Host
	engine   *vclusterkit.Engine
	hostC    client.Client
	stateDir string
)

// TestMain runs one engine against one whole host cluster (KWOK nodes,
// kube-controller-manager for namespace deletion and garbage collection)
// for every test of the package.
func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var err error
	host, err = testenv.StartHost(ctx, testenv.HostOptions{Nodes: 2})
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: starting the host cluster:", err)
		return 1
	}
	defer host.Stop()
	stateDir, err = os.MkdirTemp("", "vclusterkit-engine-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(stateDir)
	engine, err = vclusterkit.New(host.Config, vclusterkit.Options{
		Local:        local.Options{Dir: stateDir},
		ResyncPeriod: 2 * time.Second,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: vclusterkit.New:", err)
		return 1
	}
	s := runtime.NewScheme()
	_ = tenancy.AddToScheme(s)
	_ = vcluster.AddToScheme(s)
	_ = addCore(s)
	hostC, err = client.New(host.Config, client.Options{Scheme: s})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	done := make(chan error, 1)
	go func() { done <- engine.Start(ctx) }()
	code := m.Run()
	cancel()
	if err := <-done; err != nil {
		fmt.Fprintln(os.Stderr, "engine stopped with:", err)
		if code == 0 {
			code = 1
		}
	}
	// Whatever a failed test left behind: no control plane may outlive us.
	if p, err := engine.Provisioners().Get(local.Name); err == nil {
		if lp, ok := p.(*local.Provisioner); ok {
			sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
			lp.Shutdown(sctx)
			scancel()
		}
	}
	return code
}
