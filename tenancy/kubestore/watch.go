package kubestore

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

// WatchTenants implements tenancy.TenantWatcher with an API server watch.
//
// Resource versions follow the API server: a watch from version v delivers
// every change after v as long as etcd still has it (by default about five
// minutes of history; older versions give tenancy.ErrExpired). "" starts
// at the current version, found with a one-item list. The watch is
// re-established from the last seen version (bookmarks included) whenever
// the server closes it.
func (s *Store) WatchTenants(ctx context.Context, resourceVersion string) (<-chan tenancy.TenantEvent, error) {
	out := make(chan tenancy.TenantEvent)
	err := s.watch(ctx, &tenancy.TenantList{}, resourceVersion, func(typ tenancy.EventType, obj runtime.Object, err error) bool {
		e := tenancy.TenantEvent{Type: typ, Err: err}
		if t, ok := obj.(*tenancy.Tenant); ok {
			t.TypeMeta = tenantTypeMeta()
			e.Tenant = t
		}
		select {
		case out <- e:
			return true
		case <-ctx.Done():
			return false
		}
	}, func() { close(out) })
	if err != nil {
		return nil, mapErr(tenancy.KindTenant, "", err)
	}
	return out, nil
}

// WatchSpaces implements tenancy.SpaceWatcher, like WatchTenants.
func (s *Store) WatchSpaces(ctx context.Context, resourceVersion string) (<-chan tenancy.SpaceEvent, error) {
	out := make(chan tenancy.SpaceEvent)
	err := s.watch(ctx, &tenancy.SpaceList{}, resourceVersion, func(typ tenancy.EventType, obj runtime.Object, err error) bool {
		e := tenancy.SpaceEvent{Type: typ, Err: err}
		if sp, ok := obj.(*tenancy.Space); ok {
			sp.TypeMeta = spaceTypeMeta()
			e.Space = sp
		}
		select {
		case out <- e:
			return true
		case <-ctx.Done():
			return false
		}
	}, func() { close(out) })
	if err != nil {
		return nil, mapErr(tenancy.KindSpace, "", err)
	}
	return out, nil
}

func (s *Store) watch(ctx context.Context, list client.ObjectList, rv string,
	send func(tenancy.EventType, runtime.Object, error) bool, done func()) error {
	if rv == "" {
		// A list's version is the current one; Limit keeps it cheap.
		probe := list.DeepCopyObject().(client.ObjectList)
		if err := s.c.List(ctx, probe, client.Limit(1)); err != nil {
			return err
		}
		rv = probe.GetResourceVersion()
	}
	open := func(rv string) (watch.Interface, error) {
		return s.c.Watch(ctx, list, &client.ListOptions{Raw: &metav1.ListOptions{
			ResourceVersion: rv, AllowWatchBookmarks: true}})
	}
	w, err := open(rv)
	if err != nil {
		return err
	}
	go func() {
		defer done()
		last := rv
		for {
			for ev := range w.ResultChan() {
				switch ev.Type {
				case watch.Added, watch.Modified, watch.Deleted:
					obj, ok := ev.Object.(client.Object)
					if !ok {
						continue
					}
					last = obj.GetResourceVersion()
					typ := map[watch.EventType]tenancy.EventType{watch.Added: tenancy.EventAdded,
						watch.Modified: tenancy.EventModified, watch.Deleted: tenancy.EventDeleted}[ev.Type]
					if !send(typ, ev.Object, nil) {
						w.Stop()
						return
					}
				case watch.Bookmark:
					if obj, ok := ev.Object.(client.Object); ok {
						last = obj.GetResourceVersion()
					}
				case watch.Error:
					err := apierrors.FromObject(ev.Object)
					if apierrors.IsGone(err) || apierrors.IsResourceExpired(err) {
						err = fmt.Errorf("%v: %w", err, tenancy.ErrExpired)
					}
					w.Stop()
					if ctx.Err() == nil {
						send(tenancy.EventError, nil, err)
					}
					return
				}
			}
			if ctx.Err() != nil {
				return
			}
			// The server ended the watch (timeout); continue where it was.
			if w, err = open(last); err != nil {
				if ctx.Err() == nil {
					send(tenancy.EventError, nil, mapErr("", "", err))
				}
				return
			}
		}
	}()
	return nil
}
