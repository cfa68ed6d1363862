package quota

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
)

// ErrConflict is returned by a Store whose Save found the state changed since Load. The
// SharedLedger retries on it.
var ErrConflict = errors.New("quota ledger changed concurrently")

// Entry is one charged object, as a Store persists it.
type Entry struct {
	UID       types.UID           `json:"uid"`
	Node      string              `json:"node"`
	Resources corev1.ResourceList `json:"resources"`
	Committed bool                `json:"committed,omitempty"`
	// Expires is when an uncommitted reservation lapses (zero for committed usage).
	Expires time.Time `json:"expires,omitzero"`
}

// Store persists ledger entries with optimistic concurrency: Save succeeds only if the
// stored state is still at version (the one Load returned; "" for "nothing stored yet"),
// and otherwise returns an error wrapping ErrConflict.
type Store interface {
	Load(ctx context.Context) (entries []Entry, version string, err error)
	Save(ctx context.Context, entries []Entry, version string) (newVersion string, err error)
}

// Entries returns every charged object, sorted by UID.
func (l *Ledger) Entries() []Entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Entry, 0, len(l.entries))
	for uid, e := range l.entries {
		res := corev1.ResourceList{}
		for _, a := range e.amounts {
			res[l.names[a.col]] = fromAmount(l.names[a.col], a.v)
		}
		en := Entry{UID: uid, Node: e.node.name, Resources: res, Committed: e.committed}
		if !e.committed {
			en.Expires = e.expires.UTC()
		}
		out = append(out, en)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UID < out[j].UID })
	return out
}

// ReplaceEntries replaces every charge with the given entries (a state loaded from a
// Store). Entries whose node the ledger does not have are returned, not charged.
func (l *Ledger) ReplaceEntries(entries []Entry) (unplaced []Entry, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for uid := range l.entries {
		l.releaseLocked(uid)
	}
	for _, en := range entries {
		n, ok := l.nodes[en.Node]
		if !ok {
			unplaced = append(unplaced, en)
			continue
		}
		amounts, err := l.amounts(en.Resources)
		if err != nil {
			return nil, fmt.Errorf("entry %s: %w", en.UID, err)
		}
		e := &entry{node: n, amounts: amounts, committed: en.Committed, expires: en.Expires}
		for _, a := range amounts {
			n.charge(a, e.committed, 1)
		}
		l.entries[en.UID] = e
		l.pending(e)
	}
	return unplaced, nil
}

// SharedLedgerOptions configure a SharedLedger.
type SharedLedgerOptions struct {
	LedgerOptions
	// MaxAttempts bounds the retries on conflicts per operation; default 100.
	MaxAttempts int
	// Timeout bounds the store calls of the methods that take no context (Observe,
	// Release, Reconcile, used by informer event handlers); default 10 seconds.
	Timeout time.Duration
}

// SharedLedger is a Ledger whose state lives in a Store, for several engine replicas
// admitting at once: every change is applied to the latest stored state and saved with
// optimistic concurrency, retried on conflict, so the limits hold across replicas as they
// do within one. It keeps the last state it saw and tries it first; a denial is only
// given on freshly loaded state. Methods are safe for concurrent use.
type SharedLedger struct {
	store Store
	opts  SharedLedgerOptions

	mu      sync.Mutex
	local   *Ledger
	version string
	valid   bool
	foreign []Entry // entries of nodes this replica does not know, kept as they are
}

// NewSharedLedger returns a ledger backed by store; give it a tree with SetNodes.
func NewSharedLedger(store Store, opts SharedLedgerOptions) *SharedLedger {
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 100
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	return &SharedLedger{store: store, opts: opts, local: NewLedger(opts.LedgerOptions)}
}

// SetNodes sets the tree, as Ledger.SetNodes does; stored state is reloaded on next use.
func (s *SharedLedger) SetNodes(nodes []Node) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Drop the cached charges first: the stored state is the truth, and a node removed
	// here may still hold usage that another replica sees.
	if _, err := s.local.ReplaceEntries(nil); err != nil {
		return err
	}
	s.valid = false
	return s.local.SetNodes(nodes)
}

// update applies fn to the latest state and saves the result, retrying on conflicts.
// write=false applies fn to fresh state without saving (for reads).
func (s *SharedLedger) update(ctx context.Context, write bool, fn func(*Ledger) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for attempt := 0; attempt < s.opts.MaxAttempts; attempt++ {
		fresh := false
		if !s.valid || !write {
			entries, version, err := s.store.Load(ctx)
			if err != nil {
				s.valid = false
				return fmt.Errorf("quota: loading ledger: %w", err)
			}
			foreign, err := s.local.ReplaceEntries(entries)
			if err != nil {
				s.valid = false
				return fmt.Errorf("quota: loading ledger: %w", err)
			}
			s.foreign, s.version, s.valid, fresh = foreign, version, true, true
		}
		if err := fn(s.local); err != nil {
			s.valid = false // fn may have changed the cached state (expiry)
			if !fresh && (errors.Is(err, ErrQuotaExceeded) || errors.Is(err, errNothing) || errors.Is(err, ErrUnknownObject)) {
				continue // never refuse on a possibly stale state
			}
			return err
		}
		if !write {
			return nil
		}
		version, err := s.store.Save(ctx, append(s.local.Entries(), s.foreign...), s.version)
		if err != nil {
			s.valid = false
			if errors.Is(err, ErrConflict) {
				ctrl.LoggerFrom(ctx).V(2).Info("quota ledger conflict, retrying", "attempt", attempt)
				continue
			}
			return fmt.Errorf("quota: saving ledger: %w", err)
		}
		s.version = version
		return nil
	}
	return fmt.Errorf("quota: %w: gave up after %d attempts", ErrConflict, s.opts.MaxAttempts)
}

func (s *SharedLedger) bg() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.opts.Timeout)
}

// Admit is Ledger.Admit against the shared state.
func (s *SharedLedger) Admit(ctx context.Context, uid types.UID, node string, requested corev1.ResourceList) error {
	return s.update(ctx, true, func(l *Ledger) error { return l.Admit(ctx, uid, node, requested) })
}

// Check is Ledger.Check against freshly loaded shared state; it saves nothing.
func (s *SharedLedger) Check(node string, requested corev1.ResourceList) error {
	ctx, cancel := s.bg()
	defer cancel()
	return s.update(ctx, false, func(l *Ledger) error { return l.Check(node, requested) })
}

// Commit is Ledger.Commit against the shared state.
func (s *SharedLedger) Commit(ctx context.Context, uid types.UID) error {
	return s.update(ctx, true, func(l *Ledger) error { return l.Commit(uid) })
}

// Observe is Ledger.Observe against the shared state.
func (s *SharedLedger) Observe(o Object) error {
	ctx, cancel := s.bg()
	defer cancel()
	return s.update(ctx, true, func(l *Ledger) error { return l.Observe(o) })
}

// Recharge is Ledger.Recharge against the shared state; a recharge that changes nothing
// saves nothing.
func (s *SharedLedger) Recharge(o Object) error {
	ctx, cancel := s.bg()
	defer cancel()
	err := s.update(ctx, true, func(l *Ledger) error {
		changed, err := l.recharge(o)
		if err == nil && !changed {
			return errNothing
		}
		return err
	})
	if errors.Is(err, errNothing) {
		return nil
	}
	return err
}

// errNothing aborts an update that would change nothing.
var errNothing = errors.New("nothing to change")

// Release is Ledger.Release against the shared state: it frees uid's charge once, across
// all replicas. A store failure is logged and reported as nothing freed; Reconcile heals.
func (s *SharedLedger) Release(uid types.UID) bool {
	ctx, cancel := s.bg()
	defer cancel()
	freed := false
	err := s.update(ctx, true, func(l *Ledger) error {
		freed = l.Release(uid)
		if !freed {
			return errNothing
		}
		return nil
	})
	if err != nil && !errors.Is(err, errNothing) {
		ctrl.LoggerFrom(ctx).Error(err, "quota: release", "uid", uid)
		return false
	}
	return freed
}

// Holds is Ledger.Holds against the last state this replica saw.
func (s *SharedLedger) Holds(uid types.UID) (charged, committed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.local.Holds(uid)
}

// Reconcile is Ledger.Reconcile against the shared state.
func (s *SharedLedger) Reconcile(objects []Object) error {
	ctx, cancel := s.bg()
	defer cancel()
	var rerr error
	err := s.update(ctx, true, func(l *Ledger) error {
		rerr = l.Reconcile(objects)
		return nil
	})
	return errors.Join(err, rerr)
}

// Usage is Ledger.Usage on freshly loaded shared state.
func (s *SharedLedger) Usage(ctx context.Context, node string) (Usage, error) {
	var u Usage
	err := s.update(ctx, false, func(l *Ledger) error {
		var err error
		u, err = l.Usage(node)
		return err
	})
	return u, err
}
