// Package projection keeps the host's Tenant and Space objects equal to a
// tenancy.Store that is the source of truth (sqlstore, memstore or an
// embedder's own), and copies the status the engine's controllers write
// back into the store. The controllers need API objects (finalizers,
// watches, conditions); the projection lets any store be the truth anyway.
package projection

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

// Projection is a manager Runnable. Each round is a full pass over both sides, triggered by a store watch
// event or every resync interval: O(tenants + spaces) per round, which is
// simple and heals any drift (a host object deleted or edited by hand).
//
// A store that fails (a database restarting) is retried with a backoff
// from one second up to Resync; it never stops the manager.
type Projection struct {
	// Store is the source of truth; required.
	Store tenancy.Store
	// Client writes the host; required.
	Client client.Client
	// Resync is the interval of full rounds without any event; required
	// (positive).
	Resync time.Duration
}

// errWatchEnded says a store watch ended: list and watch again at once.
var errWatchEnded = errors.New("store watch ended")

// Start runs the projection until ctx ends. It implements manager.Runnable.
func (p *Projection) Start(ctx context.Context) error {
	if p.Store == nil || p.Client == nil || p.Resync <= 0 {
		return errors.New("projection.Projection: Store, Client and a positive Resync are required")
	}
	log := ctrl.LoggerFrom(ctx).WithName("projection")
	const minBackoff = time.Second
	backoff := minBackoff
	for {
		err := p.follow(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, errWatchEnded) {
			backoff = minBackoff
			continue
		}
		log.Error(err, "projection: the store failed; retrying", "after", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(backoff*2, max(p.Resync, minBackoff))
	}
}

// follow lists and watches both kinds under a context of its own, running a
// round on every change and every Resync, until a watch ends
// (errWatchEnded), the store fails or ctx ends. Both watches end with it.
func (p *Projection) follow(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	log := ctrl.LoggerFrom(ctx).WithName("projection")
	tl, err := p.Store.ListTenants(ctx)
	if err != nil {
		return fmt.Errorf("listing tenants: %w", err)
	}
	tw, err := p.Store.WatchTenants(ctx, tl.ResourceVersion)
	if err != nil {
		return fmt.Errorf("watching tenants: %w", err)
	}
	sl, err := p.Store.ListSpaces(ctx)
	if err != nil {
		return fmt.Errorf("listing spaces: %w", err)
	}
	sw, err := p.Store.WatchSpaces(ctx, sl.ResourceVersion)
	if err != nil {
		return fmt.Errorf("watching spaces: %w", err)
	}
	if err := p.round(ctx); err != nil {
		log.Error(err, "projection round failed; retrying")
	}
	tick := time.NewTicker(p.Resync)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok := <-tw:
			if !ok || ev.Type == tenancy.EventError {
				return errWatchEnded
			}
		case ev, ok := <-sw:
			if !ok || ev.Type == tenancy.EventError {
				return errWatchEnded
			}
		case <-tick.C:
		}
		// Coalesce a burst of events into one round.
		drain(ctx, tw, sw, 100*time.Millisecond)
		if err := p.round(ctx); err != nil {
			log.Error(err, "projection round failed; retrying")
		}
	}
}

func drain(ctx context.Context, tw <-chan tenancy.TenantEvent, sw <-chan tenancy.SpaceEvent, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tw:
		case <-sw:
		case <-t.C:
			return
		}
	}
}

func (p *Projection) round(ctx context.Context) error {
	if err := p.tenants(ctx); err != nil {
		return err
	}
	return p.spaces(ctx)
}

func projectedMeta(src metav1.ObjectMeta) metav1.ObjectMeta {
	labels := map[string]string{tenancy.LabelProjected: "true"}
	maps.Copy(labels, src.Labels)
	labels[tenancy.LabelProjected] = "true"
	return metav1.ObjectMeta{Name: src.Name, Labels: labels, Annotations: maps.Clone(src.Annotations)}
}

// kindProjection says how one kind is projected: the store's objects, the
// host's, and how to copy between them.
type kindProjection[T client.Object] struct {
	kind       string
	want, have []T
	// fromStore builds the host object for a store object.
	fromStore func(src T) T
	// specDiffers and copySpec compare and copy what the store owns.
	specDiffers func(cur, src T) bool
	copySpec    func(cur, src T)
	// statusBack writes cur's status into the store when it differs.
	statusBack func(ctx context.Context, cur, src T) error
	// beforeDelete prepares a host object whose store object is gone.
	beforeDelete func(cur T)
}

func project[T client.Object](ctx context.Context, c client.Client, k kindProjection[T]) error {
	onHost := map[string]T{}
	for _, h := range k.have {
		onHost[h.GetName()] = h
	}
	inStore := map[string]bool{}
	for _, src := range k.want {
		inStore[src.GetName()] = true
		cur, ok := onHost[src.GetName()]
		if !ok {
			if err := c.Create(ctx, k.fromStore(src)); err != nil && !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("projecting %s %s: %w", k.kind, src.GetName(), err)
			}
			continue
		}
		if cur.GetLabels()[tenancy.LabelProjected] != "true" || !cur.GetDeletionTimestamp().IsZero() {
			continue // not ours, or on its way out
		}
		if k.specDiffers(cur, src) {
			patch := client.MergeFrom(cur.DeepCopyObject().(T))
			k.copySpec(cur, src)
			if err := c.Patch(ctx, cur, patch); err != nil {
				return fmt.Errorf("projecting %s %s: %w", k.kind, src.GetName(), err)
			}
		}
		if err := k.statusBack(ctx, cur, src); err != nil && !isConflictOrGone(err) {
			return fmt.Errorf("%s %s status into the store: %w", k.kind, src.GetName(), err)
		}
	}
	for name, cur := range onHost {
		if cur.GetLabels()[tenancy.LabelProjected] != "true" || inStore[name] || !cur.GetDeletionTimestamp().IsZero() {
			continue
		}
		if k.beforeDelete != nil {
			patch := client.MergeFrom(cur.DeepCopyObject().(T))
			k.beforeDelete(cur)
			if err := c.Patch(ctx, cur, patch); client.IgnoreNotFound(err) != nil {
				return err
			}
		}
		if err := c.Delete(ctx, cur); client.IgnoreNotFound(err) != nil {
			return err
		}
	}
	return nil
}

func ptrs[T any](items []T) []*T {
	out := make([]*T, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}

// metaDiffers reports whether cur lacks the labels or annotations the store
// gives src.
func metaDiffers(cur, src client.Object) bool {
	m := projectedMeta(metav1.ObjectMeta{Name: src.GetName(), Labels: src.GetLabels(), Annotations: src.GetAnnotations()})
	return !maps.Equal(cur.GetLabels(), m.Labels) || !annotationsCover(cur.GetAnnotations(), m.Annotations)
}

func copyMeta(cur, src client.Object) {
	m := projectedMeta(metav1.ObjectMeta{Name: src.GetName(), Labels: src.GetLabels(), Annotations: src.GetAnnotations()})
	cur.SetLabels(m.Labels)
	a := cur.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	maps.Copy(a, m.Annotations)
	cur.SetAnnotations(a)
}

func (p *Projection) tenants(ctx context.Context) error {
	want, err := p.Store.ListTenants(ctx)
	if err != nil {
		return err
	}
	var have tenancy.TenantList
	if err := p.Client.List(ctx, &have); err != nil {
		return err
	}
	return project(ctx, p.Client, kindProjection[*tenancy.Tenant]{
		kind: "tenant", want: ptrs(want.Items), have: ptrs(have.Items),
		fromStore: func(src *tenancy.Tenant) *tenancy.Tenant {
			return &tenancy.Tenant{ObjectMeta: projectedMeta(src.ObjectMeta), Spec: *src.Spec.DeepCopy()}
		},
		specDiffers: func(cur, src *tenancy.Tenant) bool {
			return !equality.Semantic.DeepEqual(cur.Spec, src.Spec) || metaDiffers(cur, src)
		},
		copySpec: func(cur, src *tenancy.Tenant) { cur.Spec = *src.Spec.DeepCopy(); copyMeta(cur, src) },
		statusBack: func(ctx context.Context, cur, src *tenancy.Tenant) error {
			if equality.Semantic.DeepEqual(cur.Status, src.Status) {
				return nil
			}
			back := src.DeepCopy()
			back.Status = *cur.Status.DeepCopy()
			_, err := p.Store.UpdateTenantStatus(ctx, back)
			return err
		},
		// Gone from the store: its subtree went with it there, so it
		// cascades here too.
		beforeDelete: func(cur *tenancy.Tenant) {
			a := cur.GetAnnotations()
			if a == nil {
				a = map[string]string{}
			}
			a[tenancy.AnnotationCascade] = "true"
			cur.SetAnnotations(a)
		},
	})
}

func (p *Projection) spaces(ctx context.Context) error {
	want, err := p.Store.ListSpaces(ctx)
	if err != nil {
		return err
	}
	var have tenancy.SpaceList
	if err := p.Client.List(ctx, &have); err != nil {
		return err
	}
	return project(ctx, p.Client, kindProjection[*tenancy.Space]{
		kind: "space", want: ptrs(want.Items), have: ptrs(have.Items),
		fromStore: func(src *tenancy.Space) *tenancy.Space {
			return &tenancy.Space{ObjectMeta: projectedMeta(src.ObjectMeta), Spec: *src.Spec.DeepCopy()}
		},
		specDiffers: func(cur, src *tenancy.Space) bool {
			return !equality.Semantic.DeepEqual(cur.Spec, src.Spec) || metaDiffers(cur, src)
		},
		copySpec: func(cur, src *tenancy.Space) { cur.Spec = *src.Spec.DeepCopy(); copyMeta(cur, src) },
		statusBack: func(ctx context.Context, cur, src *tenancy.Space) error {
			if equality.Semantic.DeepEqual(cur.Status, src.Status) {
				return nil
			}
			back := src.DeepCopy()
			back.Status = *cur.Status.DeepCopy()
			_, err := p.Store.UpdateSpaceStatus(ctx, back)
			return err
		},
	})
}

func annotationsCover(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

func isConflictOrGone(err error) bool {
	return errors.Is(err, tenancy.ErrConflict) || errors.Is(err, tenancy.ErrNotFound)
}
