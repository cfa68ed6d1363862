package webhook_test

import (
	"fmt"
	"testing"

	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/tenancy/webhook"
)

// benchTree is n tenants, 10 roots with 3 levels of fan-out below each,
// and one space per tenant.
func benchTree(n int) ([]tenancy.Tenant, []tenancy.Space) {
	tenants := make([]tenancy.Tenant, 0, n)
	spaces := make([]tenancy.Space, 0, n)
	for i := range n {
		parent := ""
		if i >= 10 {
			parent = tenants[(i-10)/10].Name
		}
		tenants = append(tenants, tenant(fmt.Sprintf("t%d", i), parent, quota("cpu", fmt.Sprint(1000000-i)), maxSpaces(int32(1000000))))
		spaces = append(spaces, space(fmt.Sprintf("s%d", i), tenants[i].Name))
	}
	return tenants, spaces
}

// A decision is dominated by indexing the snapshot, O(tenants + spaces).
func BenchmarkCheckTenantCreate(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			tenants, spaces := benchTree(n)
			v := &webhook.Validator{}
			child := tenant("new", tenants[n-1].Name, quota("cpu", "1"))
			for b.Loop() {
				if err := v.CheckTenant(tenants, spaces, nil, &child); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// A root's quota change re-checks its whole subtree (about n/10 tenants).
func BenchmarkCheckTenantUpdateRoot(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			tenants, spaces := benchTree(n)
			v := &webhook.Validator{}
			old := tenants[0].DeepCopy()
			upd := old.DeepCopy()
			upd.Spec.Quota = rl("cpu", "2000000")
			for b.Loop() {
				if err := v.CheckTenant(tenants, spaces, old, upd); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// A space create counts the subtree of every ancestor with MaxSpaces.
func BenchmarkCheckSpaceCreate(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			tenants, spaces := benchTree(n)
			v := &webhook.Validator{}
			s := space("new", tenants[n-1].Name)
			for b.Loop() {
				if err := v.CheckSpace(tenants, spaces, nil, &s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
