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

// The host's networks here include a public range, so it is denied too:
// addresses in it must be the tenant's own pod IPs.
func ExampleNew() {
	_, err := endpointslices.New(endpointslices.Options{DeniedCIDRs: append(endpointslices.DefaultDeniedCIDRs(), "198.51.100.0/24")})
	fmt.Println(err)
	_, err = endpointslices.New(endpointslices.Options{DeniedCIDRs: []string{"10.0.0.0/33"}})
	fmt.Println(err != nil)
	// Output:
	// <nil>
	// true
}
