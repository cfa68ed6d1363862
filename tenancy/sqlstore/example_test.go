package sqlstore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/tenancy/sqlstore"
)

// Open a SQLite store (the default driver) and keep tenants in it. For
// PostgreSQL: sqlstore.Options{Driver: sqlstore.DriverPostgres,
// DSN: "postgres://user@host/db"}.
func ExampleOpen() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "sqlstore-example-")
	defer os.RemoveAll(dir)
	s, err := sqlstore.Open(ctx, sqlstore.Options{DSN: filepath.Join(dir, "tenancy.db")})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	for _, t := range []*tenancy.Tenant{
		{ObjectMeta: metav1.ObjectMeta{Name: "acme"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "eng"}, Spec: tenancy.TenantSpec{Parent: "acme"}},
	} {
		if _, err := s.CreateTenant(ctx, t); err != nil {
			fmt.Println(err)
			return
		}
	}
	_, err = s.CreateSpace(ctx, &tenancy.Space{ObjectMeta: metav1.ObjectMeta{Name: "eng-prod"}, Spec: tenancy.SpaceSpec{Tenant: "ghost"}})
	fmt.Println(err)
	list, _ := s.ListTenants(ctx)
	for _, t := range list.Items {
		fmt.Println(t.Name, t.ResourceVersion)
	}
	// Output:
	// Space "eng-prod" is invalid: spec.tenant: Not found: "ghost"
	// acme 1
	// eng 2
}
