package builtin_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vclusterkit/vclusterkit/sync/resources/builtin"
	"github.com/vclusterkit/vclusterkit/sync/resources/endpointslices"
	"github.com/vclusterkit/vclusterkit/sync/resources/ingresses"
	"github.com/vclusterkit/vclusterkit/sync/resources/nodes"
)

func names(t *testing.T, opts builtin.Options) []string {
	t.Helper()
	ss, err := builtin.Syncers(opts)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range ss {
		out = append(out, s.Name())
	}
	return out
}

func TestSyncers(t *testing.T) {
	def := []string{"pods", "services", "endpointslices", "configmaps", "secrets", "persistentvolumeclaims", "poddisruptionbudgets", "networkpolicies", "events", "nodes"}
	if d := cmp.Diff(def, names(t, builtin.Options{})); d != "" {
		t.Errorf("defaults (-want +got):\n%s", d)
	}
	got := names(t, builtin.Options{ServiceAccounts: true, Ingresses: &ingresses.Options{}, Disable: []string{"events"}})
	want := []string{"pods", "services", "endpointslices", "configmaps", "secrets", "persistentvolumeclaims", "poddisruptionbudgets", "networkpolicies", "serviceaccounts", "ingresses", "nodes"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("opt-ins (-want +got):\n%s", d)
	}
	if _, err := builtin.Syncers(builtin.Options{Disable: []string{"clusterroles"}}); err == nil || !strings.Contains(err.Error(), "Options.Disable") {
		t.Errorf("unknown name: %v", err)
	}
	if _, err := builtin.Syncers(builtin.Options{Nodes: nodes.Options{Mode: "imaginary"}}); err == nil || !strings.Contains(err.Error(), "Options.Mode") {
		t.Errorf("bad node mode: %v", err)
	}
	if _, err := builtin.Syncers(builtin.Options{EndpointSlices: endpointslices.Options{DeniedCIDRs: []string{"10.0.0.0"}}}); err == nil || !strings.Contains(err.Error(), "Options.EndpointSlices") || !strings.Contains(err.Error(), "DeniedCIDRs[0]") {
		t.Errorf("bad denied CIDR: %v", err)
	}
}
