package events_test

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/vclusterkit/vclusterkit/sync/resources/events"
	"github.com/vclusterkit/vclusterkit/sync/translate"
)

func ExampleToVirtualEvent() {
	h := &corev1.Event{Reason: "Scheduled", Message: "Successfully assigned team-a/web-x-shop-x-dev to node-1"}
	h.UID = "e1"
	v := events.ToVirtualEvent(h, translate.Origin{Kind: "Pod", Namespace: "shop", Name: "web", UID: "p1"}, "web-x-shop-x-dev", "team-a")
	fmt.Println(v.Namespace, v.InvolvedObject.Name, v.Message)
	// Output: shop web Successfully assigned shop/web to node-1
}
