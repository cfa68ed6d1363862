package vclusterkit

import (
	"context"
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

// LabelProjected marks Tenant and Space objects on the host that the engine
// projects from Options.Store. Only objects with it are updated or deleted
// by the projection.
const LabelProjected = "tenancy.vclusterkit.io/projected"

// projection keeps the host's Tenant and Space objects equal to a
// tenancy.Store that is the source of truth (sqlstore, memstore or an
// embedder's own), and copies the status the controllers write back into
// the store. The controllers need API objects (finalizers, watches,
// conditions); the projection lets any store be the truth anyway.
//
// Each round is a full pass over both sides, triggered by a store watch
// event or every resync interval: O(tenants + spaces) per round, which is
// simple and heals any drift (a host object deleted or edited by hand).
type projection struct {
	store  tenancy.Store
	client client.Client
	resync time.Duration
}

func (p *projection) Start(ctx context.Context) error {
	log := ctrl.LoggerFrom(ctx).WithName("projection")
	for {
		tl, err := p.store.ListTenants(ctx)
		if err != nil {
			return fmt.Errorf("projection: %w", err)
		}
		tw, err := p.store.WatchTenants(ctx, tl.ResourceVersion)
		if err != nil {
			return fmt.Errorf("projection: %w", err)
		}
		sl, err := p.store.ListSpaces(ctx)
		if err != nil {
			return fmt.Errorf("projection: %w", err)
		}
		sw, err := p.store.WatchSpaces(ctx, sl.ResourceVersion)
		if err != nil {
			return fmt.Errorf("projection: %w", err)
		}
		if err := p.round(ctx); err != nil {
			log.Error(err, "projection round failed; retrying")
		}
		tick := time.NewTicker(p.resync)
	watch:
		for {
			select {
			case <-ctx.Done():
				tick.Stop()
				return nil
			case ev, ok := <-tw:
				if !ok || ev.Type == tenancy.EventError {
					break watch // re-list and watch again
				}
			case ev, ok := <-sw:
				if !ok || ev.Type == tenancy.EventError {
					break watch
				}
			case <-tick.C:
			}
			// Coalesce a burst of events into one round.
			drain(tw, sw, 100*time.Millisecond)
			if err := p.round(ctx); err != nil {
				log.Error(err, "projection round failed; retrying")
			}
		}
		tick.Stop()
	}
}

func drain(tw <-chan tenancy.TenantEvent, sw <-chan tenancy.SpaceEvent, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-tw:
		case <-sw:
		case <-t.C:
			return
		}
	}
}

func (p *projection) round(ctx context.Context) error {
	if err := p.tenants(ctx); err != nil {
		return err
	}
	return p.spaces(ctx)
}

func projectedMeta(src metav1.ObjectMeta) metav1.ObjectMeta {
	labels := map[string]string{LabelProjected: "true"}
	maps.Copy(labels, src.Labels)
	labels[LabelProjected] = "true"
	return metav1.ObjectMeta{Name: src.Name, Labels: labels, Annotations: maps.Clone(src.Annotations)}
}

func (p *projection) tenants(ctx context.Context) error {
	want, err := p.store.ListTenants(ctx)
	if err != nil {
		return err
	}
	var have tenancy.TenantList
	if err := p.client.List(ctx, &have); err != nil {
		return err
	}
	onHost := map[string]*tenancy.Tenant{}
	for i := range have.Items {
		onHost[have.Items[i].Name] = &have.Items[i]
	}
	inStore := map[string]bool{}
	for i := range want.Items {
		src := &want.Items[i]
		inStore[src.Name] = true
		cur, ok := onHost[src.Name]
		switch {
		case !ok:
			obj := &tenancy.Tenant{ObjectMeta: projectedMeta(src.ObjectMeta), Spec: *src.Spec.DeepCopy()}
			if err := p.client.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("projecting tenant %s: %w", src.Name, err)
			}
			continue
		case cur.Labels[LabelProjected] != "true" || !cur.DeletionTimestamp.IsZero():
			continue // not ours, or on its way out
		}
		m := projectedMeta(src.ObjectMeta)
		if !equality.Semantic.DeepEqual(cur.Spec, src.Spec) || !maps.Equal(cur.Labels, m.Labels) || !annotationsCover(cur.Annotations, m.Annotations) {
			patch := client.MergeFrom(cur.DeepCopy())
			cur.Spec = *src.Spec.DeepCopy()
			cur.Labels = m.Labels
			if cur.Annotations == nil {
				cur.Annotations = map[string]string{}
			}
			maps.Copy(cur.Annotations, m.Annotations)
			if err := p.client.Patch(ctx, cur, patch); err != nil {
				return fmt.Errorf("projecting tenant %s: %w", src.Name, err)
			}
		}
		// Status flows back into the store.
		if !equality.Semantic.DeepEqual(cur.Status, src.Status) {
			back := src.DeepCopy()
			back.Status = *cur.Status.DeepCopy()
			if _, err := p.store.UpdateTenantStatus(ctx, back); err != nil && !isConflictOrGone(err) {
				return fmt.Errorf("tenant %s status into the store: %w", src.Name, err)
			}
		}
	}
	for _, cur := range onHost {
		if cur.Labels[LabelProjected] == "true" && !inStore[cur.Name] && cur.DeletionTimestamp.IsZero() {
			// Gone from the store: its subtree went with it there, so it
			// cascades here too.
			patch := client.MergeFrom(cur.DeepCopy())
			if cur.Annotations == nil {
				cur.Annotations = map[string]string{}
			}
			cur.Annotations[AnnotationCascade] = "true"
			if err := p.client.Patch(ctx, cur, patch); client.IgnoreNotFound(err) != nil {
				return err
			}
			if err := p.client.Delete(ctx, cur); client.IgnoreNotFound(err) != nil {
				return err
			}
		}
	}
	return nil
}

func (p *projection) spaces(ctx context.Context) error {
	want, err := p.store.ListSpaces(ctx)
	if err != nil {
		return err
	}
	var have tenancy.SpaceList
	if err := p.client.List(ctx, &have); err != nil {
		return err
	}
	onHost := map[string]*tenancy.Space{}
	for i := range have.Items {
		onHost[have.Items[i].Name] = &have.Items[i]
	}
	inStore := map[string]bool{}
	for i := range want.Items {
		src := &want.Items[i]
		inStore[src.Name] = true
		cur, ok := onHost[src.Name]
		switch {
		case !ok:
			obj := &tenancy.Space{ObjectMeta: projectedMeta(src.ObjectMeta), Spec: *src.Spec.DeepCopy()}
			if err := p.client.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("projecting space %s: %w", src.Name, err)
			}
			continue
		case cur.Labels[LabelProjected] != "true" || !cur.DeletionTimestamp.IsZero():
			continue
		}
		if !equality.Semantic.DeepEqual(cur.Spec, src.Spec) {
			patch := client.MergeFrom(cur.DeepCopy())
			cur.Spec = *src.Spec.DeepCopy()
			if err := p.client.Patch(ctx, cur, patch); err != nil {
				return fmt.Errorf("projecting space %s: %w", src.Name, err)
			}
		}
		if !equality.Semantic.DeepEqual(cur.Status, src.Status) {
			back := src.DeepCopy()
			back.Status = *cur.Status.DeepCopy()
			if _, err := p.store.UpdateSpaceStatus(ctx, back); err != nil && !isConflictOrGone(err) {
				return fmt.Errorf("space %s status into the store: %w", src.Name, err)
			}
		}
	}
	for _, cur := range onHost {
		if cur.Labels[LabelProjected] == "true" && !inStore[cur.Name] && cur.DeletionTimestamp.IsZero() {
			if err := p.client.Delete(ctx, cur); client.IgnoreNotFound(err) != nil {
				return err
			}
		}
	}
	return nil
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
	return errorsIs(err, tenancy.ErrConflict) || errorsIs(err, tenancy.ErrNotFound)
}
