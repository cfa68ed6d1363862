package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/quota/admission"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/tenancy/webhook"
)

// env is one Validator served from the test process over TLS and
// installed into the real API server, scoped by an object selector to the
// objects of one test.
type env struct {
	c     client.Client
	label string
	// webhook is the name the API server quotes in a denial.
	webhook string
	// failing makes the Validator's Source fail.
	failing atomic.Bool
}

var (
	seq   atomic.Int64
	runID = time.Now().UnixNano() % 1_000_000
)

// unique makes names unique across tests and -count runs against the
// same API server.
func unique(prefix string) string { return fmt.Sprintf("%s-%d-%d", prefix, seq.Add(1), runID) }

func newClient(t *testing.T) client.Client {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := tenancy.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(apiServer.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func setup(t *testing.T, policy admissionregistrationv1.FailurePolicyType) *env {
	t.Helper()
	t.Cleanup(func() { apiServer.LogsOnFailure(t) })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	e := &env{c: newClient(t), label: unique("wh")}
	e.webhook = e.label + "." + tenancy.Group
	source := webhook.ClientSource(e.c)
	v := &webhook.Validator{Source: webhook.SourceFunc(func(ctx context.Context) ([]tenancy.Tenant, []tenancy.Space, error) {
		if e.failing.Load() {
			return nil, nil, errors.New("source down")
		}
		return source.Snapshot(ctx)
	})}
	certs, err := admission.GenerateCerts(admission.CertOptions{Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := admission.Serve(ctx, v, admission.ServerOptions{Certs: certs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	_, err = webhook.Install(ctx, e.c, webhook.InstallOptions{
		Name: e.label, URL: srv.URL, CABundle: certs.CAPEM, FailurePolicy: &policy,
		ObjectSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"test": e.label}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cfg := &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: e.label}}
		_ = e.c.Delete(context.Background(), cfg)
	})
	// The API server picks the configuration up asynchronously: wait until
	// a tenant whose parent does not exist is refused by this webhook.
	probe := e.tenant(unique("probe"), unique("missing"))
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		err := e.c.Create(ctx, probe.DeepCopy(), client.DryRunAll)
		return err != nil && strings.Contains(err.Error(), e.webhook), nil
	})
	if err != nil {
		t.Fatalf("webhook never became active: %v", err)
	}
	return e
}

// tenant returns a tenant of this test (labelled for its webhook), not yet
// created.
func (e *env) tenant(name, parent string, mods ...func(*tenancy.Tenant)) *tenancy.Tenant {
	tn := tenant(name, parent, mods...)
	tn.Labels = map[string]string{"test": e.label}
	return &tn
}

func (e *env) space(name, owner string, mods ...func(*tenancy.Space)) *tenancy.Space {
	s := space(name, owner, mods...)
	s.Labels = map[string]string{"test": e.label}
	return &s
}

// create creates obj and deletes it when the test ends.
func (e *env) create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := e.c.Create(context.Background(), obj); err != nil {
		t.Fatalf("create %s: %v", obj.GetName(), err)
	}
	t.Cleanup(func() { _ = e.c.Delete(context.Background(), obj) })
}

// refused checks that err is this webhook's 422 Invalid denial and that its
// message contains every want.
func (e *env) refused(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("admitted, want a refusal mentioning %q", want)
	}
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), `admission webhook "`+e.webhook+`" denied the request`) {
		t.Fatalf("want a 422 denial from %s, got %v", e.webhook, err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("refusal does not mention %q: %v", w, err)
		}
	}
}

// absent checks that obj was not stored.
func (e *env) absent(t *testing.T, obj client.Object) {
	t.Helper()
	key := client.ObjectKeyFromObject(obj)
	fresh := obj.DeepCopyObject().(client.Object)
	if err := e.c.Get(context.Background(), key, fresh); !apierrors.IsNotFound(err) {
		t.Errorf("%s was stored (get: %v)", key.Name, err)
	}
}

func TestChildQuotaAboveParentRefused(t *testing.T) {
	e := setup(t, admissionregistrationv1.Fail)
	parent := e.tenant(unique("org"), "", quota("cpu", "4", "memory", "8Gi"))
	e.create(t, parent)
	child := e.tenant(unique("team"), parent.Name, quota("cpu", "8", "memory", "1Gi"))
	err := e.c.Create(context.Background(), child)
	e.refused(t, err, "spec.quota[cpu]", `exceeds 4 set by ancestor "`+parent.Name+`"`)
	if strings.Contains(err.Error(), "memory") {
		t.Errorf("memory is within the parent's and was reported: %v", err)
	}
	e.absent(t, child)
}

func TestChildLooseningPodSecurityRefused(t *testing.T) {
	e := setup(t, admissionregistrationv1.Fail)
	parent := e.tenant(unique("org"), "", podSecurity(tenancy.PodSecurityRestricted))
	e.create(t, parent)
	child := e.tenant(unique("team"), parent.Name, podSecurity(tenancy.PodSecurityPrivileged))
	e.refused(t, e.c.Create(context.Background(), child), "spec.policy.podSecurity", `looser than "restricted" set by ancestor "`+parent.Name+`"`)
	e.absent(t, child)

	// A child that tightens is fine, and so is one that sets nothing.
	e.create(t, e.tenant(unique("team"), parent.Name))
}

func TestCycleRefused(t *testing.T) {
	e := setup(t, admissionregistrationv1.Fail)
	a := e.tenant(unique("a"), "")
	e.create(t, a)
	b := e.tenant(unique("b"), a.Name)
	e.create(t, b)
	a.Spec.Parent = b.Name
	err := e.c.Update(context.Background(), a)
	e.refused(t, err, "spec.parent", "would form a cycle: "+a.Name+" -> "+b.Name+" -> "+a.Name)
	var got tenancy.Tenant
	if err := e.c.Get(context.Background(), client.ObjectKeyFromObject(a), &got); err != nil || got.Spec.Parent != "" {
		t.Errorf("stored parent %q (%v), want none", got.Spec.Parent, err)
	}
}

func TestSpaceWithoutTenantRefused(t *testing.T) {
	e := setup(t, admissionregistrationv1.Fail)
	s := e.space(unique("ns"), unique("ghost"))
	e.refused(t, e.c.Create(context.Background(), s), "spec.tenant", "Not found")
	e.absent(t, s)
}

func TestValidTreeAccepted(t *testing.T) {
	e := setup(t, admissionregistrationv1.Fail)
	org := e.tenant(unique("org"), "", quota("cpu", "10"), podSecurity(tenancy.PodSecurityBaseline), maxSpaces(5))
	e.create(t, org)
	team := e.tenant(unique("team"), org.Name, quota("cpu", "4"), podSecurity(tenancy.PodSecurityRestricted), maxSpaces(2))
	e.create(t, team)
	dev := e.tenant(unique("dev"), team.Name, quota("cpu", "1"))
	e.create(t, dev)
	e.create(t, e.space(unique("ns"), dev.Name, spaceQuota("cpu", "1")))
	e.create(t, e.space(unique("ns"), org.Name, spaceQuota("cpu", "500m")))

	// Updates that keep the tree valid: a member, a tighter quota, a
	// finalizer (metadata only).
	team.Spec.Members = []tenancy.Member{{Kind: tenancy.MemberUser, Name: "ann", Role: tenancy.RoleAdmin}}
	team.Spec.Quota = rl("cpu", "2")
	if err := e.c.Update(context.Background(), team); err != nil {
		t.Fatalf("update team: %v", err)
	}
	dev.Finalizers = []string{"example.com/keep"}
	if err := e.c.Update(context.Background(), dev); err != nil {
		t.Fatalf("update dev: %v", err)
	}
	dev.Finalizers = nil
	if err := e.c.Update(context.Background(), dev); err != nil {
		t.Fatalf("update dev: %v", err)
	}
}

func TestParentTighteningBelowChildRefused(t *testing.T) {
	e := setup(t, admissionregistrationv1.Fail)
	org := e.tenant(unique("org"), "", quota("cpu", "10"))
	e.create(t, org)
	team := e.tenant(unique("team"), org.Name, quota("cpu", "6"))
	e.create(t, team)
	org.Spec.Quota = rl("cpu", "4")
	e.refused(t, e.c.Update(context.Background(), org), "spec.quota",
		`descendant "`+team.Name+`" would become invalid: spec.quota[cpu]: exceeds 4 set by ancestor "`+org.Name+`"`)
}

func TestMaxSpacesRefused(t *testing.T) {
	e := setup(t, admissionregistrationv1.Fail)
	org := e.tenant(unique("org"), "", maxSpaces(2))
	e.create(t, org)
	a := e.tenant(unique("a"), org.Name)
	e.create(t, a)
	b := e.tenant(unique("b"), org.Name)
	e.create(t, b)
	e.create(t, e.space(unique("ns"), a.Name))
	e.create(t, e.space(unique("ns"), b.Name))
	third := e.space(unique("ns"), b.Name)
	e.refused(t, e.c.Create(context.Background(), third), "spec.tenant", `ancestor "`+org.Name+`" allows at most 2 spaces in its subtree, which already has 2`)
	e.absent(t, third)
}

func TestDryRunDecidedAlike(t *testing.T) {
	e := setup(t, admissionregistrationv1.Fail)
	org := e.tenant(unique("org"), "", quota("cpu", "1"))
	e.create(t, org)
	bad := e.tenant(unique("team"), org.Name, quota("cpu", "2"))
	dry := e.c.Create(context.Background(), bad.DeepCopy(), client.DryRunAll)
	e.refused(t, dry, "spec.quota[cpu]", org.Name)
	wet := e.c.Create(context.Background(), bad.DeepCopy())
	e.refused(t, wet, "spec.quota[cpu]", org.Name)
	if dry.Error() != wet.Error() {
		t.Errorf("dry run and write refused differently:\n%v\n%v", dry, wet)
	}
	good := e.tenant(unique("team"), org.Name, quota("cpu", "1"))
	if err := e.c.Create(context.Background(), good, client.DryRunAll); err != nil {
		t.Fatalf("dry run of a valid tenant: %v", err)
	}
	e.absent(t, good)
}

func TestFailurePolicy(t *testing.T) {
	for _, policy := range []admissionregistrationv1.FailurePolicyType{admissionregistrationv1.Ignore, admissionregistrationv1.Fail} {
		t.Run(string(policy), func(t *testing.T) {
			e := setup(t, policy)
			e.failing.Store(true)
			s := e.space(unique("ns"), unique("ghost"))
			err := e.c.Create(context.Background(), s, client.DryRunAll)
			switch policy {
			case admissionregistrationv1.Ignore:
				// Admitted undecided; the engine marks such a space invalid.
				if err != nil {
					t.Fatalf("Ignore: %v", err)
				}
			case admissionregistrationv1.Fail:
				if err == nil || !strings.Contains(err.Error(), "failed calling webhook") || !strings.Contains(err.Error(), e.webhook) {
					t.Fatalf("Fail: want the call failure, got %v", err)
				}
			}
		})
	}
}

func TestInstall(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	if _, err := webhook.Install(ctx, c, webhook.InstallOptions{CABundle: []byte("x")}); err == nil || !strings.Contains(err.Error(), "InstallOptions.URL") {
		t.Errorf("no URL or Service: %v", err)
	}
	if _, err := webhook.Install(ctx, c, webhook.InstallOptions{URL: "https://127.0.0.1:1/x"}); err == nil || !strings.Contains(err.Error(), "InstallOptions.CABundle") {
		t.Errorf("no CA: %v", err)
	}
	bogus := admissionregistrationv1.FailurePolicyType("Maybe")
	if _, err := webhook.Install(ctx, c, webhook.InstallOptions{URL: "https://127.0.0.1:1/x", CABundle: []byte("x"), FailurePolicy: &bogus}); err == nil || !strings.Contains(err.Error(), "InstallOptions.FailurePolicy") {
		t.Errorf("bogus failure policy: %v", err)
	}

	certs, err := admission.GenerateCerts(admission.CertOptions{Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	// Defaults: the name, Ignore, 5 s; selecting nothing of other tests
	// (no object carries this label) so that it does not get in their way.
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"test": "install-only"}}
	if _, err := webhook.Install(ctx, c, webhook.InstallOptions{URL: "https://127.0.0.1:1/x", CABundle: certs.CAPEM, ObjectSelector: sel}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Delete(ctx, &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: webhook.DefaultName}})
	})
	svc := &admissionregistrationv1.ServiceReference{Namespace: "platform", Name: "engine", Path: ptr(webhook.Path)}
	if _, err := webhook.Install(ctx, c, webhook.InstallOptions{Service: svc, CABundle: certs.CAPEM, ObjectSelector: sel}); err != nil {
		t.Fatalf("install again: %v", err)
	}
	var got admissionregistrationv1.ValidatingWebhookConfiguration
	if err := c.Get(ctx, client.ObjectKey{Name: webhook.DefaultName}, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Webhooks) != 1 {
		t.Fatalf("%d webhooks", len(got.Webhooks))
	}
	w := got.Webhooks[0]
	switch {
	case w.Name != "vclusterkit-tenancy.tenancy.vclusterkit.io":
		t.Errorf("name %s", w.Name)
	case *w.FailurePolicy != admissionregistrationv1.Ignore:
		t.Errorf("failure policy %s, want Ignore", *w.FailurePolicy)
	case *w.SideEffects != admissionregistrationv1.SideEffectClassNone:
		t.Errorf("side effects %s", *w.SideEffects)
	case *w.TimeoutSeconds != 5:
		t.Errorf("timeout %d", *w.TimeoutSeconds)
	case w.ClientConfig.URL != nil || w.ClientConfig.Service == nil || w.ClientConfig.Service.Name != "engine":
		t.Errorf("client config %+v: want the Service, not the old URL", w.ClientConfig)
	case len(w.Rules) != 1 || strings.Join(w.Rules[0].Resources, ",") != "tenants,spaces" ||
		strings.Join(w.Rules[0].APIGroups, ",") != tenancy.Group || len(w.Rules[0].Operations) != 2:
		t.Errorf("rules %+v", w.Rules)
	}
}
