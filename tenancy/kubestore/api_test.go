package kubestore_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/tenancy/kubestore"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func tenantObj(name, parent string) *tenancy.Tenant {
	return &tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: tenancy.TenantSpec{Parent: parent}}
}

// Two stores, as two engine replicas would be, re-parent two roots under
// each other at once: the Lease lets exactly one through.
func TestCrossStoreReparentCycle(t *testing.T) {
	t.Cleanup(func() { apiServer.LogsOnFailure(t) })
	s1 := newStore(t)
	s2 := newStore(t)
	ctx := testCtx(t)
	for round := range 5 {
		a, err := s1.CreateTenant(ctx, tenantObj("a", ""))
		if err != nil {
			t.Fatal(err)
		}
		b, err := s2.CreateTenant(ctx, tenantObj("b", ""))
		if err != nil {
			t.Fatal(err)
		}
		a.Spec.Parent, b.Spec.Parent = "b", "a"
		var wg sync.WaitGroup
		errs := make([]error, 2)
		wg.Go(func() { _, errs[0] = s1.UpdateTenant(ctx, a) })
		wg.Go(func() { _, errs[1] = s2.UpdateTenant(ctx, b) })
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else if !errors.Is(err, tenancy.ErrInvalid) || !strings.Contains(err.Error(), "cycle") {
				t.Fatalf("round %d: want a cycle error, got %v", round, err)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d of 2 succeeded", round, ok)
		}
		clean(t, s1)
	}
}

// A Lease left by a crashed holder blocks writers only until it expires.
func TestLeaseOfCrashedHolderExpires(t *testing.T) {
	s := newStore(t)
	ctx := testCtx(t)
	c := s.Client()
	key := client.ObjectKey{Namespace: "default", Name: "crashed-holder-lock"}
	holder := "crashed"
	secs := int32(2)
	now := metav1.NewMicroTime(time.Now())
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &secs, AcquireTime: &now, RenewTime: &now}}
	if err := c.Create(ctx, lease); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), lease) })
	s2, err := kubestore.New(ctx, apiServer.Config, kubestore.Options{LockName: key.Name, Identity: "survivor"})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	start := time.Now()
	if _, err := s2.CreateTenant(ctx, tenantObj("after-crash", "")); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < time.Second {
		t.Errorf("the write did not wait for the held Lease (%v)", waited)
	}
	if err := c.Get(ctx, key, lease); err != nil {
		t.Fatal(err)
	}
	if h := lease.Spec.HolderIdentity; h == nil || *h != "" {
		t.Errorf("the Lease was not released: holder %v", h)
	}
}

// The CRDs themselves reject what can be checked statically, for writes
// that bypass the Store (kubectl, other clients).
func TestCRDValidation(t *testing.T) {
	s := newStore(t)
	ctx := testCtx(t)
	c := s.Client()
	if err := c.Create(ctx, tenantObj("org", "")); err != nil {
		t.Fatal(err)
	}
	un := func(kind, name string, spec map[string]any) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": tenancy.GroupVersion.String(), "kind": kind,
			"metadata": map[string]any{"name": name}, "spec": spec}}
		return u
	}
	for _, tc := range []struct {
		name string
		obj  client.Object
		want string
	}{
		{"reserved name", un("Tenant", "kube-system", map[string]any{}), "metadata.name is reserved"},
		{"own parent", un("Tenant", "loop", map[string]any{"parent": "loop"}), "spec.parent must not name the tenant itself"},
		{"bad parent format", un("Tenant", "x", map[string]any{"parent": "Not_A_Name"}), "spec.parent"},
		{"long name", un("Tenant", strings.Repeat("a", 64), map[string]any{}), "63"},
		{"enum", un("Tenant", "y", map[string]any{"policy": map[string]any{"podSecurity": "lax"}}), "spec.policy.podSecurity"},
		{"unparsable quantity", un("Tenant", "z", map[string]any{"quota": map[string]any{"cpu": "two"}}), "spec.quota.cpu"},
		{"member role", un("Tenant", "m", map[string]any{"members": []any{map[string]any{"kind": "User", "name": "u", "role": "owner"}}}), "spec.members[0].role"},
		{"space without tenant", un("Space", "s", map[string]any{}), "spec.tenant"},
		{"space reserved", un("Space", "default", map[string]any{"tenant": "org"}), "metadata.name is reserved"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := c.Create(ctx, tc.obj)
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want Invalid mentioning %q, got %v", tc.want, err)
			}
		})
	}
	// A Space's tenant is immutable, by CEL transition rule.
	sp := &tenancy.Space{ObjectMeta: metav1.ObjectMeta{Name: "org-prod"}, Spec: tenancy.SpaceSpec{Tenant: "org"}}
	if err := c.Create(ctx, sp); err != nil {
		t.Fatal(err)
	}
	sp.Spec.Tenant = "other"
	if err := c.Update(ctx, sp); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.tenant is immutable") {
		t.Fatalf("want spec.tenant immutable, got %v", err)
	}
}

// InstallCRDs on a server that has them updates them in place and waits
// until they are established.
func TestInstallCRDs(t *testing.T) {
	ctx := testCtx(t)
	scheme := runtime.NewScheme()
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(apiServer.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	if err := tenancy.InstallCRDs(ctx, c); err != nil {
		t.Fatal(err)
	}
	crds, _ := tenancy.CRDs()
	for _, want := range crds {
		got := &apiextensionsv1.CustomResourceDefinition{}
		if err := c.Get(ctx, client.ObjectKey{Name: want.Name}, got); err != nil {
			t.Fatal(err)
		}
		if len(got.Spec.Versions) != 1 || got.Spec.Versions[0].Name != tenancy.GroupVersion.Version || got.Spec.Versions[0].Schema == nil {
			t.Errorf("%s: unexpected versions %+v", want.Name, got.Spec.Versions)
		}
	}
}

// A version older than the API server keeps history for gives ErrExpired
// (HTTP 410), so a client lists again and watches from the list's version.
func TestWatchExpired(t *testing.T) {
	s := newStore(t)
	ctx := testCtx(t)
	ch, err := s.WatchTenants(ctx, "1")
	if err == nil {
		// Some servers report it as the first event instead.
		e := <-ch
		err = e.Err
	}
	if !errors.Is(err, tenancy.ErrExpired) {
		t.Fatalf("want ErrExpired, got %v", err)
	}
}

// A store can share a cache someone else runs (a manager's).
func TestSharedCache(t *testing.T) {
	ctx := testCtx(t)
	scheme, err := kubestore.Scheme()
	if err != nil {
		t.Fatal(err)
	}
	shared, err := cache.New(apiServer.Config, cache.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = shared.Start(cctx) }()
	s, err := kubestore.New(ctx, apiServer.Config, kubestore.Options{Cache: shared})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	clean(t, s)
	if _, err := s.CreateTenant(ctx, tenantObj("shared", "")); err != nil {
		t.Fatal(err)
	}
	got := &tenancy.Tenant{}
	if err := shared.Get(ctx, client.ObjectKey{Name: "shared"}, got); err != nil {
		t.Fatalf("the shared cache does not hold the write: %v", err)
	}
	clean(t, s)
}
