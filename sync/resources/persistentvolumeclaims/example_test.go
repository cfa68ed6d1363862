package persistentvolumeclaims_test

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/sync/resources/persistentvolumeclaims"
	"github.com/vclusterkit/vclusterkit/sync/translate"
)

func ExampleToHostPVC() {
	tr, _ := translate.New("dev", "team-a")
	_, err := persistentvolumeclaims.ToHostPVC(tr, &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "shop"},
		Spec: corev1.PersistentVolumeClaimSpec{VolumeName: "pv-of-someone-else"}}, nil)
	fmt.Println(err)
	// Output: spec.volumeName: binding to a named host volume is not allowed
}
