package admissionpolicy_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/tenancy/admissionpolicy"
)

// BenchmarkAdmissionManyTenants measures what one policy per tenant costs
// the API server: the latency of a pod create (dry run) in a space of one
// tenant, with `tenants` tenants' policies and bindings loaded, against
// the same create in a namespace no policy binds. Reported as ns/op for
// each; compare the two sub-benchmarks of one size.
//
//	go test -run '^$' -bench AdmissionManyTenants -benchtime 200x ./tenancy/admissionpolicy/
func BenchmarkAdmissionManyTenants(b *testing.B) {
	ctx := context.Background()
	c, err := client.New(apiServer.Config, client.Options{})
	if err != nil {
		b.Fatal(err)
	}
	loaded := 0
	for _, tenants := range []int{0, 1000} {
		for ; loaded < tenants; loaded++ {
			name := fmt.Sprintf("bench-%d", loaded)
			pol, bind := admissionpolicy.ForTenant(name, tenancy.Policy{AllowedRuntimeClasses: []string{"gvisor"},
				AllowedStorageClasses: []string{"fast"}, NodeSelector: map[string]string{"pool": name}})
			for _, o := range []client.Object{pol, bind} {
				if err := c.Create(ctx, o); err != nil {
					b.Fatal(err)
				}
			}
		}
		for _, ns := range []*corev1.Namespace{
			namespace("bench-space", map[string]string{tenancy.LabelTenant: "bench-0", tenancy.LabelSpace: "bench-space"}),
			namespace("bench-free", nil),
		} {
			if err := c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
				b.Fatal(err)
			}
		}
		if tenants > 0 {
			// Wait until the last tenant's policy is in force.
			last := fmt.Sprintf("bench-%d", tenants-1)
			ns := namespace("bench-last", map[string]string{tenancy.LabelTenant: last, tenancy.LabelSpace: "bench-last"})
			if err := c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
				b.Fatal(err)
			}
			deadline := time.Now().Add(2 * time.Minute)
			for check(ctx, c, testPod("bench-last", func(p *corev1.Pod) { p.Spec.NodeSelector = nil }), "spec.nodeSelector") != "" {
				if time.Now().After(deadline) {
					b.Fatal("the policies never came into force")
				}
				time.Sleep(200 * time.Millisecond)
			}
		}
		for _, target := range []string{"bench-space", "bench-free"} {
			b.Run(fmt.Sprintf("tenants=%d/%s", tenants, target), func(b *testing.B) {
				p := testPod(target, func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"pool": "bench-0"} })
				for b.Loop() {
					if err := c.Create(ctx, p.DeepCopy(), client.DryRunAll); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
	// Leave the API server to the other tests.
	for i := range loaded {
		name := admissionpolicy.TenantPolicyName(fmt.Sprintf("bench-%d", i))
		pol, bind := admissionpolicy.ForTenant("x", tenancy.Policy{AllowedRuntimeClasses: []string{"a"}})
		pol.Name, bind.Name = name, name
		_ = c.Delete(ctx, bind)
		_ = c.Delete(ctx, pol)
	}
}
