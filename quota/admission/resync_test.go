package admission_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/vclusterkit/vclusterkit/quota"
	"github.com/vclusterkit/vclusterkit/quota/admission"
	"github.com/vclusterkit/vclusterkit/tenancy"
)

// A resync whose list still shows objects of a namespace that is gone (a
// list taken from a cache a moment before the namespace's deletion reached
// it, or a namespace deleted behind the engine's back) drops their
// charges: they went with the namespace. Before, one namespace that could
// not be resolved skipped the whole resync, so the tenant kept the charges
// and its deletion waited forever (hostile case 14).
func TestResyncDropsChargesOfNamespaceThatIsGone(t *testing.T) {
	ctx := context.Background()
	live := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{tenancy.LabelTenant: "web-shop"}}}
	resolver := admission.LabelResolver{Reader: fake.NewClientBuilder().WithObjects(live).Build()}
	pod := func(uid, ns string) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: uid, Namespace: ns, UID: k8stypes.UID("uid-" + uid)}}
		p.Spec.Containers = []corev1.Container{{Name: "c"}}
		return p
	}
	stale, kept := pod("stale", "web-vc-shop"), pod("kept", "web")
	svc := service("svc-stale", "1", "")
	svc.Namespace = "web-vc-shop"
	newLedger := func(t *testing.T) *quota.Ledger {
		l := quota.NewLedger(quota.LedgerOptions{})
		if err := l.SetNodes([]quota.Node{{Name: "web-shop"}}); err != nil {
			t.Fatal(err)
		}
		// Charged while web-vc-shop still existed.
		for _, o := range []quota.Object{
			{UID: stale.UID, Node: "web-shop", Resources: quota.PodUsage(stale, nil)},
			{UID: kept.UID, Node: "web-shop", Resources: quota.PodUsage(kept, nil)},
			{UID: svc.UID, Node: "web-shop", Resources: quota.ServiceUsage(svc)},
		} {
			if err := l.Observe(o); err != nil {
				t.Fatal(err)
			}
		}
		return l
	}
	own := func(t *testing.T, l *quota.Ledger) string {
		t.Helper()
		u, err := l.Usage("web-shop")
		if err != nil {
			t.Fatal(err)
		}
		p, s := u.Own[corev1.ResourceName("count/pods")], u.Own[corev1.ResourceName("count/services")]
		return "pods=" + p.String() + " services=" + s.String()
	}

	t.Run("ObjectTracker", func(t *testing.T) {
		l := newLedger(t)
		tr := &admission.ObjectTracker{Ledger: l, Resolver: resolver}
		if err := tr.Resync(ctx, []client.Object{stale, svc, kept}); err != nil {
			t.Fatalf("resync: %v", err)
		}
		if got, want := own(t, l), "pods=1 services=0"; got != want {
			t.Errorf("own usage after resync: %s, want %s", got, want)
		}
	})
	t.Run("Tracker", func(t *testing.T) {
		l := newLedger(t)
		tr := &admission.Tracker{Ledger: l, Resolver: resolver}
		if err := tr.Resync(ctx, []corev1.Pod{*stale, *kept}); err != nil {
			t.Fatalf("resync: %v", err)
		}
		// Tracker.Resync is ledger-wide over pods alone: the Service goes too.
		if got, want := own(t, l), "pods=1 services=0"; got != want {
			t.Errorf("own usage after resync: %s, want %s", got, want)
		}
	})
	// Any other error still leaves the ledger alone: a partial list must
	// not drop the charges of what could not be resolved.
	t.Run("other errors skip the resync", func(t *testing.T) {
		l := newLedger(t)
		broken := admission.ResolverFunc(func(context.Context, string) (admission.Namespace, error) {
			return admission.Namespace{}, errors.New("connection refused")
		})
		tr := &admission.ObjectTracker{Ledger: l, Resolver: broken}
		if err := tr.Resync(ctx, []client.Object{stale, svc, kept}); err == nil || !strings.Contains(err.Error(), "resync skipped") {
			t.Fatalf("resync: %v, want it skipped", err)
		}
		if got, want := own(t, l), "pods=2 services=1"; got != want {
			t.Errorf("own usage after a skipped resync: %s, want %s", got, want)
		}
	})
}
