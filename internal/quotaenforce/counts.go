package quotaenforce

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/quota"
	"github.com/vclusterkit/vclusterkit/quota/admission"
)

// counts follows the resources the tenant tree counts beyond pods,
// claims and Services (count/configmaps, count/deployments.apps, …): for
// each, a metadata-only informer charges every object that exists, the
// periodic resync lists them, and the webhook is registered for their
// creates. The set follows the tree: a limit added starts the informer (and
// only once it has synced, so that what exists is charged, is the webhook
// told to count creates), a limit removed stops it.
//
// Between a limit appearing and the webhook registration reaching the API
// server (a few seconds) creates are not refused, but they are charged once
// seen: the subtree may then be over its count, and further creates are
// refused until it is back under.
type counts struct {
	mu     sync.RWMutex
	active map[schema.GroupResource]schema.GroupVersionKind
	// kick asks the loop to look at the tree again (after a tenant changed).
	kick chan struct{}
	// install re-registers the webhook with the current set; nil while no
	// webhook is served (Quota.Disabled, or not started yet).
	install func(ctx context.Context) error
}

func newCounts() *counts {
	return &counts{active: map[schema.GroupResource]schema.GroupVersionKind{}, kick: make(chan struct{}, 1)}
}

// has reports whether creates of gr are counted (Webhook.Counted).
func (c *counts) has(gr schema.GroupResource) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	_, ok := c.active[gr]
	return ok
}

// list is the counted resources, sorted, for the webhook's rules.
func (c *counts) list() []schema.GroupResource {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]schema.GroupResource, 0, len(c.active))
	for gr := range c.active {
		out = append(out, gr)
	}
	slices.SortFunc(out, func(a, b schema.GroupResource) int {
		return cmp.Or(cmp.Compare(a.Group, b.Group), cmp.Compare(a.Resource, b.Resource))
	})
	return out
}

// kinds is a copy of the counted resources with the kind each is listed as.
func (c *counts) kinds() map[schema.GroupResource]schema.GroupVersionKind {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return maps.Clone(c.active)
}

// RequestCountsSync asks the counts loop to look at the tree now (a
// tenant's limits changed). It never blocks.
func (e *Enforcer) RequestCountsSync() {
	select {
	case e.counts.kick <- struct{}{}:
	default:
	}
}

// syncCounts starts following the resources the tree newly counts and stops
// following those it no longer counts; when the set changed, the ledger is
// resynced and the webhook re-registered. A resource the API server does not
// serve (a CRD not installed yet) is reported and tried again later.
func (e *Enforcer) syncCounts(ctx context.Context) error {
	s, err := e.snapshots.Get(ctx)
	if err != nil {
		return err
	}
	want := quota.CountedResources(quota.Nodes(s.Tenants, s.Spaces))
	c := e.counts
	var errs []error
	changed := false
	for _, gr := range want {
		if c.has(gr) {
			continue
		}
		gvk, err := e.mgr.GetRESTMapper().KindFor(gr.WithVersion(""))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s (%s): %w", quota.CountKey(gr), gr, err))
			continue
		}
		obj := &metav1.PartialObjectMetadata{}
		obj.SetGroupVersionKind(gvk)
		sctx, cancel := context.WithTimeout(ctx, time.Minute)
		inf, err := e.mgr.GetCache().GetInformer(sctx, obj)
		if err == nil {
			_, err = inf.AddEventHandler(e.tracker.CountedEventHandler(ctx, gr))
		}
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: informer: %w", gr, err))
			continue
		}
		c.mu.Lock()
		c.active[gr] = gvk
		c.mu.Unlock()
		changed = true
	}
	for _, gr := range c.list() {
		if slices.Contains(want, gr) {
			continue
		}
		c.mu.Lock()
		gvk := c.active[gr]
		delete(c.active, gr)
		c.mu.Unlock()
		obj := &metav1.PartialObjectMetadata{}
		obj.SetGroupVersionKind(gvk)
		if err := e.mgr.GetCache().RemoveInformer(ctx, obj); err != nil {
			errs = append(errs, fmt.Errorf("%s: removing informer: %w", gr, err))
		}
		changed = true
	}
	if changed {
		// Charge what exists before the webhook counts creates (and drop the
		// charges of a resource no longer counted).
		if err := e.Resync(ctx); err != nil {
			errs = append(errs, fmt.Errorf("resync: %w", err))
		}
		c.mu.RLock()
		install := c.install
		c.mu.RUnlock()
		if install != nil {
			if err := install(ctx); err != nil {
				errs = append(errs, fmt.Errorf("webhook: %w", err))
			}
		}
	}
	return errors.Join(errs...)
}

// countedObjects lists every object of the counted resources (from the
// cache of their metadata informers), wrapped for the tracker.
func (e *Enforcer) countedObjects(ctx context.Context) ([]client.Object, error) {
	var out []client.Object
	for gr, gvk := range e.counts.kinds() {
		l := &metav1.PartialObjectMetadataList{}
		l.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := e.client.List(ctx, l); err != nil {
			return nil, fmt.Errorf("listing %s: %w", gvk.Kind, err)
		}
		for i := range l.Items {
			out = append(out, &admission.Counted{PartialObjectMetadata: &l.Items[i], Resource: gr})
		}
	}
	return out, nil
}
