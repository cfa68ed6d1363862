package persistentvolumeclaims

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/sync/syncer"
)

// Event and refusal reasons.
const (
	// ReasonInvalid refuses a claim.
	ReasonInvalid = "InvalidPersistentVolumeClaim"
	// ReasonPolicyViolation is the warning on a claim synced before the
	// tenant's policy stopped allowing its storage class; the claim and
	// its volume are kept.
	ReasonPolicyViolation = "PolicyViolation"
)

// Options configure the claim syncer.
type Options struct {
	// AllowedStorageClasses limits storage classes; empty allows all.
	// UpdatePolicy replaces it at run time.
	AllowedStorageClasses []string
}

// Syncer syncs PersistentVolumeClaims to the host; status flows back.
type Syncer struct {
	// allowed is the current AllowedStorageClasses (nil: all).
	allowed syncer.AllowedNames
}

var (
	_ syncer.Syncer        = (*Syncer)(nil)
	_ syncer.Updater       = (*Syncer)(nil)
	_ syncer.PolicyUpdater = (*Syncer)(nil)
)

// New returns a claim syncer.
func New(opts Options) *Syncer {
	s := &Syncer{}
	s.allowed.Set(opts.AllowedStorageClasses)
	return s
}

// UpdatePolicy implements syncer.PolicyUpdater: the allowed storage
// classes are replaced. A claim not on the host yet (refused before) is
// checked again; a claim already on the host is kept, with its volume and
// data, and gets a PolicyViolation warning event when its class is no
// longer allowed.
func (s *Syncer) UpdatePolicy(p syncer.Policy) bool {
	return s.allowed.Set(p.AllowedStorageClasses)
}

// Name implements syncer.Syncer.
func (*Syncer) Name() string { return "persistentvolumeclaims" }

// New implements syncer.Syncer.
func (*Syncer) New() client.Object { return &corev1.PersistentVolumeClaim{} }

// ToHost implements syncer.Syncer.
func (s *Syncer) ToHost(_ context.Context, sc *syncer.Context, obj client.Object) (client.Object, error) {
	h, err := ToHostPVC(sc.Translator, obj.(*corev1.PersistentVolumeClaim), s.allowed.Get())
	if err != nil {
		return nil, syncer.Refuse(ReasonInvalid, "%v", err)
	}
	return h, nil
}

// ToHostUpdate implements syncer.Updater: a claim's spec is immutable but
// for its requests (expansion) and volume attributes class; the host's
// binding (volumeName) is kept. A claim whose storage class the tenant's
// policy no longer allows is kept (deleting it would delete data) and
// warned about.
func (s *Syncer) ToHostUpdate(_ context.Context, sc *syncer.Context, obj, hostObj client.Object) (client.Object, error) {
	v, h := obj.(*corev1.PersistentVolumeClaim), hostObj.(*corev1.PersistentVolumeClaim)
	if allowed := s.allowed.Get(); len(allowed) > 0 {
		class := ""
		if h.Spec.StorageClassName != nil {
			class = *h.Spec.StorageClassName
		}
		if !slices.Contains(allowed, class) {
			sc.Recorder.Eventf(v, corev1.EventTypeWarning, ReasonPolicyViolation,
				"spec.storageClassName: storage class %q is no longer allowed (allowed: %v); the claim and its volume are kept, new claims of this class are refused", class, allowed)
		}
	}
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
