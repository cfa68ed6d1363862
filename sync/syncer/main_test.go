package syncer_test

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
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/sync/syncer"
	"github.com/vclusterkit/vclusterkit/sync/translate"
)

var virtualEnv, hostEnv *testenv.APIServer

func TestMain(m *testing.M) { testenv.Main(m, testenv.APIServerOptions{}, &virtualEnv, &hostEnv) }

// cmSyncer is a minimal ConfigMap syncer for engine tests: data to the
// host, a "status" annotation written on the host copied back, and
// ConfigMaps labelled refuse=yes refused.
type cmSyncer struct{ backWrites atomic.Int64 }

func (*cmSyncer) Name() string       { return "configmaps" }
func (*cmSyncer) New() client.Object { return &corev1.ConfigMap{} }

func (*cmSyncer) ToHost(_ context.Context, _ *syncer.Context, v client.Object) (client.Object, error) {
	cm := v.(*corev1.ConfigMap)
	if cm.Labels["refuse"] == "yes" {
		return nil, syncer.Refuse("Forbidden", "configmap %s is labelled refuse=yes", cm.Name)
	}
	return &corev1.ConfigMap{Data: cm.Data, BinaryData: cm.BinaryData}, nil
}

func (s *cmSyncer) ToVirtual(ctx context.Context, sc *syncer.Context, v, h client.Object) (syncer.Result, error) {
	st, ok := h.GetAnnotations()["observed"]
	if !ok || v.GetAnnotations()["observed"] == st {
		return syncer.Result{}, nil
	}
	patch := client.MergeFrom(v.DeepCopyObject().(client.Object))
	a := v.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a["observed"] = st
	v.SetAnnotations(a)
	s.backWrites.Add(1)
	return syncer.Result{}, sc.Virtual.Patch(ctx, v, patch)
}

type env struct {
	t       *testing.T
	name    string
	hostNS  string
	host    *syncer.Host
	virtual client.Client
	hostC   client.Client
	reg     *prometheus.Registry
	syncers []syncer.Syncer
}

var envSeq atomic.Int64

// newEnv creates a fresh virtual namespace pair and host namespace for one
// test, so tests share the two API servers without seeing each other.
func newEnv(t *testing.T, syncers ...syncer.Syncer) *env {
	t.Helper()
	t.Cleanup(func() { virtualEnv.LogsOnFailure(t); hostEnv.LogsOnFailure(t) })
	n := envSeq.Add(1)
	e := &env{t: t, name: fmt.Sprintf("vc%d", n), hostNS: fmt.Sprintf("host%d", n), reg: prometheus.NewRegistry(), syncers: syncers}
	var err error
	e.virtual, err = client.New(virtualEnv.Config, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e.hostC, err = client.New(hostEnv.Config, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := e.hostC.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: e.hostNS}}); err != nil {
		t.Fatal(err)
	}
	e.host, err = syncer.NewHost(hostEnv.Config, syncer.HostOptions{Namespaces: []string{e.hostNS}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// envtest runs no namespace controller: empty the test's virtual
		// namespaces so later tests' engines do not resync them.
		var l corev1.NamespaceList
		_ = e.virtual.List(ctx, &l)
		for _, n := range l.Items {
			if strings.HasPrefix(n.Name, e.name+"-") {
				_ = e.virtual.DeleteAllOf(ctx, &corev1.ConfigMap{}, client.InNamespace(n.Name))
			}
		}
	})
	hctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = e.host.Start(hctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return e
}

// ns creates a virtual namespace unique to this env.
func (e *env) ns(name string) string {
	e.t.Helper()
	full := e.name + "-" + name
	if err := e.virtual.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: full}}); err != nil && !apierrors.IsAlreadyExists(err) {
		e.t.Fatal(err)
	}
	return full
}

// start runs an Engine until the returned stop is called (or the test ends).
func (e *env) start() (stop func()) {
	e.t.Helper()
	eng, err := syncer.New(e.host, virtualEnv.Config, syncer.Options{Name: e.name, HostNamespace: e.hostNS, Syncers: e.syncers, Registerer: e.reg})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctrl.LoggerInto(context.Background(), ctrl.Log))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := eng.Start(ctx); err != nil {
			e.t.Errorf("engine: %v", err)
		}
	}()
	var once atomic.Bool
	stop = func() {
		if once.CompareAndSwap(false, true) {
			cancel()
			<-done
		}
	}
	e.t.Cleanup(stop)
	return stop
}

func (e *env) tr() *translate.Translator {
	tr, err := translate.New(e.name, e.hostNS)
	if err != nil {
		e.t.Fatal(err)
	}
	return tr
}

// eventually polls cond until it returns true or 30 s pass.
func eventually(t *testing.T, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, what, func(ctx context.Context) (bool, string) {
		ok, err := cond(ctx)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return ok, "not yet"
	})
}

func (e *env) hostConfigMap(ctx context.Context, name, ns string) (*corev1.ConfigMap, error) {
	cm := &corev1.ConfigMap{}
	err := e.hostC.Get(ctx, client.ObjectKey{Namespace: e.hostNS, Name: e.tr().HostName(name, ns)}, cm)
	return cm, err
}

func (e *env) hostList(ctx context.Context) []corev1.ConfigMap {
	e.t.Helper()
	var l corev1.ConfigMapList
	if err := e.hostC.List(ctx, &l, client.InNamespace(e.hostNS), client.MatchingLabels{translate.LabelVirtualCluster: e.name}); err != nil {
		e.t.Fatal(err)
	}
	return l.Items
}

func (e *env) events(ctx context.Context, ns, name, reason string) []corev1.Event {
	e.t.Helper()
	var l corev1.EventList
	if err := e.virtual.List(ctx, &l, client.InNamespace(ns)); err != nil {
		e.t.Fatal(err)
	}
	var out []corev1.Event
	for _, ev := range l.Items {
		if ev.InvolvedObject.Name == name && (reason == "" || ev.Reason == reason) {
			out = append(out, ev)
		}
	}
	return out
}

func newRegistry() *prometheus.Registry { return prometheus.NewRegistry() }

func (e *env) waitEvent(ns, name, reason string) {
	e.t.Helper()
	eventually(e.t, "event "+reason+" on "+ns+"/"+name, func(ctx context.Context) (bool, error) {
		return len(e.events(ctx, ns, name, reason)) > 0, nil
	})
}
