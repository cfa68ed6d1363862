package vclusterkit

import (
	"strings"
	"testing"

	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
)

func TestRoutableAPIServer(t *testing.T) {
	for _, tc := range []struct {
		endpoint string
		host     string
		port     int32
	}{
		{"https://127.0.0.1:6443", "", 0},
		{"https://localhost:6443", "", 0},
		{"https://[::1]:6443", "", 0},
		{"https://vc-api.tenant-a.svc:8443", "vc-api.tenant-a.svc", 8443},
		{"https://10.96.0.12", "10.96.0.12", 443},
		{"", "", 0},
	} {
		h, p := routableAPIServer(tc.endpoint)
		if h != tc.host || p != tc.port {
			t.Errorf("routableAPIServer(%q) = %q, %d; want %q, %d", tc.endpoint, h, p, tc.host, tc.port)
		}
	}
}

func TestDefaultSyncersFollowSpecSync(t *testing.T) {
	vc := &vcluster.VirtualCluster{}
	vc.Spec.Sync.ToHost = []string{"pods", "widgets"}
	if _, err := DefaultSyncers(vc, tenancy.Policy{}); err == nil || !strings.Contains(err.Error(), `unknown kind "widgets"`) {
		t.Errorf("an unknown kind in spec.sync.toHost: err = %v", err)
	}
	vc.Spec.Sync.ToHost = []string{"pods", "ingresses"}
	s, err := DefaultSyncers(vc, tenancy.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, x := range s {
		names = append(names, x.Name())
	}
	if strings.Join(names, ",") != "pods,ingresses" {
		t.Errorf("toHost [pods ingresses] gave syncers %v", names)
	}
	all, err := DefaultSyncers(&vcluster.VirtualCluster{}, tenancy.Policy{})
	if err != nil || len(all) < 9 {
		t.Errorf("the default set has %d syncers (err %v), want the built-in set", len(all), err)
	}
}
