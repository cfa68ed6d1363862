package admission

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/quota"
)

// ObjectRecorder is what an ObjectTracker needs of a ledger: a Recorder that can also
// move an existing object's charge to its current usage.
type ObjectRecorder interface {
	Recorder
	Recharge(o quota.Object) error
}

var (
	_ ObjectRecorder = (*quota.Ledger)(nil)
	_ ObjectRecorder = (*quota.SharedLedger)(nil)
)

// ObjectTracker keeps a ledger in step with every kind the Webhook charges: pods (as
// Tracker does, plus in-place resizes), PersistentVolumeClaims, Services, and the
// Counted resources (through CountedEventHandler). A claim or Service that appears
// commits its reservation (or, never admitted, is charged what it uses); an update moves
// its charge to the new usage and then releases the reservation the Webhook made for the
// update's Increase (UpdateKey); a delete releases its charge exactly once. Attach
// EventHandler to a pod, a claim and a Service informer (client-go or controller-runtime's
// cache); one tracker serves all three.
type ObjectTracker struct {
	// Ledger is a *quota.Ledger or a *quota.SharedLedger.
	Ledger   ObjectRecorder
	Resolver Resolver
	// KeyFor is the ledger key of a pod and must match Webhook.KeyFor; default its UID.
	KeyFor func(*corev1.Pod) types.UID
	// ObjectKeyFor is the key of a claim or Service and must match
	// Webhook.ObjectKeyFor; default its UID.
	ObjectKeyFor func(metav1.Object) types.UID
}

func (t *ObjectTracker) pods() *Tracker {
	return &Tracker{Ledger: t.Ledger, Resolver: t.Resolver, KeyFor: t.KeyFor}
}

// Key is the ledger key of obj (KeyFor for pods, ObjectKeyFor otherwise).
func (t *ObjectTracker) Key(obj client.Object) types.UID {
	if pod, ok := obj.(*corev1.Pod); ok {
		return keyFor(t.KeyFor, pod)
	}
	return objectKeyFor(t.ObjectKeyFor, obj)
}

// Observe records the current state of one object: a pod as Tracker.Observe does; a claim
// or Service is charged exactly its current usage (quota.Ledger.Recharge). Other types are
// ignored.
func (t *ObjectTracker) Observe(ctx context.Context, obj client.Object) error {
	if pod, ok := obj.(*corev1.Pod); ok {
		return t.pods().Observe(ctx, pod)
	}
	usage, ok := ObjectUsage(obj, nil)
	if !ok {
		return nil
	}
	ns, err := t.Resolver.Resolve(ctx, obj.GetNamespace())
	if err != nil {
		return err
	}
	if ns.Node == "" {
		return nil
	}
	return t.Ledger.Recharge(quota.Object{UID: t.Key(obj), Node: ns.Node, Resources: usage})
}

// Forget releases a deleted object's charge; a second call frees nothing.
func (t *ObjectTracker) Forget(obj client.Object) bool { return t.Ledger.Release(t.Key(obj)) }

// EventHandler adapts the tracker to informer events of pods, claims and Services.
// ctx is used for resolving namespaces and logging in the handlers: pass the one
// the informer runs under.
func (t *ObjectTracker) EventHandler(ctx context.Context) cache.ResourceEventHandler {
	log := func(err error, obj client.Object) {
		if err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "quota: observing object", "kind", fmt.Sprintf("%T", obj),
				"namespace", obj.GetNamespace(), "name", obj.GetName())
		}
	}
	podHandler := t.pods().EventHandler(ctx)
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if _, ok := obj.(*corev1.Pod); ok {
				podHandler.OnAdd(obj, false)
				return
			}
			o, ok := obj.(client.Object)
			if !ok {
				return
			}
			// Already committed (a relist, or Resync ran first): nothing to do, and no
			// store round trip for a SharedLedger.
			if _, committed := t.Ledger.Holds(t.Key(o)); committed {
				return
			}
			log(t.Observe(ctx, o), o)
		},
		UpdateFunc: func(oldObj, newObj any) {
			if pod, ok := newObj.(*corev1.Pod); ok {
				old, _ := oldObj.(*corev1.Pod)
				if old == nil || !t.resized(ctx, old, pod) {
					podHandler.OnUpdate(oldObj, newObj)
				}
				return
			}
			o, ok := newObj.(client.Object)
			old, ok2 := oldObj.(client.Object)
			if !ok || !ok2 {
				return
			}
			newUsage, charged := ObjectUsage(o, nil)
			if !charged {
				return
			}
			oldUsage, _ := ObjectUsage(old, nil)
			key := t.Key(o)
			if _, committed := t.Ledger.Holds(key); !committed || !equality.Semantic.DeepEqual(oldUsage, newUsage) {
				log(t.Observe(ctx, o), o)
			}
			// The new usage is charged now: the reservation the webhook made for this
			// transition has done its job.
			if old.GetResourceVersion() != o.GetResourceVersion() && len(quota.Increase(oldUsage, newUsage)) > 0 {
				t.Ledger.Release(UpdateKey(key, old.GetResourceVersion()))
			}
		},
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if o, ok := obj.(client.Object); ok {
				if _, charged := ObjectUsage(o, nil); charged {
					t.Forget(o)
				}
			}
		},
	}
}

// resized handles a pod update that changes what a committed pod is charged (an
// in-place resize asked for, or applied by the kubelet): the charge moves to the new
// usage, and the reservation the webhook made for the resize (UpdateKey) is released.
// It reports false, leaving the update to Tracker, for anything else.
func (t *ObjectTracker) resized(ctx context.Context, old, pod *corev1.Pod) bool {
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return false
	}
	// Defaults only fill what a container leaves unset; a change of charge shows
	// without them.
	oldUsage, newUsage := quota.PodUsage(old, nil), quota.PodUsage(pod, nil)
	if equality.Semantic.DeepEqual(oldUsage, newUsage) {
		return false
	}
	key := t.Key(pod)
	if _, committed := t.Ledger.Holds(key); !committed {
		return false
	}
	ns, err := t.Resolver.Resolve(ctx, pod.Namespace)
	if err == nil && ns.Node != "" {
		err = t.Ledger.Recharge(quota.Object{UID: key, Node: ns.Node, Resources: quota.PodUsage(pod, ns.Defaults)})
	}
	if err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "quota: recharging resized pod", "namespace", pod.Namespace, "name", pod.Name)
	}
	if old.ResourceVersion != pod.ResourceVersion && len(quota.Increase(oldUsage, newUsage)) > 0 {
		t.Ledger.Release(UpdateKey(key, old.ResourceVersion))
	}
	return true
}

// CountedEventHandler adapts the tracker to the events of a metadata informer of
// resource gr (one whose objects are *metav1.PartialObjectMetadata), charging each
// object its count (quota.CountUsage). ctx is as for EventHandler.
func (t *ObjectTracker) CountedEventHandler(ctx context.Context, gr schema.GroupResource) cache.ResourceEventHandler {
	h := t.EventHandler(ctx)
	wrap := func(obj any) any {
		switch o := obj.(type) {
		case *metav1.PartialObjectMetadata:
			return &Counted{PartialObjectMetadata: o, Resource: gr}
		case cache.DeletedFinalStateUnknown:
			if m, ok := o.Obj.(*metav1.PartialObjectMetadata); ok {
				o.Obj = &Counted{PartialObjectMetadata: m, Resource: gr}
			}
			return o
		}
		return obj
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { h.OnAdd(wrap(obj), false) },
		UpdateFunc: func(oldObj, newObj any) { h.OnUpdate(wrap(oldObj), wrap(newObj)) },
		DeleteFunc: func(obj any) { h.OnDelete(wrap(obj)) },
	}
}

// resolveForResync resolves a namespace for a resync: one that is gone
// (NotFound) took its objects with it, whatever a list taken a moment
// before still shows, so they are charged nothing; only other errors
// leave the ledger as it is.
func resolveForResync(ctx context.Context, r Resolver, namespace string) (Namespace, error) {
	ns, err := r.Resolve(ctx, namespace)
	if apierrors.IsNotFound(err) {
		return Namespace{}, nil
	}
	return ns, err
}

// Resync replaces the ledger's committed usage with what the given objects — every pod,
// claim and Service of the managed namespaces and every object of the Counted resources
// (as *Counted), all together — use; objects of a namespace that is gone are
// charged nothing. The ledger's
// Reconcile is ledger-wide, so a list missing one kind drops that kind's charges: when
// claims and Services are tracked, resync through this method, never Tracker.Resync.
// Call it at start and periodically.
func (t *ObjectTracker) Resync(ctx context.Context, objects []client.Object) error {
	var objs []quota.Object
	var errs []error
	cacheNS := map[string]Namespace{}
	for _, obj := range objects {
		if pod, ok := obj.(*corev1.Pod); ok && (pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed) {
			continue
		}
		if _, ok := ObjectUsage(obj, nil); !ok {
			continue
		}
		ns, ok := cacheNS[obj.GetNamespace()]
		if !ok {
			var err error
			ns, err = resolveForResync(ctx, t.Resolver, obj.GetNamespace())
			if err != nil {
				errs = append(errs, fmt.Errorf("%T %s/%s: %w", obj, obj.GetNamespace(), obj.GetName(), err))
				continue
			}
			cacheNS[obj.GetNamespace()] = ns
		}
		if ns.Node == "" {
			continue
		}
		usage, _ := ObjectUsage(obj, ns.Defaults)
		objs = append(objs, quota.Object{UID: t.Key(obj), Node: ns.Node, Resources: usage})
	}
	if len(errs) > 0 {
		// A partial list would drop the charges of the objects left out: change nothing.
		return fmt.Errorf("quota: resync skipped: %w", errors.Join(errs...))
	}
	return t.Ledger.Reconcile(objs)
}
