package serviceaccounts_test

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/sync/resources/serviceaccounts"
	"github.com/vclusterkit/vclusterkit/sync/translate"
)

func ExampleToHost() {
	tr, _ := translate.New("dev", "team-a")
	h := serviceaccounts.ToHost(tr.HostName, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "builder", Namespace: "ci"},
		ImagePullSecrets: []corev1.LocalObjectReference{{Name: "registry"}}})
	fmt.Println(*h.AutomountServiceAccountToken, h.ImagePullSecrets[0].Name)
	// Output: false registry-x-ci-x-dev
}
