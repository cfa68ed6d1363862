package pods

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	"github.com/vclusterkit/vclusterkit/sync/syncer"
)

// Policy-change reasons and the condition of a running pod that the
// tenant's policy no longer allows.
const (
	// ReasonPolicyChanged refuses (and creates again) a host pod not
	// scheduled yet whose node selector no longer matches the tenant's.
	ReasonPolicyChanged = "PolicyChanged"
	// ReasonPolicyViolation is the event reason and the reason of the
	// PolicyViolation condition of a running pod the tenant's current
	// policy would refuse.
	ReasonPolicyViolation = "PolicyViolation"
	// ConditionPolicyViolation (status True) is set on a virtual pod that
	// runs on the host and that the tenant's current policy would refuse;
	// its message says why. The pod keeps running until it is replaced.
	ConditionPolicyViolation corev1.PodConditionType = "PolicyViolation"
)

// podPolicy is the part of the tenant's policy the pod syncer enforces, as
// one immutable value swapped atomically.
type podPolicy struct {
	level           psapi.Level
	nodeSelector    map[string]string
	runtimeClasses  []string
	priorityClasses []string
}

func newPodPolicy(level psapi.Level, nodeSelector map[string]string, runtime, priority []string) *podPolicy {
	if level == "" {
		level = psapi.LevelBaseline
	}
	p := &podPolicy{level: level, nodeSelector: maps.Clone(nodeSelector), runtimeClasses: slices.Clone(runtime), priorityClasses: slices.Clone(priority)}
	if len(p.nodeSelector) == 0 {
		p.nodeSelector = nil
	}
	if len(p.runtimeClasses) == 0 {
		p.runtimeClasses = nil
	}
	if len(p.priorityClasses) == 0 {
		p.priorityClasses = nil
	}
	return p
}

func (p *podPolicy) equal(o *podPolicy) bool {
	return p.level == o.level && maps.Equal(p.nodeSelector, o.nodeSelector) &&
		slices.Equal(p.runtimeClasses, o.runtimeClasses) && slices.Equal(p.priorityClasses, o.priorityClasses)
}

// UpdatePolicy implements syncer.PolicyUpdater: the Pod Security Standard,
// node selector and allowed runtime and priority classes are replaced; the
// other fields of p are not the pod syncer's. What follows for pods already
// synced (see the package documentation): a pod not yet scheduled on the
// host is checked again and refused, or created again with the new node
// selector; a scheduled pod keeps running and gets a PolicyViolation event
// and condition saying what the policy no longer allows.
func (s *Syncer) UpdatePolicy(p syncer.Policy) bool {
	np := newPodPolicy(p.PodSecurity, p.NodeSelector, p.AllowedRuntimeClasses, p.AllowedPriorityClasses)
	for {
		old := s.policy.Load()
		if old.equal(np) {
			return false
		}
		if s.policy.CompareAndSwap(old, np) {
			return true
		}
	}
}

// missingSelector lists the pairs of want that sel lacks, sorted.
func missingSelector(sel, want map[string]string) []string {
	var out []string
	for k, v := range want {
		if have, ok := sel[k]; !ok || have != v {
			out = append(out, k+"="+v)
		}
	}
	slices.Sort(out)
	return out
}

// checkPending checks a host pod that is not scheduled yet against the
// current policy: it is refused when the policy no longer allows it, and
// refused with ReasonPolicyChanged (so that it is created again from the
// virtual pod) when it lacks the enforced node selector.
func (s *Syncer) checkPending(pol *podPolicy, v, d *corev1.Pod) error {
	if err := CheckClasses(v, pol.runtimeClasses, pol.priorityClasses); err != nil {
		return syncer.Refuse(ReasonClassNotAllowed, "%v", err)
	}
	if err := s.checkSecurity(pol, v, d); err != nil {
		return err
	}
	if missing := missingSelector(d.Spec.NodeSelector, pol.nodeSelector); len(missing) > 0 {
		return syncer.Refuse(ReasonPolicyChanged, "spec.nodeSelector: the tenant's policy now requires %s; the pod is created on the host again", strings.Join(missing, ","))
	}
	return nil
}

// violations says what the current policy would refuse in a pod that
// already runs on the host (h): its classes, its Pod Security Standard and
// the enforced node selector. Empty when it complies.
func (s *Syncer) violations(pol *podPolicy, v, h *corev1.Pod) string {
	var msgs []string
	if err := CheckClasses(v, pol.runtimeClasses, pol.priorityClasses); err != nil {
		msgs = append(msgs, err.Error())
	}
	lv := psapi.LevelVersion{Level: pol.level, Version: psapi.LatestVersion()}
	if agg := policy.AggregateCheckResults(s.evaluator.EvaluatePod(lv, &v.ObjectMeta, &h.Spec)); !agg.Allowed {
		msgs = append(msgs, fmt.Sprintf("violates PodSecurity %q: %s", pol.level, agg.ForbiddenDetail()))
	}
	if missing := missingSelector(h.Spec.NodeSelector, pol.nodeSelector); len(missing) > 0 {
		msgs = append(msgs, fmt.Sprintf("spec.nodeSelector: the tenant's policy requires %s", strings.Join(missing, ",")))
	}
	if len(msgs) == 0 {
		return ""
	}
	return "the tenant's policy no longer allows this pod (" + strings.Join(msgs, "; ") + "); it keeps running until it is replaced"
}

// setCondition puts c into conds, replacing one of its type, keeping the
// transition time of an identical one in prev.
func setCondition(conds []corev1.PodCondition, prev []corev1.PodCondition, c corev1.PodCondition) []corev1.PodCondition {
	c.LastTransitionTime = metav1.Now()
	for _, p := range prev {
		if p.Type == c.Type && p.Status == c.Status && p.Reason == c.Reason && p.Message == c.Message {
			c.LastTransitionTime = p.LastTransitionTime
		}
	}
	out := make([]corev1.PodCondition, 0, len(conds)+1)
	for _, x := range conds {
		if x.Type != c.Type {
			out = append(out, x)
		}
	}
	return append(out, c)
}
