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

// WatchTenants implements tenancy.TenantWatcher from the change log, which
// keeps every change: any version this store returned can be resumed from.
func (s *Store) WatchTenants(ctx context.Context, resourceVersion string) (<-chan tenancy.TenantEvent, error) {
	from, err := s.watchStart(ctx, resourceVersion)
	if err != nil {
		return nil, err
	}
	fetch := func(ctx context.Context, after uint64) ([]tenancy.TenantEvent, uint64, error) {
		var out []tenancy.TenantEvent
		next, err := s.changes(ctx, tenancy.KindTenant, after, func(typ tenancy.EventType, data []byte) error {
			t := &tenancy.Tenant{}
			if err := json.Unmarshal(data, t); err != nil {
				return err
			}
			out = append(out, tenancy.TenantEvent{Type: typ, Tenant: t})
			return nil
		})
		return out, next, err
	}
	return feed.Pump(ctx, from, fetch, &s.notify, s.opts.PollInterval, func(err error) tenancy.TenantEvent {
		return tenancy.TenantEvent{Type: tenancy.EventError, Err: err}
	}), nil
}

// WatchSpaces implements tenancy.SpaceWatcher.
func (s *Store) WatchSpaces(ctx context.Context, resourceVersion string) (<-chan tenancy.SpaceEvent, error) {
	from, err := s.watchStart(ctx, resourceVersion)
	if err != nil {
		return nil, err
	}
	fetch := func(ctx context.Context, after uint64) ([]tenancy.SpaceEvent, uint64, error) {
		var out []tenancy.SpaceEvent
		next, err := s.changes(ctx, tenancy.KindSpace, after, func(typ tenancy.EventType, data []byte) error {
			sp := &tenancy.Space{}
			if err := json.Unmarshal(data, sp); err != nil {
				return err
			}
			out = append(out, tenancy.SpaceEvent{Type: typ, Space: sp})
			return nil
		})
		return out, next, err
	}
	return feed.Pump(ctx, from, fetch, &s.notify, s.opts.PollInterval, func(err error) tenancy.SpaceEvent {
		return tenancy.SpaceEvent{Type: tenancy.EventError, Err: err}
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
	return from, nil
}

// changes calls fn for each change of kind after version after, in order,
// and returns the version to continue from.
func (s *Store) changes(ctx context.Context, kind string, after uint64, fn func(tenancy.EventType, []byte) error) (uint64, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT rv, type, data FROM changes WHERE kind = ? AND rv > ? ORDER BY rv LIMIT `+strconv.Itoa(watchBatch)), kind, after)
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
