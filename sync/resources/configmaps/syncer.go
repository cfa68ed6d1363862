package configmaps

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/sync/resources/internal/refs"
	"github.com/vclusterkit/vclusterkit/sync/syncer"
)

// Options configure the ConfigMap syncer.
type Options struct {
	// All syncs every ConfigMap, not only those pods reference.
	All bool
}

// Syncer syncs ConfigMaps to the host. The zero value is not usable; use
// New.
type Syncer struct{ opts Options }

var (
	_ syncer.Syncer  = (*Syncer)(nil)
	_ syncer.Filter  = (*Syncer)(nil)
	_ syncer.Indexer = (*Syncer)(nil)
	_ syncer.Watcher = (*Syncer)(nil)
)

// New returns a ConfigMap syncer.
func New(opts Options) *Syncer { return &Syncer{opts: opts} }

// Name implements syncer.Syncer.
func (*Syncer) Name() string { return "configmaps" }

// New implements syncer.Syncer.
func (*Syncer) New() client.Object { return &corev1.ConfigMap{} }

// ShouldSync implements syncer.Filter: with Options.All unset, only
// ConfigMaps a pod of the same namespace references are synced; a host copy
// no pod needs any more is deleted.
func (s *Syncer) ShouldSync(ctx context.Context, sc *syncer.Context, obj client.Object) (bool, error) {
	if s.opts.All {
		return true, nil
	}
	return refs.Referenced(ctx, sc.Virtual, refs.ConfigMaps, obj.GetNamespace(), obj.GetName())
}

// IndexVirtual implements syncer.Indexer.
func (s *Syncer) IndexVirtual(ctx context.Context, ix client.FieldIndexer) error {
	return refs.Index(ctx, ix, refs.ConfigMaps)
}

// Watches implements syncer.Watcher: a pod change reconciles the
// ConfigMaps it references.
func (s *Syncer) Watches() []syncer.Watch { return []syncer.Watch{refs.Watch(refs.ConfigMaps)} }

// ToHost implements syncer.Syncer.
func (*Syncer) ToHost(_ context.Context, _ *syncer.Context, obj client.Object) (client.Object, error) {
	return ToHost(obj.(*corev1.ConfigMap)), nil
}

// ToHost returns the content of the host copy of a virtual ConfigMap.
func ToHost(v *corev1.ConfigMap) *corev1.ConfigMap {
	return &corev1.ConfigMap{Data: v.Data, BinaryData: v.BinaryData, Immutable: v.Immutable}
}

// ToVirtual implements syncer.Syncer; nothing flows back.
func (*Syncer) ToVirtual(context.Context, *syncer.Context, client.Object, client.Object) (syncer.Result, error) {
	return syncer.Result{}, nil
}
