package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	_ "modernc.org/sqlite"             // registers "sqlite"

	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/tenancy/internal/feed"
)

// Drivers this package knows.
const (
	// DriverSQLite is modernc.org/sqlite, pure Go. The default.
	DriverSQLite = "sqlite"
	// DriverPostgres is PostgreSQL through github.com/jackc/pgx/v5/stdlib.
	DriverPostgres = "pgx"
)

// DefaultPollInterval is how often a watch looks for changes written by
// other processes when Options.PollInterval is 0. Changes written through
// the same Store are delivered at once.
const DefaultPollInterval = 250 * time.Millisecond

// Options configure Open. Only DSN is required.
type Options struct {
	// Driver is DriverSQLite (the default when empty) or DriverPostgres.
	Driver string
	// DSN is the data source. For SQLite a file path or "file:" URI
	// (busy timeout and WAL are added unless set); for PostgreSQL a
	// "postgres://" URL or key=value string.
	DSN string
	// Validator checks every write; its zero value uses the defaults.
	Validator tenancy.Validator
	// PollInterval: see DefaultPollInterval.
	PollInterval time.Duration
}

// Store is a tenancy.Store on database/sql. Every write is one transaction
// that first takes the store's write lock (a row lock on PostgreSQL, the
// database write lock on SQLite), validates against the state it then
// sees, writes the object and appends to the change log, so writes are
// atomic, serialized, and versioned in commit order. Safe for concurrent
// use, also by several processes sharing a database.
type Store struct {
	db      *sql.DB
	dialect dialect
	opts    Options
	notify  feed.Notifier
}

var _ tenancy.Store = (*Store)(nil)

type dialect struct {
	name string
	// rebind turns ? placeholders into the driver's.
	rebind func(string) string
	// readTx are the options of a consistent read-only transaction.
	readTx *sql.TxOptions
	// migrationLock serializes migrations of concurrent processes.
	migrationLock string
}

func questionMarks(q string) string { return q }

func dollarN(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Open connects, applies pending schema migrations and returns the Store.
// Close it when done.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.Driver == "" {
		opts.Driver = DriverSQLite
	}
	if opts.DSN == "" {
		return nil, errors.New("sqlstore: Options.DSN is required")
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	var d dialect
	dsn := opts.DSN
	switch opts.Driver {
	case DriverSQLite:
		d = dialect{name: DriverSQLite, rebind: questionMarks, readTx: &sql.TxOptions{ReadOnly: true}}
		dsn = sqliteDSN(dsn)
	case DriverPostgres:
		d = dialect{name: DriverPostgres, rebind: dollarN,
			readTx:        &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead},
			migrationLock: "SELECT pg_advisory_xact_lock(7261001)"}
	default:
		return nil, fmt.Errorf("sqlstore: Options.Driver %q is not supported (use %q or %q)", opts.Driver, DriverSQLite, DriverPostgres)
	}
	db, err := sql.Open(opts.Driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: opening %s database: %w", opts.Driver, err)
	}
	if d.name == DriverSQLite && strings.Contains(dsn, ":memory:") {
		db.SetMaxOpenConns(1) // each connection would be a database of its own
	}
	s := &Store{db: db, dialect: d, opts: opts}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func sqliteDSN(dsn string) string {
	add := func(param string) {
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		dsn += sep + param
	}
	if !strings.Contains(dsn, "busy_timeout") {
		add("_pragma=busy_timeout(30000)")
	}
	if !strings.Contains(dsn, "journal_mode") && !strings.Contains(dsn, ":memory:") {
		add("_pragma=journal_mode(WAL)")
	}
	if !strings.Contains(dsn, "synchronous") {
		add("_pragma=synchronous(NORMAL)")
	}
	return dsn
}

// Close closes the database. Watches end when their contexts do.
func (s *Store) Close() error { return s.db.Close() }

// DB returns the underlying database, for backups and inspection. Do not
// write the store's tables directly.
func (s *Store) DB() *sql.DB { return s.db }

// migrations are applied in order, each once, each in a transaction.
var migrations = []string{
	`CREATE TABLE meta (id INTEGER PRIMARY KEY, rv BIGINT NOT NULL);
INSERT INTO meta (id, rv) VALUES (1, 0);
CREATE TABLE tenants (name TEXT PRIMARY KEY, parent TEXT NOT NULL, rv BIGINT NOT NULL, data TEXT NOT NULL);
CREATE INDEX tenants_parent ON tenants (parent);
CREATE TABLE spaces (name TEXT PRIMARY KEY, tenant TEXT NOT NULL, rv BIGINT NOT NULL, data TEXT NOT NULL);
CREATE INDEX spaces_tenant ON spaces (tenant);
CREATE TABLE changes (rv BIGINT PRIMARY KEY, kind TEXT NOT NULL, type TEXT NOT NULL, name TEXT NOT NULL, data TEXT NOT NULL);
CREATE INDEX changes_kind_rv ON changes (kind, rv)`,
	// 2: compaction of the change log.
	`ALTER TABLE meta ADD COLUMN compacted BIGINT NOT NULL DEFAULT 0`,
}

// SchemaVersion is the schema version this package migrates to.
func SchemaVersion() int { return len(migrations) }

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("sqlstore: creating schema_migrations: %w", err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: migrating: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	if s.dialect.migrationLock != "" {
		if _, err := tx.ExecContext(ctx, s.dialect.migrationLock); err != nil {
			return fmt.Errorf("sqlstore: locking for migration: %w", err)
		}
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("sqlstore: reading schema version: %w", err)
	}
	if current > len(migrations) {
		return fmt.Errorf("sqlstore: the database has schema version %d, newer than this package's %d", current, len(migrations))
	}
	for v := current + 1; v <= len(migrations); v++ {
		for _, stmt := range strings.Split(migrations[v-1], ";\n") {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("sqlstore: migration %d: %w", v, err)
			}
		}
		if _, err := tx.ExecContext(ctx, s.dialect.rebind(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`),
			v, time.Now().UTC().Format(time.RFC3339)); err != nil {
			return fmt.Errorf("sqlstore: recording migration %d: %w", v, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: committing migrations: %w", err)
	}
	return nil
}
