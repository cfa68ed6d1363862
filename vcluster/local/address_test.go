package local

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vclusterkit/vclusterkit/vcluster"
)

func TestAddressIsValidated(t *testing.T) {
	for _, addr := range []string{"0.0.0.0", "::", "not-an-ip", "10.0.0.1:6443"} {
		_, err := New(Options{Dir: t.TempDir(), Address: addr})
		if err == nil || !strings.Contains(err.Error(), "Options.Address") {
			t.Errorf("Address %q: error %v, want one naming Options.Address", addr, err)
		}
	}
}

// A control plane created on loopback and started again with
// Options.Address listens there (and no longer on 127.0.0.1), reports it as
// its endpoint, keeps its data, and serves a certificate from its own CA
// that covers the address and the in-cluster names pods use.
func TestAddressMovesTheAPIServer(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p1 := newProvisioner(t, Options{Dir: dir})
	vc := newVC("addr")
	res, err := p1.Provision(ctx, vcluster.Request{Cluster: vc})
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := url.Parse(res.Endpoint); u.Hostname() != "127.0.0.1" {
		t.Errorf("default endpoint %s, want 127.0.0.1", res.Endpoint)
	}
	kc, _ := p1.Kubeconfig(ctx, vc)
	runKubectl(t, kc, "create", "namespace", "kept")
	p1.Shutdown(ctx)

	const addr = "127.0.0.2" // on lo, yet not 127.0.0.1
	p2 := newProvisioner(t, Options{Dir: dir, Address: addr})
	res, err = p2.Provision(ctx, vcluster.Request{Cluster: vc})
	if err != nil || !res.Ready {
		t.Fatalf("provision with Address: %+v %v", res, err)
	}
	u, err := url.Parse(res.Endpoint)
	if err != nil || u.Hostname() != addr {
		t.Fatalf("endpoint %s, want host %s", res.Endpoint, addr)
	}
	// kubectl verifies the serving certificate against the cluster CA.
	kc, _ = p2.Kubeconfig(ctx, vc)
	if !strings.Contains(string(kc), "https://"+addr+":") {
		t.Errorf("kubeconfig does not name %s:\n%s", addr, kc)
	}
	runKubectl(t, kc, "get", "namespace", "kept")

	caPEM, err := os.ReadFile(filepath.Join(p2.StateDir(vc), pkiDir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	for _, name := range []string{addr, "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "kubernetes.default"} {
		d := &net.Dialer{Timeout: 5 * time.Second}
		c, err := tls.DialWithDialer(d, "tcp", u.Host, &tls.Config{RootCAs: pool, ServerName: name, MinVersion: tls.VersionTLS12})
		if err != nil {
			t.Errorf("TLS to %s as %q: %v", u.Host, name, err)
			continue
		}
		c.Close()
	}
	if c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", u.Port()), 2*time.Second); err == nil {
		c.Close()
		t.Errorf("the API server still listens on 127.0.0.1:%s", u.Port())
	}
	if err := p2.Deprovision(ctx, vc); err != nil {
		t.Fatal(err)
	}
}
