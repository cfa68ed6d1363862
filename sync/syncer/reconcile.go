package syncer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/vclusterkit/vclusterkit/sync/translate"
)

// Event reasons recorded on virtual objects.
const (
	ReasonRefused       = "SyncRefused"
	ReasonNameCollision = "HostNameCollision"
	// ReasonHostRefused: the host API server refused to create the host
	// copy (admission: quota, a policy; or validation). The reason is
	// recorded on the virtual object and the create is retried with
	// backoff, so it lands once the cause is gone (quota freed).
	ReasonHostRefused = "HostRefused"
	// ReasonReservedKeys tells a tenant its labels or annotations under
	// the reserved domain were neutralised (escaped) on the host.
	ReasonReservedKeys = "ReservedKeysEscaped"
)

func reservedKeys(obj client.Object) []string {
	var keys []string
	for _, m := range []map[string]string{obj.GetLabels(), obj.GetAnnotations()} {
		for k := range m {
			if translate.IsReserved(k) && k != AnnotationImported {
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	return keys
}

// conflictRetry is how soon an object is retried after a resourceVersion
// conflict or a stale cache; conflicts are expected under concurrent
// writers and are neither logged as errors nor recorded as events.
func conflictRetry() reconcile.Result {
	return reconcile.Result{RequeueAfter: 50*time.Millisecond + rand.N(100*time.Millisecond)}
}

// Reconcile syncs one virtual object (by virtual namespace/name) with its
// host copy. It implements reconcile.Reconciler.
func (k *kind) Reconcile(ctx context.Context, req reconcile.Request) (res reconcile.Result, err error) {
	start := time.Now()
	log := ctrl.LoggerFrom(ctx).WithValues("kind", k.syncer.Name(), "virtual", req.NamespacedName.String())
	ctx = ctrl.LoggerInto(ctx, log)
	defer func() {
		k.e.metrics.duration.WithLabelValues(k.e.opts.Name, k.syncer.Name()).Observe(time.Since(start).Seconds())
		if err != nil {
			// The retry (after a conflict, a wait, a backoff) translates.
			// A requeue a syncer asked for (ToVirtual's Result: a token
			// refresh) needs no translation, only ToVirtual again.
			k.dirty.mark(req.NamespacedName)
		}
		switch {
		case err == nil:
		case ctx.Err() != nil:
			// Shutting down: the next start resyncs everything.
			res, err = reconcile.Result{}, nil
		case apierrors.IsConflict(err) || errors.Is(err, errStale):
			log.V(1).Info("conflict, retrying", "err", err)
			res, err = conflictRetry(), nil
		case isWait(err):
			w, _ := IsWait(err)
			log.V(1).Info("waiting", "reason", w.Message, "after", w.After)
			res, err = reconcile.Result{RequeueAfter: w.After}, nil
		default:
			k.e.metrics.errors.WithLabelValues(k.e.opts.Name, k.syncer.Name()).Inc()
		}
	}()

	sc := k.e.sc
	if fh, ok := k.syncer.(FromHost); ok {
		return k.reconcileFromHost(ctx, fh, req)
	}
	tr := sc.Translator
	full := k.dirty.take(req.NamespacedName)
	virtual := k.syncer.New()
	vExists := true
	if err := sc.Virtual.Get(ctx, req.NamespacedName, virtual); err != nil {
		if !apierrors.IsNotFound(err) {
			return reconcile.Result{}, fmt.Errorf("get virtual: %w", err)
		}
		vExists = false
	}
	host := k.syncer.New()
	hostKey := types.NamespacedName{Namespace: tr.HostNamespace(), Name: tr.HostName(req.Name, req.Namespace)}
	hExists := true
	if err := sc.Host.Get(ctx, hostKey, host); err != nil {
		if !apierrors.IsNotFound(err) {
			return reconcile.Result{}, fmt.Errorf("get host: %w", err)
		}
		hExists = false
	}
	// The host cache only holds managed objects, but check the mark of
	// this very virtual cluster and kind anyway: never touch anything else.
	if hExists {
		if o, ok := tr.Origin(host); !ok || o.Kind != k.gvk.Kind || o.Key() != req.NamespacedName {
			hExists = false
			host = nil
		}
	}

	switch {
	case !vExists:
		if !hExists {
			return reconcile.Result{}, nil
		}
		// The cache may lag behind a virtual object that was just
		// replaced; confirm with the API before deleting the host copy.
		if err := sc.VirtualReader.Get(ctx, req.NamespacedName, k.syncer.New()); err == nil {
			return reconcile.Result{}, errStale
		} else if !apierrors.IsNotFound(err) {
			return reconcile.Result{}, fmt.Errorf("get virtual: %w", err)
		}
		return reconcile.Result{}, k.deleteHost(ctx, host, nil)
	case virtual.GetDeletionTimestamp() != nil:
		return k.reconcileVirtualDeletion(ctx, virtual, host, hExists)
	}

	if _, imported := virtual.GetAnnotations()[AnnotationImported]; imported {
		// An import from the host: it never goes back.
		return reconcile.Result{}, nil
	}
	if !full && hExists && host.GetDeletionTimestamp() == nil {
		// Only the host's status changed since the last translation:
		// carry it back, nothing else to do.
		k.e.metrics.status.WithLabelValues(k.e.opts.Name, k.syncer.Name()).Inc()
		r, err := k.syncer.ToVirtual(ctx, sc, virtual, host)
		if err != nil {
			return reconcile.Result{}, fmt.Errorf("to virtual: %w", err)
		}
		return reconcile.Result{RequeueAfter: r.RequeueAfter}, nil
	}
	if f, ok := k.syncer.(Filter); ok {
		want, err := f.ShouldSync(ctx, sc, virtual)
		if err != nil {
			return reconcile.Result{}, fmt.Errorf("filter: %w", err)
		}
		if !want {
			if hExists {
				return reconcile.Result{}, k.deleteHost(ctx, host, nil)
			}
			return reconcile.Result{}, nil
		}
	}

	if hExists && host.GetUID() != "" {
		o, _ := tr.Origin(host)
		if o.UID != virtual.GetUID() {
			if r, ok := k.syncer.(Recreator); ok && r.RecreateOnNewUID() {
				log.V(1).Info("virtual object replaced, recreating host copy")
				if err := k.deleteHost(ctx, host, ptr64(0)); err != nil {
					return reconcile.Result{}, err
				}
				return conflictRetry(), nil
			}
		}
	}
	if hExists && host.GetDeletionTimestamp() != nil {
		// Wait for the host to finish; the deletion event requeues us.
		return reconcile.Result{}, nil
	}

	var existing client.Object
	if hExists {
		existing = host
	}
	desired, err := k.desired(ctx, virtual, existing)
	if err != nil {
		var refusal *RefusedError
		if errors.As(err, &refusal) {
			return reconcile.Result{}, k.refuse(ctx, virtual, host, hExists, refusal)
		}
		return reconcile.Result{}, err
	}

	if !hExists {
		if hd, ok := k.syncer.(HostDeletion); ok && hd.DeleteVirtual(ctx, sc, virtual) {
			// Never delete a tenant's object on a stale cache read.
			live := k.syncer.New()
			if err := sc.HostReader.Get(ctx, hostKey, live); err == nil {
				if o, ok := tr.Origin(live); ok && o.Kind == k.gvk.Kind && o.Key() == req.NamespacedName {
					return reconcile.Result{}, errStale
				}
			} else if !apierrors.IsNotFound(err) {
				return reconcile.Result{}, fmt.Errorf("get host: %w", err)
			}
			log.Info("host copy is gone, deleting the virtual object")
			if err := sc.Virtual.Delete(ctx, virtual, client.Preconditions{UID: ptrUID(virtual.GetUID())}, client.GracePeriodSeconds(0)); client.IgnoreNotFound(err) != nil {
				return reconcile.Result{}, fmt.Errorf("delete virtual: %w", err)
			}
			k.e.metrics.synced.WithLabelValues(k.e.opts.Name, k.syncer.Name(), DirectionToVirtual, OpDelete).Inc()
			return reconcile.Result{}, nil
		}
		if admit := k.e.opts.Admit; admit != nil {
			if err := admit(ctx, virtual, desired); err != nil {
				var refusal *RefusedError
				if errors.As(err, &refusal) {
					retry := k.e.opts.AdmitRetry
					if retry <= 0 {
						retry = 15 * time.Second
					}
					return reconcile.Result{RequeueAfter: retry}, k.refuse(ctx, virtual, host, hExists, refusal)
				}
				return reconcile.Result{}, fmt.Errorf("admit: %w", err)
			}
		}
		created, err := k.create(ctx, virtual, desired)
		if err != nil || created == nil {
			return reconcile.Result{}, err
		}
		host = created
	} else {
		updated, err := k.update(ctx, virtual, desired, host)
		if err != nil {
			return reconcile.Result{}, err
		}
		host = updated
	}

	r, err := k.syncer.ToVirtual(ctx, sc, virtual, host)
	if err != nil {
		return reconcile.Result{}, fmt.Errorf("to virtual: %w", err)
	}
	return reconcile.Result{RequeueAfter: r.RequeueAfter}, nil
}

func isWait(err error) bool { _, ok := IsWait(err); return ok }

// errStale marks a stale cache read; it is retried like a conflict.
var errStale = errors.New("stale cache")

func ptr64(v int64) *int64 { return &v }

func ptrUID(u types.UID) *types.UID { return &u }

// desired runs ToHost and stamps the engine's metadata on the result.
// host is the existing host copy or nil.
func (k *kind) desired(ctx context.Context, virtual, host client.Object) (client.Object, error) {
	tr := k.e.sc.Translator
	meta, err := tr.HostMeta(k.gvk.Kind, virtual)
	if err != nil {
		if errors.Is(err, translate.ErrInvalid) {
			return nil, &RefusedError{Reason: "InvalidMetadata", Message: err.Error()}
		}
		return nil, err
	}
	var desired client.Object
	if u, ok := k.syncer.(Updater); ok && host != nil {
		desired, err = u.ToHostUpdate(ctx, k.e.sc, virtual, host)
	} else {
		desired, err = k.syncer.ToHost(ctx, k.e.sc, virtual)
	}
	if err != nil {
		return nil, err
	}
	// Translated virtual labels and annotations first, then what the
	// syncer set (it may override, say, a Service name label), then the
	// ownership mark and origin, which nothing overrides.
	labels := meta.Labels
	for key, v := range desired.GetLabels() {
		labels[key] = v
	}
	labels[translate.LabelVirtualCluster] = tr.VirtualCluster()
	labels[translate.LabelNamespace] = virtual.GetNamespace()
	annotations := meta.Annotations
	for key, v := range desired.GetAnnotations() {
		annotations[key] = v
	}
	annotations[translate.AnnotationName] = virtual.GetName()
	annotations[translate.AnnotationNamespace] = virtual.GetNamespace()
	annotations[translate.AnnotationUID] = string(virtual.GetUID())
	annotations[translate.AnnotationKind] = k.gvk.Kind
	desired.SetName(meta.Name)
	desired.SetNamespace(meta.Namespace)
	desired.SetLabels(labels)
	desired.SetAnnotations(annotations)
	desired.SetUID("")
	desired.SetResourceVersion("")
	desired.SetOwnerReferences(nil)
	desired.SetFinalizers(nil)
	desired.SetManagedFields(nil)
	desired.SetGenerateName("")
	desired.SetCreationTimestamp(metav1.Time{})
	desired.SetDeletionTimestamp(nil)
	desired.SetDeletionGracePeriodSeconds(nil)
	return desired, nil
}

// create creates the host copy. A foreign object of the same name is left
// alone and reported; nil, nil means nothing was created and nothing is to
// be done now.
func (k *kind) create(ctx context.Context, virtual, desired client.Object) (client.Object, error) {
	sc := k.e.sc
	if err := stampHash(desired, k.hashSource(virtual, desired)); err != nil {
		return nil, err
	}
	obj := desired.DeepCopyObject().(client.Object)
	err := sc.Host.Create(ctx, obj, client.FieldOwner(FieldManager))
	if err == nil {
		if keys := reservedKeys(virtual); len(keys) > 0 {
			sc.Recorder.Eventf(virtual, corev1.EventTypeNormal, ReasonReservedKeys, "labels/annotations %v use the reserved domain %s; on the host they are renamed (%s) and carry no meaning", keys, translate.ReservedDomain, translate.EscapedDomain)
		}
		k.written.Store(obj.GetName(), obj.GetResourceVersion())
		k.e.metrics.synced.WithLabelValues(k.e.opts.Name, k.syncer.Name(), DirectionToHost, OpCreate).Inc()
		return obj, nil
	}
	if apierrors.IsForbidden(err) || apierrors.IsInvalid(err) {
		k.e.metrics.refused.WithLabelValues(k.e.opts.Name, k.syncer.Name(), ReasonHostRefused).Inc()
		sc.Recorder.Eventf(virtual, corev1.EventTypeWarning, ReasonHostRefused, "the host refused to create %s/%s: %v", desired.GetNamespace(), desired.GetName(), err)
	}
	if !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("create host %s: %w", desired.GetName(), err)
	}
	existing := k.syncer.New()
	if err := sc.HostReader.Get(ctx, client.ObjectKeyFromObject(desired), existing); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, errStale
		}
		return nil, fmt.Errorf("get host %s: %w", desired.GetName(), err)
	}
	if o, ok := sc.Translator.Origin(existing); ok && o.Kind == k.gvk.Kind && o.Key() == client.ObjectKeyFromObject(virtual) {
		// Ours, and the cache has not caught up yet.
		return nil, errStale
	}
	owner := translate.Owner(existing)
	if owner == "" {
		owner = "nobody (not managed by a virtual cluster)"
	} else {
		owner = "virtual cluster " + owner
	}
	msg := fmt.Sprintf("host object %s/%s already exists and belongs to %s; it is left alone", desired.GetNamespace(), desired.GetName(), owner)
	k.e.metrics.refused.WithLabelValues(k.e.opts.Name, k.syncer.Name(), ReasonNameCollision).Inc()
	sc.Recorder.Eventf(virtual, corev1.EventTypeWarning, ReasonNameCollision, "%s", msg)
	ctrl.LoggerFrom(ctx).Info("host name collision", "host", desired.GetName(), "owner", owner)
	if rh, ok := k.syncer.(RefusalHandler); ok {
		return nil, rh.Refused(ctx, sc, virtual, &RefusedError{Reason: ReasonNameCollision, Message: msg})
	}
	return nil, nil
}

// refuse records why virtual is not synced and removes a host copy that a
// previous, acceptable version of it left behind.
func (k *kind) refuse(ctx context.Context, virtual, host client.Object, hExists bool, refusal *RefusedError) error {
	sc := k.e.sc
	k.e.metrics.refused.WithLabelValues(k.e.opts.Name, k.syncer.Name(), refusal.Reason).Inc()
	sc.Recorder.Eventf(virtual, corev1.EventTypeWarning, ReasonRefused, "%s: %s", refusal.Reason, refusal.Message)
	ctrl.LoggerFrom(ctx).Info("sync refused", "reason", refusal.Reason, "message", refusal.Message)
	if hExists {
		if err := k.deleteHost(ctx, host, nil); err != nil {
			return err
		}
	}
	if rh, ok := k.syncer.(RefusalHandler); ok {
		return rh.Refused(ctx, sc, virtual, refusal)
	}
	return nil
}

func (k *kind) reconcileVirtualDeletion(ctx context.Context, virtual, host client.Object, hExists bool) (reconcile.Result, error) {
	if hExists {
		if host.GetDeletionTimestamp() == nil {
			return reconcile.Result{}, k.deleteHost(ctx, host, virtual.GetDeletionGracePeriodSeconds())
		}
		return reconcile.Result{}, nil
	}
	if f, ok := k.syncer.(VirtualFinalizer); ok {
		if err := f.FinalizeVirtual(ctx, k.e.sc, virtual); err != nil {
			return reconcile.Result{}, fmt.Errorf("finalize virtual: %w", err)
		}
	}
	return reconcile.Result{}, nil
}

// deleteHost deletes a host copy, preconditioned on its uid so a foreign
// object that replaced it is never deleted.
func (k *kind) deleteHost(ctx context.Context, host client.Object, grace *int64) error {
	opts := []client.DeleteOption{client.Preconditions{UID: ptrUID(host.GetUID())}, client.PropagationPolicy(metav1.DeletePropagationBackground)}
	if grace != nil {
		opts = append(opts, client.GracePeriodSeconds(*grace))
	}
	if err := k.e.sc.Host.Delete(ctx, host, opts...); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("delete host %s: %w", host.GetName(), err)
	}
	ctrl.LoggerFrom(ctx).V(1).Info("deleted host copy", "host", host.GetName())
	k.e.metrics.synced.WithLabelValues(k.e.opts.Name, k.syncer.Name(), DirectionToHost, OpDelete).Inc()
	return nil
}

func (k *kind) reconcileFromHost(ctx context.Context, fh FromHost, req reconcile.Request) (reconcile.Result, error) {
	host := k.syncer.New()
	if err := k.e.sc.Host.Get(ctx, req.NamespacedName, host); err != nil {
		if !apierrors.IsNotFound(err) {
			return reconcile.Result{}, fmt.Errorf("get host: %w", err)
		}
		host = nil
	}
	r, err := fh.SyncFromHost(ctx, k.e.sc, req.NamespacedName, host)
	return reconcile.Result{RequeueAfter: r.RequeueAfter}, err
}
