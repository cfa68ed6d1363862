package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

// wtx is a write transaction holding the store's write lock.
type wtx struct {
	ctx context.Context
	s   *Store
	tx  *sql.Tx
	rv  uint64 // last version handed out
}

// write runs fn in a write transaction and commits it.
func (s *Store) write(ctx context.Context, fn func(*wtx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	// Writing first takes the write lock before anything is read: the row
	// lock on PostgreSQL (others wait until we commit, then see our
	// writes), the database lock on SQLite.
	if _, err := tx.ExecContext(ctx, `UPDATE meta SET rv = rv WHERE id = 1`); err != nil {
		return fmt.Errorf("sqlstore: taking the write lock: %w", err)
	}
	w := &wtx{ctx: ctx, s: s, tx: tx}
	if err := tx.QueryRowContext(ctx, `SELECT rv FROM meta WHERE id = 1`).Scan(&w.rv); err != nil {
		return fmt.Errorf("sqlstore: reading the version: %w", err)
	}
	start := w.rv
	if err := fn(w); err != nil {
		return err
	}
	if w.rv != start {
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE meta SET rv = ? WHERE id = 1`), w.rv); err != nil {
			return fmt.Errorf("sqlstore: writing the version: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: commit: %w", err)
	}
	s.notify.Broadcast()
	return nil
}

func (s *Store) q(query string) string { return s.dialect.rebind(query) }

func (w *wtx) next() string {
	w.rv++
	return strconv.FormatUint(w.rv, 10)
}

func (w *wtx) exec(query string, args ...any) error {
	_, err := w.tx.ExecContext(w.ctx, w.s.q(query), args...)
	return err
}

// logChange appends to the change log.
func (w *wtx) logChange(kind string, typ tenancy.EventType, name string, data []byte) error {
	return w.exec(`INSERT INTO changes (rv, kind, type, name, data) VALUES (?, ?, ?, ?, ?)`, w.rv, kind, string(typ), name, string(data))
}

// queryer is a *sql.DB or *sql.Tx.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func getOne[T any](ctx context.Context, s *Store, q queryer, query, name string) (*T, error) {
	var data string
	err := q.QueryRowContext(ctx, s.q(query), name).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: reading %s: %w", name, err)
	}
	out := new(T)
	if err := json.Unmarshal([]byte(data), out); err != nil {
		return nil, fmt.Errorf("sqlstore: decoding %s: %w", name, err)
	}
	return out, nil
}

func getMany[T any](ctx context.Context, s *Store, q queryer, query string, args ...any) ([]*T, error) {
	rows, err := q.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: query: %w", err)
	}
	defer rows.Close()
	var out []*T
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return nil, fmt.Errorf("sqlstore: scan: %w", err)
		}
		x := new(T)
		if err := json.Unmarshal([]byte(data), x); err != nil {
			return nil, fmt.Errorf("sqlstore: decoding: %w", err)
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

// view is tenancy.View over a write transaction: validation sees exactly
// the state the write will be applied to.
type view struct{ w *wtx }

func (v view) LookupTenant(name string) (*tenancy.Tenant, error) { return tenantKind.lookup(v.w, name) }

func (v view) ListChildren(name string) ([]*tenancy.Tenant, error) {
	return tenantKind.owned(v.w, name)
}

func (v view) ListSpaces(tenant string) ([]*tenancy.Space, error) {
	return spaceKind.owned(v.w, tenant)
}

func now() metav1.Time { return metav1.NewTime(time.Now().UTC().Truncate(time.Second)) }

func checkVersion(kind, name, sent, current string) error {
	if sent != "" && sent != current {
		return tenancy.ConflictError(kind, name, sent, current)
	}
	return nil
}
