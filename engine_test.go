package vclusterkit_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	vclusterkit "github.com/vclusterkit/vclusterkit"
	"github.com/vclusterkit/vclusterkit/lifecycle"
	"github.com/vclusterkit/vclusterkit/quota"
	"github.com/vclusterkit/vclusterkit/tenancy"
)

func createTenant(t *testing.T, name, parent string, mutate ...func(*tenancy.Tenant)) {
	t.Helper()
	tn := &tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: tenancy.TenantSpec{Parent: parent}}
	for _, m := range mutate {
		m(tn)
	}
	if err := hostC.Create(context.Background(), tn); err != nil {
		t.Fatalf("create tenant %s: %v", name, err)
	}
}

func createSpace(t *testing.T, name, tenant string) {
	t.Helper()
	sp := &tenancy.Space{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: tenancy.SpaceSpec{Tenant: tenant}}
	if err := hostC.Create(context.Background(), sp); err != nil {
		t.Fatalf("create space %s: %v", name, err)
	}
}

func gone(ctx context.Context, obj client.Object) (bool, string) {
	err := hostC.Get(ctx, client.ObjectKeyFromObject(obj), obj)
	if apierrors.IsNotFound(err) {
		return true, ""
	}
	return false, fmt.Sprintf("%T %s still exists (err %v, deletionTimestamp %v, finalizers %v)", obj, obj.GetName(), err, obj.GetDeletionTimestamp(), obj.GetFinalizers())
}

// TestSpaceBecomesIsolatedNamespace checks everything a Space puts on the
// host, that the engine puts tampered tenancy labels back, and that
// deleting the space removes its namespace.
func TestSpaceBecomesIsolatedNamespace(t *testing.T) {
	host.LogsOnFailure(t)
	createTenant(t, "acme", "", func(tn *tenancy.Tenant) {
		tn.Spec.Members = []tenancy.Member{{Kind: tenancy.MemberUser, Name: "alice", Role: tenancy.RoleAdmin}}
		tn.Spec.Quota = corev1.ResourceList{corev1.ResourcePods: resource.MustParse("10")}
		tn.Spec.Policy.PodSecurity = tenancy.PodSecurityBaseline
		tn.Spec.Policy.NetworkIsolation = tenancy.IsolationTenant
	})
	createTenant(t, "acme-web", "acme", func(tn *tenancy.Tenant) {
		tn.Spec.Members = []tenancy.Member{{Kind: tenancy.MemberGroup, Name: "web-devs", Role: tenancy.RoleEdit}}
		tn.Spec.Quota = corev1.ResourceList{corev1.ResourcePods: resource.MustParse("4")}
		tn.Spec.Policy.PodSecurity = tenancy.PodSecurityRestricted
	})
	createSpace(t, "acme-web-dev", "acme-web")

	ns := &corev1.Namespace{}
	eventually(t, 60*time.Second, "the space's namespace to be labelled", func(ctx context.Context) (bool, string) {
		if err := hostC.Get(ctx, client.ObjectKey{Name: "acme-web-dev"}, ns); err != nil {
			return false, err.Error()
		}
		l := ns.Labels
		ok := l[tenancy.LabelTenant] == "acme-web" && l[tenancy.LabelSpace] == "acme-web-dev" &&
			l[tenancy.TreeLabel("acme")] != "" && l[tenancy.TreeLabel("acme-web")] != "" &&
			l["pod-security.kubernetes.io/enforce"] == "restricted"
		return ok, fmt.Sprintf("labels %v", l)
	})

	eventually(t, 30*time.Second, "RoleBindings for inherited and own members", func(ctx context.Context) (bool, string) {
		var rbs rbacv1.RoleBindingList
		if err := hostC.List(ctx, &rbs, client.InNamespace("acme-web-dev"), client.MatchingLabels{vclusterkit.LabelManagedBy: "vclusterkit"}); err != nil {
			return false, err.Error()
		}
		got := map[string]string{}
		for _, rb := range rbs.Items {
			got[rb.Subjects[0].Kind+"/"+rb.Subjects[0].Name] = rb.RoleRef.Name
		}
		return got["User/alice"] == "admin" && got["Group/web-devs"] == "edit" && len(got) == 2, fmt.Sprintf("bindings %v", got)
	})

	rq := &corev1.ResourceQuota{}
	eventually(t, 30*time.Second, "the ResourceQuota capped by the tightest ancestor", func(ctx context.Context) (bool, string) {
		if err := hostC.Get(ctx, client.ObjectKey{Namespace: "acme-web-dev", Name: quota.ObjectName}, rq); err != nil {
			return false, err.Error()
		}
		pods := rq.Spec.Hard[corev1.ResourcePods]
		return pods.Value() == 4, fmt.Sprintf("hard %v", rq.Spec.Hard)
	})

	eventually(t, 30*time.Second, "generated NetworkPolicies", func(ctx context.Context) (bool, string) {
		var nps networkingv1.NetworkPolicyList
		if err := hostC.List(ctx, &nps, client.InNamespace("acme-web-dev")); err != nil {
			return false, err.Error()
		}
		return len(nps.Items) > 0, fmt.Sprintf("%d policies", len(nps.Items))
	})

	// A tenant tries to detach the namespace by relabelling it.
	patch := client.MergeFrom(ns.DeepCopy())
	ns.Labels[tenancy.LabelTenant] = "someone-else"
	delete(ns.Labels, tenancy.TreeLabel("acme"))
	if err := hostC.Patch(context.Background(), ns, patch); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the engine to put the tenancy labels back", func(ctx context.Context) (bool, string) {
		if err := hostC.Get(ctx, client.ObjectKey{Name: "acme-web-dev"}, ns); err != nil {
			return false, err.Error()
		}
		return ns.Labels[tenancy.LabelTenant] == "acme-web" && ns.Labels[tenancy.TreeLabel("acme")] != "", fmt.Sprintf("labels %v", ns.Labels)
	})

	sp := &tenancy.Space{}
	if err := hostC.Get(context.Background(), client.ObjectKey{Name: "acme-web-dev"}, sp); err != nil {
		t.Fatal(err)
	}
	if !meta.IsStatusConditionTrue(sp.Status.Conditions, lifecycle.ConditionReady) {
		t.Errorf("space not Ready: %+v", sp.Status.Conditions)
	}
	if err := hostC.Delete(context.Background(), sp); err != nil {
		t.Fatal(err)
	}
	eventually(t, 90*time.Second, "the space and its namespace to be gone", func(ctx context.Context) (bool, string) {
		if ok, why := gone(ctx, &tenancy.Space{ObjectMeta: metav1.ObjectMeta{Name: "acme-web-dev"}}); !ok {
			return false, why
		}
		return gone(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "acme-web-dev"}})
	})
}

// TestForeignNamespaceIsNeverAdopted: a Space named like an existing
// namespace that no tenant owns fails instead of taking it over.
func TestForeignNamespaceIsNeverAdopted(t *testing.T) {
	host.LogsOnFailure(t)
	ctx := context.Background()
	if err := hostC.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "payments", Labels: map[string]string{"team": "payments"}}}); err != nil {
		t.Fatal(err)
	}
	createTenant(t, "intruder", "")
	createSpace(t, "payments", "intruder")
	eventually(t, 30*time.Second, "the space to report the refusal", func(ctx context.Context) (bool, string) {
		sp := &tenancy.Space{}
		if err := hostC.Get(ctx, client.ObjectKey{Name: "payments"}, sp); err != nil {
			return false, err.Error()
		}
		c := meta.FindStatusCondition(sp.Status.Conditions, "NamespaceReady")
		return c != nil && c.Status == metav1.ConditionFalse && strings.Contains(c.Message, "never adopted"), fmt.Sprintf("conditions %+v", sp.Status.Conditions)
	})
	ns := &corev1.Namespace{}
	if err := hostC.Get(ctx, client.ObjectKey{Name: "payments"}, ns); err != nil {
		t.Fatal(err)
	}
	if _, ok := ns.Labels[tenancy.LabelTenant]; ok || ns.Labels["team"] != "payments" {
		t.Fatalf("the foreign namespace was modified: %v", ns.Labels)
	}
	// Deleting the refused space must not delete the namespace it never owned.
	sp := &tenancy.Space{ObjectMeta: metav1.ObjectMeta{Name: "payments"}}
	if err := hostC.Delete(ctx, sp); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the space to be gone", func(ctx context.Context) (bool, string) { return gone(ctx, sp) })
	if err := hostC.Get(ctx, client.ObjectKey{Name: "payments"}, ns); err != nil || !ns.DeletionTimestamp.IsZero() {
		t.Fatalf("the foreign namespace was deleted with the space: err %v, deletionTimestamp %v", err, ns.DeletionTimestamp)
	}
}

// TestTenantDeletionRefusedUnlessCascade deletes a tenant that still has a
// child and a space: it stays, saying what is in the way, until the
// cascade annotation is set; then the whole subtree goes.
func TestTenantDeletionRefusedUnlessCascade(t *testing.T) {
	host.LogsOnFailure(t)
	ctx := context.Background()
	createTenant(t, "globex", "")
	createTenant(t, "globex-ops", "globex")
	createSpace(t, "globex-ops-prod", "globex-ops")
	eventually(t, 60*time.Second, "the space namespace", func(ctx context.Context) (bool, string) {
		err := hostC.Get(ctx, client.ObjectKey{Name: "globex-ops-prod"}, &corev1.Namespace{})
		return err == nil, fmt.Sprint(err)
	})
	root := &tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "globex"}}
	if err := hostC.Delete(ctx, root); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the refusal to be reported", func(ctx context.Context) (bool, string) {
		if err := hostC.Get(ctx, client.ObjectKeyFromObject(root), root); err != nil {
			return false, err.Error()
		}
		c := meta.FindStatusCondition(root.Status.Conditions, "SubtreeEmpty")
		return c != nil && strings.Contains(c.Message, "refused") && strings.Contains(c.Message, "tenant/globex-ops"), fmt.Sprintf("conditions %+v", root.Status.Conditions)
	})
	// Still there a while later, and so is everything below it.
	time.Sleep(2 * time.Second)
	for _, o := range []client.Object{&tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "globex-ops"}}, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "globex-ops-prod"}}} {
		if err := hostC.Get(ctx, client.ObjectKeyFromObject(o), o); err != nil || !o.GetDeletionTimestamp().IsZero() {
			t.Fatalf("%s was removed although cascading was not asked for (err %v)", o.GetName(), err)
		}
	}
	patch := client.MergeFrom(root.DeepCopy())
	root.Annotations = map[string]string{vclusterkit.AnnotationCascade: "true"}
	if err := hostC.Patch(ctx, root, patch); err != nil {
		t.Fatal(err)
	}
	eventually(t, 120*time.Second, "the whole subtree to be gone", func(ctx context.Context) (bool, string) {
		for _, o := range []client.Object{
			&tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "globex"}},
			&tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "globex-ops"}},
			&tenancy.Space{ObjectMeta: metav1.ObjectMeta{Name: "globex-ops-prod"}},
			&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "globex-ops-prod"}},
		} {
			if ok, why := gone(ctx, o); !ok {
				return false, why
			}
		}
		return true, ""
	})
}

// TestMaxSpacesRefusesTheNewest: a tenant allowing one space gets one; the
// second stays refused with a condition, and gets no namespace.
func TestMaxSpacesRefusesTheNewest(t *testing.T) {
	host.LogsOnFailure(t)
	ctx := context.Background()
	one := int32(1)
	createTenant(t, "stark", "", func(tn *tenancy.Tenant) { tn.Spec.Policy.MaxSpaces = &one })
	createTenant(t, "stark-labs", "stark")
	createSpace(t, "stark-one", "stark")
	eventually(t, 60*time.Second, "the first space's namespace", func(ctx context.Context) (bool, string) {
		err := hostC.Get(ctx, client.ObjectKey{Name: "stark-one"}, &corev1.Namespace{})
		return err == nil, fmt.Sprint(err)
	})
	// The limit caps stark's whole subtree: a space of its child is
	// refused when it is written (the tenancy webhook), naming the limit.
	eventually(t, 30*time.Second, "the second space to be refused at admission", func(ctx context.Context) (bool, string) {
		sp := &tenancy.Space{ObjectMeta: metav1.ObjectMeta{Name: "stark-two"}, Spec: tenancy.SpaceSpec{Tenant: "stark-labs"}}
		err := hostC.Create(ctx, sp)
		if err == nil {
			_ = hostC.Delete(ctx, sp)
		}
		return err != nil && strings.Contains(err.Error(), `ancestor "stark" allows at most 1 spaces`), fmt.Sprint(err)
	})
	if err := hostC.Get(ctx, client.ObjectKey{Name: "stark-two"}, &corev1.Namespace{}); err == nil {
		t.Fatal("the refused space got a namespace")
	}
}

// TestTreeRulesRefusedAtAdmission: a tenant that would loosen what its
// parent sets is refused when it is written, with the field and the
// ancestor named, instead of being stored and flagged afterwards.
func TestTreeRulesRefusedAtAdmission(t *testing.T) {
	host.LogsOnFailure(t)
	createTenant(t, "osborn", "", func(tn *tenancy.Tenant) {
		tn.Spec.Quota = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4")}
	})
	eventually(t, 30*time.Second, "a child asking more cpu than its parent to be refused", func(ctx context.Context) (bool, string) {
		child := &tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "osborn-greedy"}, Spec: tenancy.TenantSpec{Parent: "osborn",
			Quota: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8")}}}
		err := hostC.Create(ctx, child)
		if err == nil {
			_ = hostC.Delete(ctx, child)
		}
		return err != nil && strings.Contains(err.Error(), "spec.quota[cpu]") && strings.Contains(err.Error(), `"osborn"`), fmt.Sprint(err)
	})
	// Within the parent's limit it is admitted.
	createTenant(t, "osborn-ok", "osborn", func(tn *tenancy.Tenant) {
		tn.Spec.Quota = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}
	})
	// A child written right after its parent (one kubectl apply of a tree)
	// finds it: the webhook reads live, not from a cache that may lag.
	for i := range 10 {
		createTenant(t, fmt.Sprintf("osborn-%d", i), "osborn")
		createTenant(t, fmt.Sprintf("osborn-%d-child", i), fmt.Sprintf("osborn-%d", i))
		createSpace(t, fmt.Sprintf("osborn-%d-space", i), fmt.Sprintf("osborn-%d-child", i))
	}
}

// TestTenantChangesPropagate: required namespace labels and annotations
// and LimitRange defaults reach the space's namespace, usage is rolled up
// into the tenant's status, and a change of members is reflected in the
// RoleBindings of every namespace of the subtree.
func TestTenantChangesPropagate(t *testing.T) {
	host.LogsOnFailure(t)
	ctx := context.Background()
	createTenant(t, "lex", "", func(tn *tenancy.Tenant) {
		tn.Spec.Members = []tenancy.Member{{Kind: tenancy.MemberUser, Name: "alice", Role: tenancy.RoleAdmin}}
		tn.Spec.Quota = corev1.ResourceList{corev1.ResourcePods: resource.MustParse("5")}
		tn.Spec.LimitRange = &tenancy.LimitRangeDefaults{DefaultRequest: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m")}}
		tn.Spec.Policy.RequiredNamespaceLabels = map[string]string{"cost-center": "42"}
		tn.Spec.Policy.RequiredNamespaceAnnotations = map[string]string{"owner": "lex"}
	})
	createTenant(t, "lex-labs", "lex")
	createSpace(t, "lex-app", "lex")
	createSpace(t, "lex-labs-x", "lex-labs")
	eventually(t, 60*time.Second, "required labels, annotations and the LimitRange", func(ctx context.Context) (bool, string) {
		ns := &corev1.Namespace{}
		if err := hostC.Get(ctx, client.ObjectKey{Name: "lex-app"}, ns); err != nil {
			return false, err.Error()
		}
		if ns.Labels["cost-center"] != "42" || ns.Annotations["owner"] != "lex" {
			return false, fmt.Sprintf("labels %v annotations %v", ns.Labels, ns.Annotations)
		}
		lr := &corev1.LimitRange{}
		if err := hostC.Get(ctx, client.ObjectKey{Namespace: "lex-app", Name: quota.ObjectName}, lr); err != nil {
			return false, "LimitRange: " + err.Error()
		}
		for _, item := range lr.Spec.Limits {
			if q, ok := item.DefaultRequest[corev1.ResourceCPU]; ok && q.String() == "50m" {
				return true, ""
			}
		}
		return false, fmt.Sprintf("LimitRange %+v", lr.Spec.Limits)
	})

	if err := hostC.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "worker", Namespace: "lex-app"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "w", Image: "registry.invalid/w:1"}}}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "a pod in the child's space", func(ctx context.Context) (bool, string) {
		err := hostC.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "lab-worker", Namespace: "lex-labs-x"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "w", Image: "registry.invalid/w:1"}}}})
		return err == nil || apierrors.IsAlreadyExists(err), fmt.Sprint(err)
	})
	// The subtree's usage, the tenant's own part, and the child's: every
	// charged resource, limited or not (requests.cpu is the LimitRange
	// default, charged although no quota limits cpu).
	eventually(t, 90*time.Second, "usage rolled up into the tenants' status", func(ctx context.Context) (bool, string) {
		lex, labs := &tenancy.Tenant{}, &tenancy.Tenant{}
		if err := hostC.Get(ctx, client.ObjectKey{Name: "lex"}, lex); err != nil {
			return false, err.Error()
		}
		if err := hostC.Get(ctx, client.ObjectKey{Name: "lex-labs"}, labs); err != nil {
			return false, err.Error()
		}
		pods, own, child := lex.Status.Usage[corev1.ResourcePods], lex.Status.OwnUsage[corev1.ResourcePods], labs.Status.Usage[corev1.ResourcePods]
		cpu := lex.Status.Usage[corev1.ResourceRequestsCPU]
		return pods.Value() == 2 && own.Value() == 1 && child.Value() == 1 && cpu.MilliValue() == 100 && lex.Status.Spaces == 2,
			fmt.Sprintf("lex usage %v own %v spaces %d; lex-labs usage %v", lex.Status.Usage, lex.Status.OwnUsage, lex.Status.Spaces, labs.Status.Usage)
	})
	eventually(t, 90*time.Second, "the space's usage from its ResourceQuota", func(ctx context.Context) (bool, string) {
		sp := &tenancy.Space{}
		if err := hostC.Get(ctx, client.ObjectKey{Name: "lex-app"}, sp); err != nil {
			return false, err.Error()
		}
		pods := sp.Status.Usage[corev1.ResourcePods]
		return pods.Value() == 1, fmt.Sprintf("space usage %v", sp.Status.Usage)
	})

	tn := &tenancy.Tenant{}
	if err := hostC.Get(ctx, client.ObjectKey{Name: "lex"}, tn); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(tn.DeepCopy())
	tn.Spec.Members = []tenancy.Member{{Kind: tenancy.MemberUser, Name: "dave", Role: tenancy.RoleEdit}}
	if err := hostC.Patch(ctx, tn, patch); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"lex-app", "lex-labs-x"} {
		eventually(t, 60*time.Second, "the new members in "+ns, func(ctx context.Context) (bool, string) {
			var rbs rbacv1.RoleBindingList
			if err := hostC.List(ctx, &rbs, client.InNamespace(ns), client.MatchingLabels{vclusterkit.LabelManagedBy: "vclusterkit"}); err != nil {
				return false, err.Error()
			}
			got := map[string]string{}
			for _, rb := range rbs.Items {
				got[rb.Subjects[0].Name] = rb.RoleRef.Name
			}
			return len(got) == 1 && got["dave"] == "edit", fmt.Sprintf("bindings %v", got)
		})
	}
}
