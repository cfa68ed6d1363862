package vclusterkit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/lifecycle"
	"github.com/vclusterkit/vclusterkit/tenancy"
)

// TestTenancyLabelsCannotBeDetachedOrForged covers hostile case 7: a
// namespace cannot be detached from its tenant, nor a foreign namespace
// adopted into one, by editing labels, annotations or ownerReferences,
// whether by merge patch, JSON patch, server-side apply or a subresource.
func TestTenancyLabelsCannotBeDetachedOrForged(t *testing.T) {
	host.LogsOnFailure(t)
	ctx := context.Background()
	createTenant(t, "wayne", "")
	createSpace(t, "wayne-app", "wayne")
	ns := &corev1.Namespace{}
	owned := func(ctx context.Context) (bool, string) {
		if err := hostC.Get(ctx, client.ObjectKey{Name: "wayne-app"}, ns); err != nil {
			return false, err.Error()
		}
		return ns.Labels[tenancy.LabelTenant] == "wayne" && ns.Labels[tenancy.LabelSpace] == "wayne-app" && ns.Labels[tenancy.TreeLabel("wayne")] == "0",
			fmt.Sprintf("labels %v", ns.Labels)
	}
	eventually(t, 60*time.Second, "the space's namespace", owned)

	tamper := []struct {
		name string
		do   func() error
	}{
		{"JSON patch removing the tenant label", func() error {
			p := []byte(`[{"op":"remove","path":"/metadata/labels/tenancy.vclusterkit.io~1tenant"}]`)
			return hostC.Patch(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "wayne-app"}}, client.RawPatch(types.JSONPatchType, p))
		}},
		{"server-side apply by another manager taking the labels", func() error {
			obj := map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "wayne-app",
				"labels": map[string]string{tenancy.LabelTenant: "joker", tenancy.TreeLabel("wayne"): "9"}}}
			b, _ := json.Marshal(obj)
			return hostC.Patch(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "wayne-app"}}, client.RawPatch(types.ApplyPatchType, b),
				client.FieldOwner("tenant-tool"), client.ForceOwnership)
		}},
		{"merge patch rewriting the space label and dropping the tree label", func() error {
			p := []byte(`{"metadata":{"labels":{"tenancy.vclusterkit.io/space":"elsewhere","wayne.tree.tenancy.vclusterkit.io/depth":null}}}`)
			return hostC.Patch(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "wayne-app"}}, client.RawPatch(types.MergePatchType, p))
		}},
	}
	for _, tc := range tamper {
		if err := tc.do(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		eventually(t, 30*time.Second, "the engine to undo: "+tc.name, owned)
	}

	// The namespaces/status subresource does carry metadata label changes
	// (the API server's namespace status strategy keeps them), so RBAC on
	// it alone would relabel a namespace: the engine undoes that too.
	if err := hostC.Get(ctx, client.ObjectKey{Name: "wayne-app"}, ns); err != nil {
		t.Fatal(err)
	}
	viaStatus := ns.DeepCopy()
	viaStatus.Labels[tenancy.LabelTenant] = "joker"
	if err := hostC.Status().Update(ctx, viaStatus); err != nil {
		t.Fatalf("status update: %v", err)
	}
	eventually(t, 30*time.Second, "the engine to undo a relabel through namespaces/status", owned)

	// Adoption: a foreign namespace dressed as wayne's, with an
	// ownerReference to wayne's Space for good measure.
	sp := &tenancy.Space{}
	if err := hostC.Get(ctx, client.ObjectKey{Name: "wayne-app"}, sp); err != nil {
		t.Fatal(err)
	}
	forged := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: "gotham",
		Labels: map[string]string{tenancy.LabelTenant: "wayne", tenancy.LabelSpace: "wayne-app",
			tenancy.TreeLabel("wayne"): "0", "team": "gotham"},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: tenancy.GroupVersion.String(), Kind: "Space", Name: sp.Name, UID: sp.UID}},
	}}
	if err := hostC.Create(ctx, forged); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the engine labels to be stripped from the foreign namespace", func(ctx context.Context) (bool, string) {
		got := &corev1.Namespace{}
		if err := hostC.Get(ctx, client.ObjectKey{Name: "gotham"}, got); err != nil {
			return false, err.Error()
		}
		for k := range got.Labels {
			if k == tenancy.LabelTenant || k == tenancy.LabelSpace || k == tenancy.TreeLabel("wayne") {
				return false, fmt.Sprintf("labels %v", got.Labels)
			}
		}
		if len(got.OwnerReferences) != 0 {
			return false, fmt.Sprintf("ownerReferences %v (the garbage collector would delete it with the Space)", got.OwnerReferences)
		}
		return got.Labels["team"] == "gotham", fmt.Sprintf("labels %v (the tenant's own label must stay)", got.Labels)
	})
	// The real space namespace is untouched by all this, and the space is
	// still Ready.
	if ok, why := owned(ctx); !ok {
		t.Fatalf("the space's namespace lost its labels: %s", why)
	}
	if err := hostC.Get(ctx, client.ObjectKey{Name: "wayne-app"}, sp); err != nil {
		t.Fatal(err)
	}
	if !meta.IsStatusConditionTrue(sp.Status.Conditions, lifecycle.ConditionReady) {
		t.Errorf("space not Ready after the attacks: %+v", sp.Status.Conditions)
	}
	// Deleting the Space removes its own namespace and never the forged one.
	if err := hostC.Delete(ctx, sp); err != nil {
		t.Fatal(err)
	}
	eventually(t, 90*time.Second, "the space's namespace to be gone", func(ctx context.Context) (bool, string) {
		return gone(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "wayne-app"}})
	})
	got := &corev1.Namespace{}
	if err := hostC.Get(ctx, client.ObjectKey{Name: "gotham"}, got); err != nil || !got.DeletionTimestamp.IsZero() {
		t.Fatalf("the foreign namespace went with the Space: err %v, deletionTimestamp %v", err, got.DeletionTimestamp)
	}
}
