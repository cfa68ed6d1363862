package vclusterkit_test

import (
	"context"
	"log"
	"os/signal"
	"syscall"

	ctrl "sigs.k8s.io/controller-runtime"

	vclusterkit "github.com/vclusterkit/vclusterkit"
	"github.com/vclusterkit/vclusterkit/vcluster"
	"github.com/vclusterkit/vclusterkit/vcluster/local"
)

// An embedder's whole program: the engine reconciles Tenant, Space and
// VirtualCluster objects on the host cluster of the current kubeconfig.
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()

	// Provisioners are a value: register your own next to the built-in one.
	reg := vcluster.NewRegistry()
	lp, err := local.New(local.Options{})
	if err != nil {
		log.Fatal(err)
	}
	if err := reg.Register(local.Name, lp); err != nil {
		log.Fatal(err)
	}

	eng, err := vclusterkit.New(ctrl.GetConfigOrDie(), vclusterkit.Options{
		Provisioners:           reg,
		MetricsBindAddress:     ":8080",
		HealthProbeBindAddress: ":8081",
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := eng.Start(ctx); err != nil {
		log.Fatal(err)
	}
}
