package nodes_test

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/sync/resources/nodes"
)

func ExampleToVirtualNode() {
	host := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "worker-1", Labels: map[string]string{"internal/rack": "r7"}},
		Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.0.1"}}}}
	v := nodes.ToVirtualNode(nodes.Fake, host, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	fmt.Println(v.Name, v.Labels, len(v.Status.Addresses), v.Status.Conditions[0].Type, v.Status.Conditions[0].Status)
	// Output: worker-1 map[kubernetes.io/hostname:worker-1 kubernetes.io/os:linux] 0 Ready True
}
