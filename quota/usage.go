package quota

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

// ResourceCountPods is the object-count quota key for pods.
const ResourceCountPods corev1.ResourceName = "count/pods"

// PodUsage is what a pod is charged, with the keys ResourceQuota uses: pods and
// count/pods (1 each), requests.X and X (the request), limits.X. Containers without a
// request or limit get the LimitRange defaults first, as the API server's LimitRanger
// would apply them (defaults may be nil); a container with a limit but no request is
// charged the limit as its request, as API defaulting does before LimitRanger runs. The pod total is the larger of the regular containers'
// (plus restartable init containers') sum and any single init container, plus overhead.
// Pods in a terminal phase are charged nothing, as ResourceQuota does.
func PodUsage(pod *corev1.Pod, defaults *tenancy.LimitRangeDefaults) corev1.ResourceList {
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return corev1.ResourceList{}
	}
	reqs, lims := corev1.ResourceList{}, corev1.ResourceList{}
	effective := func(c *corev1.Container) (corev1.ResourceList, corev1.ResourceList) {
		req := c.Resources.Requests.DeepCopy()
		lim := c.Resources.Limits.DeepCopy()
		if req == nil {
			req = corev1.ResourceList{}
		}
		if lim == nil {
			lim = corev1.ResourceList{}
		}
		// API defaulting first: a limit without a request is also the request.
		for k, v := range lim {
			if _, ok := req[k]; !ok {
				req[k] = v.DeepCopy()
			}
		}
		// Then LimitRanger: default limits, and default requests (which default to the
		// default limits when the LimitRange leaves them out).
		if defaults != nil {
			for k, v := range defaults.Default {
				if _, ok := lim[k]; !ok {
					lim[k] = v.DeepCopy()
				}
			}
			for _, src := range []corev1.ResourceList{defaults.DefaultRequest, defaults.Default} {
				for k, v := range src {
					if _, ok := req[k]; !ok {
						req[k] = v.DeepCopy()
					}
				}
			}
		}
		return req, lim
	}
	for i := range pod.Spec.Containers {
		r, l := effective(&pod.Spec.Containers[i])
		add(reqs, r)
		add(lims, l)
	}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			r, l := effective(c)
			add(reqs, r)
			add(lims, l)
		}
	}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		if c.RestartPolicy == nil || *c.RestartPolicy != corev1.ContainerRestartPolicyAlways {
			r, l := effective(c)
			maxInto(reqs, r)
			maxInto(lims, l)
		}
	}
	add(reqs, pod.Spec.Overhead)
	add(lims, pod.Spec.Overhead)

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

func add(into, from corev1.ResourceList) {
	for k, v := range from {
		cur := into[k]
		cur.Add(v)
		into[k] = cur
	}
}

func maxInto(into, from corev1.ResourceList) {
	for k, v := range from {
		if cur, ok := into[k]; !ok || v.Cmp(cur) > 0 {
			into[k] = v.DeepCopy()
		}
	}
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
