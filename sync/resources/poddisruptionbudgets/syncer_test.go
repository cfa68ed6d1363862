package poddisruptionbudgets_test

import (
	"context"
	"testing"

	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/sync/internal/synctest"
	"github.com/vclusterkit/vclusterkit/sync/resources/poddisruptionbudgets"
	"github.com/vclusterkit/vclusterkit/sync/syncer"
	"github.com/vclusterkit/vclusterkit/sync/translate"
)

var virtualEnv, hostEnv *testenv.APIServer

func TestMain(m *testing.M) { testenv.Main(m, testenv.APIServerOptions{}, &virtualEnv, &hostEnv) }

// A budget whose selector names another tenant's labels, or selects
// everything, only ever matches this tenant's pods of its namespace.
func TestBudgetCannotMatchOtherTenants(t *testing.T) {
	e := synctest.New(t, virtualEnv, hostEnv, syncer.HostOptions{})
	ns := e.Namespace("app")
	e.Start(poddisruptionbudgets.New())
	ctx := context.Background()
	one := intstr.FromInt32(1)
	for name, sel := range map[string]*metav1.LabelSelector{
		"everything": {},
		"victim":     {MatchLabels: map[string]string{translate.LabelVirtualCluster: "victim", "app": "db"}},
	} {
		if err := e.Virtual.Create(ctx, &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: &one, Selector: sel}}); err != nil {
			t.Fatal(err)
		}
	}
	victim, _ := translate.New("victim", e.HostNS)
	victimPod, _ := victim.HostLabels(ns, map[string]string{"app": "db"})
	ownPod, _ := e.Tr().HostLabels(ns, map[string]string{"app": "db"})
	for _, name := range []string{"everything", "victim"} {
		var h policyv1.PodDisruptionBudget
		synctest.Eventually(t, "host budget "+name, func(ctx context.Context) (bool, error) {
			err := e.Host.Get(ctx, e.HostKey(name, ns), &h)
			return err == nil, client.IgnoreNotFound(err)
		})
		s, err := metav1.LabelSelectorAsSelector(h.Spec.Selector)
		if err != nil {
			t.Fatal(err)
		}
		if s.Matches(labels.Set(victimPod)) {
			t.Errorf("%s: host selector %v matches the other tenant's pod", name, s)
		}
		if name == "everything" && !s.Matches(labels.Set(ownPod)) {
			t.Errorf("%s: host selector %v does not match the tenant's own pod", name, s)
		}
	}
}
