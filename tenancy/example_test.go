package tenancy_test

import (
	"context"
	"errors"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/tenancy/memstore"
)

func newTenant(name, parent string, policy tenancy.Policy) tenancy.Tenant {
	return tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: tenancy.TenantSpec{Parent: parent, Policy: policy}}
}

// Build a tree from a snapshot and navigate it.
func ExampleNewTree() {
	tree, err := tenancy.NewTree([]tenancy.Tenant{
		newTenant("acme", "", tenancy.Policy{}),
		newTenant("eng", "acme", tenancy.Policy{}),
		newTenant("web", "eng", tenancy.Policy{}),
		newTenant("sales", "acme", tenancy.Policy{}),
	}, []tenancy.Space{{ObjectMeta: metav1.ObjectMeta{Name: "web-prod"}, Spec: tenancy.SpaceSpec{Tenant: "web"}}},
		tenancy.TreeOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("path:", tree.Path("web"))
	fmt.Println("depth:", tree.Depth("web"))
	fmt.Println("descendants of acme:", tree.Descendants("acme"))
	fmt.Println("spaces of web:", tree.Spaces("web"))
	fmt.Println(tree.TreeLabels("web")[tenancy.TreeLabel("acme")])
	// Output:
	// path: [acme eng web]
	// depth: 2
	// descendants of acme: [eng web sales]
	// spaces of web: [web-prod]
	// 2
}

// Compute what a tenant may do: the policies on its path, tightest wins.
func ExampleTree_EffectivePolicy() {
	tree, err := tenancy.NewTree([]tenancy.Tenant{
		newTenant("acme", "", tenancy.Policy{PodSecurity: tenancy.PodSecurityBaseline, AllowedStorageClasses: []string{"fast", "slow"}}),
		newTenant("eng", "acme", tenancy.Policy{NetworkIsolation: tenancy.IsolationTenant}),
		newTenant("web", "eng", tenancy.Policy{PodSecurity: tenancy.PodSecurityRestricted, AllowedStorageClasses: []string{"fast"}}),
	}, nil, tenancy.TreeOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	p, _ := tree.EffectivePolicy("web")
	fmt.Println(p.PodSecurity, p.NetworkIsolation, p.AllowedStorageClasses)

	// A child may not loosen what an ancestor set.
	_, err = tenancy.NewTree([]tenancy.Tenant{
		newTenant("acme", "", tenancy.Policy{PodSecurity: tenancy.PodSecurityRestricted}),
		newTenant("eng", "acme", tenancy.Policy{}),
		newTenant("lab", "eng", tenancy.Policy{PodSecurity: tenancy.PodSecurityPrivileged}),
	}, nil, tenancy.TreeOptions{})
	var invalid *tenancy.InvalidError
	if errors.As(err, &invalid) {
		fmt.Println(invalid.Errs[0].Field)
		fmt.Println(invalid.Errs[0].Detail)
	}
	// Output:
	// restricted tenant [fast]
	// tenants[lab].spec.policy.podSecurity
	// looser than "restricted" set by ancestor "acme"; a child may only tighten its parent's policy
}

// Use a store: every store behaves alike, so this works with sqlstore and
// kubestore too.
func ExampleStore() {
	ctx := context.Background()
	var store tenancy.Store = memstore.New(memstore.Options{})

	org := newTenant("acme", "", tenancy.Policy{})
	if _, err := store.CreateTenant(ctx, &org); err != nil {
		fmt.Println(err)
		return
	}
	team := newTenant("eng", "acme", tenancy.Policy{})
	created, _ := store.CreateTenant(ctx, &team)

	// Optimistic concurrency: a write carrying an old resourceVersion loses.
	stale := created.DeepCopy()
	created.Spec.DisplayName = "Engineering"
	if _, err := store.UpdateTenant(ctx, created); err != nil {
		fmt.Println(err)
	}
	stale.Spec.DisplayName = "Eng"
	_, err := store.UpdateTenant(ctx, stale)
	fmt.Println("stale write:", errors.Is(err, tenancy.ErrConflict))

	// Re-parenting into one's own subtree is refused before anything is written.
	root, _ := store.GetTenant(ctx, "acme")
	root.Spec.Parent = "eng"
	_, err = store.UpdateTenant(ctx, root)
	fmt.Println(err)

	// A tenant with children goes only with a cascade.
	err = store.DeleteTenant(ctx, "acme", tenancy.DeleteOptions{})
	fmt.Println(errors.Is(err, tenancy.ErrHasDependents))
	fmt.Println(store.DeleteTenant(ctx, "acme", tenancy.DeleteOptions{Cascade: true}))
	// Output:
	// stale write: true
	// Tenant "acme" is invalid: spec.parent: Invalid value: "eng": would form a cycle: acme -> eng -> acme
	// true
	// <nil>
}
