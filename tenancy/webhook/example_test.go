package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/quota/admission"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/tenancy/webhook"
)

// A child asking for more than its parent is refused at admission, with
// the field and the ancestor named.
func ExampleValidator_Review() {
	tree := []tenancy.Tenant{{
		ObjectMeta: metav1.ObjectMeta{Name: "org"},
		Spec:       tenancy.TenantSpec{Quota: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4")}},
	}}
	v := &webhook.Validator{Source: webhook.SourceFunc(func(context.Context) ([]tenancy.Tenant, []tenancy.Space, error) {
		return tree, nil, nil
	})}
	child, _ := json.Marshal(tenancy.Tenant{
		ObjectMeta: metav1.ObjectMeta{Name: "team"},
		Spec:       tenancy.TenantSpec{Parent: "org", Quota: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8")}},
	})
	resp, err := v.Review(context.Background(), &admissionv1.AdmissionRequest{
		Kind:      metav1.GroupVersionKind{Group: tenancy.Group, Version: "v1alpha1", Kind: tenancy.KindTenant},
		Operation: admissionv1.Create,
		Name:      "team",
		Object:    runtime.RawExtension{Raw: child},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.Allowed)
	fmt.Println(resp.Result.Message)
	// Output:
	// false
	// Tenant.tenancy.vclusterkit.io "team" is invalid: spec.quota[cpu]: Invalid value: "8": exceeds 4 set by ancestor "org"
}

// Tightening a parent below what a child already has is refused too: the
// child would be left invalid by a change its owner did not make.
func ExampleValidator_CheckTenant() {
	restricted := func(name, parent string, l tenancy.PodSecurityLevel) tenancy.Tenant {
		return tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: tenancy.TenantSpec{Parent: parent, Policy: tenancy.Policy{PodSecurity: l}}}
	}
	tree := []tenancy.Tenant{
		restricted("org", "", tenancy.PodSecurityPrivileged),
		restricted("team", "org", tenancy.PodSecurityBaseline),
	}
	old := tree[0].DeepCopy()
	tighter := restricted("org", "", tenancy.PodSecurityRestricted)
	fmt.Println((&webhook.Validator{}).CheckTenant(tree, nil, old, &tighter))
	// Output:
	// Tenant "org" is invalid: spec.policy: Forbidden: descendant "team" would become invalid: spec.policy.podSecurity: looser than "restricted" set by ancestor "org"; a child may only tighten its parent's policy
}

// How an operator serves and installs the webhook next to its manager
// (not run: it needs an API server).
func ExampleInstall() {
	ctx := context.Background()
	var mgr ctrl.Manager // the operator's manager, its scheme with tenancy.AddToScheme
	certs, err := admission.GenerateCerts(admission.CertOptions{Hosts: []string{"127.0.0.1"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	v := &webhook.Validator{Source: webhook.ClientSource(mgr.GetClient())}
	srv, err := admission.Serve(ctx, v, admission.ServerOptions{Certs: certs})
	if err != nil {
		fmt.Println(err)
		return
	}
	var c client.Client = mgr.GetClient()
	if _, err := webhook.Install(ctx, c, webhook.InstallOptions{URL: srv.URL, CABundle: certs.CAPEM}); err != nil {
		fmt.Println(err)
	}
}
