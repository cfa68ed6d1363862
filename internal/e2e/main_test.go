package e2e

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/e2e-framework/pkg/env"

	vclusterkit "github.com/vclusterkit/vclusterkit"
	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/vcluster/local"
)

// Environment of an engine child process (see startEngine).
const (
	envEngineKubeconfig = "VCLUSTERKIT_E2E_ENGINE_KUBECONFIG"
	envEngineStateDir   = "VCLUSTERKIT_E2E_ENGINE_STATE"
)

var testEnv env.Environment

func TestMain(m *testing.M) {
	if kc := os.Getenv(envEngineKubeconfig); kc != "" {
		os.Exit(runEngine(kc, os.Getenv(envEngineStateDir)))
	}
	testEnv = env.New()
	testEnv.Setup(testenv.E2ESetup(testenv.HostOptions{Nodes: 1}))
	testEnv.Finish(testenv.E2EFinish())
	os.Exit(testEnv.Run(m))
}

// runEngine is the body of an engine child process: the Engine as an
// embedder runs it, until SIGTERM (or a SIGKILL from the test).
func runEngine(kubeconfig, stateDir string) int {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	eng, err := vclusterkit.New(cfg, vclusterkit.Options{Local: local.Options{Dir: stateDir}, ResyncPeriod: 2 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "engine:", err)
		return 1
	}
	if err := eng.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "engine:", err)
		return 1
	}
	return 0
}
