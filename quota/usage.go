package quota

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"
	resourcehelper "k8s.io/component-helpers/resource"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

// ResourceCountPods is the object-count quota key for pods.
const ResourceCountPods corev1.ResourceName = "count/pods"

// PodUsage is what a pod is charged, with the keys ResourceQuota uses: pods and
// count/pods (1 each), requests.X and X (the request), limits.X. The totals are the
// API server's own (k8s.io/component-helpers resource.PodRequests and PodLimits, as the
// ResourceQuota evaluator computes them): regular and restartable init containers add
// up, a plain init container counts when it is larger, pod-level resources
// (spec.resources) replace the containers' cpu and memory, overhead is added (to limits
// only where a limit is set); and during an in-place resize the pod is charged the
// largest of its spec, allocated and actuated totals (status), so a shrink frees quota
// only once the kubelet has applied it, and a grow is charged as soon as it is asked
// for.
//
// Before that, the pod is defaulted as the API server would do it: a container (or the
// pod level) with a limit but no request gets the limit as its request, and containers
// without a request or limit get the LimitRange defaults (defaults may be nil), so a
// pod charged here before it is created (the syncer's in-process admission) is charged
// what it will be charged once it exists. Pods in a terminal phase are charged nothing,
// as ResourceQuota does for compute resources.
func PodUsage(pod *corev1.Pod, defaults *tenancy.LimitRangeDefaults) corev1.ResourceList {
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return corev1.ResourceList{}
	}
	p := defaultedPod(pod, defaults)
	opts := resourcehelper.PodResourcesOptions{UseStatusResources: true, InPlacePodLevelResourcesVerticalScalingEnabled: true}
	reqs := resourcehelper.PodRequests(p, opts)
	lims := resourcehelper.PodLimits(p, opts)

	out := corev1.ResourceList{
		corev1.ResourcePods: resource.MustParse("1"),
		ResourceCountPods:   resource.MustParse("1"),
	}
	for k, v := range reqs {
		out["requests."+k] = v
		if k == corev1.ResourceCPU || k == corev1.ResourceMemory || k == corev1.ResourceEphemeralStorage {
			out[k] = v.DeepCopy()
		}
	}
	for k, v := range lims {
		out["limits."+k] = v
	}
	return out
}

// defaultedPod is pod (a copy when anything changes) with API defaulting and LimitRanger
// applied to its resources: limit-without-request becomes the request, then the
// LimitRange default limits and default requests (which default to the default
// limits) fill what is unset.
func defaultedPod(pod *corev1.Pod, defaults *tenancy.LimitRangeDefaults) *corev1.Pod {
	p := pod.DeepCopy()
	fill := func(r *corev1.ResourceRequirements, lrDefaults bool) {
		if r.Requests == nil {
			r.Requests = corev1.ResourceList{}
		}
		if r.Limits == nil {
			r.Limits = corev1.ResourceList{}
		}
		for k, v := range r.Limits {
			if _, ok := r.Requests[k]; !ok {
				r.Requests[k] = v.DeepCopy()
			}
		}
		if lrDefaults && defaults != nil {
			for k, v := range defaults.Default {
				if _, ok := r.Limits[k]; !ok {
					r.Limits[k] = v.DeepCopy()
				}
			}
			for _, src := range []corev1.ResourceList{defaults.DefaultRequest, defaults.Default} {
				for k, v := range src {
					if _, ok := r.Requests[k]; !ok {
						r.Requests[k] = v.DeepCopy()
					}
				}
			}
		}
	}
	for i := range p.Spec.Containers {
		fill(&p.Spec.Containers[i].Resources, true)
	}
	for i := range p.Spec.InitContainers {
		fill(&p.Spec.InitContainers[i].Resources, true)
	}
	if p.Spec.Resources != nil {
		fill(p.Spec.Resources, false)
	}
	return p
}

// ParseResourceList parses a quota given as strings (a form, a flag, a config file),
// naming the field of every value that does not parse or is negative.
func ParseResourceList(path *field.Path, in map[string]string) (corev1.ResourceList, error) {
	var errs field.ErrorList
	out := corev1.ResourceList{}
	keys := make([]string, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		q, err := resource.ParseQuantity(in[k])
		if err != nil {
			errs = append(errs, field.Invalid(path.Key(k), in[k], fmt.Sprintf("not a quantity: %v", err)))
			continue
		}
		if q.Sign() < 0 {
			errs = append(errs, field.Invalid(path.Key(k), in[k], "must not be negative"))
			continue
		}
		out[corev1.ResourceName(k)] = q
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrInvalidRequest, errs.ToAggregate())
	}
	return out, nil
}
