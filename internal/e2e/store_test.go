package e2e

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	vclusterkit "github.com/vclusterkit/vclusterkit"
	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/tenancy/memstore"
	"github.com/vclusterkit/vclusterkit/vcluster/local"
)

// TestEngineWithAnotherStore runs the engine with a memstore as the source
// of truth for tenants and spaces: what is written to the store appears on
// the host and is reconciled, the controllers' status comes back into the
// store, and deleting from the store removes the host namespace.
func TestEngineWithAnotherStore(t *testing.T) {
	f := features.New("store as source of truth").
		Assess("a space written to the store becomes a namespace, and goes with it", func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			h := testenv.HostFrom(ctx)
			h.LogsOnFailure(t)
			store := memstore.New(memstore.Options{})
			eng, err := vclusterkit.New(h.Config, vclusterkit.Options{Store: store, Local: local.Options{Dir: t.TempDir()}, ResyncPeriod: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			ectx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- eng.Start(ectx) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("engine: %v", err)
				}
			}()
			c := newClient(t, cfg)

			if _, err := store.CreateTenant(ctx, &tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "stored"},
				Spec: tenancy.TenantSpec{Members: []tenancy.Member{{Kind: tenancy.MemberUser, Name: "dana", Role: tenancy.RoleView}}}}); err != nil {
				t.Fatal(err)
			}
			if _, err := store.CreateSpace(ctx, &tenancy.Space{ObjectMeta: metav1.ObjectMeta{Name: "stored-space"}, Spec: tenancy.SpaceSpec{Tenant: "stored"}}); err != nil {
				t.Fatal(err)
			}
			poll(t, time.Minute, "the space's namespace on the host", func(ctx context.Context) (bool, string) {
				ns := &corev1.Namespace{}
				if err := c.Get(ctx, client.ObjectKey{Name: "stored-space"}, ns); err != nil {
					return false, err.Error()
				}
				return ns.Labels[tenancy.LabelTenant] == "stored", fmt.Sprintf("labels %v", ns.Labels)
			})
			poll(t, 30*time.Second, "the Ready status copied back into the store", func(ctx context.Context) (bool, string) {
				sp, err := store.GetSpace(ctx, "stored-space")
				if err != nil {
					return false, err.Error()
				}
				return meta.IsStatusConditionTrue(sp.Status.Conditions, "Ready"), fmt.Sprintf("store status %+v", sp.Status.Conditions)
			})
			// A change in the store reaches the host.
			tn, err := store.GetTenant(ctx, "stored")
			if err != nil {
				t.Fatal(err)
			}
			tn.Spec.DisplayName = "Stored Inc."
			if _, err := store.UpdateTenant(ctx, tn); err != nil {
				t.Fatal(err)
			}
			poll(t, 30*time.Second, "the store's update on the host", func(ctx context.Context) (bool, string) {
				got := &tenancy.Tenant{}
				if err := c.Get(ctx, client.ObjectKey{Name: "stored"}, got); err != nil {
					return false, err.Error()
				}
				return got.Spec.DisplayName == "Stored Inc.", "displayName " + got.Spec.DisplayName
			})

			if err := store.DeleteTenant(ctx, "stored", tenancy.DeleteOptions{Cascade: true}); err != nil {
				t.Fatal(err)
			}
			poll(t, 2*time.Minute, "the tenant, space and namespace to leave the host", func(ctx context.Context) (bool, string) {
				for _, o := range []client.Object{
					&tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "stored"}},
					&tenancy.Space{ObjectMeta: metav1.ObjectMeta{Name: "stored-space"}},
					&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "stored-space"}},
				} {
					if err := c.Get(ctx, client.ObjectKeyFromObject(o), o); !apierrors.IsNotFound(err) {
						return false, fmt.Sprintf("%T %s still there (%v)", o, o.GetName(), err)
					}
				}
				return true, ""
			})
			if _, err := store.GetTenant(ctx, "stored"); !errors.Is(err, tenancy.ErrNotFound) {
				t.Fatalf("store still has the tenant: %v", err)
			}
			return ctx
		}).Feature()
	testEnv.Test(t, f)
}
