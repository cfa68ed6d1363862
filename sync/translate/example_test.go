package translate_test

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/vclusterkit/vclusterkit/sync/translate"
)

func Example() {
	tr, err := translate.New("dev", "team-a")
	if err != nil {
		fmt.Println(err)
		return
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Name: "web", Namespace: "shop", UID: "1234",
		Labels: map[string]string{"app": "web", translate.LabelVirtualCluster: "forged"},
	}}
	meta, err := tr.HostMeta("Pod", pod)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(meta.Namespace + "/" + meta.Name)
	fmt.Println(meta.Labels["app"], meta.Labels[translate.LabelVirtualCluster], meta.Labels["vcluster.tenant.vclusterkit.io/name"])

	origin, _ := tr.Origin(&meta)
	fmt.Println(origin.Kind, origin.Namespace, origin.Name)

	sel, _ := tr.ScopeMapSelector(field.NewPath("spec", "selector"), "shop", map[string]string{"app": "web"})
	fmt.Println(sel)
	// Output:
	// team-a/web-x-shop-x-dev
	// web dev forged
	// Pod shop web
	// map[app:web vcluster.vclusterkit.io/name:dev vcluster.vclusterkit.io/namespace:shop]
}
