package virtualcluster

import (
	"context"
	"net"
	"testing"

	"github.com/vclusterkit/vclusterkit/vcluster"
)

// plain serves no kubelets; serving does, on loopback unless at is set
// (a provisioner whose API servers run in pods names where they reach the
// engine).
type plain struct{ vcluster.Provisioner }

type serving struct {
	plain
	got []net.IP
}

func (s *serving) KubeletTLS(_ context.Context, _ *vcluster.VirtualCluster, ips []net.IP) (vcluster.KubeletTLS, error) {
	s.got = ips
	return vcluster.KubeletTLS{ClientName: "client"}, nil
}

type servingAt struct {
	serving
	at net.IP
}

func (s *servingAt) KubeletAddress() net.IP { return s.at }

func TestKubeletAddressComesFromTheProvisioner(t *testing.T) {
	ctx := context.Background()
	vc := &vcluster.VirtualCluster{}

	creds, addr, err := kubeletTLS(ctx, plain{}, vc)
	if err != nil || creds != nil || addr != nil {
		t.Errorf("a provisioner that serves no kubelets: %v %v %v", creds, addr, err)
	}
	for _, tc := range []struct {
		name string
		p    interface {
			vcluster.Provisioner
			vcluster.KubeletServing
		}
		want net.IP
	}{
		{"no address named: loopback", &serving{}, net.IPv4(127, 0, 0, 1)},
		{"nil address: loopback", &servingAt{}, net.IPv4(127, 0, 0, 1)},
		{"the provisioner's address", &servingAt{at: net.ParseIP("10.233.0.1")}, net.ParseIP("10.233.0.1")},
	} {
		creds, addr, err := kubeletTLS(ctx, tc.p, vc)
		if err != nil || creds == nil || creds.ClientName != "client" {
			t.Fatalf("%s: %v %v", tc.name, creds, err)
		}
		if !addr.Equal(tc.want) {
			t.Errorf("%s: listens on %s, want %s", tc.name, addr, tc.want)
		}
		var got []net.IP
		switch p := tc.p.(type) {
		case *serving:
			got = p.got
		case *servingAt:
			got = p.got
		}
		if len(got) != 1 || !got[0].Equal(tc.want) {
			t.Errorf("%s: credentials asked for %v, want [%s]", tc.name, got, tc.want)
		}
	}
}
