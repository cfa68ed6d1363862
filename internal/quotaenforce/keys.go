package quotaenforce

import (
	"context"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// podKeys remembers, per host pod UID, the ledger key the tracker charged
// the pod under (quotaKey: the virtual pod's UID in a virtual cluster's
// dedicated host namespace). quotaKey reads the namespace, and by the time
// a pod's delete event arrives its namespace may be gone (a virtual
// cluster's teardown deletes it with the pods): computed again then, the
// key would be the pod's own UID, the release would free nothing, and the
// charge under the virtual UID would block the tenant's deletion forever.
// Safe for concurrent use.
type podKeys struct {
	mu    sync.Mutex
	epoch uint64
	m     map[types.UID]podKey
}

type podKey struct {
	key types.UID
	// epoch is podKeys.epoch when the key was remembered.
	epoch uint64
}

func (k *podKeys) get(uid types.UID) (types.UID, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	e, ok := k.m[uid]
	return e.key, ok
}

func (k *podKeys) put(uid, key types.UID) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m == nil {
		k.m = map[types.UID]podKey{}
	}
	k.m[uid] = podKey{key: key, epoch: k.epoch}
}

func (k *podKeys) forget(uid types.UID) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.m, uid)
}

// mark starts a resync: keys remembered from now on are kept by the
// prune that follows, whatever its list holds.
func (k *podKeys) mark() uint64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.epoch++
	return k.epoch
}

// prune forgets the keys of pods that a list taken after mark(epoch) does
// not hold (a delete event missed; informers deliver them, so this is
// hygiene only).
func (k *podKeys) prune(epoch uint64, exist map[types.UID]bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for uid, e := range k.m {
		if e.epoch < epoch && !exist[uid] {
			delete(k.m, uid)
		}
	}
}

// trackedKey is the tracker's KeyFor: the key a pod was first charged
// under, for as long as the pod exists. It agrees with quotaKey (the
// webhook's) while the pod's namespace can be read.
func (e *Enforcer) trackedKey(p *corev1.Pod) types.UID {
	if k, ok := e.keys.get(p.UID); ok {
		return k
	}
	k, resolved := e.podKey(p)
	if resolved && p.UID != "" {
		e.keys.put(p.UID, k)
	}
	return k
}

// podEventHandler is the tracker's pod handler; a deleted pod's key is
// forgotten once its charge is released under it.
func (e *Enforcer) podEventHandler(ctx context.Context) toolscache.ResourceEventHandler {
	h := e.tracker.EventHandler(ctx)
	return toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { h.OnAdd(obj, false) },
		UpdateFunc: h.OnUpdate,
		DeleteFunc: func(obj any) {
			h.OnDelete(obj)
			if d, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if p, ok := obj.(*corev1.Pod); ok {
				e.keys.forget(p.UID)
			}
		},
	}
}

// liveOnMiss reads from the cache and, for an object the cache does not
// hold, from the API server: a namespace created a moment ago may not have
// reached the cache, and the tracker takes NotFound to mean the namespace
// and what it held are gone.
type liveOnMiss struct {
	cache client.Reader
	live  client.Reader
}

func (r liveOnMiss) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	err := r.cache.Get(ctx, key, obj, opts...)
	if apierrors.IsNotFound(err) && r.live != nil {
		return r.live.Get(ctx, key, obj, opts...)
	}
	return err
}

func (r liveOnMiss) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	return r.cache.List(ctx, list, opts...)
}
