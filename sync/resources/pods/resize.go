package pods

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/vclusterkit/vclusterkit/sync/syncer"
)

// ReasonResizeRefused is the event reason (and the reason of the virtual
// pod's PodResizePending condition) when the host refuses an in-place
// resize, typically because it would exceed the tenant's quota.
const ReasonResizeRefused = "ResizeRefused"

// resize carries an in-place resize of the virtual pod (a change of its
// containers' resources through pods/resize) to the host pod, through the
// host's own pods/resize subresource, where quota admission charges the
// increase. It returns the refusal when the host says no (quota, a
// LimitRange maximum, an invalid change), nil when there is nothing to do
// or the host took it.
//
// Only what the virtual pod itself names is carried: for every resource a
// virtual container requests or limits, the host container must hold the
// same quantity. Resources the virtual pod leaves out belong to the host,
// which fills them in from its LimitRange defaults when it creates the
// host pod; they are never taken away again (a resize cannot remove a
// request or a limit anyway). So a host pod that differs from its virtual
// pod only by defaults is in sync, and is not resized.
func (s *Syncer) resize(ctx context.Context, sc *syncer.Context, v, h *corev1.Pod) (refused error, err error) {
	if h.DeletionTimestamp != nil || h.Status.Phase == corev1.PodSucceeded || h.Status.Phase == corev1.PodFailed {
		return nil, nil
	}
	want := h.DeepCopy()
	changed := copyResources(want.Spec.Containers, v.Spec.Containers, false)
	// Sidecars (restartable init containers) can be resized too.
	if copyResources(want.Spec.InitContainers, v.Spec.InitContainers, true) {
		changed = true
	}
	if !changed {
		return nil, nil
	}
	err = sc.Host.SubResource("resize").Update(ctx, want)
	switch {
	case err == nil:
		return nil, nil
	case apierrors.IsForbidden(err) || apierrors.IsInvalid(err) || apierrors.IsBadRequest(err):
		sc.Recorder.Eventf(v, corev1.EventTypeWarning, ReasonResizeRefused, "in-place resize refused by the host: %v", err)
		return err, nil
	default:
		return nil, fmt.Errorf("resize host pod: %w", err)
	}
}

// copyResources sets, in the containers of dst, every request and limit
// that the same-named container of src names (only restartable ones when
// sidecars), and reports whether anything changed. Quantities are compared
// by value; requests and limits src does not name are left as dst has
// them (host defaults).
func copyResources(dst, src []corev1.Container, sidecars bool) bool {
	changed := false
	for i := range dst {
		if sidecars && (dst[i].RestartPolicy == nil || *dst[i].RestartPolicy != corev1.ContainerRestartPolicyAlways) {
			continue
		}
		for _, c := range src {
			if c.Name != dst[i].Name {
				continue
			}
			if setNamed(&dst[i].Resources.Requests, c.Resources.Requests) {
				changed = true
			}
			if setNamed(&dst[i].Resources.Limits, c.Resources.Limits) {
				changed = true
			}
		}
	}
	return changed
}

// setNamed sets in *dst every quantity of src that *dst lacks or holds
// with another value, reporting whether it changed anything.
func setNamed(dst *corev1.ResourceList, src corev1.ResourceList) bool {
	changed := false
	for name, q := range src {
		if have, ok := (*dst)[name]; ok && have.Cmp(q) == 0 {
			continue
		}
		if *dst == nil {
			*dst = corev1.ResourceList{}
		}
		(*dst)[name] = q.DeepCopy()
		changed = true
	}
	return changed
}

// virtualStatus is the status the virtual pod should show: the host pod's,
// plus, while the host refuses a resize, a PodResizePending condition
// (reason ResizeRefused) carrying why, as the kubelet reports a resize it
// cannot do, and, while violation is not empty, a PolicyViolation
// condition saying it. The QoS class stays the virtual pod's own: it is
// immutable, and the host's may differ (a pod without requests is
// BestEffort in the virtual cluster and Burstable on a host whose
// LimitRange gives it defaults). Conditions that stand keep their
// transition time, so the status does not change on every reconcile.
func virtualStatus(h *corev1.Pod, v *corev1.Pod, refused error, violation string) corev1.PodStatus {
	st := *h.Status.DeepCopy()
	st.QOSClass = v.Status.QOSClass
	if refused != nil {
		st.Conditions = setCondition(st.Conditions, v.Status.Conditions, corev1.PodCondition{
			Type: corev1.PodResizePending, Status: corev1.ConditionTrue, Reason: ReasonResizeRefused, Message: refused.Error()})
	}
	if violation != "" {
		st.Conditions = setCondition(st.Conditions, v.Status.Conditions, corev1.PodCondition{
			Type: ConditionPolicyViolation, Status: corev1.ConditionTrue, Reason: ReasonPolicyViolation, Message: violation})
	}
	return st
}
