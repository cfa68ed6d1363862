package ingresses_test

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/sync/internal/synctest"
	"github.com/vclusterkit/vclusterkit/sync/resources/ingresses"
	"github.com/vclusterkit/vclusterkit/sync/syncer"
	"github.com/vclusterkit/vclusterkit/sync/translate"
)

var virtualEnv, hostEnv *testenv.APIServer

func TestMain(m *testing.M) { testenv.Main(m, testenv.APIServerOptions{}, &virtualEnv, &hostEnv) }

func ing(name, ns, host string) *networkingv1.Ingress {
	pt := networkingv1.PathTypePrefix
	return &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: networkingv1.IngressSpec{
		TLS: []networkingv1.IngressTLS{{Hosts: []string{host}, SecretName: "tls"}},
		Rules: []networkingv1.IngressRule{{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
			Path: "/", PathType: &pt, Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "web", Port: networkingv1.ServiceBackendPort{Number: 80}}},
		}}}}}},
	}}
}

func TestIngressHostClaimedByAnotherTenantRefused(t *testing.T) {
	e := synctest.New(t, virtualEnv, hostEnv, syncer.HostOptions{})
	ns := e.Namespace("app")
	ctx := context.Background()
	// another tenant's synced ingress (in its own host namespace) and a
	// platform ingress, both on the host already.
	otherNS := e.HostNS + "-other"
	if err := e.Host.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: otherNS}}); err != nil {
		t.Fatal(err)
	}
	theirs := ing("shop-x-prod-x-acme", otherNS, "shop.example.com")
	theirs.Labels = map[string]string{translate.LabelVirtualCluster: "acme"}
	platform := ing("portal", e.HostNS, "*.platform.example.com")
	for _, o := range []*networkingv1.Ingress{theirs, platform} {
		if err := e.Host.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	e.Start(ingresses.New(ingresses.Options{}))
	for _, c := range []struct{ name, host, want string }{
		{"steal", "shop.example.com", "another virtual cluster"},
		{"steal-wild", "*.example.com", "another virtual cluster"},
		{"steal-platform", "admin.platform.example.com", "the host"},
	} {
		if err := e.Virtual.Create(ctx, ing(c.name, ns, c.host)); err != nil {
			t.Fatal(err)
		}
		e.WaitEvent(ns, c.name, syncer.ReasonRefused, c.want)
		if err := e.Host.Get(ctx, e.HostKey(c.name, ns), &networkingv1.Ingress{}); !apierrors.IsNotFound(err) {
			t.Errorf("%s synced: %v", c.name, err)
		}
	}
	mine := ing("mine", ns, "mine.example.com")
	if err := e.Virtual.Create(ctx, mine); err != nil {
		t.Fatal(err)
	}
	var h networkingv1.Ingress
	synctest.Eventually(t, "own host synced", func(ctx context.Context) (bool, error) {
		err := e.Host.Get(ctx, e.HostKey("mine", ns), &h)
		return err == nil, client.IgnoreNotFound(err)
	})
	if b := h.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name; b != e.Tr().HostName("web", ns) {
		t.Errorf("backend %q", b)
	}
	if s := h.Spec.TLS[0].SecretName; s != e.Tr().HostName("tls", ns) {
		t.Errorf("tls secret %q", s)
	}
	// a second ingress of the same virtual cluster may share its host.
	if err := e.Virtual.Create(ctx, ing("mine-too", ns, "mine.example.com")); err != nil {
		t.Fatal(err)
	}
	synctest.Eventually(t, "same-cluster sharing allowed", func(ctx context.Context) (bool, error) {
		err := e.Host.Get(ctx, e.HostKey("mine-too", ns), &h)
		return err == nil, client.IgnoreNotFound(err)
	})
}

func TestOverlap(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"a.example.com", "a.example.com", true},
		{"*.example.com", "a.example.com", true},
		{"a.example.com", "*.example.com", true},
		{"*.example.com", "*.a.example.com", true},
		{"*.example.com", "example.com", false},
		{"a.example.com", "b.example.com", false},
		{"*.example.com", "a.example.org", false},
	} {
		if got := ingresses.Overlap(c.a, c.b); got != c.want {
			t.Errorf("Overlap(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

// A change of the tenant's allowed ingress classes reaches the running
// syncer: an Ingress refused before is synced once its class is allowed;
// one whose class is no longer allowed leaves the host (it holds no data)
// with an event saying why.
func TestIngressPolicyChange(t *testing.T) {
	e := synctest.New(t, virtualEnv, hostEnv, syncer.HostOptions{})
	ns := e.Namespace("policy")
	eng, _ := e.StartEngine(ingresses.New(ingresses.Options{AllowedIngressClasses: []string{"public"}}))
	ctx := context.Background()
	public, internal := ing("public", ns, e.Name+"-public.example.com"), ing("internal", ns, e.Name+"-internal.example.com")
	pc, ic := "public", "internal"
	public.Spec.IngressClassName, internal.Spec.IngressClassName = &pc, &ic
	for _, i := range []*networkingv1.Ingress{public, internal} {
		if err := e.Virtual.Create(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	e.WaitEvent(ns, "internal", syncer.ReasonRefused, `spec.ingressClassName: "internal" is not allowed`)
	synctest.Eventually(t, "public ingress on the host", func(ctx context.Context) (bool, error) {
		err := e.Host.Get(ctx, e.HostKey("public", ns), &networkingv1.Ingress{})
		return err == nil, client.IgnoreNotFound(err)
	})

	if err := eng.SetPolicy(ctx, syncer.Policy{AllowedIngressClasses: []string{"internal"}}); err != nil {
		t.Fatal(err)
	}
	synctest.Eventually(t, "internal ingress on the host", func(ctx context.Context) (bool, error) {
		err := e.Host.Get(ctx, e.HostKey("internal", ns), &networkingv1.Ingress{})
		return err == nil, client.IgnoreNotFound(err)
	})
	e.WaitEvent(ns, "public", syncer.ReasonRefused, `spec.ingressClassName: "public" is not allowed`)
	synctest.Eventually(t, "public ingress gone from the host", func(ctx context.Context) (bool, error) {
		err := e.Host.Get(ctx, e.HostKey("public", ns), &networkingv1.Ingress{})
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	})
}
