package syncer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/sync/translate"
)

// Syncer syncs one namespaced kind from a virtual cluster to its host
// namespace: the virtual object is the source of truth for what is asked
// (spec, labels, annotations), the host object for what is observed
// (status, allocated fields). The engine owns everything else: reading
// both sides, names and the ownership mark, creating, updating with a
// three-way merge, deleting, garbage collection, conflicts, metrics and
// events. A Syncer is used concurrently by several workers and must be safe
// for that.
//
// Optional capabilities are separate interfaces detected by type assertion:
// FromHost (and the Importer built on it), Updater, HashSource, Filter, Indexer, Watcher, Recreator, VirtualFinalizer, HostDeletion,
// RefusalHandler and PolicyUpdater.
type Syncer interface {
	// Name is the lower-case plural of the kind ("pods"). It names the
	// controller and the metric labels and must be unique in an Engine.
	Name() string
	// New returns a new, empty object of the kind. The kind must be
	// namespaced in the virtual cluster and registered in both schemes.
	New() client.Object
	// ToHost returns the host object the virtual object asks for. The
	// engine sets its name, namespace and the translated labels and
	// annotations afterwards (labels and annotations ToHost sets are kept
	// unless they collide with the engine's). Return an error wrapping
	// ErrRefused (see Refuse) to refuse the object: it is then not synced,
	// an event says why and no error is logged.
	ToHost(ctx context.Context, sc *Context, virtual client.Object) (client.Object, error)
	// ToVirtual runs after the host object is in place and up to date. It
	// copies what the host observed back to the virtual object (status,
	// allocated fields), writing with sc.Virtual, and maintains companion
	// host objects. Return a non-zero Result to be called again later.
	ToVirtual(ctx context.Context, sc *Context, virtual, host client.Object) (Result, error)
}

// Updater builds the desired host object from the existing host copy
// when there is one, for kinds whose host spec is largely immutable or
// derived from context that must not change after creation (pods: DNS
// settings, service environment variables). When a Syncer implements it,
// the engine calls ToHostUpdate instead of ToHost while a host copy exists.
type Updater interface {
	ToHostUpdate(ctx context.Context, sc *Context, virtual, host client.Object) (client.Object, error)
}

// HashSource is implemented by Updater syncers whose virtual objects carry
// fields the engine writes itself (a pod's spec.nodeName, set by the
// Binding that mirrors the host's scheduling): it returns the part of the
// virtual object whose change calls for a host update. Without it, an
// Updater's whole virtual object (metadata reduced, no status) is hashed,
// and the engine's own write would cost a host update.
type HashSource interface {
	HashSource(virtual client.Object) client.Object
}

// FromHost is implemented by syncers whose source of truth is the host
// (events, nodes). The engine watches New() objects on the host through the
// shared host cache (a kind the engine does not label must be listed in
// HostOptions.Unfiltered) and calls SyncFromHost keyed by the host object's
// namespace and name, with host nil when it is gone. ToHost and ToVirtual
// of such a syncer are never called, and its kind may be cluster-scoped
// (it is never written to the host). Watcher watches map to host keys.
type FromHost interface {
	Syncer
	SyncFromHost(ctx context.Context, sc *Context, key types.NamespacedName, host client.Object) (Result, error)
}

// Result asks the engine to reconcile an object again after a delay.
type Result struct {
	RequeueAfter time.Duration
}

// Filter decides which virtual objects are synced at all (ConfigMaps only
// when a synced pod references them). A host copy of an object that no
// longer passes is deleted.
type Filter interface {
	ShouldSync(ctx context.Context, sc *Context, virtual client.Object) (bool, error)
}

// Indexer registers field indexes on the virtual cache before it starts.
type Indexer interface {
	IndexVirtual(ctx context.Context, indexer client.FieldIndexer) error
}

// Watch is an extra source of reconcile requests: a change of Object (on
// the virtual side, or the host side when Host is true) reconciles the
// virtual objects Map returns.
type Watch struct {
	Object client.Object
	Host   bool
	Map    func(ctx context.Context, sc *Context, obj client.Object) []types.NamespacedName
}

// Watcher declares extra watches, for example the ConfigMap syncer
// watching pods so a newly referenced ConfigMap is synced.
type Watcher interface {
	Watches() []Watch
}

// Recreator marks kinds whose host copy must be deleted and created anew
// when the virtual object was replaced by one with the same name and a new
// uid (pods, whose spec is immutable). Other kinds are updated in place.
type Recreator interface {
	RecreateOnNewUID() bool
}

// VirtualFinalizer completes the deletion of a terminating virtual object
// once its host copy is gone. Pods need it: a virtual cluster has no
// kubelet to confirm their graceful deletion.
type VirtualFinalizer interface {
	FinalizeVirtual(ctx context.Context, sc *Context, virtual client.Object) error
}

// HostDeletion decides what happens when the host copy of a virtual object
// that still exists disappears. Without it the host copy is created again
// (the virtual object is the source of truth). When DeleteVirtual returns
// true the virtual object is deleted instead (a pod evicted on the host).
type HostDeletion interface {
	DeleteVirtual(ctx context.Context, sc *Context, virtual client.Object) bool
}

// RefusalHandler is told when an object is refused, after the event is
// recorded, for example to set a condition on it.
type RefusalHandler interface {
	Refused(ctx context.Context, sc *Context, virtual client.Object, refusal *RefusedError) error
}

// ErrRefused is wrapped by errors that refuse a virtual object.
var ErrRefused = errors.New("sync refused")

// RefusedError says why a virtual object is not synced. Reason is a
// CamelCase event reason, Message a sentence for humans.
type RefusedError struct {
	Reason  string
	Message string
}

func (e *RefusedError) Error() string { return fmt.Sprintf("%s: %s", e.Reason, e.Message) }

// Unwrap makes errors.Is(err, ErrRefused) true.
func (e *RefusedError) Unwrap() error { return ErrRefused }

// Refuse returns a *RefusedError.
func Refuse(reason, format string, args ...any) error {
	return &RefusedError{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// Context is what a Syncer gets to work with. It is shared by all workers
// of an Engine; everything in it is safe for concurrent use.
type Context struct {
	// Translator is bound to this virtual cluster and host namespace.
	Translator *translate.Translator
	// Virtual reads from the virtual cluster's cache and writes to its API.
	Virtual client.Client
	// VirtualReader reads the virtual API without a cache.
	VirtualReader client.Reader
	// VirtualConfig is the virtual cluster's client configuration.
	VirtualConfig *rest.Config
	// Host reads from the shared host cache (only objects carrying the
	// managed label) and writes to the host API.
	Host client.Client
	// HostReader reads the host API without a cache.
	HostReader client.Reader
	// Recorder records events on virtual objects.
	Recorder EventRecorder
	// Kubelet is Options.Kubelet: where the virtual cluster's kubelet API
	// is served, or nil. Read only.
	Kubelet *KubeletEndpoint

	metrics *metrics
}

// Count records a write a syncer made itself (FromHost syncers, companion
// objects) in vclusterkit_sync_objects_total. direction is DirectionToHost
// or DirectionToVirtual, op OpCreate, OpUpdate or OpDelete.
func (sc *Context) Count(kind, direction, op string) {
	if sc.metrics != nil {
		sc.metrics.synced.WithLabelValues(sc.Translator.VirtualCluster(), kind, direction, op).Inc()
	}
}

// EventRecorder records an event on a virtual object.
type EventRecorder interface {
	Eventf(obj client.Object, eventType, reason, messageFmt string, args ...any)
}
