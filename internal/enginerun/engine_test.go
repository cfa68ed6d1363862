package enginerun_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/pprof"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	vclusterkit "github.com/vclusterkit/vclusterkit"
	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/tenancy/memstore"
	"github.com/vclusterkit/vclusterkit/vcluster/local"
)

// running is an Engine started in the background.
type running struct {
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, opts vclusterkit.Options) *running {
	t.Helper()
	if opts.Local.Dir == "" {
		opts.Local = local.Options{Dir: t.TempDir()}
	}
	eng, err := vclusterkit.New(apiServer.Config, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- eng.Start(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop stops the engine and waits for Start to return (once).
func (r *running) stop(t *testing.T) {
	t.Helper()
	if r.done == nil {
		return
	}
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Start returned %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Start did not return within a minute of its context ending")
	}
	r.done = nil
}

func hostClient(t *testing.T) client.Client {
	t.Helper()
	s := k8sruntime.NewScheme()
	if err := tenancy.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(apiServer.Config, client.Options{Scheme: s})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// No goroutine outlives Start: after a first run (which starts what a
// process starts once: klog, the HTTP transports' connections), further
// runs of new Engines in the same process leave the goroutine count where
// it was.
func TestStartStopLeavesNoGoroutine(t *testing.T) {
	c := hostClient(t)
	cycle := func(i int) {
		r := start(t, vclusterkit.Options{Registerer: prometheus.NewRegistry(), ResyncPeriod: time.Second})
		// Each run reconciles a tenant of its own, so it is known to run.
		name := fmt.Sprintf("leak-%d", i)
		tn := &tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if err := c.Create(context.Background(), tn); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, time.Minute, "tenant "+name+" Ready", func(ctx context.Context) (bool, string) {
			got := &tenancy.Tenant{}
			if err := c.Get(ctx, client.ObjectKey{Name: name}, got); err != nil {
				return false, err.Error()
			}
			for _, cond := range got.Status.Conditions {
				if cond.Type == "Ready" && cond.Status == metav1.ConditionTrue {
					return true, ""
				}
			}
			return false, fmt.Sprintf("conditions %v", got.Status.Conditions)
		})
		r.stop(t)
	}
	cycle(0)
	settled := func() int {
		// Let goroutines that were told to stop finish.
		var n int
		for range 20 {
			runtime.GC()
			n = runtime.NumGoroutine()
			time.Sleep(100 * time.Millisecond)
		}
		return n
	}
	base := settled()
	for i := 1; i <= 3; i++ {
		cycle(i)
	}
	// A goroutine left per run would add at least 3.
	const slack = 2
	var now int
	testenv.Eventually(t, 30*time.Second, "the goroutine count back where it was", func(context.Context) (bool, string) {
		now = runtime.NumGoroutine()
		return now <= base+slack, fmt.Sprintf("%d goroutines after 3 more runs, %d after the first", now, base)
	})
	if t.Failed() {
		var b bytes.Buffer
		_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
		t.Log(b.String())
	}
}

// Two Engines in one process, each with a Registerer of its own, each
// export their own quota ledger and not the other's.
func TestTwoEnginesExportTheirOwnMetrics(t *testing.T) {
	regA, regB := prometheus.NewRegistry(), prometheus.NewRegistry()
	treeA := fixedTree{tenants: []tenancy.Tenant{quotaTenant("metrics-a")}}
	treeB := fixedTree{tenants: []tenancy.Tenant{quotaTenant("metrics-b")}}
	off := vclusterkit.QuotaOptions{Disabled: true}
	start(t, vclusterkit.Options{Registerer: regA, Tree: treeA, Quota: off, TenancyWebhook: vclusterkit.TenancyWebhookOptions{Disabled: true}})
	start(t, vclusterkit.Options{Registerer: regB, Tree: treeB, Quota: off, TenancyWebhook: vclusterkit.TenancyWebhookOptions{Disabled: true}})
	for _, tc := range []struct {
		reg        *prometheus.Registry
		own, other string
	}{{regA, "metrics-a", "metrics-b"}, {regB, "metrics-b", "metrics-a"}} {
		testenv.Eventually(t, time.Minute, "the quota metrics of "+tc.own, func(context.Context) (bool, string) {
			tenants, err := hardTenants(tc.reg)
			if err != nil {
				return false, err.Error()
			}
			if tenants[tc.other] {
				t.Fatalf("the registry of the engine of %s exports %s: %v", tc.own, tc.other, tenants)
			}
			return tenants[tc.own], fmt.Sprintf("vclusterkit_quota_hard for tenants %v", tenants)
		})
	}
}

// hardTenants lists the tenants vclusterkit_quota_hard has a series for.
func hardTenants(reg *prometheus.Registry) (map[string]bool, error) {
	mfs, err := reg.Gather()
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, mf := range mfs {
		if mf.GetName() != "vclusterkit_quota_hard" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "tenant" {
					out[l.GetValue()] = true
				}
			}
		}
	}
	return out, nil
}

func quotaTenant(name string) tenancy.Tenant {
	return tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: tenancy.TenantSpec{
		Quota: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("10")}}}
}

// fixedTree is a TreeSource over fixed lists.
type fixedTree struct{ tenants []tenancy.Tenant }

func (f fixedTree) ListTenants(context.Context) (*tenancy.TenantList, error) {
	l := &tenancy.TenantList{}
	for i := range f.tenants {
		l.Items = append(l.Items, *f.tenants[i].DeepCopy())
	}
	return l, nil
}

func (f fixedTree) ListSpaces(context.Context) (*tenancy.SpaceList, error) {
	return &tenancy.SpaceList{}, nil
}

// flakyStore fails its first lists and watches, as a database that
// restarts does.
type flakyStore struct {
	tenancy.Store
	listFailures, watchFailures atomic.Int32
}

var errTransient = errors.New("connection refused (transient)")

func (f *flakyStore) ListTenants(ctx context.Context) (*tenancy.TenantList, error) {
	if f.listFailures.Add(-1) >= 0 {
		return nil, errTransient
	}
	return f.Store.ListTenants(ctx)
}

func (f *flakyStore) WatchTenants(ctx context.Context, rv string) (<-chan tenancy.TenantEvent, error) {
	if f.watchFailures.Add(-1) >= 0 {
		return nil, errTransient
	}
	return f.Store.WatchTenants(ctx, rv)
}

// A store that fails for a while (lists and watches refused) delays the
// projection; it does not stop the engine, and once the store answers its
// tenants reach the host.
func TestTransientStoreErrorDoesNotStopTheEngine(t *testing.T) {
	store := &flakyStore{Store: memstore.New(memstore.Options{})}
	store.listFailures.Store(3)
	store.watchFailures.Store(2)
	if _, err := store.Store.CreateTenant(context.Background(), &tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "flaky-org"}}); err != nil {
		t.Fatal(err)
	}
	r := start(t, vclusterkit.Options{Store: store, Registerer: prometheus.NewRegistry(), ResyncPeriod: time.Second})
	c := hostClient(t)
	testenv.Eventually(t, time.Minute, "the store's tenant projected onto the host", func(ctx context.Context) (bool, string) {
		select {
		case err := <-r.done:
			t.Fatalf("the engine stopped on a transient store error: %v", err)
		default:
		}
		got := &tenancy.Tenant{}
		if err := c.Get(ctx, client.ObjectKey{Name: "flaky-org"}, got); err != nil {
			return false, err.Error()
		}
		return got.Labels[tenancy.LabelProjected] == "true", fmt.Sprintf("labels %v", got.Labels)
	})
	if store.listFailures.Load() >= 0 || store.watchFailures.Load() >= 0 {
		t.Fatalf("the store did not fail as planned (lists left %d, watches left %d)", store.listFailures.Load(), store.watchFailures.Load())
	}
	select {
	case err := <-r.done:
		t.Fatalf("the engine stopped: %v", err)
	default:
	}
}
