// Package snapshot gives the engine's controllers a consistent view of the
// tenant tree for one reconcile (a tenancy.PartialTree: the valid part, and
// what was left out and why), and caches it between changes.
//
// It is not a store: it reads a Source (the manager's cache, or the
// embedder's tenancy.Store) and never writes.
package snapshot

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

// Source is what snapshots are built from.
type Source interface {
	ListTenants(ctx context.Context) (*tenancy.TenantList, error)
	ListSpaces(ctx context.Context) (*tenancy.SpaceList, error)
}

// CacheSource reads the tree from a controller-runtime cache (or any
// client.Reader).
type CacheSource struct{ Reader client.Reader }

// ListTenants implements Source.
func (s CacheSource) ListTenants(ctx context.Context) (*tenancy.TenantList, error) {
	l := &tenancy.TenantList{}
	return l, s.Reader.List(ctx, l)
}

// ListSpaces implements Source.
func (s CacheSource) ListSpaces(ctx context.Context) (*tenancy.SpaceList, error) {
	l := &tenancy.SpaceList{}
	return l, s.Reader.List(ctx, l)
}

// Reader builds snapshots from Source. Once Follow's runnable runs, it keeps
// the last snapshot until a Tenant or Space changes in a way the tree can
// see (spec, labels, annotations, finalizers, deletion), so the several
// steps of a reconcile, and the reconciles of many objects in a row, share
// one tree: O(tenants) work per change instead of per step. Status-only
// writes (the engine's own conditions and usage) do not invalidate it;
// nothing reads status from a snapshot.
//
// Snapshots are shared and read-only: callers copy before they change
// anything. A Reader is safe for concurrent use.
type Reader struct {
	Source Source

	gen   atomic.Uint64 // bumped on every relevant change
	armed atomic.Bool   // the handlers are registered: gen can be trusted

	mu     sync.Mutex
	cached *tenancy.PartialTree
	at     uint64 // gen the cached snapshot was built at
}

// Get returns the current snapshot: the cached one when nothing changed
// since it was built, else a new one.
func (r *Reader) Get(ctx context.Context) (*tenancy.PartialTree, error) {
	if !r.armed.Load() {
		return r.build(ctx)
	}
	g := r.gen.Load()
	r.mu.Lock()
	if r.cached != nil && r.at == g {
		s := r.cached
		r.mu.Unlock()
		return s, nil
	}
	r.mu.Unlock()
	// Built outside the lock; g was read before listing, so a change that
	// lands meanwhile bumps gen past g and the next call builds again.
	s, err := r.build(ctx)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	if r.cached == nil || g >= r.at {
		r.cached, r.at = s, g
	}
	r.mu.Unlock()
	return s, nil
}

func (r *Reader) build(ctx context.Context) (*tenancy.PartialTree, error) {
	tl, err := r.Source.ListTenants(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing tenants: %w", err)
	}
	sl, err := r.Source.ListSpaces(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing spaces: %w", err)
	}
	return tenancy.NewPartialTree(tl.Items, sl.Items, tenancy.TreeOptions{})
}

// Changed tells the Reader that the tree may have changed: the next Get
// builds anew.
func (r *Reader) Changed() { r.gen.Add(1) }

// Follow returns the runnable that arms the cache: handlers on the Tenant
// and Space informers of informers say when the tree changed. Use it only
// when Source reads from those informers' cache; without it every Get
// builds a snapshot.
func (r *Reader) Follow(informers cache.Informers) manager.Runnable {
	h := toolscache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { r.Changed() },
		UpdateFunc: func(oldObj, newObj any) {
			if TreeChanged(oldObj, newObj) {
				r.Changed()
			}
		},
		DeleteFunc: func(any) { r.Changed() },
	}
	return manager.RunnableFunc(func(ctx context.Context) error {
		var regs []func()
		for _, obj := range []client.Object{&tenancy.Tenant{}, &tenancy.Space{}} {
			inf, err := informers.GetInformer(ctx, obj)
			if err != nil {
				return err
			}
			reg, err := inf.AddEventHandler(h)
			if err != nil {
				return err
			}
			regs = append(regs, func() { _ = inf.RemoveEventHandler(reg) })
		}
		r.armed.Store(true)
		<-ctx.Done()
		r.armed.Store(false)
		for _, unreg := range regs {
			unreg()
		}
		return nil
	})
}

// TreeChanged reports whether an informer update changes what a snapshot
// holds.
func TreeChanged(oldObj, newObj any) bool {
	o, ok1 := oldObj.(client.Object)
	n, ok2 := newObj.(client.Object)
	if !ok1 || !ok2 {
		return true
	}
	return o.GetGeneration() != n.GetGeneration() ||
		!maps.Equal(o.GetLabels(), n.GetLabels()) ||
		!maps.Equal(o.GetAnnotations(), n.GetAnnotations()) ||
		!slices.Equal(o.GetFinalizers(), n.GetFinalizers()) ||
		!o.GetDeletionTimestamp().Equal(n.GetDeletionTimestamp())
}
