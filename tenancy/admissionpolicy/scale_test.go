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

// BenchmarkAdmissionManySpaces measures what the space policy costs the
// API server: the latency of a pod create (dry run) in a restricted space
// and in a namespace no policy binds, with the policy loaded and 1 or 1,000
// restricted spaces (one tenant each) on the host. With one policy that
// reads the namespace's annotations the cost does not grow with the number
// of tenants (one policy per tenant did: each adds its binding's matching
// to every pod create in the cluster).
//
//	go test -run '^$' -bench AdmissionManySpaces -benchtime 300x ./tenancy/admissionpolicy/
func BenchmarkAdmissionManySpaces(b *testing.B) {
	ctx := context.Background()
	c, err := client.New(apiServer.Config, client.Options{})
	if err != nil {
		b.Fatal(err)
	}
	pol, bind := admissionpolicy.SpacePolicy()
	for _, o := range []client.Object{pol, bind} {
		if err := c.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			b.Fatal(err)
		}
	}
	if err := c.Create(ctx, namespace("bench-free", nil)); err != nil && !apierrors.IsAlreadyExists(err) {
		b.Fatal(err)
	}
	made := 0
	for _, spaces := range []int{1, 1000} {
		for ; made < spaces; made++ {
			tenant := fmt.Sprintf("bench-%d", made)
			ann, err := admissionpolicy.SpaceAnnotations(tenant, tenancy.Policy{AllowedRuntimeClasses: []string{"gvisor"},
				AllowedStorageClasses: []string{"fast"}, NodeSelector: map[string]string{"pool": tenant}})
			if err != nil {
				b.Fatal(err)
			}
			ns := namespace(tenant, map[string]string{tenancy.LabelTenant: tenant, tenancy.LabelSpace: tenant})
			ns.Annotations = ann
			if err := c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
				b.Fatal(err)
			}
		}
		last := fmt.Sprintf("bench-%d", spaces-1)
		deadline := time.Now().Add(2 * time.Minute)
		for check(ctx, c, testPod(last, func(p *corev1.Pod) { p.Spec.NodeSelector = nil }), "spec.nodeSelector") != "" {
			if time.Now().After(deadline) {
				b.Fatal("the policy never came into force")
			}
			time.Sleep(200 * time.Millisecond)
		}
		for _, target := range []string{"bench-0", "bench-free"} {
			b.Run(fmt.Sprintf("spaces=%d/%s", spaces, target), func(b *testing.B) {
				p := testPod(target, func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"pool": "bench-0"} })
				for b.Loop() {
					if err := c.Create(ctx, p.DeepCopy(), client.DryRunAll); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
