package quota

import (
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// countPrefix starts the object-count keys of ResourceQuota: count/<resource> for the
// core group, count/<resource>.<group> for any other.
const countPrefix = "count/"

// legacyCounts are the core resources ResourceQuota also counts under their bare
// plural name ("configmaps" as well as "count/configmaps").
var legacyCounts = map[string]bool{
	"pods": true, "services": true, "persistentvolumeclaims": true, "configmaps": true,
	"secrets": true, "replicationcontrollers": true, "resourcequotas": true,
}

// ParseCountResource reports which resource an object-count key counts:
// count/configmaps → configmaps (core), count/deployments.apps → deployments.apps,
// count/widgets.example.com → widgets.example.com, and the bare core names ResourceQuota
// accepts (configmaps, secrets, pods, services, persistentvolumeclaims,
// replicationcontrollers, resourcequotas). ok is false for every other key (cpu,
// requests.storage, services.loadbalancers, …).
func ParseCountResource(name corev1.ResourceName) (gr schema.GroupResource, ok bool) {
	s := string(name)
	if legacyCounts[s] {
		return schema.GroupResource{Resource: s}, true
	}
	rest, found := strings.CutPrefix(s, countPrefix)
	if !found || rest == "" {
		return schema.GroupResource{}, false
	}
	res, group, _ := strings.Cut(rest, ".")
	if res == "" {
		return schema.GroupResource{}, false
	}
	return schema.GroupResource{Group: group, Resource: res}, true
}

// CountKey is the object-count key of gr: count/<resource> for the core group,
// count/<resource>.<group> otherwise.
func CountKey(gr schema.GroupResource) corev1.ResourceName {
	if gr.Group == "" {
		return corev1.ResourceName(countPrefix + gr.Resource)
	}
	return corev1.ResourceName(countPrefix + gr.Resource + "." + gr.Group)
}

// CountUsage is what one object of gr is charged when only its existence counts: 1 of
// CountKey(gr), and for the core kinds ResourceQuota also counts by bare name
// (configmaps, secrets, …) 1 of that name too.
func CountUsage(gr schema.GroupResource) corev1.ResourceList {
	out := corev1.ResourceList{CountKey(gr): *resource.NewQuantity(1, resource.DecimalSI)}
	if gr.Group == "" && legacyCounts[gr.Resource] {
		out[corev1.ResourceName(gr.Resource)] = *resource.NewQuantity(1, resource.DecimalSI)
	}
	return out
}

// Priced reports whether objects of gr have a usage of their own beyond their count
// (pods, PersistentVolumeClaims and Services: PodUsage, PersistentVolumeClaimUsage,
// ServiceUsage), so that counting them alone would be wrong.
func Priced(gr schema.GroupResource) bool {
	return gr.Group == "" && (gr.Resource == "pods" || gr.Resource == "persistentvolumeclaims" || gr.Resource == "services")
}

// CountedResources are the resources the nodes' limits count, other than the Priced
// ones: what a webhook and a tracker must follow, beyond pods, claims and Services, so
// that every object-count limit in the tree holds over its subtree. The result is
// sorted (group, then resource) and has no duplicates.
func CountedResources(nodes []Node) []schema.GroupResource {
	seen := map[schema.GroupResource]bool{}
	for _, n := range nodes {
		for k := range n.Hard {
			if gr, ok := ParseCountResource(k); ok && !Priced(gr) {
				seen[gr] = true
			}
		}
	}
	out := make([]schema.GroupResource, 0, len(seen))
	for gr := range seen {
		out = append(out, gr)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Group != out[j].Group {
			return out[i].Group < out[j].Group
		}
		return out[i].Resource < out[j].Resource
	})
	return out
}
