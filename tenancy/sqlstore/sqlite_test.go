package sqlstore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/tenancy/sqlstore"
	"github.com/vclusterkit/vclusterkit/tenancy/storetest"
)

func openSQLite(t testing.TB) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), sqlstore.Options{DSN: filepath.Join(t.TempDir(), "tenancy.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformanceSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) tenancy.Store { return openSQLite(t) })
}

func BenchmarkSQLite(b *testing.B) {
	storetest.Benchmark(b, func(b *testing.B) tenancy.Store { return openSQLite(b) })
}
