package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/tenancy/sqlstore"
	"github.com/vclusterkit/vclusterkit/tenancy/storetest"
)

// TestConformancePostgres runs the suite against a real PostgreSQL server
// started for this test. Missing binaries fail it: run make test-deps.
func TestConformancePostgres(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pg, err := testenv.StartPostgres(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	storetest.Run(t, func(t *testing.T) tenancy.Store {
		dsn, err := pg.NewDatabase(ctx)
		if err != nil {
			t.Fatal(err)
		}
		s, err := sqlstore.Open(ctx, sqlstore.Options{Driver: sqlstore.DriverPostgres, DSN: dsn})
		if err != nil {
			t.Fatalf("%v\n%s", err, pg.LogTail())
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func BenchmarkPostgres(b *testing.B) {
	ctx := context.Background()
	pg, err := testenv.StartPostgres(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer pg.Stop()
	storetest.Benchmark(b, func(b *testing.B) tenancy.Store {
		dsn, err := pg.NewDatabase(ctx)
		if err != nil {
			b.Fatal(err)
		}
		s, err := sqlstore.Open(ctx, sqlstore.Options{Driver: sqlstore.DriverPostgres, DSN: dsn})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	})
}
