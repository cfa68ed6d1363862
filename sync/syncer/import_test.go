package syncer_test

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/sync/syncer"
	"github.com/vclusterkit/vclusterkit/sync/translate"
)

func TestImportHostObjects(t *testing.T) {
	imp := syncer.NewImporter("import-configmaps", func() client.Object { return &corev1.ConfigMap{} }, func(h, v client.Object) {
		v.(*corev1.ConfigMap).Data = h.(*corev1.ConfigMap).Data
	})
	e := newEnv(t, &cmSyncer{}, imp)
	ctx := context.Background()
	ns := e.ns("app")
	// the tenant already has "mine"; an import aimed at it is refused.
	if err := e.Virtual.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "mine", Namespace: ns}, Data: map[string]string{"owner": "tenant"}}); err != nil {
		t.Fatal(err)
	}
	mark := func(name, target string, data string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.HostNS,
			Labels:      map[string]string{translate.LabelVirtualCluster: e.Name, "shared": "yes"},
			Annotations: map[string]string{syncer.AnnotationImport: target}}, Data: map[string]string{"ca.crt": data}}
	}
	ca := mark("platform-ca", ns+"/platform-ca", "PEM1")
	grab := mark("grab", ns+"/mine", "platform")
	// a foreign vcluster's mark is not an import for this one.
	other := mark("other", ns+"/other", "x")
	other.Labels[translate.LabelVirtualCluster] = "someone-else"
	for _, o := range []*corev1.ConfigMap{ca, grab, other} {
		if err := e.Host.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	e.start()
	v := &corev1.ConfigMap{}
	eventually(t, "imported", func(ctx context.Context) (bool, error) {
		err := e.Virtual.Get(ctx, client.ObjectKey{Namespace: ns, Name: "platform-ca"}, v)
		return err == nil && v.Data["ca.crt"] == "PEM1", client.IgnoreNotFound(err)
	})
	if v.Labels["shared"] != "yes" || v.Labels[translate.LabelVirtualCluster] != "" {
		t.Errorf("imported labels %v", v.Labels)
	}
	ca.Data["ca.crt"] = "PEM2"
	if err := e.Host.Update(ctx, ca); err != nil {
		t.Fatal(err)
	}
	eventually(t, "import follows the host", func(ctx context.Context) (bool, error) {
		err := e.Virtual.Get(ctx, client.ObjectKey{Namespace: ns, Name: "platform-ca"}, v)
		return err == nil && v.Data["ca.crt"] == "PEM2", err
	})
	e.waitEvent(ns, "mine", "ImportCollision")
	mine := &corev1.ConfigMap{}
	if err := e.Virtual.Get(ctx, client.ObjectKey{Namespace: ns, Name: "mine"}, mine); err != nil || mine.Data["owner"] != "tenant" {
		t.Errorf("tenant object overwritten by an import: %v %v", mine.Data, err)
	}
	if err := e.Virtual.Get(ctx, client.ObjectKey{Namespace: ns, Name: "other"}, &corev1.ConfigMap{}); !apierrors.IsNotFound(err) {
		t.Errorf("another virtual cluster's import landed here: %v", err)
	}
	// the imported copy is never synced back to the host.
	if err := e.Host.Get(ctx, client.ObjectKey{Namespace: e.HostNS, Name: e.tr().HostName("platform-ca", ns)}, &corev1.ConfigMap{}); !apierrors.IsNotFound(err) {
		t.Errorf("imported object synced back: %v", err)
	}
	if err := e.Host.Delete(ctx, ca); err != nil {
		t.Fatal(err)
	}
	eventually(t, "import removed with its source", func(ctx context.Context) (bool, error) {
		err := e.Virtual.Get(ctx, client.ObjectKey{Namespace: ns, Name: "platform-ca"}, v)
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	})
}
