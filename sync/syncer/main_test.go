package syncer_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/sync/internal/synctest"
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

// env is one test's virtual cluster on the two API servers: the shared
// kit (sync/internal/synctest) with the syncers the test runs.
type env struct {
	*synctest.Env
	syncers []syncer.Syncer
}

func newEnv(t *testing.T, syncers ...syncer.Syncer) *env {
	t.Helper()
	return &env{Env: synctest.New(t, virtualEnv, hostEnv, syncer.HostOptions{}), syncers: syncers}
}

// ns creates a virtual namespace unique to this env.
func (e *env) ns(name string) string { return e.Namespace(name) }

// start runs an Engine with the env's syncers until the returned stop is
// called (or the test ends).
func (e *env) start() (stop func()) { return e.Start(e.syncers...) }

func (e *env) tr() *translate.Translator { return e.Tr() }

// eventually polls cond until it returns true or 30 s pass.
var eventually = synctest.Eventually

func (e *env) hostConfigMap(ctx context.Context, name, ns string) (*corev1.ConfigMap, error) {
	cm := &corev1.ConfigMap{}
	err := e.Host.Get(ctx, e.HostKey(name, ns), cm)
	return cm, err
}

func (e *env) hostList(ctx context.Context) []corev1.ConfigMap {
	e.T.Helper()
	var l corev1.ConfigMapList
	if err := e.Host.List(ctx, &l, client.InNamespace(e.HostNS), client.MatchingLabels{translate.LabelVirtualCluster: e.Name}); err != nil {
		e.T.Fatal(err)
	}
	return l.Items
}

func (e *env) events(ctx context.Context, ns, name, reason string) []corev1.Event {
	return e.Events(ctx, ns, name, reason)
}

func newRegistry() *prometheus.Registry { return prometheus.NewRegistry() }

func (e *env) waitEvent(ns, name, reason string) {
	e.T.Helper()
	eventually(e.T, "event "+reason+" on "+ns+"/"+name, func(ctx context.Context) (bool, error) {
		return len(e.events(ctx, ns, name, reason)) > 0, nil
	})
}
