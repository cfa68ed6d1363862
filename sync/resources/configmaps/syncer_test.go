package configmaps_test

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/sync/internal/synctest"
	"github.com/vclusterkit/vclusterkit/sync/resources/configmaps"
	"github.com/vclusterkit/vclusterkit/sync/resources/pods"
	"github.com/vclusterkit/vclusterkit/sync/syncer"
)

var virtualEnv, hostEnv *testenv.APIServer

func TestMain(m *testing.M) { testenv.Main(m, testenv.APIServerOptions{}, &virtualEnv, &hostEnv) }

func podUsing(name, ns, cm string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "c", Image: "x", EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: cm}}}}}},
	}}
}

func TestOnlyReferencedConfigMapsSync(t *testing.T) {
	e := synctest.New(t, virtualEnv, hostEnv, syncer.HostOptions{})
	ns := e.Namespace("app")
	ps, err := pods.New(pods.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e.Start(configmaps.New(configmaps.Options{}), ps)
	ctx := context.Background()
	for _, n := range []string{"used", "unused"} {
		if err := e.Virtual.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: n, Namespace: ns}, Data: map[string]string{"k": n}}); err != nil {
			t.Fatal(err)
		}
	}
	p := podUsing("web", ns, "used")
	if err := e.Virtual.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	var h corev1.ConfigMap
	synctest.Eventually(t, "referenced configmap synced", func(ctx context.Context) (bool, error) {
		err := e.Host.Get(ctx, e.HostKey("used", ns), &h)
		return err == nil && h.Data["k"] == "used", client.IgnoreNotFound(err)
	})
	// the pod is on the host with the translated reference.
	var hp corev1.Pod
	synctest.Eventually(t, "pod synced", func(ctx context.Context) (bool, error) {
		err := e.Host.Get(ctx, e.HostKey("web", ns), &hp)
		return err == nil, client.IgnoreNotFound(err)
	})
	if got := hp.Spec.Containers[0].EnvFrom[0].ConfigMapRef.Name; got != h.Name {
		t.Errorf("host pod references %q, want %q", got, h.Name)
	}
	if err := e.Host.Get(ctx, e.HostKey("unused", ns), &corev1.ConfigMap{}); !apierrors.IsNotFound(err) {
		t.Errorf("unreferenced configmap on the host: %v", err)
	}
	// no pod references it any more: the host copy goes.
	if err := e.Virtual.Delete(ctx, p, client.GracePeriodSeconds(0)); err != nil {
		t.Fatal(err)
	}
	synctest.Eventually(t, "host copy of the no longer referenced configmap deleted", func(ctx context.Context) (bool, error) {
		err := e.Host.Get(ctx, e.HostKey("used", ns), &h)
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	})
}

func TestAllConfigMapsSync(t *testing.T) {
	e := synctest.New(t, virtualEnv, hostEnv, syncer.HostOptions{})
	ns := e.Namespace("app")
	e.Start(configmaps.New(configmaps.Options{All: true}))
	ctx := context.Background()
	bin := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "bin", Namespace: ns}, BinaryData: map[string][]byte{"b": {0, 1, 2}}}
	if err := e.Virtual.Create(ctx, bin); err != nil {
		t.Fatal(err)
	}
	synctest.Eventually(t, "unreferenced configmap synced with All", func(ctx context.Context) (bool, error) {
		var h corev1.ConfigMap
		err := e.Host.Get(ctx, e.HostKey("bin", ns), &h)
		return err == nil && string(h.BinaryData["b"]) == "\x00\x01\x02", client.IgnoreNotFound(err)
	})
	if err := e.Virtual.Delete(ctx, bin); err != nil {
		t.Fatal(err)
	}
	synctest.Eventually(t, "host copy deleted", func(ctx context.Context) (bool, error) {
		err := e.Host.Get(ctx, e.HostKey("bin", ns), &corev1.ConfigMap{})
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	})
}

// When the host refuses the copy (its quota is used up), the virtual
// object says why (a HostRefused event) and the copy is made once the
// quota allows it.
func TestHostRefusalIsReportedAndRetried(t *testing.T) {
	e := synctest.New(t, virtualEnv, hostEnv, syncer.HostOptions{})
	ns := e.Namespace("app")
	ctx := context.Background()
	hostNS := e.HostKey("x", ns).Namespace
	// No kube-controller-manager here: the quota's status is written by hand,
	// as its quota controller would.
	rq := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "q", Namespace: hostNS},
		Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{"count/configmaps": resource.MustParse("0")}}}
	if err := e.Host.Create(ctx, rq); err != nil {
		t.Fatal(err)
	}
	rq.Status = corev1.ResourceQuotaStatus{Hard: rq.Spec.Hard, Used: corev1.ResourceList{"count/configmaps": resource.MustParse("0")}}
	if err := e.Host.Status().Update(ctx, rq); err != nil {
		t.Fatal(err)
	}
	e.Start(configmaps.New(configmaps.Options{All: true}))
	if err := e.Virtual.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: ns}}); err != nil {
		t.Fatal(err)
	}
	ev := e.WaitEvent(ns, "settings", syncer.ReasonHostRefused, "exceeded quota")
	if !strings.Contains(ev.Message, "count/configmaps") {
		t.Errorf("event does not name the resource: %q", ev.Message)
	}
	if err := e.Host.Get(ctx, e.HostKey("settings", ns), &corev1.ConfigMap{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the refused copy exists on the host: %v", err)
	}
	if err := e.Host.Delete(ctx, rq); err != nil {
		t.Fatal(err)
	}
	synctest.Eventually(t, "the copy made once the quota is gone", func(ctx context.Context) (bool, error) {
		err := e.Host.Get(ctx, e.HostKey("settings", ns), &corev1.ConfigMap{})
		return err == nil, client.IgnoreNotFound(err)
	})
}
