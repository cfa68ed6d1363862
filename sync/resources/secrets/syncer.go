package secrets

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/sync/resources/internal/refs"
	"github.com/vclusterkit/vclusterkit/sync/syncer"
)

// Options configure the Secret syncer.
type Options struct {
	// All syncs every Secret, not only those pods reference.
	All bool
}

// Syncer syncs Secrets to the host. Use New.
type Syncer struct{ opts Options }

var (
	_ syncer.Syncer  = (*Syncer)(nil)
	_ syncer.Filter  = (*Syncer)(nil)
	_ syncer.Indexer = (*Syncer)(nil)
	_ syncer.Watcher = (*Syncer)(nil)
)

// New returns a Secret syncer.
func New(opts Options) *Syncer { return &Syncer{opts: opts} }

// Name implements syncer.Syncer.
func (*Syncer) Name() string { return "secrets" }

// New implements syncer.Syncer.
func (*Syncer) New() client.Object { return &corev1.Secret{} }

// ShouldSync implements syncer.Filter: only Secrets a pod of the same
// namespace references (volumes, env, image pull secrets) unless
// Options.All.
func (s *Syncer) ShouldSync(ctx context.Context, sc *syncer.Context, obj client.Object) (bool, error) {
	if s.opts.All {
		return true, nil
	}
	return refs.Referenced(ctx, sc.Virtual, refs.Secrets, obj.GetNamespace(), obj.GetName())
}

// IndexVirtual implements syncer.Indexer.
func (s *Syncer) IndexVirtual(ctx context.Context, ix client.FieldIndexer) error {
	return refs.Index(ctx, ix, refs.Secrets)
}

// Watches implements syncer.Watcher.
func (s *Syncer) Watches() []syncer.Watch { return []syncer.Watch{refs.Watch(refs.Secrets)} }

// ToHost implements syncer.Syncer.
func (*Syncer) ToHost(_ context.Context, _ *syncer.Context, obj client.Object) (client.Object, error) {
	return ToHost(obj.(*corev1.Secret)), nil
}

// ToHost returns the content of the host copy of a virtual Secret.
// Service account token Secrets become Opaque on the host, so the host's
// token controller never acts on a tenant's Secret.
func ToHost(v *corev1.Secret) *corev1.Secret {
	t := v.Type
	if t == corev1.SecretTypeServiceAccountToken {
		t = corev1.SecretTypeOpaque
	}
	return &corev1.Secret{Data: v.Data, Type: t, Immutable: v.Immutable}
}

// ToVirtual implements syncer.Syncer; nothing flows back.
func (*Syncer) ToVirtual(context.Context, *syncer.Context, client.Object, client.Object) (syncer.Result, error) {
	return syncer.Result{}, nil
}
