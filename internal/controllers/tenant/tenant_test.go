package tenant

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/vclusterkit/vclusterkit/internal/quotaenforce"
	"github.com/vclusterkit/vclusterkit/internal/snapshot"
	"github.com/vclusterkit/vclusterkit/quota"
	"github.com/vclusterkit/vclusterkit/tenancy"
)

type tree []tenancy.Tenant

func (t tree) ListTenants(context.Context) (*tenancy.TenantList, error) {
	return &tenancy.TenantList{Items: t}, nil
}
func (tree) ListSpaces(context.Context) (*tenancy.SpaceList, error) { return &tenancy.SpaceList{}, nil }

// A tenant whose deletion waits on quota says what holds it: the committed
// usage by resource and how many objects, with ledger keys to look for,
// not a guess about reservations (which never hold a deletion back).
func TestQuotaReleasedSaysWhatHoldsUsage(t *testing.T) {
	ctx := context.Background()
	shop := tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "web-shop"}}
	l := quota.NewLedger(quota.LedgerOptions{})
	if err := l.SetNodes(quota.Nodes([]tenancy.Tenant{shop}, nil)); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		p := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}}}
		if err := l.Observe(quota.Object{UID: types.UID(fmt.Sprintf("pod-%d", i)), Node: "web-shop", Resources: quota.PodUsage(p, nil)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		if err := l.Observe(quota.Object{UID: types.UID(fmt.Sprintf("svc-%d", i)), Node: "web-shop", Resources: quota.ServiceUsage(&corev1.Service{})}); err != nil {
			t.Fatal(err)
		}
	}
	// A create admitted that never happened: it must not be what the
	// message counts.
	if err := l.Admit(ctx, "never-created", "web-shop", corev1.ResourceList{"count/pods": resource.MustParse("1")}); err != nil {
		t.Fatal(err)
	}
	r := &Reconciler{Ledger: l, Snapshots: &snapshot.Reader{Source: tree{shop}}, Quota: &quotaenforce.Enforcer{}}
	err := r.quotaReleased(ctx, &shop)
	if err == nil {
		t.Fatal("the tenant's node was removed while it holds usage")
	}
	for _, want := range []string{`"web-shop" still holds usage`, "count/pods: 5", "count/services: 3", "by 8 object(s)", "pod-", "quota resync"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err.Error(), want)
		}
	}
	if strings.Contains(err.Error(), "TTL") {
		t.Errorf("message %q still blames reservations", err.Error())
	}
}
