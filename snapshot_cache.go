package vclusterkit

import (
	"context"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

// snapshotCache keeps the last snapshot built from the manager's cache
// until a Tenant or Space changes in a way the tree can see (spec, labels,
// annotations, finalizers, deletion), so the several steps of a reconcile,
// and the reconciles of many objects in a row, share one tree instead of
// each listing every tenant and building the tree again: O(tenants) work
// per change instead of per step. Status-only writes (the engine's own
// conditions and usage) do not invalidate it; nothing reads status from a
// snapshot.
//
// It is only used when the tree is read from the manager's cache (the
// default TreeSource), whose informers say when something changed.
type snapshotCache struct {
	gen   atomic.Uint64 // bumped on every relevant change
	armed atomic.Bool   // the handlers are registered: gen can be trusted

	mu     sync.Mutex
	cached *snapshot
	at     uint64 // gen the cached snapshot was built at
}

// get returns the cached snapshot when nothing changed since it was
// built, else builds one.
func (c *snapshotCache) get(ctx context.Context, build func(context.Context) (*snapshot, error)) (*snapshot, error) {
	if !c.armed.Load() {
		return build(ctx)
	}
	g := c.gen.Load()
	c.mu.Lock()
	if c.cached != nil && c.at == g {
		s := c.cached
		c.mu.Unlock()
		return s, nil
	}
	c.mu.Unlock()
	// Built outside the lock; g was read before listing, so a change that
	// lands meanwhile bumps gen past g and the next call builds again.
	s, err := build(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.cached == nil || g >= c.at {
		c.cached, c.at = s, g
	}
	c.mu.Unlock()
	return s, nil
}

// treeChanged reports whether an update changes what a snapshot holds.
func treeChanged(oldObj, newObj any) bool {
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

// setupSnapshotCache arms the snapshot cache when the tree comes from the
// manager's cache: handlers on the Tenant and Space informers bump its
// generation.
func (e *Engine) setupSnapshotCache() error {
	if _, ok := e.store.(cacheTree); !ok {
		return nil
	}
	c := &snapshotCache{}
	e.snapshots = c
	bump := func() { c.gen.Add(1) }
	h := toolscache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { bump() },
		UpdateFunc: func(oldObj, newObj any) {
			if treeChanged(oldObj, newObj) {
				bump()
			}
		},
		DeleteFunc: func(any) { bump() },
	}
	return e.mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		for _, obj := range []client.Object{&tenancy.Tenant{}, &tenancy.Space{}} {
			inf, err := e.mgr.GetCache().GetInformer(ctx, obj)
			if err != nil {
				return err
			}
			if _, err := inf.AddEventHandler(h); err != nil {
				return err
			}
		}
		c.armed.Store(true)
		<-ctx.Done()
		return nil
	}))
}
