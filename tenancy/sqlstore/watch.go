package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/tenancy/internal/feed"
)

// watchBatch bounds the rows one poll reads.
const watchBatch = 500

// watch streams the changes to objects of kind k from the change log, as
// the events event makes: any version this store returned can be resumed
// from, unless Compact dropped it (then tenancy.ErrExpired).
func watch[T any, P object[T], E any](ctx context.Context, s *Store, k kind[T, P], resourceVersion string,
	event func(tenancy.EventType, P, error) E) (<-chan E, error) {
	from, err := s.watchStart(ctx, resourceVersion)
	if err != nil {
		return nil, err
	}
	fetch := func(ctx context.Context, after uint64) ([]E, uint64, error) {
		var out []E
		next, err := s.changes(ctx, k.name, after, func(typ tenancy.EventType, data []byte) error {
			o := P(new(T))
			if err := json.Unmarshal(data, o); err != nil {
				return err
			}
			out = append(out, event(typ, o, nil))
			return nil
		})
		return out, next, err
	}
	return feed.Pump(ctx, from, fetch, &s.notify, s.opts.PollInterval, func(err error) E {
		return event(tenancy.EventError, nil, err)
	}), nil
}

func (s *Store) currentVersion(ctx context.Context) (uint64, error) {
	var rv uint64
	if err := s.db.QueryRowContext(ctx, `SELECT rv FROM meta WHERE id = 1`).Scan(&rv); err != nil {
		return 0, fmt.Errorf("sqlstore: reading the version: %w", err)
	}
	return rv, nil
}

func (s *Store) watchStart(ctx context.Context, rv string) (uint64, error) {
	cur, err := s.currentVersion(ctx)
	if err != nil {
		return 0, err
	}
	if rv == "" {
		return cur, nil
	}
	from, err := strconv.ParseUint(rv, 10, 64)
	if err != nil || from > cur {
		return 0, fmt.Errorf("watch from resourceVersion %q: not a version of this store: %w", rv, tenancy.ErrExpired)
	}
	if err := s.checkCompacted(ctx, s.db, from); err != nil {
		return 0, err
	}
	return from, nil
}

// checkCompacted returns ErrExpired if changes after from were compacted.
func (s *Store) checkCompacted(ctx context.Context, q queryer, from uint64) error {
	var compacted uint64
	if err := q.QueryRowContext(ctx, `SELECT compacted FROM meta WHERE id = 1`).Scan(&compacted); err != nil {
		return fmt.Errorf("sqlstore: reading the compaction version: %w", err)
	}
	if from < compacted {
		return fmt.Errorf("watch from resourceVersion %d: changes up to %d were compacted: %w", from, compacted, tenancy.ErrExpired)
	}
	return nil
}

// Compact deletes the change log up to and including version through, to
// bound its size. Watches from an older version get tenancy.ErrExpired,
// including running ones that have not read that far yet. Objects are
// not affected.
func (s *Store) Compact(ctx context.Context, through string) error {
	v, err := strconv.ParseUint(through, 10, 64)
	if err != nil {
		return fmt.Errorf("sqlstore: compact through %q: not a version: %w", through, err)
	}
	return s.write(ctx, func(w *wtx) error {
		if v > w.rv {
			return fmt.Errorf("sqlstore: compact through %d: the store is only at %d", v, w.rv)
		}
		if err := w.exec(`DELETE FROM changes WHERE rv <= ?`, v); err != nil {
			return fmt.Errorf("sqlstore: compacting: %w", err)
		}
		return w.exec(`UPDATE meta SET compacted = ? WHERE id = 1 AND compacted < ?`, v, v)
	})
}

// changes calls fn for each change of kind after version after, in order,
// and returns the version to continue from. It reads in one snapshot, so a
// concurrent compaction cannot silently remove part of what it returns.
func (s *Store) changes(ctx context.Context, kind string, after uint64, fn func(tenancy.EventType, []byte) error) (uint64, error) {
	tx, err := s.db.BeginTx(ctx, s.dialect.readTx)
	if err != nil {
		return after, fmt.Errorf("sqlstore: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	if err := s.checkCompacted(ctx, tx, after); err != nil {
		return after, err
	}
	rows, err := tx.QueryContext(ctx, s.q(`SELECT rv, type, data FROM changes WHERE kind = ? AND rv > ? ORDER BY rv LIMIT `+strconv.Itoa(watchBatch)), kind, after)
	if err != nil {
		return after, fmt.Errorf("sqlstore: reading changes: %w", err)
	}
	defer rows.Close()
	next := after
	for rows.Next() {
		var rv uint64
		var typ, data string
		if err := rows.Scan(&rv, &typ, &data); err != nil {
			return after, fmt.Errorf("sqlstore: reading changes: %w", err)
		}
		if err := fn(tenancy.EventType(typ), []byte(data)); err != nil {
			return after, fmt.Errorf("sqlstore: decoding change %d: %w", rv, err)
		}
		next = rv
	}
	return next, rows.Err()
}
