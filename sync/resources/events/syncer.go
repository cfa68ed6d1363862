package events

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/sync/syncer"
)

// Syncer copies host events about synced objects (pods, services,
// persistent volume claims) into the virtual cluster. Host Events must be
// cached unfiltered: list &corev1.Event{} in syncer.HostOptions.Unfiltered.
type Syncer struct{}

var _ syncer.FromHost = (*Syncer)(nil)

// New returns an Event syncer.
func New() *Syncer { return &Syncer{} }

// Name implements syncer.Syncer.
func (*Syncer) Name() string { return "events" }

// New implements syncer.Syncer.
func (*Syncer) New() client.Object { return &corev1.Event{} }

// ToHost is never called for a FromHost syncer.
func (*Syncer) ToHost(context.Context, *syncer.Context, client.Object) (client.Object, error) {
	return nil, syncer.Refuse("NotSupported", "events are never written to the host")
}

// ToVirtual is never called for a FromHost syncer.
func (*Syncer) ToVirtual(context.Context, *syncer.Context, client.Object, client.Object) (syncer.Result, error) {
	return syncer.Result{}, nil
}

// involved returns an empty object of the involved kind, for the kinds
// whose events are copied.
func involved(kind string) client.Object {
	switch kind {
	case "Pod":
		return &corev1.Pod{}
	case "Service":
		return &corev1.Service{}
	case "PersistentVolumeClaim":
		return &corev1.PersistentVolumeClaim{}
	}
	return nil
}

// SyncFromHost implements syncer.FromHost. Only events in this virtual
// cluster's host namespace about an object it manages are copied; the
// virtual copy is created once and its count and timestamps updated.
func (s *Syncer) SyncFromHost(ctx context.Context, sc *syncer.Context, key types.NamespacedName, hostObj client.Object) (syncer.Result, error) {
	if hostObj == nil || key.Namespace != sc.Translator.HostNamespace() {
		return syncer.Result{}, nil
	}
	h := hostObj.(*corev1.Event)
	obj := involved(h.InvolvedObject.Kind)
	if obj == nil || h.InvolvedObject.Namespace != key.Namespace {
		return syncer.Result{}, nil
	}
	if err := sc.Host.Get(ctx, types.NamespacedName{Namespace: key.Namespace, Name: h.InvolvedObject.Name}, obj); err != nil {
		// Not a managed object (the host cache only holds those) or gone.
		return syncer.Result{}, client.IgnoreNotFound(err)
	}
	o, ok := sc.Translator.Origin(obj)
	if !ok || o.Kind != h.InvolvedObject.Kind || (h.InvolvedObject.UID != "" && h.InvolvedObject.UID != obj.GetUID()) {
		return syncer.Result{}, nil
	}
	want := ToVirtualEvent(h, o, obj.GetName(), key.Namespace)
	cur := &corev1.Event{}
	err := sc.Virtual.Get(ctx, client.ObjectKeyFromObject(want), cur)
	switch {
	case apierrors.IsNotFound(err):
		if err := sc.Virtual.Create(ctx, want); err != nil && !apierrors.IsAlreadyExists(err) {
			if apierrors.IsNotFound(err) || apierrors.IsForbidden(err) {
				return syncer.Result{}, nil // namespace gone or terminating
			}
			return syncer.Result{}, fmt.Errorf("create virtual event: %w", err)
		}
		sc.Count(s.Name(), syncer.DirectionToVirtual, syncer.OpCreate)
	case err != nil:
		return syncer.Result{}, err
	case cur.Count != want.Count || !cur.LastTimestamp.Equal(&want.LastTimestamp) || cur.Message != want.Message:
		cur.Count, cur.LastTimestamp, cur.Message, cur.Series = want.Count, want.LastTimestamp, want.Message, h.Series
		if err := sc.Virtual.Update(ctx, cur); err != nil {
			return syncer.Result{}, err
		}
		sc.Count(s.Name(), syncer.DirectionToVirtual, syncer.OpUpdate)
	}
	return syncer.Result{}, nil
}
