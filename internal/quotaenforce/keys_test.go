package quotaenforce

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/vclusterkit/vclusterkit/internal/snapshot"
	"github.com/vclusterkit/vclusterkit/quota"
	"github.com/vclusterkit/vclusterkit/sync/translate"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
)

// A virtual cluster's teardown deletes its host namespace with its pods, so
// a pod's delete event can arrive after the namespace has left the cache.
// The pod was charged under the virtual pod's UID (the syncer reserved
// under it); the release must use that key, not the host UID that quotaKey
// falls back to without the namespace, or the tenant keeps the charge and
// its deletion never finishes (the web-shop report: count/pods: 5).
func TestPodReleasedUnderItsChargeKeyAfterItsNamespaceIsGone(t *testing.T) {
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "web-vc-shop", Labels: map[string]string{
		tenancy.LabelTenant: "web-shop", vcluster.LabelVirtualCluster: "shop"}}}
	c := fake.NewClientBuilder().WithObjects(ns).Build()
	l := quota.NewLedger(quota.LedgerOptions{})
	if err := l.SetNodes([]quota.Node{{Name: "web-shop"}}); err != nil {
		t.Fatal(err)
	}
	e := &Enforcer{client: c, ledger: l, counts: newCounts(), snapshots: &snapshot.Reader{Source: emptyTree{}}}
	e.init(c)
	h := e.podEventHandler(ctx)

	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Name: "web-x-default", Namespace: ns.Name, UID: "host-uid",
		Labels:      map[string]string{translate.LabelVirtualCluster: "shop"},
		Annotations: map[string]string{translate.AnnotationUID: "virtual-uid"},
	}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}}}
	// The syncer's in-process admission reserved under the virtual UID;
	// the pod appearing commits it.
	if err := e.Admit("web-shop")(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: "virtual-uid"}}, pod); err != nil {
		t.Fatal(err)
	}
	h.OnAdd(pod, false)
	if charged, committed := l.Holds("virtual-uid"); !charged || !committed {
		t.Fatalf("the pod was not committed under the virtual UID (charged %v, committed %v)", charged, committed)
	}
	pods := func() int64 {
		u, err := l.Usage("web-shop")
		if err != nil {
			t.Fatal(err)
		}
		q := u.Own[corev1.ResourceName("count/pods")]
		return q.Value()
	}
	if got := pods(); got != 1 {
		t.Fatalf("count/pods = %d after the pod appeared, want 1", got)
	}

	if err := c.Delete(ctx, ns); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, client.ObjectKeyFromObject(ns), &corev1.Namespace{}); err == nil {
		t.Fatal("the namespace is still there")
	}
	h.OnDelete(pod)
	if got := pods(); got != 0 {
		t.Fatalf("count/pods = %d after the pod's delete event (its namespace gone first), want 0", got)
	}
	if _, ok := e.keys.get(pod.UID); ok {
		t.Error("the deleted pod's key is still remembered")
	}
	if err := l.SetNodes(nil); err != nil {
		t.Errorf("the tenant's node cannot be removed: %v", err)
	}
}

type emptyTree struct{}

func (emptyTree) ListTenants(context.Context) (*tenancy.TenantList, error) {
	return &tenancy.TenantList{}, nil
}
func (emptyTree) ListSpaces(context.Context) (*tenancy.SpaceList, error) {
	return &tenancy.SpaceList{}, nil
}
