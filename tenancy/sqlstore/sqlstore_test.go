package sqlstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/tenancy/sqlstore"
)

func tenantObj(name, parent string) *tenancy.Tenant {
	return &tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: tenancy.TenantSpec{Parent: parent}}
}

// Reopening a database keeps its data and does not re-run migrations.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "t.db")
	s, err := sqlstore.Open(ctx, sqlstore.Options{DSN: path})
	if err != nil {
		t.Fatal(err)
	}
	created, err := s.CreateTenant(ctx, tenantObj("acme", ""))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = sqlstore.Open(ctx, sqlstore.Options{DSN: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.GetTenant(ctx, "acme")
	if err != nil || got.UID != created.UID || got.ResourceVersion != created.ResourceVersion {
		t.Fatalf("after reopen: %v %+v", err, got)
	}
	var n, version int
	if err := s.DB().QueryRowContext(ctx, `SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&n, &version); err != nil {
		t.Fatal(err)
	}
	if n != sqlstore.SchemaVersion() || version != sqlstore.SchemaVersion() {
		t.Errorf("schema_migrations: %d rows, version %d, want %d", n, version, sqlstore.SchemaVersion())
	}
	// Versions keep growing across reopen.
	next, err := s.CreateTenant(ctx, tenantObj("beta", ""))
	if err != nil {
		t.Fatal(err)
	}
	if a, b := mustUint(t, created.ResourceVersion), mustUint(t, next.ResourceVersion); b <= a {
		t.Errorf("version went from %s to %s", created.ResourceVersion, next.ResourceVersion)
	}
}

// A second Store on the same database (another process, say) sees the
// first one's writes through its watch, which polls the change log.
func TestWatchAcrossStores(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	path := filepath.Join(t.TempDir(), "t.db")
	writer, err := sqlstore.Open(ctx, sqlstore.Options{DSN: path})
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	reader, err := sqlstore.Open(ctx, sqlstore.Options{DSN: path, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	w, err := reader.WatchTenants(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	created, err := writer.CreateTenant(ctx, tenantObj("acme", ""))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-w:
		if e.Type != tenancy.EventAdded || e.Tenant.Name != "acme" || e.Tenant.ResourceVersion != created.ResourceVersion {
			t.Errorf("got %+v", e)
		}
	case <-ctx.Done():
		t.Fatal("no event from the other store")
	}
}

// A rejected write leaves no trace, not even in the change log.
func TestRejectedWriteLeavesNoChange(t *testing.T) {
	ctx := context.Background()
	s := openSQLite(t)
	if _, err := s.CreateTenant(ctx, tenantObj("a", "")); err != nil {
		t.Fatal(err)
	}
	count := func() (n int) {
		if err := s.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM changes`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()
	if _, err := s.CreateTenant(ctx, tenantObj("b", "ghost")); !errors.Is(err, tenancy.ErrInvalid) {
		t.Fatalf("want ErrInvalid, got %v", err)
	}
	if _, err := s.CreateTenant(ctx, tenantObj("a", "")); !errors.Is(err, tenancy.ErrAlreadyExists) {
		t.Fatalf("want ErrAlreadyExists, got %v", err)
	}
	if after := count(); after != before {
		t.Errorf("change log grew from %d to %d", before, after)
	}
	list, _ := s.ListTenants(ctx)
	if list.ResourceVersion != "1" {
		t.Errorf("store version moved to %s", list.ResourceVersion)
	}
}

func TestOpenOptions(t *testing.T) {
	ctx := context.Background()
	if _, err := sqlstore.Open(ctx, sqlstore.Options{}); err == nil || !strings.Contains(err.Error(), "Options.DSN") {
		t.Errorf("empty DSN: %v", err)
	}
	if _, err := sqlstore.Open(ctx, sqlstore.Options{Driver: "mysql", DSN: "x"}); err == nil || !strings.Contains(err.Error(), "Options.Driver") {
		t.Errorf("unknown driver: %v", err)
	}
}

func mustUint(t *testing.T, s string) uint64 {
	t.Helper()
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Compaction bounds the change log; watches from before it expire, later
// ones still work.
func TestCompact(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := openSQLite(t)
	x, err := s.CreateTenant(ctx, tenantObj("x", ""))
	if err != nil {
		t.Fatal(err)
	}
	first := x.ResourceVersion
	var versions []string
	for i := range 5 {
		x.Spec.DisplayName = strconv.Itoa(i)
		if x, err = s.UpdateTenant(ctx, x); err != nil {
			t.Fatal(err)
		}
		versions = append(versions, x.ResourceVersion)
	}
	// A watcher that has not read past the compaction point is told so.
	lagging, err := s.WatchTenants(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Compact(ctx, versions[2]); err != nil {
		t.Fatal(err)
	}
	// It may have read a batch before the compaction; it must end in ErrExpired
	// or have delivered everything, never skip silently.
	var seen []string
	for e := range lagging {
		if e.Type == tenancy.EventError {
			if !errors.Is(e.Err, tenancy.ErrExpired) {
				t.Errorf("lagging watch: %v", e.Err)
			}
			break
		}
		seen = append(seen, e.Tenant.ResourceVersion)
		if len(seen) == len(versions) {
			break
		}
	}
	if len(seen) != 0 && len(seen) != len(versions) {
		t.Errorf("lagging watch delivered a partial history %v", seen)
	}
	if _, err := s.WatchTenants(ctx, first); !errors.Is(err, tenancy.ErrExpired) {
		t.Errorf("watch from a compacted version: want ErrExpired, got %v", err)
	}
	w, err := s.WatchTenants(ctx, versions[2])
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range versions[3:] {
		if e := <-w; e.Tenant == nil || e.Tenant.ResourceVersion != want {
			t.Fatalf("got %+v, want version %s", e, want)
		}
	}
	if got, _ := s.GetTenant(ctx, "x"); got.Spec.DisplayName != "4" {
		t.Errorf("compaction changed the object: %+v", got.Spec)
	}
}
