package pods

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/vclusterkit/vclusterkit/sync/syncer"
)

// Ephemeral containers (kubectl debug) of a running pod.
const (
	// ReasonEphemeralContainerRefused is the event reason and the reason
	// of the EphemeralContainerRefused condition: an ephemeral container
	// added inside the virtual cluster that the tenant's Pod Security
	// Standard (or translation) does not allow never reaches the host.
	ReasonEphemeralContainerRefused = "EphemeralContainerRefused"
	// ConditionEphemeralContainerRefused (status True) says which ephemeral
	// containers were refused and why.
	ConditionEphemeralContainerRefused corev1.PodConditionType = "EphemeralContainerRefused"
)

// syncEphemeral adds the virtual pod's ephemeral containers that the host
// pod lacks to it, through the host's ephemeralcontainers subresource,
// once the host pod with them passes the tenant's Pod Security Standard,
// exactly as a pod is checked before it reaches the host. It returns why
// containers were refused, or "".
func (s *Syncer) syncEphemeral(ctx context.Context, sc *syncer.Context, v, h *corev1.Pod) (string, error) {
	have := map[string]bool{}
	for _, c := range h.Spec.EphemeralContainers {
		have[c.Name] = true
	}
	var add []corev1.EphemeralContainer
	var names []string
	for i, ec := range v.Spec.EphemeralContainers {
		if have[ec.Name] {
			continue
		}
		c := corev1.Container(*ec.EphemeralContainerCommon.DeepCopy())
		if err := translateContainer(sc.Translator, v.Namespace, &c, nil); err != nil {
			return fmt.Sprintf("ephemeral container %q refused: %s: %v", ec.Name, field.NewPath("spec", "ephemeralContainers").Index(i), err), nil
		}
		add = append(add, corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon(c), TargetContainerName: ec.TargetContainerName})
		names = append(names, ec.Name)
	}
	if len(add) == 0 || h.DeletionTimestamp != nil {
		return "", nil
	}
	nh := h.DeepCopy()
	nh.Spec.EphemeralContainers = append(nh.Spec.EphemeralContainers, add...)
	if err := s.checkSecurity(s.policy.Load(), v, nh); err != nil {
		return fmt.Sprintf("ephemeral container %s refused: %v", strings.Join(names, ", "), err), nil
	}
	if err := sc.Host.SubResource("ephemeralcontainers").Update(ctx, nh); err != nil {
		return "", fmt.Errorf("add ephemeral containers %s to the host pod: %w", strings.Join(names, ", "), err)
	}
	return "", nil
}

// ephemeralStatus adds the EphemeralContainerRefused condition to want
// when refused is set.
func ephemeralStatus(want *corev1.PodStatus, prev []corev1.PodCondition, refused string) {
	if refused == "" {
		return
	}
	want.Conditions = setCondition(want.Conditions, prev, corev1.PodCondition{
		Type: ConditionEphemeralContainerRefused, Status: corev1.ConditionTrue, Reason: ReasonEphemeralContainerRefused, Message: refused})
}
