package poddisruptionbudgets_test

import (
	"fmt"

	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/sync/resources/poddisruptionbudgets"
	"github.com/vclusterkit/vclusterkit/sync/translate"
)

func ExampleToHost() {
	tr, _ := translate.New("dev", "team-a")
	h, _ := poddisruptionbudgets.ToHost(tr, &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "shop"},
		Spec: policyv1.PodDisruptionBudgetSpec{Selector: &metav1.LabelSelector{}}})
	fmt.Println(h.Spec.Selector.MatchLabels)
	// Output: map[vcluster.vclusterkit.io/name:dev vcluster.vclusterkit.io/namespace:shop]
}
