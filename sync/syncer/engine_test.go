package syncer_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/sync/internal/synctest"
	"github.com/vclusterkit/vclusterkit/sync/syncer"
	"github.com/vclusterkit/vclusterkit/sync/translate"
)

func (e *env) hostListNS(ctx context.Context, vns string) map[string]corev1.ConfigMap {
	out := map[string]corev1.ConfigMap{}
	for _, cm := range e.hostList(ctx) {
		if cm.Labels[translate.LabelNamespace] == vns {
			out[cm.Name] = cm
		}
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	s := &cmSyncer{}
	e := newEnv(t, s)
	ctx := context.Background()
	ns := e.ns("app")
	e.start()

	v := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: ns, Labels: map[string]string{"app": "web", translate.LabelVirtualCluster: "forged"}}, Data: map[string]string{"k": "v1"}}
	if err := e.Virtual.Create(ctx, v); err != nil {
		t.Fatal(err)
	}
	var h *corev1.ConfigMap
	eventually(t, "host copy created", func(ctx context.Context) (bool, error) {
		var err error
		h, err = e.hostConfigMap(ctx, "cfg", ns)
		return err == nil, client.IgnoreNotFound(err)
	})
	ev := e.events(ctx, ns, "cfg", syncer.ReasonReservedKeys)
	for i := 0; i < 100 && len(ev) == 0; i++ {
		time.Sleep(50 * time.Millisecond)
		ev = e.events(ctx, ns, "cfg", syncer.ReasonReservedKeys)
	}
	if len(ev) == 0 || !strings.Contains(ev[0].Message, translate.LabelVirtualCluster) {
		t.Errorf("no event about the escaped reserved label: %+v", ev)
	}
	if d := cmp.Diff(map[string]string{"k": "v1"}, h.Data); d != "" {
		t.Errorf("host data (-want +got):\n%s", d)
	}
	if h.Labels[translate.LabelVirtualCluster] != e.Name || h.Labels["app"] != "web" || h.Labels["vcluster.tenant.vclusterkit.io/name"] != "forged" {
		t.Errorf("host labels %v", h.Labels)
	}
	if h.Annotations[translate.AnnotationUID] != string(v.UID) || h.Annotations[translate.AnnotationKind] != "ConfigMap" {
		t.Errorf("host annotations %v", h.Annotations)
	}

	// update flows to the host; a removed key disappears.
	v.Data = map[string]string{"k2": "v2"}
	if err := e.Virtual.Update(ctx, v); err != nil {
		t.Fatal(err)
	}
	eventually(t, "host copy updated", func(ctx context.Context) (bool, error) {
		h, err := e.hostConfigMap(ctx, "cfg", ns)
		return err == nil && cmp.Equal(h.Data, map[string]string{"k2": "v2"}), err
	})

	// host-observed state flows back.
	h, _ = e.hostConfigMap(ctx, "cfg", ns)
	h.Annotations["observed"] = "seen"
	if err := e.Host.Update(ctx, h); err != nil {
		t.Fatal(err)
	}
	eventually(t, "observed state back in the virtual object", func(ctx context.Context) (bool, error) {
		err := e.Virtual.Get(ctx, client.ObjectKeyFromObject(v), v)
		return err == nil && v.Annotations["observed"] == "seen", err
	})
	// ... and survives later applies (the engine does not own it).
	v.Data["k3"] = "v3"
	if err := e.Virtual.Update(ctx, v); err != nil {
		t.Fatal(err)
	}
	eventually(t, "host copy updated again", func(ctx context.Context) (bool, error) {
		h, err := e.hostConfigMap(ctx, "cfg", ns)
		return err == nil && h.Data["k3"] == "v3" && h.Annotations["observed"] == "seen", err
	})

	// deletion virtual -> host.
	if err := e.Virtual.Delete(ctx, v); err != nil {
		t.Fatal(err)
	}
	eventually(t, "host copy deleted", func(ctx context.Context) (bool, error) {
		_, err := e.hostConfigMap(ctx, "cfg", ns)
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	})
	if got := counter(t, e.Reg, syncer.MetricObjectsSynced, map[string]string{"vcluster": e.Name, "direction": "to_host", "op": "create"}); got < 1 {
		t.Errorf("%s{op=create} = %v, want >= 1", syncer.MetricObjectsSynced, got)
	}
	if got := counter(t, e.Reg, syncer.MetricObjectsSynced, map[string]string{"vcluster": e.Name, "direction": "to_host", "op": "delete"}); got < 1 {
		t.Errorf("%s{op=delete} = %v, want >= 1", syncer.MetricObjectsSynced, got)
	}
}

func TestHostEditPutBackAndHostDeleteRecreated(t *testing.T) {
	e := newEnv(t, &cmSyncer{})
	ctx := context.Background()
	ns := e.ns("app")
	e.start()
	v := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: ns, Labels: map[string]string{"app": "web"}}, Data: map[string]string{"k": "v"}}
	if err := e.Virtual.Create(ctx, v); err != nil {
		t.Fatal(err)
	}
	var h *corev1.ConfigMap
	eventually(t, "host copy", func(ctx context.Context) (bool, error) {
		var err error
		h, err = e.hostConfigMap(ctx, "cfg", ns)
		return err == nil, client.IgnoreNotFound(err)
	})
	h.Data["k"] = "hacked"
	h.Data["extra"] = "x"
	h.Labels["app"] = "hacked"
	h.Labels["host-admin"] = "kept"
	if err := e.Host.Update(ctx, h); err != nil {
		t.Fatal(err)
	}
	eventually(t, "hand edit put back", func(ctx context.Context) (bool, error) {
		h, err := e.hostConfigMap(ctx, "cfg", ns)
		return err == nil && h.Data["k"] == "v" && h.Labels["app"] == "web", err
	})
	h, _ = e.hostConfigMap(ctx, "cfg", ns)
	if h.Labels["host-admin"] != "kept" {
		t.Errorf("label added by a host admin was removed: %v", h.Labels)
	}

	if err := e.Host.Delete(ctx, h); err != nil {
		t.Fatal(err)
	}
	eventually(t, "host copy recreated", func(ctx context.Context) (bool, error) {
		h2, err := e.hostConfigMap(ctx, "cfg", ns)
		return err == nil && h2.UID != h.UID, client.IgnoreNotFound(err)
	})
}

func TestForeignHostObjectLeftAlone(t *testing.T) {
	e := newEnv(t, &cmSyncer{})
	ctx := context.Background()
	ns := e.ns("app")
	// An unmarked host object and one of another virtual cluster, both
	// with the host names our virtual objects map to.
	foreign := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: e.tr().HostName("taken", ns), Namespace: e.HostNS}, Data: map[string]string{"owner": "host-admin"}}
	other := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: e.tr().HostName("other", ns), Namespace: e.HostNS,
		Labels:      map[string]string{translate.LabelVirtualCluster: "someone-else"},
		Annotations: map[string]string{translate.AnnotationName: "other", translate.AnnotationNamespace: ns, translate.AnnotationKind: "ConfigMap"}},
		Data: map[string]string{"owner": "someone-else"}}
	for _, o := range []*corev1.ConfigMap{foreign, other} {
		if err := e.Host.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	e.start()
	for _, name := range []string{"taken", "other"} {
		if err := e.Virtual.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Data: map[string]string{"owner": "tenant"}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"taken", "other"} {
		eventually(t, "collision event for "+name, func(ctx context.Context) (bool, error) {
			return len(e.events(ctx, ns, name, syncer.ReasonNameCollision)) > 0, nil
		})
	}
	// deleting the virtual objects must not delete the foreign ones either.
	for _, name := range []string{"taken", "other"} {
		if err := e.Virtual.Delete(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	// a marker object proves the engine processed later events.
	if err := e.Virtual.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "marker", Namespace: ns}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "marker synced", func(ctx context.Context) (bool, error) {
		_, err := e.hostConfigMap(ctx, "marker", ns)
		return err == nil, client.IgnoreNotFound(err)
	})
	for _, o := range []*corev1.ConfigMap{foreign, other} {
		got := &corev1.ConfigMap{}
		if err := e.Host.Get(ctx, client.ObjectKeyFromObject(o), got); err != nil {
			t.Fatalf("foreign object %s: %v", o.Name, err)
		}
		if got.ResourceVersion != o.ResourceVersion || got.Data["owner"] == "tenant" {
			t.Errorf("foreign object %s was modified: %+v", o.Name, got)
		}
	}
}

func TestRefusedGetsEventAndNoHostCopy(t *testing.T) {
	e := newEnv(t, &cmSyncer{})
	ctx := context.Background()
	ns := e.ns("app")
	e.start()
	v := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "bad", Namespace: ns}, Data: map[string]string{"a": "b"}}
	if err := e.Virtual.Create(ctx, v); err != nil {
		t.Fatal(err)
	}
	eventually(t, "synced before refusal", func(ctx context.Context) (bool, error) {
		_, err := e.hostConfigMap(ctx, "bad", ns)
		return err == nil, client.IgnoreNotFound(err)
	})
	// turning it into a refused object removes the host copy.
	v.Labels = map[string]string{"refuse": "yes"}
	if err := e.Virtual.Update(ctx, v); err != nil {
		t.Fatal(err)
	}
	eventually(t, "refusal event", func(ctx context.Context) (bool, error) {
		evs := e.events(ctx, ns, "bad", syncer.ReasonRefused)
		return len(evs) > 0 && strings.Contains(evs[0].Message, "refuse=yes"), nil
	})
	eventually(t, "host copy removed", func(ctx context.Context) (bool, error) {
		_, err := e.hostConfigMap(ctx, "bad", ns)
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	})
}

// A virtual label key so long that escaping it would break the 253-character
// prefix limit is refused with an event, not half-written.
func TestUnescapableLabelRefused(t *testing.T) {
	e := newEnv(t, &cmSyncer{})
	ctx := context.Background()
	ns := e.ns("app")
	e.start()
	key := longReservedKey()
	if err := e.Virtual.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "long", Namespace: ns, Labels: map[string]string{key: "v"}}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "refusal event naming the label", func(ctx context.Context) (bool, error) {
		evs := e.events(ctx, ns, "long", syncer.ReasonRefused)
		return len(evs) > 0 && strings.Contains(evs[0].Message, "metadata.labels["+key+"]"), nil
	})
	if _, err := e.hostConfigMap(ctx, "long", ns); !apierrors.IsNotFound(err) {
		t.Fatalf("host copy of a refused object: %v", err)
	}
}

func TestGarbageCollectionAfterDowntime(t *testing.T) {
	e := newEnv(t, &cmSyncer{})
	ctx := context.Background()
	ns := e.ns("app")
	stop := e.start()
	for _, n := range []string{"keep", "gone", "replaced"} {
		if err := e.Virtual.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: n, Namespace: ns}, Data: map[string]string{"gen": "1"}}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "three host copies", func(ctx context.Context) (bool, error) { return len(e.hostListNS(ctx, ns)) == 3, nil })
	stop()

	// while the engine is down: delete one, replace one, add one.
	if err := e.Virtual.Delete(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "gone", Namespace: ns}}); err != nil {
		t.Fatal(err)
	}
	if err := e.Virtual.Delete(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "replaced", Namespace: ns}}); err != nil {
		t.Fatal(err)
	}
	repl := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "replaced", Namespace: ns}, Data: map[string]string{"gen": "2"}}
	if err := e.Virtual.Create(ctx, repl); err != nil {
		t.Fatal(err)
	}
	if err := e.Virtual.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "new", Namespace: ns}}); err != nil {
		t.Fatal(err)
	}
	e.start()
	tr := e.tr()
	eventually(t, "converged after restart", func(ctx context.Context) (bool, error) {
		got := e.hostListNS(ctx, ns)
		r, ok := got[tr.HostName("replaced", ns)]
		_, gone := got[tr.HostName("gone", ns)]
		return len(got) == 3 && !gone && ok && r.Data["gen"] == "2" && r.Annotations[translate.AnnotationUID] == string(repl.UID), nil
	})
}

// The engine is stopped in the middle of a burst of creates and deletes
// and restarted: no host object is missing, left over or duplicated.
func TestKilledMidBurstConverges(t *testing.T) {
	e := newEnv(t, &cmSyncer{})
	ctx := context.Background()
	ns := e.ns("burst")
	stop := e.start()
	const n = 300
	created := make(chan error, 1)
	go func() {
		for i := range n {
			if err := e.Virtual.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%03d", i), Namespace: ns}, Data: map[string]string{"i": fmt.Sprint(i)}}); err != nil {
				created <- err
				return
			}
		}
		created <- nil
	}()
	// the engine dies once part of the burst is on the host, while
	// creates keep coming.
	eventually(t, "part of the burst synced", func(ctx context.Context) (bool, error) { return len(e.hostListNS(ctx, ns)) >= n/10, nil })
	stop()
	synced := len(e.hostListNS(ctx, ns))
	if err := <-created; err != nil {
		t.Fatal(err)
	}
	t.Logf("host copies when the engine was stopped: %d of %d", synced, n)
	if synced == n {
		t.Fatalf("the engine synced the whole burst before it was stopped; the test proves nothing")
	}
	// more churn while down: delete every fifth.
	for i := 0; i < n; i += 5 {
		if err := e.Virtual.Delete(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%03d", i), Namespace: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	e.start()
	tr := e.tr()
	eventually(t, "converged", func(ctx context.Context) (bool, error) {
		got := e.hostListNS(ctx, ns)
		if len(got) != n-n/5 {
			return false, nil
		}
		for i := range n {
			_, ok := got[tr.HostName(fmt.Sprintf("cm-%03d", i), ns)]
			if ok != (i%5 != 0) {
				return false, nil
			}
		}
		return true, nil
	})
	if got := counter(t, e.Reg, syncer.MetricErrors, map[string]string{"vcluster": e.Name}); got != 0 {
		t.Errorf("%s = %v, want 0 (conflicts are retried silently)", syncer.MetricErrors, got)
	}
}

// Two virtual clusters synced by one process share the host cache; equal
// virtual names never collide and neither touches the other's objects.
func TestTwoVirtualClustersShareHost(t *testing.T) {
	e := newEnv(t, &cmSyncer{})
	ctx := context.Background()
	ns := e.ns("shared")
	e.start()
	// a second engine on the same Host and host namespace.
	inner := *e.Env
	inner.Name = e.Name + "b"
	inner.Reg = newRegistry()
	e2 := &env{Env: &inner, syncers: []syncer.Syncer{&cmSyncer{}}}
	e2.start()
	if err := e.Virtual.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "same", Namespace: ns}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "one copy per virtual cluster", func(ctx context.Context) (bool, error) {
		_, err1 := e.hostConfigMap(ctx, "same", ns)
		_, err2 := e2.hostConfigMap(ctx, "same", ns)
		return err1 == nil && err2 == nil, nil
	})
}

func TestNewRejectsBadOptions(t *testing.T) {
	h, err := syncer.NewHost(hostEnv.Config, syncer.HostOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opts syncer.Options
		want string
	}{
		{"no name", syncer.Options{HostNamespace: "h", Syncers: []syncer.Syncer{&cmSyncer{}}}, "vclusterName"},
		{"bad namespace", syncer.Options{Name: "vc", HostNamespace: "Bad", Syncers: []syncer.Syncer{&cmSyncer{}}}, "hostNamespace"},
		{"no syncers", syncer.Options{Name: "vc", HostNamespace: "h"}, "Options.Syncers"},
		{"duplicate", syncer.Options{Name: "vc", HostNamespace: "h", Syncers: []syncer.Syncer{&cmSyncer{}, &cmSyncer{}}}, "not unique"},
		{"cluster-scoped", syncer.Options{Name: "vc", HostNamespace: "h", Syncers: []syncer.Syncer{clusterRoleSyncer{}}}, "cluster-scoped"},
	} {
		_, err := syncer.New(h, virtualEnv.Config, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New = %v, want error containing %q", tc.name, err, tc.want)
		}
	}
	_, err = syncer.New(h, virtualEnv.Config, syncer.Options{Name: "vc", HostNamespace: "h", Syncers: []syncer.Syncer{clusterRoleSyncer{}}})
	if !errors.Is(err, syncer.ErrClusterScoped) {
		t.Errorf("cluster-scoped kind: %v, want ErrClusterScoped", err)
	}
}

// longReservedKey is a valid label key under the reserved domain whose
// escaped form exceeds the 253-character prefix limit.
func longReservedKey() string {
	a := strings.Repeat("a", 60)
	return a + "." + a + "." + a + "." + strings.Repeat("b", 52) + ".vclusterkit.io/x"
}

// clusterRoleSyncer tries to sync a cluster-scoped kind to the host.
type clusterRoleSyncer struct{}

func (clusterRoleSyncer) Name() string       { return "clusterroles" }
func (clusterRoleSyncer) New() client.Object { return &rbacv1.ClusterRole{} }
func (clusterRoleSyncer) ToHost(context.Context, *syncer.Context, client.Object) (client.Object, error) {
	return &rbacv1.ClusterRole{}, nil
}
func (clusterRoleSyncer) ToVirtual(context.Context, *syncer.Context, client.Object, client.Object) (syncer.Result, error) {
	return syncer.Result{}, nil
}

func counter(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	return synctest.Counter(t, g, name, labels)
}

// staleSyncer's ToVirtual writes the virtual object with the
// resourceVersion it had when the reconcile started, after somebody else
// changed it: the API server answers Conflict.
type staleSyncer struct {
	cmSyncer
	conflicts atomic.Int64
	bump      func(ctx context.Context, v client.Object)
}

func (s *staleSyncer) ToVirtual(ctx context.Context, sc *syncer.Context, v, h client.Object) (syncer.Result, error) {
	if v.GetAnnotations()["written"] == "yes" {
		return syncer.Result{}, nil
	}
	if s.conflicts.Load() < 3 {
		s.bump(ctx, v) // a concurrent writer
	}
	nv := v.DeepCopyObject().(client.Object)
	a := nv.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a["written"] = "yes"
	nv.SetAnnotations(a)
	err := sc.Virtual.Update(ctx, nv)
	if apierrors.IsConflict(err) {
		s.conflicts.Add(1)
	}
	return syncer.Result{}, err
}

// Resource-version conflicts are retried until the write lands, without
// counting as errors and without events.
func TestConflictsRetriedQuietly(t *testing.T) {
	s := &staleSyncer{}
	e := newEnv(t, s)
	s.bump = func(ctx context.Context, v client.Object) {
		cm := &corev1.ConfigMap{}
		if err := e.Virtual.Get(ctx, client.ObjectKeyFromObject(v), cm); err != nil {
			t.Error(err)
			return
		}
		if cm.Labels == nil {
			cm.Labels = map[string]string{}
		}
		cm.Labels["bump"] = fmt.Sprint(s.conflicts.Load())
		if err := e.Virtual.Update(ctx, cm); err != nil {
			t.Error(err)
		}
	}
	ctx := context.Background()
	ns := e.ns("app")
	e.start()
	if err := e.Virtual.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "contended", Namespace: ns}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "write landed after conflicts", func(ctx context.Context) (bool, error) {
		cm := &corev1.ConfigMap{}
		err := e.Virtual.Get(ctx, client.ObjectKey{Namespace: ns, Name: "contended"}, cm)
		return err == nil && cm.Annotations["written"] == "yes", err
	})
	if s.conflicts.Load() < 3 {
		t.Fatalf("only %d conflicts happened; the test proves nothing", s.conflicts.Load())
	}
	if got := counter(t, e.Reg, syncer.MetricErrors, map[string]string{"vcluster": e.Name}); got != 0 {
		t.Errorf("%s = %v after %d conflicts, want 0", syncer.MetricErrors, got, s.conflicts.Load())
	}
	if evs := e.events(ctx, ns, "contended", ""); len(evs) != 0 {
		t.Errorf("events recorded for conflicts: %+v", evs)
	}
	// the histogram and queue depth gauge are exported too.
	mfs, err := e.Reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, mf := range mfs {
		have[mf.GetName()] = true
	}
	eventually(t, "queue depth gauge", func(context.Context) (bool, error) {
		mfs, err := e.Reg.Gather()
		for _, mf := range mfs {
			have[mf.GetName()] = true
		}
		return have[syncer.MetricQueueDepth], err
	})
	if !have[syncer.MetricDuration] {
		t.Errorf("%s not exported", syncer.MetricDuration)
	}
}
