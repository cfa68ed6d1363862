package helm

import (
	"crypto/x509"
	"encoding/pem"
	"net"
	"testing"

	"github.com/google/go-cmp/cmp"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/vcluster"
	"github.com/vclusterkit/vclusterkit/vcluster/kubeconfig"
)

func parseCert(t *testing.T, s string) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode([]byte(s))
	if b == nil {
		t.Fatalf("no PEM in %q", s)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The serving certificate covers the Service's ClusterIP and the admin
// kubeconfig reaches the server there; a new address signs the serving
// certificate again with the same CA and keeps every other file, and the
// kubelet PKI is added to a release that lacks it.
func TestIdentityFollowsServiceAddress(t *testing.T) {
	p := &Provisioner{}
	vc := &vcluster.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: "dev", Namespace: "team-a"}, Spec: vcluster.VirtualClusterSpec{Tenant: "acme"}}
	files, kc, err := p.identity("vcluster-dev", "team-a", "10.96.7.8", vc, nil)
	if err != nil {
		t.Fatal(err)
	}
	serving := parseCert(t, str(files, "apiserver.crt"))
	if err := serving.VerifyHostname("10.96.7.8"); err != nil {
		t.Errorf("serving certificate: %v", err)
	}
	for _, name := range []string{"kubernetes.default.svc", "vcluster-dev.team-a.svc", "127.0.0.1"} {
		if err := serving.VerifyHostname(name); err != nil {
			t.Errorf("serving certificate: %v", err)
		}
	}
	if got := kubeconfigServer(kc); got != "https://10.96.7.8:443" {
		t.Errorf("admin kubeconfig server %q", got)
	}
	for _, f := range []string{"kubelet-ca.crt", "kubelet-ca.key", "kubelet-client.crt", "kubelet-client.key", "admin.crt", "admin.key"} {
		if str(files, f) == "" {
			t.Errorf("no %s", f)
		}
	}
	if c := parseCert(t, str(files, "kubelet-client.crt")); c.Subject.CommonName != KubeletClientName {
		t.Errorf("kubelet client certificate for %q", c.Subject.CommonName)
	}

	// Same address: nothing changes (no new revision).
	existing := map[string]any{"pki": files, "kubeconfig": kc}
	again, kc2, err := p.identity("vcluster-dev", "team-a", "10.96.7.8", vc, existing)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(files, again); diff != "" || kc2 != kc {
		t.Errorf("identity changed for the same address (-before +after):\n%s", diff)
	}

	// A new address: the serving certificate and kubeconfig follow, signed
	// by the same CA; the rest is kept.
	moved, kc3, err := p.identity("vcluster-dev", "team-a", "10.96.9.9", vc, existing)
	if err != nil {
		t.Fatal(err)
	}
	if err := parseCert(t, str(moved, "apiserver.crt")).VerifyHostname("10.96.9.9"); err != nil {
		t.Errorf("new serving certificate: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(str(files, "ca.crt")))
	if _, err := parseCert(t, str(moved, "apiserver.crt")).Verify(x509.VerifyOptions{Roots: pool}); err != nil {
		t.Errorf("new serving certificate not from the cluster CA: %v", err)
	}
	if got := kubeconfigServer(kc3); got != "https://10.96.9.9:443" {
		t.Errorf("admin kubeconfig server %q", got)
	}
	for k, v := range files {
		if k == "apiserver.crt" || k == "apiserver.key" {
			continue
		}
		if moved[k] != v {
			t.Errorf("%s changed with the address", k)
		}
	}

	// A release from before the kubelet PKI and the kept admin pair.
	old := deepCopy(files)
	for _, f := range []string{"kubelet-ca.crt", "kubelet-ca.key", "kubelet-client.crt", "kubelet-client.key", "admin.crt", "admin.key"} {
		delete(old, f)
	}
	upgraded, kc4, err := p.identity("vcluster-dev", "team-a", "10.96.7.8", vc, map[string]any{"pki": old, "kubeconfig": kc})
	if err != nil {
		t.Fatal(err)
	}
	if str(upgraded, "kubelet-client.crt") == "" || str(upgraded, "ca.key") != str(files, "ca.key") || kc4 != kc {
		t.Errorf("older release: kubelet PKI not added, or the cluster identity changed")
	}
	cfg, err := kubeconfig.RESTConfig([]byte(kc4))
	if err != nil || cfg.Host != "https://10.96.7.8:443" {
		t.Errorf("kubeconfig %v %v", cfg, err)
	}
}

func TestServerURLFor(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"", "https://vcluster-dev.team-a.svc:443"},
		{"not-an-ip", "https://vcluster-dev.team-a.svc:443"},
		{"10.96.0.20", "https://10.96.0.20:443"},
		{"fd00::20", "https://[fd00::20]:443"},
	} {
		if got := serverURLFor("vcluster-dev", "team-a", tc.addr); got != tc.want {
			t.Errorf("serverURLFor(%q) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

func TestCovers(t *testing.T) {
	p := &Provisioner{}
	vc := &vcluster.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: "dev", Namespace: "team-a"}}
	files, _, err := p.identity("vcluster-dev", "team-a", "10.96.7.8", vc, nil)
	if err != nil {
		t.Fatal(err)
	}
	crt := str(files, "apiserver.crt")
	for _, tc := range []struct {
		cert, addr string
		want       bool
	}{
		{crt, "10.96.7.8", true},
		{crt, "10.96.0.1", true},
		{crt, "10.96.7.9", false},
		{crt, "", true},
		{"", "", false},
		{"garbage", "10.96.7.8", false},
	} {
		if got := covers(tc.cert, tc.addr); got != tc.want {
			t.Errorf("covers(%.10q, %q) = %v, want %v", tc.cert, tc.addr, got, tc.want)
		}
	}
}

// The kubelet API policy opens egress to the given non-loopback addresses
// (each once) for the release's control-plane pods only, selected by a
// label under the reserved domain that synced pods cannot carry.
func TestKubeletPolicy(t *testing.T) {
	vc := &vcluster.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: "dev", Namespace: "platform"}, Spec: vcluster.VirtualClusterSpec{HostNamespace: "vc-dev"}}
	if np := kubeletPolicy(vc, []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}); np != nil {
		t.Errorf("a policy for loopback addresses: %+v", np)
	}
	np := kubeletPolicy(vc, []net.IP{net.ParseIP("10.233.0.1"), net.IPv4(127, 0, 0, 1), net.ParseIP("10.233.0.1"), net.ParseIP("fd00::1")})
	if np == nil {
		t.Fatal("no policy")
	}
	if np.Namespace != "vc-dev" || np.Name != "vcluster-dev-kubelet" {
		t.Errorf("policy %s/%s", np.Namespace, np.Name)
	}
	want := networkingv1.NetworkPolicySpec{
		PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/instance": "vcluster-dev", LabelControlPlane: "vcluster-dev"}},
		PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
		Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{
			{IPBlock: &networkingv1.IPBlock{CIDR: "10.233.0.1/32"}}, {IPBlock: &networkingv1.IPBlock{CIDR: "fd00::1/128"}},
		}}},
	}
	if diff := cmp.Diff(want, np.Spec); diff != "" {
		t.Errorf("policy spec (-want +got):\n%s", diff)
	}
}
