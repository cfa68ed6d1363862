package endpointslices

import (
	"net/netip"
	"slices"
	"testing"
)

func TestDefaultPolicy(t *testing.T) {
	p, err := newPolicy(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]bool{
		"10.1.2.3": true, "172.31.255.255": true, "172.32.0.1": false, "192.168.1.1": true,
		"100.64.0.1": true, "127.0.0.1": true, "169.254.169.254": true,
		"203.0.113.10": false, "198.51.100.7": false, "8.8.8.8": false,
		"fd00::1": true, "fe80::1%eth0": true, "::1": true, "2001:db8::1": false,
		"::ffff:10.0.0.1": true, "::ffff:203.0.113.10": false,
	} {
		a, err := parseAddress(addr)
		if err != nil {
			t.Errorf("%s: %v", addr, err)
			continue
		}
		if _, got := p.deniedBy(a); got != want {
			t.Errorf("%s denied = %v, want %v", addr, got, want)
		}
	}
	for _, bad := range []string{"0.0.0.0", "::", "224.0.0.1", "ff02::1", "255.255.255.255", "db.example.com", "010.1.2.3", ""} {
		if _, err := parseAddress(bad); err == nil {
			t.Errorf("parseAddress(%q) accepted", bad)
		}
	}
}

func TestPolicyOptions(t *testing.T) {
	p, err := newPolicy(Options{DeniedCIDRs: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if _, denied := p.deniedBy(netip.MustParseAddr("10.1.2.3")); denied {
		t.Error("an empty non-nil DeniedCIDRs denies 10.1.2.3")
	}
	p, err = newPolicy(Options{DeniedCIDRs: []string{"203.0.113.7/24"}})
	if err != nil {
		t.Fatal(err)
	}
	if pr, denied := p.deniedBy(netip.MustParseAddr("203.0.113.10")); !denied || pr.String() != "203.0.113.0/24" {
		t.Errorf("custom range: %v %v", pr, denied)
	}
	d := DefaultDeniedCIDRs()
	d[0] = "changed"
	if !slices.Contains(DefaultDeniedCIDRs(), "10.0.0.0/8") {
		t.Error("DefaultDeniedCIDRs shares its slice with callers")
	}
}
