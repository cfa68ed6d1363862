// Package synctest sets up the sync engine between two real API servers
// for the tests of the built-in syncers: one virtual cluster per test, its
// own host namespace, an Engine started and stopped with the test.
package synctest

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/sync/syncer"
	"github.com/vclusterkit/vclusterkit/sync/translate"
)

// Env is one virtual cluster of a test.
type Env struct {
	T       *testing.T
	Name    string // virtual cluster name
	HostNS  string
	Virtual client.Client
	Host    client.Client
	VEnv    *testenv.APIServer
	HEnv    *testenv.APIServer
	Reg     *prometheus.Registry
	host    *syncer.Host
}

var seq atomic.Int64

// New prepares a virtual cluster named uniquely for t on the two API
// servers, with its host namespace (and the host "default" service account
// the ServiceAccount admission plugin wants, as a real host's controller
// manager would create) and a running shared Host.
func New(t *testing.T, virtual, host *testenv.APIServer, opts syncer.HostOptions) *Env {
	t.Helper()
	t.Cleanup(func() { virtual.LogsOnFailure(t); host.LogsOnFailure(t) })
	n := seq.Add(1)
	e := &Env{T: t, Name: fmt.Sprintf("vc%d", n), HostNS: fmt.Sprintf("tenant%d", n), VEnv: virtual, HEnv: host, Reg: prometheus.NewRegistry()}
	var err error
	if e.Virtual, err = client.New(virtual.Config, client.Options{}); err != nil {
		t.Fatal(err)
	}
	if e.Host, err = client.New(host.Config, client.Options{}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := e.Host.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: e.HostNS}}); err != nil {
		t.Fatal(err)
	}
	e.ensureSA(e.Host, e.HostNS)
	opts.Namespaces = []string{e.HostNS}
	if e.host, err = syncer.NewHost(host.Config, opts); err != nil {
		t.Fatal(err)
	}
	hctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = e.host.Start(hctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return e
}

func (e *Env) ensureSA(c client.Client, ns string) {
	e.T.Helper()
	err := c.Create(context.Background(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		e.T.Fatal(err)
	}
}

// Namespace creates the virtual namespace "<vcluster>-<name>" with a
// default service account and returns its name.
func (e *Env) Namespace(name string) string {
	e.T.Helper()
	full := e.Name + "-" + name
	if err := e.Virtual.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: full}}); err != nil && !apierrors.IsAlreadyExists(err) {
		e.T.Fatal(err)
	}
	e.ensureSA(e.Virtual, full)
	e.T.Cleanup(func() {
		// envtest runs no namespace controller: empty the namespace so
		// later tests' engines do not sync what this test left.
		ctx := context.Background()
		in := client.InNamespace(full)
		_ = e.Virtual.DeleteAllOf(ctx, &corev1.Pod{}, in, client.GracePeriodSeconds(0))
		_ = e.Virtual.DeleteAllOf(ctx, &corev1.ConfigMap{}, in)
		_ = e.Virtual.DeleteAllOf(ctx, &corev1.Secret{}, in)
		var svcs corev1.ServiceList
		_ = e.Virtual.List(ctx, &svcs, in)
		for i := range svcs.Items {
			_ = e.Virtual.Delete(ctx, &svcs.Items[i])
		}
	})
	return full
}

// Start runs an Engine with the syncers until the returned stop is called
// or the test ends.
func (e *Env) Start(syncers ...syncer.Syncer) (stop func()) {
	e.T.Helper()
	_, stop = e.StartEngine(syncers...)
	return stop
}

// StartEngine is Start that also returns the running Engine (to hand it a
// changed policy, say).
func (e *Env) StartEngine(syncers ...syncer.Syncer) (eng *syncer.Engine, stop func()) {
	e.T.Helper()
	eng, err := syncer.New(e.host, e.VEnv.Config, syncer.Options{Name: e.Name, HostNamespace: e.HostNS, Syncers: syncers, Registerer: e.Reg})
	if err != nil {
		e.T.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctrl.LoggerInto(context.Background(), ctrl.Log))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := eng.Start(ctx); err != nil {
			e.T.Errorf("engine: %v", err)
		}
	}()
	var once atomic.Bool
	stop = func() {
		if once.CompareAndSwap(false, true) {
			cancel()
			<-done
		}
	}
	e.T.Cleanup(stop)
	return eng, stop
}

// Tr returns the Translator of this virtual cluster.
func (e *Env) Tr() *translate.Translator {
	tr, err := translate.New(e.Name, e.HostNS)
	if err != nil {
		e.T.Fatal(err)
	}
	return tr
}

// HostKey is the host key of a virtual object.
func (e *Env) HostKey(name, ns string) client.ObjectKey {
	return client.ObjectKey{Namespace: e.HostNS, Name: e.Tr().HostName(name, ns)}
}

// Eventually polls cond every 50 ms until it is true or 30 s pass.
func Eventually(t *testing.T, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, cond); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// Events returns the virtual events about ns/name with the given reason.
func (e *Env) Events(ctx context.Context, ns, name, reason string) []corev1.Event {
	e.T.Helper()
	var l corev1.EventList
	if err := e.Virtual.List(ctx, &l, client.InNamespace(ns)); err != nil {
		e.T.Fatal(err)
	}
	var out []corev1.Event
	for _, ev := range l.Items {
		if ev.InvolvedObject.Name == name && (reason == "" || ev.Reason == reason) {
			out = append(out, ev)
		}
	}
	return out
}

// WaitEvent waits for an event about ns/name with reason whose message
// contains substr, and returns it.
func (e *Env) WaitEvent(ns, name, reason, substr string) corev1.Event {
	e.T.Helper()
	var got corev1.Event
	Eventually(e.T, fmt.Sprintf("event %s on %s/%s containing %q", reason, ns, name, substr), func(ctx context.Context) (bool, error) {
		for _, ev := range e.Events(ctx, ns, name, reason) {
			if strings.Contains(ev.Message, substr) {
				got = ev
				return true, nil
			}
		}
		return false, nil
	})
	return got
}

// HostObjects lists the host objects of this virtual cluster of list's
// kind.
func (e *Env) HostObjects(ctx context.Context, list client.ObjectList) {
	e.T.Helper()
	if err := e.Host.List(ctx, list, client.InNamespace(e.HostNS), client.MatchingLabels{translate.LabelVirtualCluster: e.Name}); err != nil {
		e.T.Fatal(err)
	}
}

// Counter sums the samples of counter name in g whose labels include
// labels.
func Counter(t testing.TB, g prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue metric
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}
