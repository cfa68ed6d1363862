package memstore_test

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/tenancy/memstore"
)

// Watch a store: every change after the version you start from, in order.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := memstore.New(memstore.Options{})
	events, err := s.WatchTenants(ctx, "")
	if err != nil {
		fmt.Println(err)
		return
	}
	t := &tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "acme"}}
	t, _ = s.CreateTenant(ctx, t)
	t.Spec.DisplayName = "ACME"
	_, _ = s.UpdateTenant(ctx, t)
	_ = s.DeleteTenant(ctx, "acme", tenancy.DeleteOptions{})
	for range 3 {
		e := <-events
		fmt.Println(e.Type, e.Tenant.Name, e.Tenant.ResourceVersion)
	}
	// Output:
	// Added acme 1
	// Modified acme 2
	// Deleted acme 3
}
