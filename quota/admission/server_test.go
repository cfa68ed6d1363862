package admission_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/quota"
	"github.com/vclusterkit/vclusterkit/quota/admission"
)

// One server, one certificate: other handlers are served beside the quota
// webhook at their own paths; a handler that would take the webhook's path
// is refused.
func TestServeExtraHandlers(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	certs, err := admission.GenerateCerts(admission.CertOptions{Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	extra := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "extra") })
	wh := &admission.Webhook{Ledger: quota.NewLedger(quota.LedgerOptions{})}
	srv, err := admission.Serve(ctx, wh, admission.ServerOptions{Certs: certs, Handlers: map[string]http.Handler{"/validate-extra": extra}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certs.CAPEM)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := hc.Get(srv.URLFor("/validate-extra"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "extra" {
		t.Fatalf("GET %s: %d %q", srv.URLFor("/validate-extra"), resp.StatusCode, body)
	}
	if !strings.HasSuffix(srv.URL, admission.Path) || srv.URLFor(admission.Path) != srv.URL {
		t.Fatalf("URL %s, URLFor(Path) %s", srv.URL, srv.URLFor(admission.Path))
	}
	for _, bad := range []string{admission.Path, "no-slash"} {
		if _, err := admission.Serve(ctx, wh, admission.ServerOptions{Certs: certs, Handlers: map[string]http.Handler{bad: extra}}); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("handler at %q: want an error naming it, got %v", bad, err)
		}
	}
}

// Behind a Service without a path the API server would post to "/", where
// nothing answers and, failing closed, every checked create would be
// refused: Install points it at Path.
func TestInstallServiceGetsThePath(t *testing.T) {
	ctx := context.Background()
	c, err := client.New(host.Config, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	name := unique("svc-path")
	port := int32(443)
	cfg, err := admission.Install(ctx, c, admission.InstallOptions{Name: name, CABundle: []byte("ca"),
		Service: &admissionregistrationv1.ServiceReference{Namespace: "vclusterkit-system", Name: "webhook", Port: &port},
		// Nothing matches: the configuration must not refuse anything in this shared API server.
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"never": name}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Delete(ctx, cfg)
	var got admissionregistrationv1.ValidatingWebhookConfiguration
	if err := c.Get(ctx, client.ObjectKey{Name: name}, &got); err != nil {
		t.Fatal(err)
	}
	if p := got.Webhooks[0].ClientConfig.Service.Path; p == nil || *p != admission.Path {
		t.Fatalf("service path %v; want %s", p, admission.Path)
	}
}
