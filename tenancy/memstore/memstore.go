package memstore

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/tenancy/internal/feed"
)

// DefaultHistory is how many changes a Store keeps for watches to resume
// from when Options.History is 0.
const DefaultHistory = 100000

// Options configure a Store. The zero value is ready to use.
type Options struct {
	// Validator checks every write; its zero value uses the defaults.
	Validator tenancy.Validator
	// History is how many changes are kept for watches to resume from;
	// 0 means DefaultHistory. A watch from an older version gets
	// tenancy.ErrExpired.
	History int
}

// Store keeps tenants and spaces in memory. It is safe for concurrent use;
// writes are serialized, so each check and write is atomic.
type Store struct {
	opts Options

	mu      sync.RWMutex
	rv      uint64
	tenants table[tenancy.Tenant, *tenancy.Tenant]
	spaces  table[tenancy.Space, *tenancy.Space]
	log     []change // contiguous versions log[0].rv .. rv
	notify  feed.Notifier
}

// change is one entry of the history: obj is a *tenancy.Tenant or a
// *tenancy.Space.
type change struct {
	rv  uint64
	typ tenancy.EventType
	obj runtime.Object
}

var _ tenancy.Store = (*Store)(nil)

// New returns an empty Store.
func New(opts Options) *Store {
	if opts.History <= 0 {
		opts.History = DefaultHistory
	}
	s := &Store{opts: opts}
	s.tenants = newTable(s, tenantKind)
	s.spaces = newTable(s, spaceKind)
	return s
}

// view reads the store's state for validation; callers hold mu.
type view struct{ s *Store }

func (v view) LookupTenant(name string) (*tenancy.Tenant, error) { return v.s.tenants.objs[name], nil }

func (v view) ListChildren(name string) ([]*tenancy.Tenant, error) {
	return v.s.tenants.ownedLocked(name), nil
}

func (v view) ListSpaces(tenant string) ([]*tenancy.Space, error) {
	return v.s.spaces.ownedLocked(tenant), nil
}

func (s *Store) next() string {
	s.rv++
	return strconv.FormatUint(s.rv, 10)
}

func (s *Store) record(c change) {
	s.log = append(s.log, c)
	if over := len(s.log) - s.opts.History; over > 0 {
		// Drop in chunks so trimming is amortised O(1).
		if over >= s.opts.History/4 || over > 1024 {
			s.log = append(s.log[:0:0], s.log[over:]...)
		}
	}
}

func now() metav1.Time { return metav1.NewTime(time.Now().UTC().Truncate(time.Second)) }

// checkVersion returns ErrConflict when sent is set and not current.
func checkVersion(kind, name, sent, current string) error {
	if sent != "" && sent != current {
		return tenancy.ConflictError(kind, name, sent, current)
	}
	return nil
}

// watch streams the changes to objects of type P after resourceVersion,
// as the events event makes.
func watch[T any, P object[T], E any](ctx context.Context, s *Store, resourceVersion string, event func(tenancy.EventType, P, error) E) (<-chan E, error) {
	from, err := s.watchStart(resourceVersion)
	if err != nil {
		return nil, err
	}
	fetch := func(ctx context.Context, after uint64) ([]E, uint64, error) {
		changes, next, err := s.changesAfter(after)
		var out []E
		for _, c := range changes {
			if o, ok := c.obj.(P); ok {
				out = append(out, event(c.typ, o.DeepCopy(), nil))
			}
		}
		return out, next, err
	}
	return feed.Pump(ctx, from, fetch, &s.notify, 0, func(err error) E {
		return event(tenancy.EventError, nil, err)
	}), nil
}

func (s *Store) watchStart(rv string) (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if rv == "" {
		return s.rv, nil
	}
	from, err := strconv.ParseUint(rv, 10, 64)
	if err != nil || from > s.rv {
		return 0, fmt.Errorf("watch from resourceVersion %q: not a version of this store: %w", rv, tenancy.ErrExpired)
	}
	if _, _, err := s.changesAfterLocked(from); err != nil {
		return 0, err
	}
	return from, nil
}

// changesAfter returns up to 1000 changes after version after.
func (s *Store) changesAfter(after uint64) ([]change, uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.changesAfterLocked(after)
}

func (s *Store) changesAfterLocked(after uint64) ([]change, uint64, error) {
	if after >= s.rv {
		return nil, after, nil
	}
	first := s.log[0].rv
	if after+1 < first {
		return nil, 0, fmt.Errorf("watch from resourceVersion %d: changes before %d are no longer kept: %w", after, first, tenancy.ErrExpired)
	}
	i := int(after + 1 - first)
	end := min(len(s.log), i+1000)
	out := append([]change(nil), s.log[i:end]...)
	return out, out[len(out)-1].rv, nil
}
