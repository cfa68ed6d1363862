package fleet_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/fleet"
)

func cluster(name string, ready bool, labels map[string]string, capacity, allocated string) fleet.Cluster {
	status := metav1.ConditionFalse
	if ready {
		status = metav1.ConditionTrue
	}
	c := fleet.Cluster{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	c.Status.Conditions = []metav1.Condition{{Type: fleet.ConditionReady, Status: status}}
	if capacity != "" {
		c.Status.Capacity = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(capacity)}
	}
	if allocated != "" {
		c.Status.Allocated = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(allocated)}
	}
	return c
}

func TestPlace(t *testing.T) {
	clusters := []fleet.Cluster{
		cluster("a", true, map[string]string{"region": "eu"}, "10", "8"),
		cluster("b", true, map[string]string{"region": "us"}, "10", "2"),
		cluster("c", false, map[string]string{"region": "eu"}, "100", ""),
	}
	cpu := func(q string) corev1.ResourceList {
		return corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(q)}
	}
	for _, tc := range []struct {
		name    string
		claim   fleet.ClusterClaimSpec
		allowed []string
		want    fleet.Decision
	}{
		{"by labels", fleet.ClusterClaimSpec{Tenant: "t", Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"region": "eu"}}}, nil,
			fleet.Decision{Cluster: "a", Reason: "placed on a (1 of 3 clusters fit; b: labels do not match selector region=eu; c: not Ready)"}},
		{"most free room", fleet.ClusterClaimSpec{Tenant: "t", Resources: cpu("1")}, nil,
			fleet.Decision{Cluster: "b", Reason: "placed on b: most free room for cpu (2 of 3 clusters fit; c: not Ready)"}},
		{"only one has the room", fleet.ClusterClaimSpec{Tenant: "t", Resources: cpu("3")}, nil,
			fleet.Decision{Cluster: "b", Reason: "placed on b: most free room for cpu (1 of 3 clusters fit; a: cpu: requested 3, free 2 of 10; c: not Ready)"}},
		{"allowed clusters", fleet.ClusterClaimSpec{Tenant: "t"}, []string{"a"},
			fleet.Decision{Cluster: "a", Reason: "placed on a (1 of 3 clusters fit; b: not in tenant t's allowedClusters [a]; c: not in tenant t's allowedClusters [a])"}},
		{"unplaceable", fleet.ClusterClaimSpec{Tenant: "t", Resources: cpu("9")}, nil,
			fleet.Decision{Reason: "no cluster fits: a: cpu: requested 9, free 2 of 10; b: cpu: requested 9, free 8 of 10; c: not Ready"}},
		{"a resource no cluster reports", fleet.ClusterClaimSpec{Tenant: "t", Resources: corev1.ResourceList{"example.com/gpu": resource.MustParse("1")}}, []string{"b"},
			fleet.Decision{Reason: "no cluster fits: a: not in tenant t's allowedClusters [b]; b: example.com/gpu: requested 1, free 0 of 0; c: not in tenant t's allowedClusters [b]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := fleet.Place(&fleet.ClusterClaim{Spec: tc.claim}, clusters, tc.allowed)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("Place (-want +got):\n%s", d)
			}
		})
	}
	if _, err := fleet.Place(&fleet.ClusterClaim{Spec: fleet.ClusterClaimSpec{Tenant: "t", Selector: &metav1.LabelSelector{
		MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "x", Operator: "Bogus"}}}}}, clusters, nil); err == nil {
		t.Error("a bad selector: no error")
	} else if want := "spec.selector"; !cmp.Equal(err.Error()[:len(want)], want) {
		t.Errorf("a bad selector: %v, want an error naming spec.selector", err)
	}
	if got, _ := fleet.Place(&fleet.ClusterClaim{}, nil, nil); got.Reason != "no cluster is registered" {
		t.Errorf("no clusters: %q", got.Reason)
	}
}
