package admissionpolicy_test

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/tenancy/admissionpolicy"
)

// Render the admission objects of a small tree: the child inherits its
// parent's runtime classes and adds a node selector.
func ExampleForTree() {
	tenants := []tenancy.Tenant{
		{ObjectMeta: metav1.ObjectMeta{Name: "acme"}, Spec: tenancy.TenantSpec{Policy: tenancy.Policy{AllowedRuntimeClasses: []string{"gvisor"}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: tenancy.TenantSpec{Parent: "acme", Policy: tenancy.Policy{NodeSelector: map[string]string{"pool": "web"}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "free"}},
	}
	tree, err := tenancy.NewTree(tenants, nil, tenancy.TreeOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	policies, bindings, err := admissionpolicy.ForTree(tree)
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, p := range policies {
		sel := bindings[i].Spec.MatchResources.NamespaceSelector
		fmt.Printf("%s: %d rules, namespaces %v + %s %s\n", p.Name, len(p.Spec.Validations), sel.MatchLabels, sel.MatchExpressions[0].Key, sel.MatchExpressions[0].Operator)
		for _, v := range p.Spec.Validations {
			fmt.Println("  refuses:", v.Message)
		}
	}
	// Output:
	// vclusterkit-tenant-acme: 1 rules, namespaces map[tenancy.vclusterkit.io/tenant:acme] + tenancy.vclusterkit.io/space Exists
	//   refuses: spec.runtimeClassName: not allowed (allowed: [gvisor])
	// vclusterkit-tenant-web: 2 rules, namespaces map[tenancy.vclusterkit.io/tenant:web] + tenancy.vclusterkit.io/space Exists
	//   refuses: spec.runtimeClassName: not allowed (allowed: [gvisor])
	//   refuses: spec.nodeSelector: must contain the tenant's node selector {"pool": "web"}
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
