// Package refs keeps track of which virtual objects synced pods reference,
// for the syncers that sync ConfigMaps, Secrets and PVCs only when a pod
// needs them.
package refs

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/sync/resources/pods"
	"github.com/vclusterkit/vclusterkit/sync/syncer"
)

// Kind selects which references of a pod an index holds.
type Kind int

// Reference kinds.
const (
	ConfigMaps Kind = iota
	Secrets
	PVCs
)

func (k Kind) index() string {
	return [...]string{"vclusterkit.io/pod-configmaps", "vclusterkit.io/pod-secrets", "vclusterkit.io/pod-pvcs"}[k]
}

// Names returns the names of kind a pod references.
func (k Kind) Names(p *corev1.Pod) []string {
	cms, secs, pvcs := pods.References(p)
	return [][]string{cms, secs, pvcs}[k]
}

// Index registers the pod index for kind.
func Index(ctx context.Context, ix client.FieldIndexer, k Kind) error {
	return ix.IndexField(ctx, &corev1.Pod{}, k.index(), func(o client.Object) []string { return k.Names(o.(*corev1.Pod)) })
}

// Referenced reports whether a virtual pod in ns references name.
func Referenced(ctx context.Context, c client.Reader, k Kind, ns, name string) (bool, error) {
	var l corev1.PodList
	if err := c.List(ctx, &l, client.InNamespace(ns), client.MatchingFields{k.index(): name}); err != nil {
		return false, fmt.Errorf("list pods referencing %s/%s: %w", ns, name, err)
	}
	return len(l.Items) > 0, nil
}

// Watch returns the engine watch that reconciles the objects a pod
// references when the pod changes (or goes).
func Watch(k Kind) syncer.Watch {
	return syncer.Watch{
		Object: &corev1.Pod{},
		Map: func(_ context.Context, _ *syncer.Context, obj client.Object) []types.NamespacedName {
			p, ok := obj.(*corev1.Pod)
			if !ok {
				return nil
			}
			var out []types.NamespacedName
			for _, n := range k.Names(p) {
				out = append(out, types.NamespacedName{Namespace: p.Namespace, Name: n})
			}
			return out
		},
	}
}
