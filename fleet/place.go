package fleet

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Decision is the outcome of Place: the chosen cluster, or none, and why.
type Decision struct {
	// Cluster is the chosen cluster; empty when none fits.
	Cluster string
	// Reason explains the choice, or names each cluster and why it does
	// not fit; it becomes the claim's Bound condition message.
	Reason string
}

// Place is the placement policy: it chooses the cluster for a claim among
// clusters. A cluster fits when it is Ready and schedulable, the tenant's
// effective policy allows it (allowed empty means all), its labels match
// the claim's selector, its class is the claim's class (when the claim
// asks for one), and its free room (Status.Capacity minus
// Status.Allocated) holds every resource the claim asks for; a resource
// the cluster reports no capacity for does not fit. Among the fitting
// clusters it takes the one with the most free room of the claim's
// resources (the smallest of their ratios free/capacity), ties broken by
// name, so that claims spread. It is a pure function of its input.
func Place(claim *ClusterClaim, clusters []Cluster, allowed []string) (Decision, error) {
	var sel labels.Selector = labels.Everything()
	if claim.Spec.Selector != nil {
		s, err := metav1.LabelSelectorAsSelector(claim.Spec.Selector)
		if err != nil {
			return Decision{}, field.Invalid(field.NewPath("spec", "selector"), claim.Spec.Selector, err.Error())
		}
		sel = s
	}
	type fit struct {
		name  string
		score float64
	}
	var fits []fit
	var why []string
	for i := range clusters {
		c := &clusters[i]
		reason := ""
		switch {
		case len(allowed) > 0 && !slices.Contains(allowed, c.Name):
			reason = fmt.Sprintf("not in tenant %s's allowedClusters %v", claim.Spec.Tenant, allowed)
		case !sel.Matches(labels.Set(c.Labels)):
			reason = fmt.Sprintf("labels do not match selector %s", sel)
		case claim.Spec.Class != "" && c.Spec.Class != claim.Spec.Class:
			reason = fmt.Sprintf("class %q, claim asks for %q", c.Spec.Class, claim.Spec.Class)
		case c.Spec.Unschedulable:
			reason = "unschedulable"
		case !meta.IsStatusConditionTrue(c.Status.Conditions, ConditionReady):
			reason = "not Ready"
		}
		score := 1.0
		if reason == "" {
			free := Free(c)
			for _, name := range sortedNames(claim.Spec.Resources) {
				want := claim.Spec.Resources[name]
				have, ok := free[name]
				capacity := c.Status.Capacity[name]
				if !ok || have.Cmp(want) < 0 {
					reason = fmt.Sprintf("%s: requested %s, free %s of %s", name, want.String(), have.String(), capacity.String())
					break
				}
				if capacity.Sign() > 0 {
					left := have.DeepCopy()
					left.Sub(want)
					score = min(score, left.AsApproximateFloat64()/capacity.AsApproximateFloat64())
				}
			}
		}
		if reason != "" {
			why = append(why, c.Name+": "+reason)
			continue
		}
		fits = append(fits, fit{c.Name, score})
	}
	if len(fits) == 0 {
		if len(clusters) == 0 {
			return Decision{Reason: "no cluster is registered"}, nil
		}
		sort.Strings(why)
		return Decision{Reason: "no cluster fits: " + strings.Join(why, "; ")}, nil
	}
	sort.Slice(fits, func(i, j int) bool {
		if fits[i].score != fits[j].score {
			return fits[i].score > fits[j].score
		}
		return fits[i].name < fits[j].name
	})
	msg := fmt.Sprintf("placed on %s", fits[0].name)
	if len(claim.Spec.Resources) > 0 {
		msg += fmt.Sprintf(": most free room for %s", strings.Join(resourceNames(claim.Spec.Resources), ", "))
	}
	msg += fmt.Sprintf(" (%d of %d clusters fit", len(fits), len(clusters))
	if len(why) > 0 {
		sort.Strings(why)
		msg += "; " + strings.Join(why, "; ")
	}
	return Decision{Cluster: fits[0].name, Reason: msg + ")"}, nil
}

// Free is a cluster's capacity minus what bound claims hold, per resource
// (never below zero).
func Free(c *Cluster) corev1.ResourceList {
	out := corev1.ResourceList{}
	for name, q := range c.Status.Capacity {
		f := q.DeepCopy()
		if used, ok := c.Status.Allocated[name]; ok {
			f.Sub(used)
		}
		if f.Sign() < 0 {
			f = resource.Quantity{Format: q.Format}
		}
		out[name] = f
	}
	return out
}

func sortedNames(l corev1.ResourceList) []corev1.ResourceName {
	out := make([]corev1.ResourceName, 0, len(l))
	for n := range l {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func resourceNames(l corev1.ResourceList) []string {
	var out []string
	for _, n := range sortedNames(l) {
		out = append(out, string(n))
	}
	return out
}

// Sum adds resource lists.
func Sum(lists ...corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{}
	for _, l := range lists {
		for n, q := range l {
			t := out[n]
			t.Add(q)
			out[n] = t
		}
	}
	return out
}
