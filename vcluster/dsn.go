package vcluster

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// SecretReader reads Secrets; a controller-runtime client.Reader is one.
// +kubebuilder:object:generate=false
type SecretReader interface {
	Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error
}

// ResolveDSN reads the backing store DSN the VirtualCluster references
// (a Secret in the VirtualCluster's own namespace) and validates it with
// ValidateDSN. It returns "" when no DSN is referenced and none is needed.
// A missing Secret, a missing key, an empty value or a malformed DSN is an
// error wrapping ErrInvalidDSN and naming the field.
func ResolveDSN(ctx context.Context, r SecretReader, vc *VirtualCluster) (string, error) {
	bs := vc.Spec.BackingStore
	ref := bs.DSNSecretRef
	if ref == nil {
		if err := ValidateDSN(vc.EffectiveBackingStore(), ""); err != nil {
			return "", fmt.Errorf("spec.backingStore.dsnSecretRef: %w", err)
		}
		return "", nil
	}
	var s corev1.Secret
	if err := r.Get(ctx, client.ObjectKey{Namespace: vc.Namespace, Name: ref.Name}, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return "", fmt.Errorf("spec.backingStore.dsnSecretRef: %w: Secret %s/%s not found", ErrInvalidDSN, vc.Namespace, ref.Name)
		}
		return "", fmt.Errorf("spec.backingStore.dsnSecretRef: reading Secret %s/%s: %w", vc.Namespace, ref.Name, err)
	}
	v, ok := s.Data[ref.Key]
	if !ok || len(v) == 0 {
		return "", fmt.Errorf("spec.backingStore.dsnSecretRef.key: %w: Secret %s/%s has no key %q", ErrInvalidDSN, vc.Namespace, ref.Name, ref.Key)
	}
	if err := ValidateDSN(vc.EffectiveBackingStore(), string(v)); err != nil {
		return "", fmt.Errorf("spec.backingStore.dsnSecretRef: %w", err)
	}
	return string(v), nil
}

// VirtualClusterLister lists VirtualClusters; a controller-runtime
// client.Reader is one.
// +kubebuilder:object:generate=false
type VirtualClusterLister interface {
	List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error
}

// CheckClaim returns an error wrapping ErrConflict when another
// VirtualCluster (a different object) already claims the same host
// namespace and name. Of two claimants the older one (by creation time, then
// namespace) keeps the claim, so both sides agree.
func CheckClaim(ctx context.Context, l VirtualClusterLister, vc *VirtualCluster) error {
	var list VirtualClusterList
	if err := l.List(ctx, &list); err != nil {
		return fmt.Errorf("listing VirtualClusters: %w", err)
	}
	for i := range list.Items {
		o := &list.Items[i]
		if o.Namespace == vc.Namespace && o.Name == vc.Name {
			continue
		}
		if o.Name != vc.Name || o.EffectiveHostNamespace() != vc.EffectiveHostNamespace() {
			continue
		}
		if older(o, vc) {
			return fmt.Errorf("%w: host namespace %q and name %q are already claimed by VirtualCluster %s/%s",
				ErrConflict, vc.EffectiveHostNamespace(), vc.Name, o.Namespace, o.Name)
		}
	}
	return nil
}

func older(a, b *VirtualCluster) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Namespace < b.Namespace
}

// NewRequest validates vc, resolves its DSN and returns a Request ready for
// Provision. Invalid specs return the field errors as one error.
func NewRequest(ctx context.Context, r SecretReader, vc *VirtualCluster) (Request, error) {
	if errs := Validate(vc); len(errs) > 0 {
		return Request{}, errs.ToAggregate()
	}
	dsn, err := ResolveDSN(ctx, r, vc)
	if err != nil {
		return Request{}, err
	}
	return Request{Cluster: vc, BackingStoreDSN: dsn}, nil
}
