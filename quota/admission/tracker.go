package admission

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/vclusterkit/vclusterkit/quota"
)

// Tracker keeps a ledger in step with the pods that exist: a pod that appears commits
// its reservation, a pod that ends (Succeeded, Failed) or is deleted releases its charge
// exactly once, and Resync rebuilds the ledger from a full list. ObjectTracker does the
// same for pods, claims and Services together. Feed it pod events with
// EventHandler on any informer (client-go, controller-runtime's cache).
type Tracker struct {
	// Ledger is a *quota.Ledger or a *quota.SharedLedger.
	Ledger   Recorder
	Resolver Resolver
	// KeyFor must match Webhook.KeyFor; default the pod's UID.
	KeyFor func(*corev1.Pod) types.UID
}

// Observe records the current state of one pod.
func (t *Tracker) Observe(ctx context.Context, pod *corev1.Pod) error {
	key := keyFor(t.KeyFor, pod)
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		t.Ledger.Release(key)
		return nil
	}
	if charged, committed := t.Ledger.Holds(key); charged && committed {
		return nil
	}
	ns, err := t.Resolver.Resolve(ctx, pod.Namespace)
	if err != nil {
		return err
	}
	if ns.Node == "" {
		return nil
	}
	return t.Ledger.Observe(quota.Object{UID: key, Node: ns.Node, Resources: quota.PodUsage(pod, ns.Defaults)})
}

// Forget releases a deleted pod's charge; a second call frees nothing.
func (t *Tracker) Forget(pod *corev1.Pod) bool { return t.Ledger.Release(keyFor(t.KeyFor, pod)) }

// EventHandler adapts the tracker to informer events. ctx is used for resolving
// namespaces and logging in the handlers: pass the one the informer runs under.
func (t *Tracker) EventHandler(ctx context.Context) cache.ResourceEventHandler {
	observe := func(obj any) {
		if pod, ok := obj.(*corev1.Pod); ok {
			if err := t.Observe(ctx, pod); err != nil {
				ctrl.LoggerFrom(ctx).Error(err, "quota: observing pod", "namespace", pod.Namespace, "name", pod.Name)
			}
		}
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { observe(obj) },
		UpdateFunc: func(_, obj any) { observe(obj) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if pod, ok := obj.(*corev1.Pod); ok {
				t.Forget(pod)
			}
		},
	}
}

// Resync replaces the ledger's committed usage with what the given pods — all pods of
// the managed namespaces — use (none, for a namespace that is gone). Call it at start
// and periodically. The ledger's Reconcile
// is ledger-wide: when claims and Services are charged too, this drops their charges;
// use ObjectTracker.Resync with every kind instead.
func (t *Tracker) Resync(ctx context.Context, pods []corev1.Pod) error {
	var objs []quota.Object
	var errs []error
	cacheNS := map[string]Namespace{}
	for i := range pods {
		pod := &pods[i]
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		ns, ok := cacheNS[pod.Namespace]
		if !ok {
			var err error
			ns, err = resolveForResync(ctx, t.Resolver, pod.Namespace)
			if err != nil {
				errs = append(errs, fmt.Errorf("pod %s/%s: %w", pod.Namespace, pod.Name, err))
				continue
			}
			cacheNS[pod.Namespace] = ns
		}
		if ns.Node == "" {
			continue
		}
		objs = append(objs, quota.Object{UID: keyFor(t.KeyFor, pod), Node: ns.Node, Resources: quota.PodUsage(pod, ns.Defaults)})
	}
	if len(errs) > 0 {
		// A partial list would drop the charges of the pods left out: change nothing.
		return fmt.Errorf("quota: resync skipped: %w", errors.Join(errs...))
	}
	return t.Ledger.Reconcile(objs)
}
