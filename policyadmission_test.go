package vclusterkit_test

import (
	"context"
	"fmt"
	"slices"
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
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	vclusterkit "github.com/vclusterkit/vclusterkit"
	"github.com/vclusterkit/vclusterkit/sync/resources/pods"
	"github.com/vclusterkit/vclusterkit/sync/translate"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/tenancy/admissionpolicy"
	"github.com/vclusterkit/vclusterkit/vcluster"
)

// asUser is a host client that impersonates user (the test's admin
// credentials may impersonate).
func asUser(t *testing.T, user string) client.Client {
	t.Helper()
	cfg := rest.CopyConfig(host.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	c, err := client.New(cfg, client.Options{Scheme: hostC.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func paPod(ns string, mutate func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "p-", Namespace: ns}, Spec: corev1.PodSpec{
		Containers:   []corev1.Container{{Name: "app", Image: "registry.example/app:1"}},
		NodeSelector: map[string]string{"pool": "pa"},
	}}
	if mutate != nil {
		mutate(p)
	}
	return p
}

func paClaim(ns, class string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{GenerateName: "c-", Namespace: ns}, Spec: corev1.PersistentVolumeClaimSpec{
		AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		StorageClassName: &class,
		Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
	}}
}

func paIngress(ns, class string) *networkingv1.Ingress {
	return &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{GenerateName: "i-", Namespace: ns}, Spec: networkingv1.IngressSpec{
		IngressClassName: &class,
		DefaultBackend:   &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "web", Port: networkingv1.ServiceBackendPort{Number: 80}}},
	}}
}

// admits creates obj as c (dry run) and says why the outcome is not the
// wanted one: want "" means admitted, else a substring of the refusal.
func admits(ctx context.Context, c client.Client, obj client.Object, want string) string {
	obj = obj.DeepCopyObject().(client.Object)
	err := c.Create(ctx, obj, client.DryRunAll)
	switch {
	case want == "" && err != nil:
		return "refused: " + err.Error()
	case want != "" && err == nil:
		return fmt.Sprintf("%T admitted, want a refusal with %s", obj, want)
	case want != "" && !strings.Contains(err.Error(), want):
		return "refused with " + err.Error() + ", want " + want
	}
	return ""
}

// TestSpacePolicyAdmission: in spaces, where members write with kubectl,
// the host API server itself refuses pods, claims and ingresses that break
// the tenant's effective policy, for a child tenant too; lifting the
// restriction lets them in; the member cannot relabel the namespace.
func TestSpacePolicyAdmission(t *testing.T) {
	host.LogsOnFailure(t)
	ctx := context.Background()
	for _, o := range []client.Object{
		&nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: "pa-gvisor"}, Handler: "runsc"},
		&nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: "pa-kata"}, Handler: "kata"},
		&schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "pa-low"}, Value: 10},
		&schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "pa-high"}, Value: 100000},
	} {
		if err := hostC.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	createTenant(t, "pa-org", "", func(tn *tenancy.Tenant) {
		tn.Spec.Members = []tenancy.Member{{Kind: tenancy.MemberUser, Name: "pa-alice", Role: tenancy.RoleEdit}}
		tn.Spec.Policy = tenancy.Policy{
			AllowedRuntimeClasses:  []string{"pa-gvisor"},
			AllowedPriorityClasses: []string{"pa-low"},
			AllowedStorageClasses:  []string{"pa-fast"},
			AllowedIngressClasses:  []string{"pa-public"},
			NodeSelector:           map[string]string{"pool": "pa"},
		}
	})
	createTenant(t, "pa-team", "pa-org", func(tn *tenancy.Tenant) { tn.Annotations = map[string]string{vclusterkit.AnnotationCascade: "true"} })
	createTenant(t, "pa-other", "")
	createSpace(t, "pa-org-app", "pa-org")
	createSpace(t, "pa-team-app", "pa-team")
	alice := asUser(t, "pa-alice")

	eventually(t, 60*time.Second, "the member's pods in the space to be checked by the tenant's policy", func(ctx context.Context) (bool, string) {
		why := admits(ctx, alice, paPod("pa-org-app", func(p *corev1.Pod) { p.Spec.RuntimeClassName = ptrTo("pa-kata") }), "spec.runtimeClassName")
		return why == "", why
	})
	eventually(t, 60*time.Second, "the child tenant's space to be checked too", func(ctx context.Context) (bool, string) {
		why := admits(ctx, alice, paPod("pa-team-app", func(p *corev1.Pod) { p.Spec.RuntimeClassName = ptrTo("pa-kata") }), "spec.runtimeClassName")
		return why == "", why
	})
	for _, ns := range []string{"pa-org-app", "pa-team-app"} {
		for _, tc := range []struct {
			name string
			obj  client.Object
			want string
		}{
			{"runtime class", paPod(ns, func(p *corev1.Pod) { p.Spec.RuntimeClassName = ptrTo("pa-kata") }),
				`spec.runtimeClassName: "pa-kata" is not allowed (allowed: [pa-gvisor])`},
			{"priority class", paPod(ns, func(p *corev1.Pod) { p.Spec.PriorityClassName = "pa-high" }),
				`spec.priorityClassName: "pa-high" is not allowed (allowed: [pa-low])`},
			{"node selector", paPod(ns, func(p *corev1.Pod) { p.Spec.NodeSelector = nil }), `spec.nodeSelector: must contain the tenant's node selector {"pool": "pa"}`},
			{"storage class", paClaim(ns, "pa-slow"), `spec.storageClassName: "pa-slow" is not allowed (allowed: [pa-fast])`},
			{"ingress class", paIngress(ns, "pa-internal"), `spec.ingressClassName: "pa-internal" is not allowed (allowed: [pa-public])`},
			{"allowed pod", paPod(ns, func(p *corev1.Pod) { p.Spec.RuntimeClassName = ptrTo("pa-gvisor"); p.Spec.PriorityClassName = "pa-low" }), ""},
			{"allowed claim", paClaim(ns, "pa-fast"), ""},
			{"allowed ingress", paIngress(ns, "pa-public"), ""},
		} {
			if why := admits(ctx, alice, tc.obj, tc.want); why != "" {
				t.Errorf("%s: %s: %s", ns, tc.name, why)
			}
		}
	}
	// Two policies, labelled as the engine's, whatever the number of
	// tenants: the space policy and the namespace guard.
	for _, name := range []string{admissionpolicy.SpacePolicyName, admissionpolicy.NamespaceGuardName} {
		pol := &admissionregistrationv1.ValidatingAdmissionPolicy{}
		bind := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{}
		for _, o := range []client.Object{pol, bind} {
			if err := hostC.Get(ctx, client.ObjectKey{Name: name}, o); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if o.GetLabels()[admissionpolicy.LabelManagedBy] != admissionpolicy.ManagedBy {
				t.Errorf("%T %s labels %v", o, name, o.GetLabels())
			}
		}
	}
	// The child's namespace carries the effective (inherited) policy.
	teamNS := &corev1.Namespace{}
	if err := hostC.Get(ctx, client.ObjectKey{Name: "pa-team-app"}, teamNS); err != nil {
		t.Fatal(err)
	}
	if got := teamNS.Annotations[admissionpolicy.AnnotationRuntimeClass]; got != "pa-gvisor" || teamNS.Annotations[admissionpolicy.AnnotationPolicyTenant] != "pa-team" {
		t.Errorf("child space annotations: %v", teamNS.Annotations)
	}
	// A member cannot edit them either (the guard), tried below with
	// namespace rights.

	// Relabelling the space's namespace, with RBAC that allows editing it.
	if err := hostC.Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "pa-namespace-editor", Namespace: "pa-org-app"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get", "update", "patch"}}}}); err != nil {
		t.Fatal(err)
	}
	if err := hostC.Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "pa-namespace-editor", Namespace: "pa-org-app"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "pa-namespace-editor"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "pa-alice"}}}); err != nil {
		t.Fatal(err)
	}
	patchNS := func(ctx context.Context, body string) error {
		return alice.Patch(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "pa-org-app"}}, client.RawPatch(types.MergePatchType, []byte(body)))
	}
	eventually(t, 30*time.Second, "the member to be allowed to label its namespace", func(ctx context.Context) (bool, string) {
		err := patchNS(ctx, `{"metadata":{"labels":{"team":"web"}}}`)
		return err == nil, fmt.Sprint(err)
	})
	for _, tc := range []struct{ name, patch, want string }{
		{"move to another tenant", `{"metadata":{"labels":{"tenancy.vclusterkit.io/tenant":"pa-other"}}}`, "tenancy.vclusterkit.io/tenant"},
		{"remove the tenant label", `{"metadata":{"labels":{"tenancy.vclusterkit.io/tenant":null}}}`, "tenancy.vclusterkit.io/tenant"},
		{"add another tenant's tree label", `{"metadata":{"labels":{"pa-other.tree.tenancy.vclusterkit.io/depth":"0"}}}`, "pa-other.tree.tenancy.vclusterkit.io/depth"},
		{"widen the allowed storage classes", `{"metadata":{"annotations":{"policy.tenancy.vclusterkit.io/storage-classes":"pa-fast,pa-slow"}}}`, "policy.tenancy.vclusterkit.io/storage-classes"},
		{"drop the node selector", `{"metadata":{"annotations":{"policy.tenancy.vclusterkit.io/node-selector":null}}}`, "policy.tenancy.vclusterkit.io/node-selector"},
	} {
		err := patchNS(ctx, tc.patch)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "set by the platform") {
			t.Errorf("%s: %v, want an admission refusal naming %s", tc.name, err, tc.want)
		}
	}
	ns := &corev1.Namespace{}
	if err := hostC.Get(ctx, client.ObjectKey{Name: "pa-org-app"}, ns); err != nil {
		t.Fatal(err)
	}
	if ns.Labels[tenancy.LabelTenant] != "pa-org" || ns.Labels[tenancy.TreeLabel("pa-other")] != "" || ns.Labels["team"] != "web" {
		t.Errorf("namespace labels after the refused patches: %v", ns.Labels)
	}

	// Lifting the runtime class restriction lets such pods in, in the
	// child's space too; the other restrictions stay.
	org := &tenancy.Tenant{}
	if err := hostC.Get(ctx, client.ObjectKey{Name: "pa-org"}, org); err != nil {
		t.Fatal(err)
	}
	org.Spec.Policy.AllowedRuntimeClasses = nil
	if err := hostC.Update(ctx, org); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"pa-org-app", "pa-team-app"} {
		eventually(t, 60*time.Second, "a pa-kata pod to be admitted in "+ns, func(ctx context.Context) (bool, string) {
			why := admits(ctx, alice, paPod(ns, func(p *corev1.Pod) { p.Spec.RuntimeClassName = ptrTo("pa-kata") }), "")
			return why == "", why
		})
		if why := admits(ctx, alice, paClaim(ns, "pa-slow"), "spec.storageClassName"); why != "" {
			t.Errorf("%s: the storage class restriction went with the runtime one: %s", ns, why)
		}
	}

	// Lifting every restriction leaves nothing refused; a deleted child
	// tenant takes its space with it.
	team := &tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "pa-team"}}
	if err := hostC.Delete(ctx, team); err != nil {
		t.Fatal(err)
	}
	if err := hostC.Get(ctx, client.ObjectKey{Name: "pa-org"}, org); err != nil {
		t.Fatal(err)
	}
	org.Spec.Policy = tenancy.Policy{}
	if err := hostC.Update(ctx, org); err != nil {
		t.Fatal(err)
	}
	eventually(t, 90*time.Second, "the child's space namespace to be deleted", func(ctx context.Context) (bool, string) {
		return gone(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "pa-team-app"}})
	})
	eventually(t, 30*time.Second, "the lifted restrictions to leave the namespace", func(ctx context.Context) (bool, string) {
		ns := &corev1.Namespace{}
		if err := hostC.Get(ctx, client.ObjectKey{Name: "pa-org-app"}, ns); err != nil {
			return false, err.Error()
		}
		for _, k := range admissionpolicy.SpaceAnnotationKeys() {
			if _, ok := ns.Annotations[k]; ok && k != admissionpolicy.AnnotationPolicyTenant {
				return false, fmt.Sprintf("annotations %v", ns.Annotations)
			}
		}
		return ns.Annotations[admissionpolicy.AnnotationPolicyTenant] == "pa-org", fmt.Sprintf("annotations %v", ns.Annotations)
	})
	eventually(t, 30*time.Second, "anything to be admitted in pa-org-app", func(ctx context.Context) (bool, string) {
		why := admits(ctx, alice, paClaim("pa-org-app", "pa-slow"), "")
		if why == "" {
			why = admits(ctx, alice, paPod("pa-org-app", func(p *corev1.Pod) { p.Spec.NodeSelector = nil; p.Spec.PriorityClassName = "pa-high" }), "")
		}
		return why == "", why
	})
	// The guard stays, exempting the engine's identity.
	guard := &admissionregistrationv1.ValidatingAdmissionPolicy{}
	if err := hostC.Get(ctx, client.ObjectKey{Name: admissionpolicy.NamespaceGuardName}, guard); err != nil {
		t.Fatalf("namespace guard: %v", err)
	}
	ssr := &authenticationv1.SelfSubjectReview{}
	if err := hostC.Create(ctx, ssr); err != nil {
		t.Fatal(err)
	}
	if users := admissionpolicy.EngineUsersOf(guard); !slices.Contains(users, ssr.Status.UserInfo.Username) {
		t.Errorf("the guard exempts %v, not the engine's user %q", users, ssr.Status.UserInfo.Username)
	}
}

// A namespace created by someone who may create namespaces cannot carry
// tenancy labels.
func TestForgedNamespaceRefusedAtAdmission(t *testing.T) {
	host.LogsOnFailure(t)
	ctx := context.Background()
	for _, o := range []client.Object{
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "pa-namespace-creator"},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"create"}}}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "pa-namespace-creator"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "pa-namespace-creator"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "pa-mallory"}}},
	} {
		if err := hostC.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	mallory := asUser(t, "pa-mallory")
	eventually(t, 60*time.Second, "a namespace dressed as a tenant's to be refused", func(ctx context.Context) (bool, string) {
		why := admits(ctx, mallory, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "pa-forged",
			Labels: map[string]string{tenancy.LabelTenant: "pa-org", tenancy.TreeLabel("pa-org"): "0"}}}, "tenancy.vclusterkit.io/tenant")
		return why == "", why
	})
	if why := admits(ctx, mallory, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "pa-plain", Labels: map[string]string{"team": "x"}}}, ""); why != "" {
		t.Errorf("a plain namespace: %s", why)
	}
}

func ptrTo[T any](v T) *T { return &v }

// TestVirtualPodClassesRefused: in a virtual cluster, the tenant's allowed
// runtime and priority classes are enforced by the pod syncer (wired from
// the effective policy by DefaultSyncers): a pod naming another class stays
// Pending with reason ClassNotAllowed and never reaches the host; an
// allowed one does.
func TestVirtualPodClassesRefused(t *testing.T) {
	host.LogsOnFailure(t)
	ctx := context.Background()
	classes := func(c client.Client) {
		for _, o := range []client.Object{
			&nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: "pa-gvisor"}, Handler: "runsc"},
			&nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: "pa-kata"}, Handler: "kata"},
			&schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "pa-low"}, Value: 10},
			&schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "pa-high"}, Value: 100000},
		} {
			if err := c.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
				t.Fatal(err)
			}
		}
	}
	classes(hostC)
	createTenant(t, "pa-vc", "", func(tn *tenancy.Tenant) {
		tn.Spec.Policy.AllowedRuntimeClasses = []string{"pa-gvisor"}
		tn.Spec.Policy.AllowedPriorityClasses = []string{"pa-low"}
	})
	createSpace(t, "pa-vc", "pa-vc")
	eventually(t, 60*time.Second, "the tenant namespace", func(ctx context.Context) (bool, string) {
		err := hostC.Get(ctx, client.ObjectKey{Name: "pa-vc"}, &corev1.Namespace{})
		return err == nil, fmt.Sprint(err)
	})
	vc := &vcluster.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: "lab", Namespace: "pa-vc"},
		Spec: vcluster.VirtualClusterSpec{Tenant: "pa-vc", HostNamespace: "pa-vc-lab"}}
	if err := hostC.Create(ctx, vc); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Minute, "the virtual cluster to run", func(ctx context.Context) (bool, string) {
		got, err := getVC(ctx, "pa-vc", "lab")
		if err != nil {
			return false, err.Error()
		}
		return got.Status.Phase == vcluster.PhaseRunning && meta.IsStatusConditionTrue(got.Status.Conditions, "SyncerReady"), fmt.Sprintf("phase %s", got.Status.Phase)
	})
	got, _ := getVC(ctx, "pa-vc", "lab")
	virt := virtualClientFromSecret(t, "pa-vc", got.Status.KubeconfigSecret.Name)
	classes(virt)
	tr, err := translate.New("lab", "pa-vc-lab")
	if err != nil {
		t.Fatal(err)
	}
	mk := func(name, runtimeClass, priorityClass string) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.invalid/c:1"}}, PriorityClassName: priorityClass}}
		if runtimeClass != "" {
			p.Spec.RuntimeClassName = &runtimeClass
		}
		return p
	}
	for _, tc := range []struct {
		pod  *corev1.Pod
		want string
	}{
		{mk("kata", "pa-kata", ""), `spec.runtimeClassName: "pa-kata" is not allowed (allowed: [pa-gvisor])`},
		{mk("high", "", "pa-high"), `spec.priorityClassName: "pa-high" is not allowed (allowed: [pa-low])`},
	} {
		if err := virt.Create(ctx, tc.pod); err != nil {
			t.Fatal(err)
		}
		eventually(t, 60*time.Second, tc.pod.Name+" to be refused", func(ctx context.Context) (bool, string) {
			vp := &corev1.Pod{}
			if err := virt.Get(ctx, client.ObjectKeyFromObject(tc.pod), vp); err != nil {
				return false, err.Error()
			}
			for _, c := range vp.Status.Conditions {
				if c.Type == corev1.PodScheduled && c.Reason == pods.ReasonClassNotAllowed && c.Message == tc.want {
					return true, ""
				}
			}
			return false, fmt.Sprintf("conditions %+v", vp.Status.Conditions)
		})
	}
	ok := mk("ok", "pa-gvisor", "pa-low")
	if err := virt.Create(ctx, ok); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "the allowed pod on the host", func(ctx context.Context) (bool, string) {
		err := hostC.Get(ctx, client.ObjectKey{Namespace: "pa-vc-lab", Name: tr.HostName("ok", "default")}, &corev1.Pod{})
		return err == nil, fmt.Sprint(err)
	})
	for _, name := range []string{"kata", "high"} {
		if err := hostC.Get(ctx, client.ObjectKey{Namespace: "pa-vc-lab", Name: tr.HostName(name, "default")}, &corev1.Pod{}); !apierrors.IsNotFound(err) {
			t.Errorf("refused pod %s on the host: %v", name, err)
		}
	}
	if err := hostC.Delete(ctx, vc); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, "the virtual cluster to be deleted", func(ctx context.Context) (bool, string) {
		return gone(ctx, &vcluster.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: "lab", Namespace: "pa-vc"}})
	})
}
