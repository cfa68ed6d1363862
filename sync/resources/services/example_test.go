package services_test

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/sync/resources/services"
	"github.com/vclusterkit/vclusterkit/sync/translate"
)

func ExampleToHostService() {
	tr, _ := translate.New("dev", "team-a")
	h, _ := services.ToHostService(tr, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"}, Spec: corev1.ServiceSpec{
		ClusterIP: "10.0.0.7", Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Port: 80, NodePort: 30080}},
	}})
	fmt.Println(h.Spec.Selector)
	fmt.Printf("%q %d\n", h.Spec.ClusterIP, h.Spec.Ports[0].NodePort)
	_, err := services.ToHostService(tr, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "shop"}, Spec: corev1.ServiceSpec{ExternalIPs: []string{"1.2.3.4"}}})
	fmt.Println(err)
	// Output:
	// map[app:web vcluster.vclusterkit.io/name:dev vcluster.vclusterkit.io/namespace:shop]
	// "" 0
	// spec.externalIPs: external IPs are not allowed for tenants
}
