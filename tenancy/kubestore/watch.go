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

// watch calls send for every change to the objects of list's kind after
// rv ("" for now), in order, until send returns false or ctx ends, then
// calls done. It re-opens the API server watch from the last version seen
// whenever the server closes it.
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
