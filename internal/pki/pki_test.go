package pki

import (
	"crypto/x509"
	"net"
	"testing"
)

func TestGenerateChains(t *testing.T) {
	s, err := Generate(Options{DNSNames: []string{"vc.example"}, IPs: []net.IP{net.ParseIP("10.1.2.3")}})
	if err != nil {
		t.Fatal(err)
	}
	ca, _, err := Parse(s.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	srv, _, err := Parse(s.Serving)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"localhost", "vc.example", "kubernetes.default.svc", "127.0.0.1", "10.1.2.3"} {
		if _, err := srv.Verify(x509.VerifyOptions{DNSName: name, Roots: pool}); err != nil {
			t.Errorf("serving cert for %s: %v", name, err)
		}
	}
	if _, err := srv.Verify(x509.VerifyOptions{DNSName: "other.example", Roots: pool}); err == nil {
		t.Error("serving cert valid for a name it should not have")
	}
	u, err := ClientCert(s.CA, "alice", []string{"devs"})
	if err != nil {
		t.Fatal(err)
	}
	uc, _, _ := Parse(u)
	if _, err := uc.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client cert: %v", err)
	}
	if uc.Subject.CommonName != "alice" || len(uc.Subject.Organization) != 1 || uc.Subject.Organization[0] != "devs" {
		t.Errorf("subject %v", uc.Subject)
	}
	// A certificate from another CA must not verify.
	other, _ := Generate(Options{})
	oc, _, _ := Parse(other.Admin)
	if _, err := oc.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Error("foreign client cert verified")
	}
	if _, err := ClientCert(s.CA, "", nil); err == nil {
		t.Error("empty user accepted")
	}
}

func BenchmarkGenerate(b *testing.B) {
	for b.Loop() {
		if _, err := Generate(Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
