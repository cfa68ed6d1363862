package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/config"

	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
)

func main() {
	fs := flag.NewFlagSet("portal", flag.ExitOnError)
	kubeconfig := fs.String("kubeconfig", "", "host cluster kubeconfig; empty means $KUBECONFIG, in-cluster, then ~/.kube/config")
	listen := fs.String("listen", "127.0.0.1:8080", "listen address; keep it reachable only by the authenticating proxy")
	userHeader := fs.String("user-header", "X-Forwarded-User", "header the proxy puts the verified user name in")
	groupsHeader := fs.String("groups-header", "X-Forwarded-Groups", "header the proxy puts the user's groups in, comma-separated")
	vcNamespace := fs.String("vc-namespace", "vclusterkit-system", "namespace of the VirtualClusters the portal creates")
	_ = fs.Parse(os.Args[1:])

	log := logr.FromSlogHandler(slog.NewJSONHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, log, *kubeconfig, *listen, Options{UserHeader: *userHeader, GroupsHeader: *groupsHeader, VirtualClusterNamespace: *vcNamespace, Logger: log}); err != nil {
		fmt.Fprintln(os.Stderr, "portal:", err)
		os.Exit(1)
	}
}

// newClient returns a host client whose scheme knows the vclusterkit types.
func newClient(cfg *rest.Config) (client.Client, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, tenancy.AddToScheme, vcluster.AddToScheme} {
		if err := add(s); err != nil {
			return nil, err
		}
	}
	return client.New(cfg, client.Options{Scheme: s})
}

func serve(ctx context.Context, log logr.Logger, kubeconfig, listen string, o Options) error {
	var cfg *rest.Config
	var err error
	if kubeconfig != "" {
		cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
	} else {
		cfg, err = config.GetConfig()
	}
	if err != nil {
		return err
	}
	if o.Client, err = newClient(cfg); err != nil {
		return err
	}
	p, err := New(o)
	if err != nil {
		return err
	}
	srv := &http.Server{Addr: listen, Handler: p, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("portal listening", "addr", listen)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
