package persistentvolumeclaims

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/sync/syncer"
)

// ReasonInvalid refuses a claim.
const ReasonInvalid = "InvalidPersistentVolumeClaim"

// Options configure the claim syncer.
type Options struct {
	// AllowedStorageClasses limits storage classes; empty allows all.
	AllowedStorageClasses []string
}

// Syncer syncs PersistentVolumeClaims to the host; status flows back.
type Syncer struct{ opts Options }

var (
	_ syncer.Syncer  = (*Syncer)(nil)
	_ syncer.Updater = (*Syncer)(nil)
)

// New returns a claim syncer.
func New(opts Options) *Syncer { return &Syncer{opts: opts} }

// Name implements syncer.Syncer.
func (*Syncer) Name() string { return "persistentvolumeclaims" }

// New implements syncer.Syncer.
func (*Syncer) New() client.Object { return &corev1.PersistentVolumeClaim{} }

// ToHost implements syncer.Syncer.
func (s *Syncer) ToHost(_ context.Context, sc *syncer.Context, obj client.Object) (client.Object, error) {
	h, err := ToHostPVC(sc.Translator, obj.(*corev1.PersistentVolumeClaim), s.opts.AllowedStorageClasses)
	if err != nil {
		return nil, syncer.Refuse(ReasonInvalid, "%v", err)
	}
	return h, nil
}

// ToHostUpdate implements syncer.Updater: a claim's spec is immutable but
// for its requests (expansion) and volume attributes class; the host's
// binding (volumeName) is kept.
func (s *Syncer) ToHostUpdate(_ context.Context, _ *syncer.Context, obj, hostObj client.Object) (client.Object, error) {
	v, h := obj.(*corev1.PersistentVolumeClaim), hostObj.(*corev1.PersistentVolumeClaim)
	d := &corev1.PersistentVolumeClaim{Spec: *h.Spec.DeepCopy()}
	d.Spec.Resources = *v.Spec.Resources.DeepCopy()
	d.Spec.VolumeAttributesClassName = v.Spec.VolumeAttributesClassName
	return d, nil
}

// ToVirtual implements syncer.Syncer: phase, capacity, access modes and
// conditions flow back.
func (*Syncer) ToVirtual(ctx context.Context, sc *syncer.Context, obj, hostObj client.Object) (syncer.Result, error) {
	v, h := obj.(*corev1.PersistentVolumeClaim), hostObj.(*corev1.PersistentVolumeClaim)
	if h.Status.Phase == "" || equality.Semantic.DeepEqual(v.Status, h.Status) {
		return syncer.Result{}, nil
	}
	nv := v.DeepCopy()
	nv.Status = *h.Status.DeepCopy()
	if err := sc.Virtual.Status().Update(ctx, nv); err != nil {
		return syncer.Result{}, fmt.Errorf("update virtual status: %w", err)
	}
	return syncer.Result{}, nil
}
