package pods_test

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/sync/resources/pods"
	"github.com/vclusterkit/vclusterkit/sync/translate"
)

func ExampleToHostPod() {
	tr, _ := translate.New("dev", "team-a")
	v := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"}, Spec: corev1.PodSpec{
		Volumes:    []corev1.Volume{{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}}}},
		Containers: []corev1.Container{{Name: "web", Image: "nginx"}},
	}}
	h, err := pods.ToHostPod(pods.TranslateInput{Translator: tr, DNSServer: "10.96.0.10"}, v)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(h.Spec.Volumes[0].ConfigMap.Name)
	fmt.Println(h.Spec.DNSPolicy, h.Spec.DNSConfig.Nameservers, h.Spec.DNSConfig.Searches[0])
	fmt.Println(*h.Spec.AutomountServiceAccountToken, *h.Spec.EnableServiceLinks)
	// Output:
	// settings-x-shop-x-dev
	// None [10.96.0.10] shop.svc.cluster.local
	// false false
}
