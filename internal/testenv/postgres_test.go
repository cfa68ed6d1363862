package testenv

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestPostgres starts a real server, uses it and stops it. Missing
// binaries fail the test (naming make test-deps); they never skip it.
func TestPostgres(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pg, err := StartPostgres(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = pg.Stop()
		}
	}()
	dsn, err := pg.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT 40 + 2").Scan(&n); err != nil || n != 42 {
		t.Fatalf("query: %d, %v", n, err)
	}
	conn.Close(ctx)
	dir := pg.dir
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped = true
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("Stop left %s behind: %v", dir, err)
	}
	if _, err := pgx.Connect(ctx, pg.DSN()); err == nil {
		t.Errorf("the server still accepts connections after Stop")
	}
}

func TestPostgresMissingBinaries(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	if _, err := postgresBinDir(); err == nil {
		// A Debian install is present: the glob finds it regardless of PATH.
		return
	}
	_, err := StartPostgres(context.Background())
	if err == nil || !strings.Contains(err.Error(), PostgresDepsCommand) {
		t.Fatalf("want an error naming %q, got %v", PostgresDepsCommand, err)
	}
}
