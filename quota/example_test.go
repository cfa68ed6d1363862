package quota_test

import (
	"context"
	"errors"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/vclusterkit/vclusterkit/quota"
)

func ExampleLedger() {
	ctx := context.Background()
	l := quota.NewLedger(quota.LedgerOptions{})
	err := l.SetNodes([]quota.Node{
		{Name: "acme", Hard: corev1.ResourceList{"count/pods": resource.MustParse("2")}},
		{Name: "team-a", Parent: "acme"},
		{Name: "team-b", Parent: "acme"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	pod := corev1.ResourceList{"count/pods": resource.MustParse("1")}
	fmt.Println(l.Admit(ctx, "uid-1", "team-a", pod))
	fmt.Println(l.Admit(ctx, "uid-2", "team-b", pod))
	err = l.Admit(ctx, "uid-3", "team-b", pod)
	fmt.Println(errors.Is(err, quota.ErrQuotaExceeded), err)

	// uid-1 is created, then deleted (twice, as duplicate events do): freed once.
	_ = l.Commit("uid-1")
	fmt.Println(l.Release("uid-1"), l.Release("uid-1"))
	fmt.Println(l.Admit(ctx, "uid-3", "team-b", pod))
	// Output:
	// <nil>
	// <nil>
	// true quota exceeded: tenant "acme" count/pods: requested 1, used 0, reserved 2, hard 2
	// true false
	// <nil>
}

// A Service turned from ClusterIP into a LoadBalancer is charged only what it adds.
func ExampleIncrease() {
	clusterIP := &corev1.Service{Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
	lb := clusterIP.DeepCopy()
	lb.Spec.Type = corev1.ServiceTypeLoadBalancer
	inc := quota.Increase(quota.ServiceUsage(clusterIP), quota.ServiceUsage(lb))
	fmt.Println(inc.Name(corev1.ResourceServicesLoadBalancers, resource.DecimalSI), inc.Name(corev1.ResourceServicesNodePorts, resource.DecimalSI), len(inc))
	// Output: 1 1 2
}

func ExamplePersistentVolumeClaimUsage() {
	class := "fast"
	pvc := &corev1.PersistentVolumeClaim{Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &class,
		Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")}}}}
	u := quota.PersistentVolumeClaimUsage(pvc)
	fmt.Println(u.Name(corev1.ResourceRequestsStorage, resource.BinarySI))
	fmt.Println(u.Name(quota.StorageClassResource(class, corev1.ResourceRequestsStorage), resource.BinarySI))
	// Output:
	// 10Gi
	// 10Gi
}

// Which kinds a tree's limits count, beyond pods, claims and Services (which have a
// usage of their own), and what one object of such a kind is charged.
func ExampleCountedResources() {
	nodes := []quota.Node{
		{Name: "acme", Hard: corev1.ResourceList{
			"count/deployments.apps": resource.MustParse("20"),
			"configmaps":             resource.MustParse("100"),
			"count/pods":             resource.MustParse("50"),
		}},
	}
	for _, gr := range quota.CountedResources(nodes) {
		usage := quota.CountUsage(gr)
		keys := make([]string, 0, len(usage))
		for k := range usage {
			keys = append(keys, string(k))
		}
		sort.Strings(keys)
		fmt.Printf("%s: %v\n", gr, keys)
	}
	// Output:
	// configmaps: [configmaps count/configmaps]
	// deployments.apps: [count/deployments.apps]
}
