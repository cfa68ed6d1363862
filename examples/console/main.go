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
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/config"

	"github.com/vclusterkit/vclusterkit/api"
	"github.com/vclusterkit/vclusterkit/api/audit"
	"github.com/vclusterkit/vclusterkit/api/auth"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8443", "listen address")
	issuer := flag.String("oidc-issuer", "", "OIDC issuer URL (required)")
	clientID := flag.String("oidc-client-id", "", "OIDC client ID: the audience of accepted ID tokens (required)")
	ns := flag.String("namespace", "vclusterkit-system", "namespace of VirtualClusters and API keys")
	cert := flag.String("tls-cert", "", "serving certificate (PEM); without it the console serves plain HTTP, for a TLS proxy in front")
	key := flag.String("tls-key", "", "serving key (PEM)")
	flag.Parse()
	log := logr.FromSlogHandler(slog.NewJSONHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, log, *listen, *issuer, *clientID, *ns, *cert, *key); err != nil {
		fmt.Fprintln(os.Stderr, "console:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log logr.Logger, listen, issuer, clientID, ns, cert, key string) error {
	if issuer == "" || clientID == "" {
		return errors.New("--oidc-issuer and --oidc-client-id are required")
	}
	cfg, err := config.GetConfig()
	if err != nil {
		return err
	}
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, networkingv1.AddToScheme, tenancy.AddToScheme, vcluster.AddToScheme} {
		if err := add(s); err != nil {
			return err
		}
	}
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: s})
	if err != nil {
		return err
	}
	oidc, err := auth.NewOIDC(ctx, auth.OIDCOptions{IssuerURL: issuer, ClientID: clientID})
	if err != nil {
		return err
	}
	keys := &auth.KeyStore{Client: c, Namespace: ns}
	authn := auth.Chain{OIDC: oidc, Keys: keys}
	sink := audit.NewJSONLines(os.Stdout)
	a, err := api.New(api.Options{Client: c, Authenticator: authn, Keys: keys, Audit: sink,
		VirtualClusterNamespace: ns, Logger: log})
	if err != nil {
		return err
	}
	con, err := New(Options{API: a, Authenticator: authn, Secure: cert != "", Audit: sink})
	if err != nil {
		return err
	}
	srv := &http.Server{Addr: listen, Handler: con, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() {
		if cert != "" {
			errc <- srv.ListenAndServeTLS(cert, key)
		} else {
			errc <- srv.ListenAndServe()
		}
	}()
	log.Info("console listening", "addr", listen)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
