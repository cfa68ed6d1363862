package vclusterkit_test

import (
	"context"
	"fmt"
	"k8s.io/client-go/util/retry"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	vclusterkit "github.com/vclusterkit/vclusterkit"
	"github.com/vclusterkit/vclusterkit/tenancy"
)

const starterTemplate = `apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  log-level: info
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: pod-reader
rules:
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
`

// TestSpaceTemplate: a space made from a template gets the template's
// objects, a hand edit of them is put back, objects dropped from the
// template (or all, when the space's template is removed) are pruned while
// the tenant's own stay, and a template that reaches
// outside the namespace (a cluster-scoped kind, another namespace) is
// refused with a condition, applying nothing.
func TestSpaceTemplate(t *testing.T) {
	host.LogsOnFailure(t)
	ctx := context.Background()
	if err := hostC.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: vclusterkit.DefaultTemplateNamespace}}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	for name, data := range map[string]string{
		"starter":   starterTemplate,
		"escape":    "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: tenant-root}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\nsubjects: [{kind: Group, name: tenants, apiGroup: rbac.authorization.k8s.io}]\n",
		"elsewhere": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: planted, namespace: kube-system}\n",
	} {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: vclusterkit.DefaultTemplateNamespace}, Data: map[string]string{"objects.yaml": data}}
		if err := hostC.Create(ctx, cm); err != nil {
			t.Fatal(err)
		}
	}
	createTenant(t, "acme-tpl", "")
	for _, sp := range []struct{ name, template string }{{"tpl-good", "starter"}, {"tpl-escape", "escape"}, {"tpl-elsewhere", "elsewhere"}} {
		if err := hostC.Create(ctx, &tenancy.Space{ObjectMeta: metav1.ObjectMeta{Name: sp.name}, Spec: tenancy.SpaceSpec{Tenant: "acme-tpl", Template: sp.template}}); err != nil {
			t.Fatal(err)
		}
	}
	settings := &corev1.ConfigMap{}
	eventually(t, 60*time.Second, "the template's objects in the space", func(ctx context.Context) (bool, string) {
		if err := hostC.Get(ctx, client.ObjectKey{Namespace: "tpl-good", Name: "settings"}, settings); err != nil {
			return false, err.Error()
		}
		if err := hostC.Get(ctx, client.ObjectKey{Namespace: "tpl-good", Name: "pod-reader"}, &rbacv1.Role{}); err != nil {
			return false, "role: " + err.Error()
		}
		return settings.Labels[tenancy.LabelTemplate] == "starter" && settings.Data["log-level"] == "info", fmt.Sprintf("labels %v data %v", settings.Labels, settings.Data)
	})
	patch := client.MergeFrom(settings.DeepCopy())
	settings.Data["log-level"] = "debug"
	if err := hostC.Patch(ctx, settings, patch); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the template's value to be put back", func(ctx context.Context) (bool, string) {
		if err := hostC.Get(ctx, client.ObjectKey{Namespace: "tpl-good", Name: "settings"}, settings); err != nil {
			return false, err.Error()
		}
		return settings.Data["log-level"] == "info", "log-level " + settings.Data["log-level"]
	})

	// The tenant's own objects are never pruned.
	if err := hostC.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "mine", Namespace: "tpl-good"}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the kinds the template put there to be recorded", func(ctx context.Context) (bool, string) {
		sp := &tenancy.Space{}
		if err := hostC.Get(ctx, client.ObjectKey{Name: "tpl-good"}, sp); err != nil {
			return false, err.Error()
		}
		got := sp.Annotations[tenancy.AnnotationTemplateKinds]
		return got == "rbac.authorization.k8s.io/v1/Role,v1/ConfigMap", got
	})
	// The Role dropped from the template is pruned; the ConfigMap stays.
	tpl := &corev1.ConfigMap{}
	if err := hostC.Get(ctx, client.ObjectKey{Namespace: vclusterkit.DefaultTemplateNamespace, Name: "starter"}, tpl); err != nil {
		t.Fatal(err)
	}
	tpl.Data["objects.yaml"] = strings.SplitN(starterTemplate, "---\n", 2)[0]
	if err := hostC.Update(ctx, tpl); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the Role dropped from the template to be pruned", func(ctx context.Context) (bool, string) {
		err := hostC.Get(ctx, client.ObjectKey{Namespace: "tpl-good", Name: "pod-reader"}, &rbacv1.Role{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	// No template any more: everything it put there goes, the rest stays.
	// The engine writes the Space too (annotations, status): retry a
	// conflict on a fresh copy.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		sp := &tenancy.Space{}
		if err := hostC.Get(ctx, client.ObjectKey{Name: "tpl-good"}, sp); err != nil {
			return err
		}
		sp.Spec.Template = ""
		return hostC.Update(ctx, sp)
	}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the template's objects to be pruned with the template", func(ctx context.Context) (bool, string) {
		err := hostC.Get(ctx, client.ObjectKey{Namespace: "tpl-good", Name: "settings"}, &corev1.ConfigMap{})
		if !apierrors.IsNotFound(err) {
			return false, fmt.Sprint("settings: ", err)
		}
		got := &tenancy.Space{}
		if err := hostC.Get(ctx, client.ObjectKey{Name: "tpl-good"}, got); err != nil {
			return false, err.Error()
		}
		_, recorded := got.Annotations[tenancy.AnnotationTemplateKinds]
		return !recorded, fmt.Sprintf("annotations %v", got.Annotations)
	})
	if err := hostC.Get(ctx, client.ObjectKey{Namespace: "tpl-good", Name: "mine"}, &corev1.ConfigMap{}); err != nil {
		t.Fatalf("the tenant's own configmap was pruned: %v", err)
	}

	for space, want := range map[string]string{"tpl-escape": "cluster-scoped kinds cannot be part of a space template", "tpl-elsewhere": `names namespace "kube-system"`} {
		eventually(t, 30*time.Second, space+" to be refused", func(ctx context.Context) (bool, string) {
			sp := &tenancy.Space{}
			if err := hostC.Get(ctx, client.ObjectKey{Name: space}, sp); err != nil {
				return false, err.Error()
			}
			c := meta.FindStatusCondition(sp.Status.Conditions, "TemplateApplied")
			return c != nil && c.Status == metav1.ConditionFalse && strings.Contains(c.Message, want), fmt.Sprintf("conditions %+v", sp.Status.Conditions)
		})
	}
	if err := hostC.Get(ctx, client.ObjectKey{Name: "tenant-root"}, &rbacv1.ClusterRoleBinding{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a template created a ClusterRoleBinding (err %v)", err)
	}
	if err := hostC.Get(ctx, client.ObjectKey{Namespace: "kube-system", Name: "planted"}, &corev1.ConfigMap{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a template wrote into kube-system (err %v)", err)
	}
}
