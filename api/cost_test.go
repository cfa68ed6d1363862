package api_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/api"
	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/quota/showback"
	"github.com/vclusterkit/vclusterkit/tenancy"
)

// TestCostShowback: a pod requesting half a core runs in a space of
// acme-web for two (metered) hours; acme-web and its parent acme are
// charged one core-hour, priced by the default table.
func TestCostShowback(t *testing.T) {
	ctx := context.Background()
	alice, bob := pf.Token("alice"), pf.Token("bob")
	if a := call(t, "POST", "/spaces", alice, api.CreateSpace{Name: "cost-space", Tenant: "acme-web"}); a.code != 201 {
		t.Fatalf("creating the space: %d %s", a.code, a.body)
	}
	defer call(t, "DELETE", "/spaces/cost-space", alice, nil)
	testenv.Eventually(t, time.Minute, "space cost-space Ready", func(ctx context.Context) (bool, string) {
		var sp tenancy.Space
		if err := pf.Client.Get(ctx, client.ObjectKey{Name: "cost-space"}, &sp); err != nil {
			return false, err.Error()
		}
		for _, c := range sp.Status.Conditions {
			if c.Type == "Ready" {
				return c.Status == metav1.ConditionTrue, c.Message
			}
		}
		return false, "no Ready condition"
	})
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "worker", Namespace: "cost-space"},
		Spec: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](1000),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			Containers: []corev1.Container{{Name: "w", Image: "busybox",
				SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false), Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resourceMust("500m"), corev1.ResourceMemory: resourceMust("512Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceCPU: resourceMust("500m"), corev1.ResourceMemory: resourceMust("512Mi")},
				}}}}}
	if err := pf.Client.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	defer pf.Client.Delete(ctx, pod)
	testenv.Eventually(t, time.Minute, "the ledger charging acme-web", func(ctx context.Context) (bool, string) {
		u, err := pf.Engine.Ledger().Usage("acme-web")
		if err != nil {
			return false, err.Error()
		}
		q := u.Subtree[corev1.ResourceRequestsCPU]
		return q.MilliValue() == 500, q.String()
	})
	pf.Showback.Sample()
	pf.Clock.Add(2 * time.Hour)
	pf.Showback.Sample()
	period := pf.Clock.Now().Format("2006-01-02")
	for _, tenant := range []string{"acme", "acme-web"} {
		var rep showback.Report
		a := call(t, "GET", "/tenants/"+tenant+"/cost?period="+period, alice, nil)
		if a.code != 200 {
			t.Fatalf("cost of %s: %d %s", tenant, a.code, a.body)
		}
		a.json(t, &rep)
		var cpu *showback.Line
		for i := range rep.Lines {
			if rep.Lines[i].Resource == corev1.ResourceRequestsCPU {
				cpu = &rep.Lines[i]
			}
		}
		if cpu == nil || cpu.UnitHours != 1 || cpu.Cost != 0.03 || rep.Total < 0.03 || rep.Currency != "USD" {
			t.Fatalf("cost of %s: %+v", tenant, rep)
		}
		t.Logf("cost of %s on %s: %+v", tenant, period, rep)
	}
	if a := call(t, "GET", "/tenants/acme-web/cost", bob, nil); a.code != 200 {
		t.Fatalf("bob reading acme-web's cost: %d", a.code)
	}
	if a := call(t, "GET", "/tenants/acme/cost", bob, nil); a.code != 404 {
		t.Fatalf("bob reading acme's cost: %d, want 404", a.code)
	}
	if a := call(t, "GET", "/tenants/acme/cost?period=yesterday", alice, nil); a.code != 400 || a.err(t).Error.Field != "period" {
		t.Fatalf("bad period: %d %s", a.code, a.body)
	}
}
