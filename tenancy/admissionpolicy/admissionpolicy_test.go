package admissionpolicy_test

import (
	"context"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	nodev1 "k8s.io/api/node/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/tenancy/admissionpolicy"
)

var apiServer *testenv.APIServer

func TestMain(m *testing.M) { testenv.Main(m, testenv.APIServerOptions{}, &apiServer) }

func newClient(t *testing.T, cfg *rest.Config) client.Client {
	t.Helper()
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func create(t *testing.T, c client.Client, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := c.Create(context.Background(), o); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
}

func namespace(name string, labels map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

func testPod(ns string, mutate func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "p-", Namespace: ns}, Spec: corev1.PodSpec{
		Containers:   []corev1.Container{{Name: "app", Image: "registry.example/app:1"}},
		NodeSelector: map[string]string{"pool": "a"},
	}}
	if mutate != nil {
		mutate(p)
	}
	return p
}

func claim(ns string, class *string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{GenerateName: "c-", Namespace: ns}, Spec: corev1.PersistentVolumeClaimSpec{
		AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		StorageClassName: class,
		Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
	}}
}

func ingress(ns string, class *string, annotation string) *networkingv1.Ingress {
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{GenerateName: "i-", Namespace: ns}, Spec: networkingv1.IngressSpec{
		IngressClassName: class,
		DefaultBackend:   &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "web", Port: networkingv1.ServiceBackendPort{Number: 80}}},
	}}
	if annotation != "" {
		ing.Annotations = map[string]string{"kubernetes.io/ingress.class": annotation}
	}
	return ing
}

func ptr[T any](v T) *T { return &v }

// applyAll creates or replaces the rendered objects.
func applyAll(t *testing.T, c client.Client, pol *admissionregistrationv1.ValidatingAdmissionPolicy, bind *admissionregistrationv1.ValidatingAdmissionPolicyBinding) {
	t.Helper()
	ctx := context.Background()
	for _, o := range []client.Object{pol, bind} {
		o.GetObjectKind().SetGroupVersionKind(admissionregistrationv1.SchemeGroupVersion.WithKind(typeName(o)))
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{Object: m}
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("test"), client.ForceOwnership); err != nil {
			t.Fatalf("apply %s: %v", o.GetName(), err)
		}
	}
}

func typeName(o client.Object) string {
	switch o.(type) {
	case *admissionregistrationv1.ValidatingAdmissionPolicy:
		return "ValidatingAdmissionPolicy"
	default:
		return "ValidatingAdmissionPolicyBinding"
	}
}

// until polls cond (which returns why it is not done yet) for 30 seconds:
// the API server loads new policies asynchronously.
func until(t *testing.T, what string, cond func(ctx context.Context) string) {
	t.Helper()
	var last string
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		last = cond(ctx)
		return last == "", nil
	})
	if err != nil {
		t.Fatalf("%s: %s", what, last)
	}
}

// check creates obj (dry run) and compares the outcome with want: "" for
// admitted, else a substring of the refusal.
func check(ctx context.Context, c client.Client, obj client.Object, want string) string {
	obj = obj.DeepCopyObject().(client.Object)
	err := c.Create(ctx, obj, client.DryRunAll)
	switch {
	case want == "" && err != nil:
		return "refused: " + err.Error()
	case want != "" && err == nil:
		return "admitted, want a refusal with " + want
	case want != "" && !strings.Contains(err.Error(), want):
		return "refused with " + err.Error() + ", want " + want
	}
	return ""
}

// spaceNamespace is a space's namespace as the engine makes it: tenancy
// labels, and the tenant's effective policy as annotations.
func spaceNamespace(t *testing.T, name, tenant string, p tenancy.Policy) *corev1.Namespace {
	t.Helper()
	ann, err := admissionpolicy.SpaceAnnotations(tenant, p)
	if err != nil {
		t.Fatal(err)
	}
	ns := namespace(name, map[string]string{tenancy.LabelTenant: tenant, tenancy.LabelSpace: name})
	ns.Annotations = ann
	return ns
}

// TestSpacePolicyOnAPIServer applies the space policy to a real API server
// and creates pods, claims and ingresses in spaces of a restricted tenant,
// of an unrestricted one, in a restricted tenant's namespace that is no
// space, and in a space the engine has not annotated yet.
func TestSpacePolicyOnAPIServer(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, apiServer.Config)
	t1 := tenancy.Policy{
		AllowedRuntimeClasses:  []string{"gvisor"},
		AllowedPriorityClasses: []string{"low"},
		NodeSelector:           map[string]string{"pool": "a"},
		AllowedStorageClasses:  []string{"fast", "standard"},
		AllowedIngressClasses:  []string{"public"},
	}
	vcNS := namespace("t1-vc", map[string]string{tenancy.LabelTenant: "t1"})
	create(t, c,
		spaceNamespace(t, "t1-space", "t1", t1),
		vcNS,
		spaceNamespace(t, "t2-space", "t2", tenancy.Policy{PodSecurity: tenancy.PodSecurityRestricted}),
		namespace("t3-new", map[string]string{tenancy.LabelTenant: "t3", tenancy.LabelSpace: "t3-new"}),
		&nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: "gvisor"}, Handler: "runsc"},
		&nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: "kata"}, Handler: "kata"},
		&schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "low"}, Value: 10},
		&schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "high"}, Value: 100000},
	)
	pol, bind := admissionpolicy.SpacePolicy("some-engine")
	applyAll(t, c, pol, bind)
	// The first refusal says the policy is loaded.
	until(t, "the policy to be in force", func(ctx context.Context) string {
		return check(ctx, c, testPod("t1-space", func(p *corev1.Pod) { p.Spec.RuntimeClassName = ptr("kata") }), "spec.runtimeClassName")
	})
	cases := []struct {
		name string
		obj  client.Object
		want string
	}{
		{"runtime class not allowed", testPod("t1-space", func(p *corev1.Pod) { p.Spec.RuntimeClassName = ptr("kata") }),
			`spec.runtimeClassName: "kata" is not allowed (allowed: [gvisor])`},
		{"runtime class allowed", testPod("t1-space", func(p *corev1.Pod) { p.Spec.RuntimeClassName = ptr("gvisor") }), ""},
		{"no runtime class", testPod("t1-space", nil), ""},
		{"priority class not allowed", testPod("t1-space", func(p *corev1.Pod) { p.Spec.PriorityClassName = "high" }),
			`spec.priorityClassName: "high" is not allowed (allowed: [low])`},
		{"priority class allowed", testPod("t1-space", func(p *corev1.Pod) { p.Spec.PriorityClassName = "low" }), ""},
		{"node selector missing", testPod("t1-space", func(p *corev1.Pod) { p.Spec.NodeSelector = nil }),
			`spec.nodeSelector: must contain the tenant's node selector {"pool": "a"}`},
		{"node selector changed", testPod("t1-space", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"pool": "b"} }),
			`spec.nodeSelector`},
		{"node selector with more", testPod("t1-space", func(p *corev1.Pod) { p.Spec.NodeSelector["zone"] = "x" }), ""},
		{"storage class not allowed", claim("t1-space", ptr("slow")), `spec.storageClassName: "slow" is not allowed (allowed: [fast standard])`},
		{"no storage class and no default", claim("t1-space", nil), `spec.storageClassName: "" is not allowed`},
		{"storage class allowed", claim("t1-space", ptr("fast")), ""},
		{"ingress class not allowed", ingress("t1-space", ptr("internal"), ""), `spec.ingressClassName: "internal" is not allowed (allowed: [public])`},
		{"ingress class allowed", ingress("t1-space", ptr("public"), ""), ""},
		{"legacy annotation not allowed", ingress("t1-space", nil, "internal"), `spec.ingressClassName: "internal" is not allowed`},
		{"legacy annotation allowed", ingress("t1-space", nil, "public"), ""},
		{"no ingress class", ingress("t1-space", nil, ""), `spec.ingressClassName: "" is not allowed`},
		// An unrestricted tenant's space, and a namespace of t1 that is no
		// space (a virtual cluster's host namespace): nothing refused.
		{"t2's space", claim("t2-space", ptr("slow")), ""},
		{"t2's space, any pod", testPod("t2-space", func(p *corev1.Pod) { p.Spec.RuntimeClassName = ptr("kata"); p.Spec.NodeSelector = nil }), ""},
		{"t1's non-space namespace", testPod("t1-vc", func(p *corev1.Pod) { p.Spec.RuntimeClassName = ptr("kata"); p.Spec.NodeSelector = nil }), ""},
		// A space the engine has not annotated yet is closed, not open.
		{"space without its policy yet", testPod("t3-new", nil), `namespace t3-new: the platform has not applied its tenant's policy yet`},
	}
	for _, tc := range cases {
		if why := check(ctx, c, tc.obj, tc.want); why != "" {
			t.Errorf("%s: %s", tc.name, why)
		}
	}

	// Objects older than a restriction stay updatable; changing the class
	// to a refused one is refused.
	old := ingress("t1-vc", ptr("internal"), "")
	old.Name, old.GenerateName = "legacy", ""
	create(t, c, old)
	patch := client.MergeFrom(vcNS.DeepCopy())
	ann, err := admissionpolicy.SpaceAnnotations("t1", t1)
	if err != nil {
		t.Fatal(err)
	}
	vcNS.Labels[tenancy.LabelSpace] = "t1-vc"
	vcNS.Annotations = ann
	if err := c.Patch(ctx, vcNS, patch); err != nil {
		t.Fatal(err)
	}
	until(t, "an old ingress to stay updatable", func(ctx context.Context) string {
		cur := &networkingv1.Ingress{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(old), cur); err != nil {
			return err.Error()
		}
		cur.Labels = map[string]string{"touched": "yes"}
		if err := c.Update(ctx, cur); err != nil {
			return "label update refused: " + err.Error()
		}
		cur.Spec.IngressClassName = ptr("other")
		err := c.Update(ctx, cur, client.DryRunAll)
		if err == nil || !strings.Contains(err.Error(), `spec.ingressClassName: "other" is not allowed`) {
			return "class change: " + errString(err)
		}
		return ""
	})
}

// The engine's identities may create in a space not annotated yet (what a
// template or a syncer puts there); nobody else may.
func TestSpacePolicyPendingExemptsTheEngine(t *testing.T) {
	ctx := context.Background()
	admin := newClient(t, apiServer.Config)
	ssr := &authenticationv1.SelfSubjectReview{}
	if err := admin.Create(ctx, ssr); err != nil {
		t.Fatal(err)
	}
	create(t, admin,
		namespace("pending-space", map[string]string{tenancy.LabelTenant: "p", tenancy.LabelSpace: "pending-space"}),
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "pod-creator"}, Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"create"}}}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "member-pod-creator"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "pod-creator"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "member"}}},
	)
	pol, bind := admissionpolicy.SpacePolicy("some-engine", ssr.Status.UserInfo.Username)
	applyAll(t, admin, pol, bind)
	cfg := rest.CopyConfig(apiServer.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "member"}
	member := newClient(t, cfg)
	until(t, "the member's create to be refused", func(ctx context.Context) string {
		return check(ctx, member, testPod("pending-space", nil), "the platform has not applied its tenant's policy yet")
	})
	// (The policy before this one refused everybody: wait for this one.)
	until(t, "the engine's create to be admitted", func(ctx context.Context) string {
		return check(ctx, admin, testPod("pending-space", nil), "")
	})
	if why := check(ctx, member, testPod("pending-space", nil), "the platform has not applied its tenant's policy yet"); why != "" {
		t.Errorf("the member's create: %s", why)
	}
	// Put back the policy the other tests expect.
	pol, bind = admissionpolicy.SpacePolicy("some-engine")
	applyAll(t, admin, pol, bind)
}

func errString(err error) string {
	if err == nil {
		return "admitted"
	}
	return err.Error()
}

// TestNamespaceGuardOnAPIServer: a user allowed by RBAC to create and edit
// namespaces still cannot touch their tenancy labels, annotations or
// engine ownerReferences; the engine identity can.
func TestNamespaceGuardOnAPIServer(t *testing.T) {
	ctx := context.Background()
	admin := newClient(t, apiServer.Config)
	ssr := &authenticationv1.SelfSubjectReview{}
	if err := admin.Create(ctx, ssr); err != nil {
		t.Fatal(err)
	}
	engineUser := ssr.Status.UserInfo.Username
	if engineUser == "" {
		t.Fatal("SelfSubjectReview returned no user name")
	}
	pol, bind, err := admissionpolicy.NamespaceGuard(admissionpolicy.GuardOptions{
		EngineUsers: []string{"some-earlier-engine", engineUser},
		Labels:      []string{"vcluster.vclusterkit.io/name"},
		Annotations: []string{"tenancy.vclusterkit.io/namespace-uid"},
		OwnerGroups: []string{"tenancy.vclusterkit.io", "vcluster.vclusterkit.io"},
	})
	if err != nil {
		t.Fatal(err)
	}
	create(t, admin,
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "namespace-editor"}, Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{""}, Resources: []string{"namespaces", "namespaces/status"}, Verbs: []string{"get", "list", "create", "update", "patch"},
		}}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "mallory-namespace-editor"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "namespace-editor"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "mallory"}}},
		namespace("g-space", map[string]string{tenancy.LabelTenant: "g", tenancy.LabelSpace: "g-space", tenancy.TreeLabel("g"): "0", "team": "a"}),
		namespace("g-stray", map[string]string{tenancy.TreeLabel("g"): "0"}),
	)
	applyAll(t, admin, pol, bind)
	cfg := rest.CopyConfig(apiServer.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "mallory"}
	mallory := newClient(t, cfg)

	mergePatch := func(c client.Client, name, body string) error {
		return c.Patch(ctx, namespace(name, nil), client.RawPatch(types.MergePatchType, []byte(body)))
	}
	until(t, "the guard to be in force", func(ctx context.Context) string {
		err := mergePatch(mallory, "g-space", `{"metadata":{"labels":{"tenancy.vclusterkit.io/tenant":"h"}}}`)
		if err == nil || !strings.Contains(err.Error(), "tenancy.vclusterkit.io/tenant: the tenancy labels") {
			// Admitted before the guard was loaded: put the label back
			// (as the engine) so the next try is a change again.
			_ = mergePatch(admin, "g-space", `{"metadata":{"labels":{"tenancy.vclusterkit.io/tenant":"g"}}}`)
			return "relabel: " + errString(err)
		}
		return ""
	})
	refused := []struct{ name, ns, patch, want string }{
		{"remove the tenant label", "g-space", `{"metadata":{"labels":{"tenancy.vclusterkit.io/tenant":null}}}`, "tenancy.vclusterkit.io/tenant"},
		{"change the space label", "g-space", `{"metadata":{"labels":{"tenancy.vclusterkit.io/space":"x"}}}`, "tenancy.vclusterkit.io/space"},
		{"add another tenant's tree label", "g-space", `{"metadata":{"labels":{"h.tree.tenancy.vclusterkit.io/depth":"1"}}}`, "h.tree.tenancy.vclusterkit.io/depth"},
		{"drop the tree label", "g-space", `{"metadata":{"labels":{"g.tree.tenancy.vclusterkit.io/depth":null}}}`, "g.tree.tenancy.vclusterkit.io/depth"},
		{"add the virtual cluster label", "g-space", `{"metadata":{"labels":{"vcluster.vclusterkit.io/name":"x"}}}`, "vcluster.vclusterkit.io/name"},
		{"add the namespace UID annotation", "g-space", `{"metadata":{"annotations":{"tenancy.vclusterkit.io/namespace-uid":"x"}}}`, "metadata.annotations: tenancy.vclusterkit.io/namespace-uid"},
		{"adopt into a tenant", "g-stray", `{"metadata":{"labels":{"tenancy.vclusterkit.io/tenant":"g"}}}`, "tenancy.vclusterkit.io/tenant"},
		{"add an engine ownerReference", "g-stray", `{"metadata":{"ownerReferences":[{"apiVersion":"tenancy.vclusterkit.io/v1alpha1","kind":"Space","name":"g-space","uid":"0b6b6a7e-0000-4000-8000-000000000001"}]}}`,
			"metadata.ownerReferences: Space/g-space"},
	}
	for _, tc := range refused {
		err := mergePatch(mallory, tc.ns, tc.patch)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !apierrors.IsInvalid(err) && !apierrors.IsForbidden(err) {
			t.Errorf("%s: %v, want a refusal naming %s", tc.name, err, tc.want)
		}
	}
	// Through the status subresource too.
	ns := &corev1.Namespace{}
	if err := mallory.Get(ctx, client.ObjectKey{Name: "g-space"}, ns); err != nil {
		t.Fatal(err)
	}
	ns.Labels[tenancy.LabelTenant] = "h"
	if err := mallory.Status().Update(ctx, ns); err == nil || !strings.Contains(err.Error(), "tenancy.vclusterkit.io/tenant") {
		t.Errorf("relabel through namespaces/status: %v", err)
	}
	// A new namespace dressed as a tenant's.
	if err := mallory.Create(ctx, namespace("forged", map[string]string{tenancy.LabelTenant: "g"})); err == nil || !strings.Contains(err.Error(), "tenancy.vclusterkit.io/tenant") {
		t.Errorf("creating a namespace with the tenant label: %v", err)
	}
	admitted := []struct{ name, ns, patch string }{
		{"own label on a tenant's namespace", "g-space", `{"metadata":{"labels":{"team":"b"}}}`},
		{"remove a stray tree label from a namespace of no tenant", "g-stray", `{"metadata":{"labels":{"g.tree.tenancy.vclusterkit.io/depth":null}}}`},
	}
	for _, tc := range admitted {
		if err := mergePatch(mallory, tc.ns, tc.patch); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if err := mallory.Create(ctx, namespace("plain-by-mallory", map[string]string{"team": "a"})); err != nil {
		t.Errorf("creating a plain namespace: %v", err)
	}
	// The engine's identity is exempt.
	if err := mergePatch(admin, "g-space", `{"metadata":{"labels":{"tenancy.vclusterkit.io/tenant":"h","h.tree.tenancy.vclusterkit.io/depth":"0"}}}`); err != nil {
		t.Errorf("the engine relabelling: %v", err)
	}
}
