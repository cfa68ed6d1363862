package kubeconfig_test

import (
	"fmt"

	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster/kubeconfig"
)

func ExampleClusterRoleFor() {
	for _, r := range []tenancy.Role{tenancy.RoleAdmin, tenancy.RoleEdit, tenancy.RoleView, "owner"} {
		role, err := kubeconfig.ClusterRoleFor(r)
		fmt.Println(r, "→", role, err)
	}
	// Output:
	// admin → cluster-admin <nil>
	// edit → edit <nil>
	// view → view <nil>
	// owner →  unknown role "owner" (want admin, edit or view)
}

func ExampleBindingName() {
	fmt.Println(kubeconfig.BindingName(tenancy.Member{Kind: tenancy.MemberUser, Name: "alice@example.com", Role: tenancy.RoleEdit}))
	// Output:
	// vclusterkit:member:user:f04b0d14144163e8
}
