package endpointslices_test

import (
	"fmt"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/sync/resources/endpointslices"
	"github.com/vclusterkit/vclusterkit/sync/translate"
)

func ExampleToHost() {
	tr, _ := translate.New("dev", "team-a")
	h := endpointslices.ToHost(tr, &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "db-1", Namespace: "shop",
		Labels: map[string]string{discoveryv1.LabelServiceName: "db"}}, AddressType: discoveryv1.AddressTypeIPv4})
	fmt.Println(h.Labels[discoveryv1.LabelServiceName], h.Labels[discoveryv1.LabelManagedBy])
	// Output: db-x-shop-x-dev vclusterkit-syncer
}
