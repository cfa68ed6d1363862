// Command syncer shows how a platform syncs its own kind — here a Backup
// custom resource — from virtual clusters to their host namespaces with
// the vclusterkit sync engine, next to the built-in kinds.
//
//	go run ./examples/syncer -virtual VIRTUAL_KUBECONFIG -host HOST_KUBECONFIG \
//	    -name dev -host-namespace team-a [-install-crds]
//
// Steps, each a few lines below:
//
//  1. a scheme that knows the kind, on both sides;
//  2. a Syncer for it (syncer.go): ToHost and ToVirtual;
//  3. a shared syncer.Host and one syncer.Engine per virtual cluster, with
//     the built-in pod and secret syncers plus the Backup syncer.
//
// The test next to it (main_test.go) runs exactly this against two real API
// servers.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/sync/resources/pods"
	"github.com/vclusterkit/vclusterkit/sync/resources/secrets"
	"github.com/vclusterkit/vclusterkit/sync/syncer"
)

func main() {
	virtualKC := flag.String("virtual", "", "kubeconfig of the virtual cluster")
	hostKC := flag.String("host", "", "kubeconfig of the host cluster")
	name := flag.String("name", "dev", "name of the virtual cluster")
	hostNS := flag.String("host-namespace", "team-a", "host namespace of the virtual cluster")
	install := flag.Bool("install-crds", false, "install the Backup CRD in both clusters first")
	flag.Parse()
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if err := run(ctx, *virtualKC, *hostKC, *name, *hostNS, *install); err != nil {
		fmt.Fprintln(os.Stderr, "syncer example:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, virtualKC, hostKC, name, hostNS string, install bool) error {
	vcfg, err := clientcmd.BuildConfigFromFlags("", virtualKC)
	if err != nil {
		return fmt.Errorf("-virtual: %w", err)
	}
	hcfg, err := clientcmd.BuildConfigFromFlags("", hostKC)
	if err != nil {
		return fmt.Errorf("-host: %w", err)
	}
	if install {
		for _, cfg := range []*rest.Config{vcfg, hcfg} {
			if err := installCRD(ctx, cfg); err != nil {
				return err
			}
		}
	}
	return Run(ctx, vcfg, hcfg, name, hostNS)
}

// Scheme returns a scheme with the built-in kinds and Backup.
func Scheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, err
	}
	if err := AddToScheme(s); err != nil {
		return nil, err
	}
	return s, nil
}

// Run syncs one virtual cluster until ctx ends.
func Run(ctx context.Context, virtual, host *rest.Config, name, hostNS string) error {
	scheme, err := Scheme()
	if err != nil {
		return err
	}
	// 3a. One Host per process, shared by every virtual cluster.
	h, err := syncer.NewHost(host, syncer.HostOptions{Scheme: scheme, Namespaces: []string{hostNS}})
	if err != nil {
		return err
	}
	// 3b. The built-in kinds you want, and your own.
	ps, err := pods.New(pods.Options{})
	if err != nil {
		return err
	}
	eng, err := syncer.New(h, virtual, syncer.Options{
		Name: name, HostNamespace: hostNS, Scheme: scheme,
		// Secrets are synced only when a pod references them; a Secret only
		// a Backup names needs secrets.Options{All: true} or a Watcher and
		// Filter of your own (see package configmaps for the pattern).
		Syncers: []syncer.Syncer{ps, secrets.New(secrets.Options{All: true}), BackupSyncer{}},
	})
	if err != nil {
		return err
	}
	ctx = ctrl.LoggerInto(ctx, ctrl.Log.WithName("syncer-example"))
	errs := make(chan error, 2)
	go func() { errs <- h.Start(ctx) }()
	go func() { errs <- eng.Start(ctx) }()
	err = <-errs
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func installCRD(ctx context.Context, cfg *rest.Config) error {
	s := runtime.NewScheme()
	if err := apiextensionsv1.AddToScheme(s); err != nil {
		return err
	}
	c, err := client.New(cfg, client.Options{Scheme: s})
	if err != nil {
		return err
	}
	if err := c.Create(ctx, CRD()); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("install Backup CRD: %w", err)
	}
	return nil
}
