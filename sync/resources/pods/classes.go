package pods

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// SystemPriorityClassPrefix starts the names of the priority classes
// Kubernetes reserves for itself (system-node-critical,
// system-cluster-critical). Pods of those classes preempt other tenants'
// pods and the host's own, so a tenant gets them only when its policy
// lists them by name.
const SystemPriorityClassPrefix = "system-"

// CheckClasses reports whether p's runtime and priority classes are among
// the allowed ones. A pod that names no class is always allowed. An empty
// runtime list allows every runtime class; an empty priority list allows
// every priority class but the system ones (SystemPriorityClassPrefix),
// which must be listed. The error names each offending field and its
// allowed list, as in `spec.runtimeClassName: "kata" is not allowed
// (allowed: [gvisor])`.
//
// A refused class refuses the pod (it is not synced, and says why) rather
// than being dropped from the host copy: a pod that runs with another
// priority than it asked for would be evicted first under pressure
// without anybody having been told.
func CheckClasses(p *corev1.Pod, allowedRuntimeClasses, allowedPriorityClasses []string) error {
	spec := field.NewPath("spec")
	var msgs []string
	if p.Spec.RuntimeClassName != nil && *p.Spec.RuntimeClassName != "" && len(allowedRuntimeClasses) > 0 &&
		!slices.Contains(allowedRuntimeClasses, *p.Spec.RuntimeClassName) {
		msgs = append(msgs, fmt.Sprintf("%s: %q is not allowed (allowed: %v)", spec.Child("runtimeClassName"), *p.Spec.RuntimeClassName, allowedRuntimeClasses))
	}
	switch pc := p.Spec.PriorityClassName; {
	case pc == "":
	case len(allowedPriorityClasses) > 0:
		if !slices.Contains(allowedPriorityClasses, pc) {
			msgs = append(msgs, fmt.Sprintf("%s: %q is not allowed (allowed: %v)", spec.Child("priorityClassName"), pc, allowedPriorityClasses))
		}
	case strings.HasPrefix(pc, SystemPriorityClassPrefix):
		msgs = append(msgs, fmt.Sprintf("%s: %q is not allowed (system priority classes only when the tenant's policy lists them)", spec.Child("priorityClassName"), pc))
	}
	if len(msgs) == 0 {
		return nil
	}
	return errors.New(strings.Join(msgs, "; "))
}
