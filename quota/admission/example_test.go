package admission_test

import (
	"context"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/vclusterkit/vclusterkit/quota"
	"github.com/vclusterkit/vclusterkit/quota/admission"
)

func ExampleWebhook_Review() {
	l := quota.NewLedger(quota.LedgerOptions{})
	if err := l.SetNodes([]quota.Node{{Name: "acme", Hard: rl("count/pods", "1")}}); err != nil {
		fmt.Println(err)
		return
	}
	w := &admission.Webhook{Ledger: l, Resolver: admission.ResolverFunc(func(context.Context, string) (admission.Namespace, error) {
		return admission.Namespace{Node: "acme"}, nil
	})}
	review := func(uid string) *admissionv1.AdmissionResponse {
		raw := fmt.Sprintf(`{"metadata":{"name":"p","uid":%q},"spec":{"containers":[{"name":"c","image":"x"}]}}`, uid)
		return w.Review(context.Background(), &admissionv1.AdmissionRequest{
			Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}, Operation: admissionv1.Create,
			Namespace: "acme-prod", Object: runtime.RawExtension{Raw: []byte(raw)},
		})
	}
	fmt.Println(review("a").Allowed)
	r := review("b")
	fmt.Println(r.Allowed, r.Result.Message)
	// Output:
	// true
	// false quota exceeded: tenant "acme" count/pods: requested 1, used 0, reserved 1, hard 1
}

// Turning a ClusterIP Service into a LoadBalancer is an update charged its increase: with
// the tenant's one load balancer taken, it is refused.
func ExampleWebhook_Review_serviceUpdate() {
	l := quota.NewLedger(quota.LedgerOptions{})
	if err := l.SetNodes([]quota.Node{{Name: "acme", Hard: rl("services.loadbalancers", "1")}}); err != nil {
		fmt.Println(err)
		return
	}
	w := &admission.Webhook{Ledger: l, Resolver: admission.ResolverFunc(func(context.Context, string) (admission.Namespace, error) {
		return admission.Namespace{Node: "acme"}, nil
	})}
	svc := func(uid, typ string) runtime.RawExtension {
		return runtime.RawExtension{Raw: fmt.Appendf(nil, `{"metadata":{"name":"s","uid":%q,"resourceVersion":"1"},"spec":{"type":%q}}`, uid, typ)}
	}
	kind := metav1.GroupVersionKind{Version: "v1", Kind: "Service"}
	r := w.Review(context.Background(), &admissionv1.AdmissionRequest{Kind: kind, Operation: admissionv1.Create, Object: svc("a", "LoadBalancer")})
	fmt.Println(r.Allowed)
	r = w.Review(context.Background(), &admissionv1.AdmissionRequest{Kind: kind, Operation: admissionv1.Update,
		Object: svc("b", "LoadBalancer"), OldObject: svc("b", "ClusterIP")})
	fmt.Println(r.Allowed, r.Result.Message)
	// Output:
	// true
	// false quota exceeded: tenant "acme" services.loadbalancers: requested 1, used 0, reserved 1, hard 1
}
