package admission_test

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/quota"
	"github.com/vclusterkit/vclusterkit/quota/admission"
)

// Unit test of the event sequence; the informer-driven behaviour against a real API
// server is in objects_integration_test.go.
func TestObjectTrackerEvents(t *testing.T) {
	ctx := context.Background()
	l := quota.NewLedger(quota.LedgerOptions{})
	if err := l.SetNodes([]quota.Node{{Name: "acme", Hard: rl("services.loadbalancers", "1")}}); err != nil {
		t.Fatal(err)
	}
	tr := &admission.ObjectTracker{Ledger: l, Resolver: admission.ResolverFunc(func(_ context.Context, ns string) (admission.Namespace, error) {
		if ns == "free" {
			return admission.Namespace{}, nil
		}
		return admission.Namespace{Node: "acme"}, nil
	})}
	h := tr.EventHandler(context.Background())
	used := func(res string) int64 {
		t.Helper()
		u, err := l.Usage("acme")
		if err != nil {
			t.Fatal(err)
		}
		if len(u.Reserved) != 0 {
			t.Errorf("reservations left: %v", u.Reserved)
		}
		q := u.Subtree[corev1.ResourceName(res)]
		return q.Value()
	}
	cip := service("s1", "1", "")
	cip.Namespace = "ns"
	if err := l.Admit(ctx, "s1", "acme", quota.ServiceUsage(cip)); err != nil {
		t.Fatal(err)
	}
	h.OnAdd(cip, false)
	if used("services") != 1 {
		t.Fatal("the create was not committed")
	}
	// The webhook admitted the ClusterIP -> LoadBalancer update under its update key.
	lb := service("s1", "2", corev1.ServiceTypeLoadBalancer)
	lb.Namespace = "ns"
	if err := l.Admit(ctx, admission.UpdateKey("s1", "1"), "acme", quota.Increase(quota.ServiceUsage(cip), quota.ServiceUsage(lb))); err != nil {
		t.Fatal(err)
	}
	h.OnUpdate(cip, lb)
	if used("services.loadbalancers") != 1 || used("services") != 1 {
		t.Fatal("the update was not followed")
	}
	// A resync event (same version) changes nothing; back to ClusterIP frees the LB.
	h.OnUpdate(lb, lb)
	back := service("s1", "3", "")
	back.Namespace = "ns"
	h.OnUpdate(lb, back)
	if used("services.loadbalancers") != 0 {
		t.Fatal("the load balancer was not freed")
	}
	// Claims and pods in the same tracker; unmanaged namespaces are ignored.
	c := claim("c1", "1", "1Gi")
	c.Namespace = "ns"
	p := &corev1.Pod{}
	p.UID, p.Namespace = "p1", "ns"
	free := claim("c2", "1", "1Gi")
	free.Namespace = "free"
	for _, o := range []any{c, p, free} {
		h.OnAdd(o, false)
	}
	if used("requests.storage") != 1<<30 || used("count/pods") != 1 {
		t.Fatal("claim or pod not charged")
	}
	// Resync with every kind keeps every kind; a delete frees once, a replay nothing.
	if err := tr.Resync(ctx, []client.Object{back, c, p, free}); err != nil {
		t.Fatal(err)
	}
	if used("services") != 1 || used("requests.storage") != 1<<30 || used("count/pods") != 1 {
		t.Fatal("resync dropped a kind")
	}
	h.OnDelete(cache.DeletedFinalStateUnknown{Key: "ns/c", Obj: c})
	if used("requests.storage") != 0 || tr.Forget(c) {
		t.Fatal("the claim was not freed exactly once")
	}
	h.OnDelete(back)
	h.OnDelete(p)
	if used("services") != 0 || used("count/pods") != 0 {
		t.Fatal("deletes not followed")
	}
}
