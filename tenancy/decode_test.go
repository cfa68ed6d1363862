package tenancy_test

import (
	"context"
	"strings"
	"testing"

	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/tenancy/memstore"
)

func TestDecodeTenant(t *testing.T) {
	good := `
apiVersion: tenancy.vclusterkit.io/v1alpha1
kind: Tenant
metadata:
  name: acme
spec:
  quota: {cpu: "4", memory: 8Gi, pods: 10}
  policy: {podSecurity: restricted}
`
	tn, err := tenancy.DecodeTenant([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if q := tn.Spec.Quota["memory"]; q.String() != "8Gi" || tn.Spec.Policy.PodSecurity != tenancy.PodSecurityRestricted {
		t.Errorf("decoded %+v", tn.Spec)
	}
	bad := `{"metadata": {"name": "acme"}, "spec": {"quota": {"cpu": "two", "memory": "1Gi"},
	  "limitRange": {"max": {"memory": "lots"}}}}`
	_, err = tenancy.DecodeTenant([]byte(bad))
	wantInvalid(t, err, `spec.quota[cpu]=not a quantity`, `spec.limitRange.max[memory]=not a quantity`)
	if strings.Contains(err.Error(), "spec.quota[memory]") {
		t.Errorf("a valid quantity was reported: %v", err)
	}
	_, err = tenancy.DecodeTenant([]byte(`{"metadata": {"name": "acme"}, "spec": {"parnet": "x"}}`))
	if err == nil || !strings.Contains(err.Error(), `unknown field "parnet"`) {
		t.Errorf("unknown field: %v", err)
	}
	_, err = tenancy.DecodeSpace([]byte(`{"metadata": {"name": "s"}, "spec": {"tenant": "acme", "quota": {"cpu": true}}}`))
	wantInvalid(t, err, `spec.quota[cpu]=must be a quantity`)
}

func TestLoadTree(t *testing.T) {
	ctx := context.Background()
	s := memstore.New(memstore.Options{})
	for _, tn := range []tenancy.Tenant{tenant("a", ""), tenant("b", "a")} {
		if _, err := s.CreateTenant(ctx, &tn); err != nil {
			t.Fatal(err)
		}
	}
	sp := space("b-dev", "b")
	if _, err := s.CreateSpace(ctx, &sp); err != nil {
		t.Fatal(err)
	}
	tr, err := tenancy.LoadTree(ctx, s, tenancy.TreeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := tr.Path("b"); len(got) != 2 || tr.Spaces("b")[0] != "b-dev" {
		t.Errorf("path %v spaces %v", got, tr.Spaces("b"))
	}
}
