package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

// Benchmark runs write and read throughput benchmarks against a store, as
// sub-benchmarks of b: Create (a new tenant under a root), Update (a spec
// change with its resourceVersion), Get and List (100 tenants). newStore
// returns an empty store.
func Benchmark(b *testing.B, newStore func(b *testing.B) tenancy.Store) {
	ctx := context.Background()
	b.Run("Create", func(b *testing.B) {
		st := newStore(b)
		if _, err := st.CreateTenant(ctx, newTenant("root", "")); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := st.CreateTenant(ctx, newTenant(fmt.Sprintf("t%d", i), "root")); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("Update", func(b *testing.B) {
		st := newStore(b)
		t, err := st.CreateTenant(ctx, newTenant("root", ""))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			t.Spec.DisplayName = fmt.Sprint("v", i)
			if t, err = st.UpdateTenant(ctx, t); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("Get", func(b *testing.B) {
		st := newStore(b)
		if _, err := st.CreateTenant(ctx, newTenant("root", "")); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := st.GetTenant(ctx, "root"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("List100", func(b *testing.B) {
		st := newStore(b)
		if _, err := st.CreateTenant(ctx, newTenant("root", "")); err != nil {
			b.Fatal(err)
		}
		for i := range 99 {
			if _, err := st.CreateTenant(ctx, newTenant(fmt.Sprintf("t%d", i), "root")); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		for b.Loop() {
			l, err := st.ListTenants(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if len(l.Items) != 100 {
				b.Fatalf("listed %d", len(l.Items))
			}
		}
	})
}
