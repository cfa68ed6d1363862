package hostns

import "testing"

func TestEndpointPeers(t *testing.T) {
	for _, c := range []struct {
		endpoint string
		want     string // CIDR, or "" for none
	}{
		{"https://10.233.0.1:34567", "10.233.0.1/32"},
		{"https://[fd00::7]:6443", "fd00::7/128"},
		{"https://127.0.0.1:6443", ""},
		{"https://0.0.0.0:6443", ""},
		{"https://api.example.com:6443", ""},
		{"", ""},
		{"::not a url", ""},
	} {
		got := EndpointPeers(c.endpoint)
		switch {
		case c.want == "" && len(got) != 0:
			t.Errorf("EndpointPeers(%q) = %v, want none", c.endpoint, got)
		case c.want != "" && (len(got) != 1 || got[0].IPBlock == nil || got[0].IPBlock.CIDR != c.want):
			t.Errorf("EndpointPeers(%q) = %v, want ipBlock %s", c.endpoint, got, c.want)
		}
	}
}
