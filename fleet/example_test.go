package fleet_test

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/fleet"
)

// Place binds a claim to the fitting cluster with the most free room, and
// explains why the others do not fit.
func ExamplePlace() {
	ready := []metav1.Condition{{Type: fleet.ConditionReady, Status: metav1.ConditionTrue}}
	cpu := func(q string) corev1.ResourceList {
		return corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(q)}
	}
	clusters := []fleet.Cluster{
		{ObjectMeta: metav1.ObjectMeta{Name: "eu-1", Labels: map[string]string{"region": "eu"}},
			Status: fleet.ClusterStatus{Conditions: ready, Capacity: cpu("8"), Allocated: cpu("6")}},
		{ObjectMeta: metav1.ObjectMeta{Name: "eu-2", Labels: map[string]string{"region": "eu"}},
			Status: fleet.ClusterStatus{Conditions: ready, Capacity: cpu("16")}},
	}
	claim := &fleet.ClusterClaim{Spec: fleet.ClusterClaimSpec{
		Tenant:    "web",
		Selector:  &metav1.LabelSelector{MatchLabels: map[string]string{"region": "eu"}},
		Resources: cpu("4"),
	}}
	d, err := fleet.Place(claim, clusters, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(d.Cluster)
	fmt.Println(d.Reason)
	// Output:
	// eu-2
	// placed on eu-2: most free room for cpu (1 of 2 clusters fit; eu-1: cpu: requested 4, free 2 of 8)
}
