package endpointslices_test

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/sync/internal/synctest"
	"github.com/vclusterkit/vclusterkit/sync/resources/endpointslices"
	"github.com/vclusterkit/vclusterkit/sync/syncer"
)

var virtualEnv, hostEnv *testenv.APIServer

func TestMain(m *testing.M) { testenv.Main(m, testenv.APIServerOptions{}, &virtualEnv, &hostEnv) }

func TestSelectorlessServiceSlicesSync(t *testing.T) {
	e := synctest.New(t, virtualEnv, hostEnv, syncer.HostOptions{})
	ns := e.Namespace("app")
	e.Start(endpointslices.New())
	ctx := context.Background()
	manual := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "external-db", Namespace: ns}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 5432}}}}
	selected := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Port: 80}}}}
	for _, s := range []*corev1.Service{manual, selected} {
		if err := e.Virtual.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	port := int32(5432)
	slice := func(name, svc string) *discoveryv1.EndpointSlice {
		return &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
			AddressType: discoveryv1.AddressTypeIPv4, Ports: []discoveryv1.EndpointPort{{Port: &port}},
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.1.2.3"}, TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: "db-0"}}}}
	}
	for _, s := range []*discoveryv1.EndpointSlice{slice("external-db-1", "external-db"), slice("web-1", "web")} {
		if err := e.Virtual.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	var h discoveryv1.EndpointSlice
	synctest.Eventually(t, "slice of the selector-less service", func(ctx context.Context) (bool, error) {
		err := e.Host.Get(ctx, e.HostKey("external-db-1", ns), &h)
		return err == nil, client.IgnoreNotFound(err)
	})
	if h.Labels[discoveryv1.LabelServiceName] != e.Tr().HostName("external-db", ns) || h.Labels[discoveryv1.LabelManagedBy] != endpointslices.ManagedBy {
		t.Errorf("host slice labels %v", h.Labels)
	}
	if ref := h.Endpoints[0].TargetRef; ref == nil || ref.Name != e.Tr().HostName("db-0", ns) || ref.Namespace != e.HostNS {
		t.Errorf("target ref %+v", ref)
	}
	if err := e.Host.Get(ctx, e.HostKey("web-1", ns), &discoveryv1.EndpointSlice{}); !apierrors.IsNotFound(err) {
		t.Errorf("slice of a service with a selector synced: %v", err)
	}
}
