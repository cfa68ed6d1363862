package syncer

import (
	"context"
	"maps"
	"reflect"
	"slices"
	"sync"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

// Three things keep a reconcile from being run, or from doing the whole
// translation, for nothing (each measured by go run ./internal/bench/sync,
// see its doc):
//
//   - the host side skips the watch event of the engine's own last write
//     to a host object (kind.written);
//   - the virtual side does the same for its writes to virtual objects
//     (status, mostly): Context.Virtual records the resourceVersion each
//     write returned (echoes), and the virtual event of that version is not
//     enqueued;
//   - a host event that changed nothing but status (a pod turning Running)
//     enqueues the object without marking it dirty, and a reconcile of an
//     object nobody marked dirty skips the translation (ToHost, the policy
//     checks, the hash and the three-way compare) and runs ToVirtual only.
//     Every other way into the queue marks it dirty: virtual events, other
//     host events, Watcher mappings, policy changes, and a reconcile that
//     failed (its retry). A requeue a syncer asks for in its Result runs
//     ToVirtual only.

// echoKey names a virtual object of one kind.
type echoKey struct {
	gk        string
	namespace string
	name      string
}

// echoes maps virtual objects to the resourceVersion of the engine's own
// last write to them.
type echoes struct {
	scheme *runtime.Scheme
	m      sync.Map // echoKey → string
}

func (e *echoes) key(obj client.Object) (echoKey, bool) {
	gvk, err := apiutil.GVKForObject(obj, e.scheme)
	if err != nil {
		return echoKey{}, false
	}
	return echoKey{gk: gvk.GroupKind().String(), namespace: obj.GetNamespace(), name: obj.GetName()}, true
}

func (e *echoes) record(obj client.Object) {
	if rv := obj.GetResourceVersion(); rv != "" {
		if k, ok := e.key(obj); ok {
			e.m.Store(k, rv)
		}
	}
}

func (e *echoes) forget(obj client.Object) {
	if k, ok := e.key(obj); ok {
		e.m.Delete(k)
	}
}

// own reports whether obj is exactly the version the engine last wrote.
func (e *echoes) own(obj client.Object) bool {
	k, ok := e.key(obj)
	if !ok {
		return false
	}
	rv, ok := e.m.Load(k)
	return ok && rv == obj.GetResourceVersion()
}

// recordingClient is the virtual client handed to syncers: it records the
// resourceVersion of every object it writes (the object itself or its
// status) in echoes.
type recordingClient struct {
	client.Client
	echoes *echoes
}

func (c *recordingClient) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	if err := c.Client.Create(ctx, obj, opts...); err != nil {
		return err
	}
	c.echoes.record(obj)
	return nil
}

func (c *recordingClient) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	if err := c.Client.Update(ctx, obj, opts...); err != nil {
		return err
	}
	c.echoes.record(obj)
	return nil
}

func (c *recordingClient) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	if err := c.Client.Patch(ctx, obj, patch, opts...); err != nil {
		return err
	}
	c.echoes.record(obj)
	return nil
}

func (c *recordingClient) Delete(ctx context.Context, obj client.Object, opts ...client.DeleteOption) error {
	c.echoes.forget(obj)
	return c.Client.Delete(ctx, obj, opts...)
}

func (c *recordingClient) Status() client.SubResourceWriter {
	return &recordingStatus{SubResourceWriter: c.Client.Status(), echoes: c.echoes}
}

func (c *recordingClient) SubResource(sub string) client.SubResourceClient {
	sc := c.Client.SubResource(sub)
	if sub != "status" {
		// binding, token, eviction: the object written is not the parent.
		return sc
	}
	return &recordingSubResource{SubResourceClient: sc, w: recordingStatus{SubResourceWriter: sc, echoes: c.echoes}}
}

// recordingStatus records the parent's new resourceVersion after a status
// update or patch (the API returns the whole parent object).
type recordingStatus struct {
	client.SubResourceWriter
	echoes *echoes
}

func (w *recordingStatus) Update(ctx context.Context, obj client.Object, opts ...client.SubResourceUpdateOption) error {
	if err := w.SubResourceWriter.Update(ctx, obj, opts...); err != nil {
		return err
	}
	w.echoes.record(obj)
	return nil
}

func (w *recordingStatus) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	if err := w.SubResourceWriter.Patch(ctx, obj, patch, opts...); err != nil {
		return err
	}
	w.echoes.record(obj)
	return nil
}

type recordingSubResource struct {
	client.SubResourceClient
	w recordingStatus
}

func (s *recordingSubResource) Update(ctx context.Context, obj client.Object, opts ...client.SubResourceUpdateOption) error {
	return s.w.Update(ctx, obj, opts...)
}

func (s *recordingSubResource) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	return s.w.Patch(ctx, obj, patch, opts...)
}

// statusOnly reports whether an update from old to updated changed
// nothing a translation reads: same labels, annotations, owners,
// finalizers and generation, no deletion, and every top-level field but
// metadata and status equal. Kinds without a Status field (ConfigMaps,
// Secrets) and unstructured objects are never status-only.
func statusOnly(old, updated client.Object) bool {
	if old.GetGeneration() != updated.GetGeneration() ||
		old.GetDeletionTimestamp() != nil || updated.GetDeletionTimestamp() != nil ||
		!maps.Equal(old.GetLabels(), updated.GetLabels()) ||
		!maps.Equal(old.GetAnnotations(), updated.GetAnnotations()) ||
		!slices.Equal(old.GetFinalizers(), updated.GetFinalizers()) ||
		!equality.Semantic.DeepEqual(old.GetOwnerReferences(), updated.GetOwnerReferences()) {
		return false
	}
	ov, nv := reflect.ValueOf(old), reflect.ValueOf(updated)
	if ov.Kind() != reflect.Pointer || nv.Type() != ov.Type() || ov.Elem().Kind() != reflect.Struct {
		return false
	}
	ov, nv = ov.Elem(), nv.Elem()
	t := ov.Type()
	hasStatus := false
	for i := range t.NumField() {
		switch t.Field(i).Name {
		case "TypeMeta", "ObjectMeta":
			continue
		case "Status":
			hasStatus = true
			continue
		}
		if !t.Field(i).IsExported() || !equality.Semantic.DeepEqual(ov.Field(i).Interface(), nv.Field(i).Interface()) {
			return false
		}
	}
	return hasStatus
}

// dirtyKeys are virtual objects whose next reconcile must translate
// again; see the comment at the top of this file.
type dirtyKeys struct{ m sync.Map }

func (d *dirtyKeys) mark(key types.NamespacedName) { d.m.Store(key, struct{}{}) }

// take reports whether key was marked, and clears the mark.
func (d *dirtyKeys) take(key types.NamespacedName) bool {
	_, ok := d.m.LoadAndDelete(key)
	return ok
}
