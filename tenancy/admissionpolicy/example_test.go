package admissionpolicy_test

import (
	"fmt"
	"maps"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/tenancy/admissionpolicy"
)

// What the engine writes on the namespaces of a small tree's spaces: the
// child inherits its parent's runtime classes and adds a node selector.
func ExampleForTree() {
	tenants := []tenancy.Tenant{
		{ObjectMeta: metav1.ObjectMeta{Name: "acme"}, Spec: tenancy.TenantSpec{Policy: tenancy.Policy{AllowedRuntimeClasses: []string{"gvisor", "kata"}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: tenancy.TenantSpec{Parent: "acme", Policy: tenancy.Policy{NodeSelector: map[string]string{"pool": "web"}}}},
	}
	spaces := []tenancy.Space{
		{ObjectMeta: metav1.ObjectMeta{Name: "acme-ops"}, Spec: tenancy.SpaceSpec{Tenant: "acme"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "web-prod"}, Spec: tenancy.SpaceSpec{Tenant: "web"}},
	}
	tree, err := tenancy.NewTree(tenants, spaces, tenancy.TreeOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	byNamespace, err := admissionpolicy.ForTree(tree)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, ns := range []string{"acme-ops", "web-prod"} {
		fmt.Println(ns)
		for _, k := range slices.Sorted(maps.Keys(byNamespace[ns])) {
			fmt.Printf("  %s: %s\n", k, byNamespace[ns][k])
		}
	}
	// One policy reads them, whatever the number of tenants.
	pol, bind := admissionpolicy.SpacePolicy()
	fmt.Println(pol.Name, bind.Spec.MatchResources.NamespaceSelector.MatchExpressions[1].Key)
	// Output:
	// acme-ops
	//   policy.tenancy.vclusterkit.io/runtime-classes: gvisor,kata
	//   policy.tenancy.vclusterkit.io/tenant: acme
	// web-prod
	//   policy.tenancy.vclusterkit.io/node-selector: pool=web
	//   policy.tenancy.vclusterkit.io/runtime-classes: gvisor,kata
	//   policy.tenancy.vclusterkit.io/tenant: web
	// vclusterkit-spaces tenancy.vclusterkit.io/space
}

// The namespace guard exempts the engine's own identity only.
func ExampleNamespaceGuard() {
	pol, bind, err := admissionpolicy.NamespaceGuard(admissionpolicy.GuardOptions{
		EngineUsers: []string{"system:serviceaccount:vclusterkit-system:vclusterkit"},
		Labels:      []string{"vcluster.vclusterkit.io/name"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(pol.Name, bind.Spec.PolicyName)
	fmt.Println(pol.Spec.MatchConditions[0].Expression)
	fmt.Println(pol.Spec.Validations[0].Message)
	_, _, err = admissionpolicy.NamespaceGuard(admissionpolicy.GuardOptions{})
	fmt.Println(err)
	// Output:
	// vclusterkit-namespace-guard vclusterkit-namespace-guard
	// !(request.userInfo.username in ["system:serviceaccount:vclusterkit-system:vclusterkit"])
	// metadata.labels: tenancy.vclusterkit.io/space, tenancy.vclusterkit.io/tenant, vcluster.vclusterkit.io/name, *.tree.tenancy.vclusterkit.io/depth are set by the platform (vclusterkit) only
	// admissionpolicy: GuardOptions.EngineUsers is required
}
