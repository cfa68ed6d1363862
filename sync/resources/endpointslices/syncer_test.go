package endpointslices_test

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/sync/internal/synctest"
	"github.com/vclusterkit/vclusterkit/sync/resources/endpointslices"
	"github.com/vclusterkit/vclusterkit/sync/resources/pods"
	"github.com/vclusterkit/vclusterkit/sync/syncer"
	"github.com/vclusterkit/vclusterkit/sync/translate"
)

var virtualEnv, hostEnv *testenv.APIServer

func TestMain(m *testing.M) { testenv.Main(m, testenv.APIServerOptions{}, &virtualEnv, &hostEnv) }

func newSyncer(t *testing.T, opts endpointslices.Options) *endpointslices.Syncer {
	t.Helper()
	s, err := endpointslices.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var port = int32(5432)

// slice is a slice of service svc in ns with one endpoint at addr.
func slice(name, ns, svc string, addrs ...string) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4, Ports: []discoveryv1.EndpointPort{{Port: &port}},
		Endpoints: []discoveryv1.Endpoint{{Addresses: addrs, TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: "db-0"}}}}
}

func selectorless(t *testing.T, e *synctest.Env, name, ns string) {
	t.Helper()
	if err := e.Virtual.Create(context.Background(), &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: port}}}}); err != nil {
		t.Fatal(err)
	}
}

func waitHostSlice(t *testing.T, e *synctest.Env, name, ns string) *discoveryv1.EndpointSlice {
	t.Helper()
	var h discoveryv1.EndpointSlice
	synctest.Eventually(t, "host copy of slice "+name, func(ctx context.Context) (bool, error) {
		err := e.Host.Get(ctx, e.HostKey(name, ns), &h)
		return err == nil, client.IgnoreNotFound(err)
	})
	return &h
}

func waitNoHostSlice(t *testing.T, e *synctest.Env, name, ns string) {
	t.Helper()
	synctest.Eventually(t, "no host copy of slice "+name, func(ctx context.Context) (bool, error) {
		err := e.Host.Get(ctx, e.HostKey(name, ns), &discoveryv1.EndpointSlice{})
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	})
}

// setPodStatus sets a host pod's IP and phase, as the host kubelet would.
func setPodStatus(t *testing.T, c client.Client, key client.ObjectKey, ip string, phase corev1.PodPhase) {
	t.Helper()
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var p corev1.Pod
		if err := c.Get(context.Background(), key, &p); err != nil {
			return err
		}
		p.Status.Phase = phase
		p.Status.PodIP, p.Status.PodIPs = ip, []corev1.PodIP{{IP: ip}}
		return c.Status().Update(context.Background(), &p)
	}); err != nil {
		t.Fatal(err)
	}
}

// hostPod creates a host pod labelled as managed by vcluster (which need
// not be the test's) with a running status at ip.
func hostPod(t *testing.T, c client.Client, name, ns, vcluster, ip string) {
	t.Helper()
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{translate.LabelVirtualCluster: vcluster}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1"}}}}
	if err := c.Create(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	setPodStatus(t, c, client.ObjectKeyFromObject(p), ip, corev1.PodRunning)
}

func TestSelectorlessServiceSlicesSync(t *testing.T) {
	e := synctest.New(t, virtualEnv, hostEnv, syncer.HostOptions{})
	ns := e.Namespace("app")
	e.Start(newSyncer(t, endpointslices.Options{}))
	ctx := context.Background()
	selectorless(t, e, "external-db", ns)
	selected := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Port: 80}}}}
	if err := e.Virtual.Create(ctx, selected); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*discoveryv1.EndpointSlice{slice("external-db-1", ns, "external-db", "203.0.113.10"), slice("web-1", ns, "web", "203.0.113.11")} {
		if err := e.Virtual.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	h := waitHostSlice(t, e, "external-db-1", ns)
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

// TestAddressPolicy: cluster-internal addresses reach the host only when
// they are IPs of the tenant's own pods; public addresses pass; a slice
// that stops being acceptable loses its host copy.
func TestAddressPolicy(t *testing.T) {
	e := synctest.New(t, virtualEnv, hostEnv, syncer.HostOptions{})
	ns := e.Namespace("app")
	ps, err := pods.New(pods.Options{APIServerHost: "10.96.0.1", APIServerPort: 443})
	if err != nil {
		t.Fatal(err)
	}
	e.Start(newSyncer(t, endpointslices.Options{}), ps)
	ctx := context.Background()
	selectorless(t, e, "db", ns)

	// Another virtual cluster's pod in the same host namespace, and a pod
	// in a foreign host namespace that even forges this cluster's label.
	hostPod(t, e.Host, "other-vc-pod", e.HostNS, "other-vc", "10.244.9.9")
	foreignNS := e.HostNS + "-foreign"
	if err := e.Host.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: foreignNS}}); err != nil {
		t.Fatal(err)
	}
	hostPod(t, e.Host, "foreign-pod", foreignNS, e.Name, "10.244.9.10")

	// The tenant's own pod, synced by the pod syncer; its slice is written
	// before the host has given the pod an IP.
	const ownIP = "10.244.5.7"
	if err := e.Virtual.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "db-0", Namespace: ns},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: "registry.example/db:1"}}}}); err != nil {
		t.Fatal(err)
	}
	noRef := slice("own-noref", ns, "db", ownIP)
	noRef.Endpoints[0].TargetRef = nil
	for _, s := range []*discoveryv1.EndpointSlice{
		slice("own", ns, "db", ownIP),
		noRef,
		slice("other-vc", ns, "db", "10.244.9.9"),
		slice("foreign-ns", ns, "db", "10.244.9.10"),
		slice("private", ns, "db", "203.0.113.12", "10.1.2.3"),
		slice("public", ns, "db", "203.0.113.10"),
		{ObjectMeta: metav1.ObjectMeta{Name: "fqdn", Namespace: ns, Labels: map[string]string{discoveryv1.LabelServiceName: "db"}},
			AddressType: discoveryv1.AddressTypeFQDN, Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"db.example.com"}}}},
	} {
		if err := e.Virtual.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	e.WaitEvent(ns, "own", syncer.ReasonRefused, ownIP)
	var hp corev1.Pod
	synctest.Eventually(t, "host pod db-0", func(ctx context.Context) (bool, error) {
		err := e.Host.Get(ctx, e.HostKey("db-0", ns), &hp)
		return err == nil, client.IgnoreNotFound(err)
	})
	setPodStatus(t, e.Host, client.ObjectKeyFromObject(&hp), ownIP, corev1.PodRunning)

	// The pod's IP arriving re-evaluates the slice naming it.
	if h := waitHostSlice(t, e, "own", ns); h.Endpoints[0].Addresses[0] != ownIP {
		t.Errorf("own slice addresses %v", h.Endpoints[0].Addresses)
	}
	waitHostSlice(t, e, "own-noref", ns)
	waitHostSlice(t, e, "public", ns)
	for name, addr := range map[string]string{"other-vc": "10.244.9.9", "foreign-ns": "10.244.9.10", "private": "10.1.2.3", "fqdn": "FQDN"} {
		ev := e.WaitEvent(ns, name, syncer.ReasonRefused, addr)
		want := endpointslices.ReasonAddressNotAllowed
		if name == "fqdn" {
			want = endpointslices.ReasonAddressTypeNotAllowed
		}
		if !strings.HasPrefix(ev.Message, want+":") {
			t.Errorf("refusal of %s: %q, want reason %s", name, ev.Message, want)
		}
		if err := e.Host.Get(ctx, e.HostKey(name, ns), &discoveryv1.EndpointSlice{}); !apierrors.IsNotFound(err) {
			t.Errorf("host copy of refused slice %s: %v", name, err)
		}
	}

	// An edit pointing the synced public slice at a private address
	// removes its host copy.
	var pub discoveryv1.EndpointSlice
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := e.Virtual.Get(ctx, client.ObjectKey{Namespace: ns, Name: "public"}, &pub); err != nil {
			return err
		}
		pub.Endpoints = append(pub.Endpoints, discoveryv1.Endpoint{Addresses: []string{"172.16.0.10"}})
		return e.Virtual.Update(ctx, &pub)
	}); err != nil {
		t.Fatal(err)
	}
	waitNoHostSlice(t, e, "public", ns)
	e.WaitEvent(ns, "public", syncer.ReasonRefused, "172.16.0.10")

	// The tenant's pod terminating (its IP may be handed to someone else)
	// removes the host copy of the slice naming it.
	setPodStatus(t, e.Host, client.ObjectKeyFromObject(&hp), ownIP, corev1.PodFailed)
	waitNoHostSlice(t, e, "own", ns)
	waitNoHostSlice(t, e, "own-noref", ns)
}

func TestNewRejectsBadCIDR(t *testing.T) {
	_, err := endpointslices.New(endpointslices.Options{DeniedCIDRs: []string{"10.0.0.0/8", "10.0.0.300/8"}})
	if err == nil || !strings.Contains(err.Error(), "DeniedCIDRs[1]") {
		t.Fatalf("New with a bad CIDR: %v, want an error naming DeniedCIDRs[1]", err)
	}
}
