package services_test

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/sync/internal/synctest"
	"github.com/vclusterkit/vclusterkit/sync/resources/services"
	"github.com/vclusterkit/vclusterkit/sync/syncer"
	"github.com/vclusterkit/vclusterkit/sync/translate"
)

var virtualEnv, hostEnv *testenv.APIServer

func TestMain(m *testing.M) { testenv.Main(m, testenv.APIServerOptions{}, &virtualEnv, &hostEnv) }

func svc(name, ns string, sel map[string]string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: corev1.ServiceSpec{
		Selector: sel,
		Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}},
	}}
}

func TestServiceRoundTrip(t *testing.T) {
	e := synctest.New(t, virtualEnv, hostEnv, syncer.HostOptions{})
	ns := e.Namespace("app")
	e.Start(services.New())
	ctx := context.Background()
	v := svc("web", ns, map[string]string{"app": "web"})
	if err := e.Virtual.Create(ctx, v); err != nil {
		t.Fatal(err)
	}
	var h corev1.Service
	synctest.Eventually(t, "host service", func(ctx context.Context) (bool, error) {
		err := e.Host.Get(ctx, e.HostKey("web", ns), &h)
		return err == nil, client.IgnoreNotFound(err)
	})
	want := map[string]string{"app": "web", translate.LabelVirtualCluster: e.Name, translate.LabelNamespace: ns}
	if !labels.Equals(h.Spec.Selector, want) {
		t.Errorf("host selector %v, want %v", h.Spec.Selector, want)
	}
	synctest.Eventually(t, "virtual service takes the host cluster IP", func(ctx context.Context) (bool, error) {
		err := e.Virtual.Get(ctx, client.ObjectKeyFromObject(v), v)
		return err == nil && v.Spec.ClusterIP == h.Spec.ClusterIP, client.IgnoreNotFound(err)
	})
	// a port added in the virtual cluster reaches the host.
	v.Spec.Ports = append(v.Spec.Ports, corev1.ServicePort{Name: "metrics", Port: 9090, Protocol: corev1.ProtocolTCP})
	if err := e.Virtual.Update(ctx, v); err != nil {
		t.Fatal(err)
	}
	synctest.Eventually(t, "port on the host", func(ctx context.Context) (bool, error) {
		err := e.Host.Get(ctx, e.HostKey("web", ns), &h)
		return err == nil && len(h.Spec.Ports) == 2, err
	})
	if err := e.Virtual.Delete(ctx, v); err != nil {
		t.Fatal(err)
	}
	synctest.Eventually(t, "host service deleted", func(ctx context.Context) (bool, error) {
		err := e.Host.Get(ctx, e.HostKey("web", ns), &h)
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	})
}

// A tenant's selector naming another virtual cluster's labels can only
// match its own pods on the host.
func TestServiceSelectorCannotReachOtherTenant(t *testing.T) {
	e := synctest.New(t, virtualEnv, hostEnv, syncer.HostOptions{})
	ns := e.Namespace("app")
	e.Start(services.New())
	ctx := context.Background()
	v := svc("steal", ns, map[string]string{"app": "db", translate.LabelVirtualCluster: "victim", translate.LabelNamespace: "prod"})
	if err := e.Virtual.Create(ctx, v); err != nil {
		t.Fatal(err)
	}
	var h corev1.Service
	synctest.Eventually(t, "host service", func(ctx context.Context) (bool, error) {
		err := e.Host.Get(ctx, e.HostKey("steal", ns), &h)
		return err == nil, client.IgnoreNotFound(err)
	})
	victim, _ := translate.New("victim", e.HostNS)
	victimPod, _ := victim.HostLabels("prod", map[string]string{"app": "db"})
	if labels.SelectorFromSet(h.Spec.Selector).Matches(labels.Set(victimPod)) {
		t.Fatalf("host selector %v matches the other tenant's pod %v", h.Spec.Selector, victimPod)
	}
}

func TestExternalIPsRefused(t *testing.T) {
	e := synctest.New(t, virtualEnv, hostEnv, syncer.HostOptions{})
	ns := e.Namespace("app")
	e.Start(services.New())
	ctx := context.Background()
	v := svc("mitm", ns, map[string]string{"app": "x"})
	v.Spec.ExternalIPs = []string{"8.8.8.8"}
	if err := e.Virtual.Create(ctx, v); err != nil {
		t.Fatal(err)
	}
	e.WaitEvent(ns, "mitm", syncer.ReasonRefused, "spec.externalIPs")
	if err := e.Host.Get(ctx, e.HostKey("mitm", ns), &corev1.Service{}); !apierrors.IsNotFound(err) {
		t.Fatalf("refused service on the host: %v", err)
	}
}

func TestHostServiceDeletedIsRecreated(t *testing.T) {
	e := synctest.New(t, virtualEnv, hostEnv, syncer.HostOptions{})
	ns := e.Namespace("app")
	e.Start(services.New())
	ctx := context.Background()
	v := svc("web", ns, map[string]string{"app": "web"})
	if err := e.Virtual.Create(ctx, v); err != nil {
		t.Fatal(err)
	}
	var h corev1.Service
	synctest.Eventually(t, "host service", func(ctx context.Context) (bool, error) {
		err := e.Host.Get(ctx, e.HostKey("web", ns), &h)
		return err == nil, client.IgnoreNotFound(err)
	})
	if err := e.Host.Delete(ctx, &h); err != nil {
		t.Fatal(err)
	}
	synctest.Eventually(t, "recreated and mirrored", func(ctx context.Context) (bool, error) {
		var h2 corev1.Service
		if err := e.Host.Get(ctx, e.HostKey("web", ns), &h2); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		err := e.Virtual.Get(ctx, client.ObjectKeyFromObject(v), v)
		return err == nil && h2.UID != h.UID && v.Spec.ClusterIP == h2.Spec.ClusterIP, client.IgnoreNotFound(err)
	})
}
