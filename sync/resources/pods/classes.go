package pods

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// CheckClasses reports whether p's runtime and priority classes are among
// the allowed ones (an empty list allows all; a pod that names no class is
// always allowed). The error names each offending field and its allowed
// list, as in `spec.runtimeClassName: "kata" is not allowed (allowed:
// [gvisor])`.
func CheckClasses(p *corev1.Pod, allowedRuntimeClasses, allowedPriorityClasses []string) error {
	spec := field.NewPath("spec")
	var msgs []string
	if p.Spec.RuntimeClassName != nil && *p.Spec.RuntimeClassName != "" && len(allowedRuntimeClasses) > 0 &&
		!slices.Contains(allowedRuntimeClasses, *p.Spec.RuntimeClassName) {
		msgs = append(msgs, fmt.Sprintf("%s: %q is not allowed (allowed: %v)", spec.Child("runtimeClassName"), *p.Spec.RuntimeClassName, allowedRuntimeClasses))
	}
	if p.Spec.PriorityClassName != "" && len(allowedPriorityClasses) > 0 && !slices.Contains(allowedPriorityClasses, p.Spec.PriorityClassName) {
		msgs = append(msgs, fmt.Sprintf("%s: %q is not allowed (allowed: %v)", spec.Child("priorityClassName"), p.Spec.PriorityClassName, allowedPriorityClasses))
	}
	if len(msgs) == 0 {
		return nil
	}
	return errors.New(strings.Join(msgs, "; "))
}
