package tenancy

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A policy may require labels and annotations on its namespaces, but not in
// the engine's own domains: those carry tenancy (tree labels, the tenant,
// the policy annotations the API server's space policy reads) and a
// required value would fight the engine over them.
func TestRequiredNamespaceKeysOutsideEngineDomains(t *testing.T) {
	for _, tc := range []struct {
		labels, annotations map[string]string
		want                string
	}{
		{labels: map[string]string{"cost-center": "42", "example.com/team": "web"}, annotations: map[string]string{"owner": "lex"}},
		{labels: map[string]string{Group + "/tenant": "other"}, want: "spec.policy.requiredNamespaceLabels[tenancy.vclusterkit.io/tenant]"},
		{labels: map[string]string{"acme.tree." + Group + "/depth": "0"}, want: "requiredNamespaceLabels[acme.tree.tenancy.vclusterkit.io/depth]"},
		{annotations: map[string]string{"policy." + Group + "/runtime-classes": "[]"}, want: "requiredNamespaceAnnotations[policy.tenancy.vclusterkit.io/runtime-classes]"},
		{annotations: map[string]string{"vcluster.vclusterkit.io/name": "x"}, want: "requiredNamespaceAnnotations[vcluster.vclusterkit.io/name]"},
	} {
		tn := &Tenant{ObjectMeta: metav1.ObjectMeta{Name: "lex"}, Spec: TenantSpec{Policy: Policy{RequiredNamespaceLabels: tc.labels, RequiredNamespaceAnnotations: tc.annotations}}}
		errs := ValidateTenant(tn)
		if tc.want == "" {
			if len(errs) > 0 {
				t.Errorf("%v %v: unexpected %v", tc.labels, tc.annotations, errs)
			}
			continue
		}
		if len(errs) == 0 || !strings.Contains(errs.ToAggregate().Error(), tc.want) {
			t.Errorf("%v %v: want an error naming %s, got %v", tc.labels, tc.annotations, tc.want, errs)
		}
	}
}
