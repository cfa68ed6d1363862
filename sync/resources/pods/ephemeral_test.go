package pods_test

import (
	"context"
	"k8s.io/client-go/util/retry"
	"testing"

	corev1 "k8s.io/api/core/v1"
	psapi "k8s.io/pod-security-admission/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/sync/internal/synctest"
	"github.com/vclusterkit/vclusterkit/sync/resources/pods"
	"github.com/vclusterkit/vclusterkit/sync/syncer"
)

// TestEphemeralContainers: kubectl debug inside a baseline tenant. An
// ephemeral container baseline allows reaches the host pod through its
// ephemeralcontainers subresource; a privileged one never does, and the
// virtual pod gets an event and a condition saying why.
func TestEphemeralContainers(t *testing.T) {
	e := synctest.New(t, virtualEnv, hostEnv, syncer.HostOptions{})
	ns := e.Namespace("debug")
	e.Start(newSyncer(t, pods.Options{PodSecurity: psapi.LevelBaseline}))
	ctx := context.Background()
	v := pod("web", ns)
	if err := e.Virtual.Create(ctx, v); err != nil {
		t.Fatal(err)
	}
	// The syncer writes the host pod too: retry a conflict on a fresh copy.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		h := hostPod(t, e, "web", ns)
		h.Status.Phase = corev1.PodRunning
		return e.Host.Status().Update(ctx, h)
	}); err != nil {
		t.Fatal(err)
	}

	addEphemeral := func(ec corev1.EphemeralContainer) {
		t.Helper()
		// The syncer writes the virtual pod's status: retry a conflict.
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			if err := e.Virtual.Get(ctx, client.ObjectKeyFromObject(v), v); err != nil {
				return err
			}
			v.Spec.EphemeralContainers = append(v.Spec.EphemeralContainers, ec)
			return e.Virtual.SubResource("ephemeralcontainers").Update(ctx, v)
		}); err != nil {
			t.Fatal(err)
		}
	}
	hostHas := func(name string) bool {
		var hp corev1.Pod
		if err := e.Host.Get(ctx, e.HostKey("web", ns), &hp); err != nil {
			t.Fatal(err)
		}
		for _, c := range hp.Spec.EphemeralContainers {
			if c.Name == name {
				return true
			}
		}
		return false
	}

	addEphemeral(corev1.EphemeralContainer{TargetContainerName: "app", EphemeralContainerCommon: corev1.EphemeralContainerCommon{
		Name: "debugger", Image: "busybox", Command: []string{"sh"}, Stdin: true, TTY: true}})
	synctest.Eventually(t, "the allowed ephemeral container on the host pod", func(ctx context.Context) (bool, error) {
		return hostHas("debugger"), nil
	})

	addEphemeral(corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
		Name: "root", Image: "busybox", SecurityContext: &corev1.SecurityContext{Privileged: ptrTo(true)}}})
	ev := e.WaitEvent(ns, "web", pods.ReasonEphemeralContainerRefused, "privileged")
	t.Logf("event: %s", ev.Message)
	synctest.Eventually(t, "the EphemeralContainerRefused condition", func(ctx context.Context) (bool, error) {
		var p corev1.Pod
		if err := e.Virtual.Get(ctx, client.ObjectKeyFromObject(v), &p); err != nil {
			return false, err
		}
		for _, c := range p.Status.Conditions {
			if c.Type == pods.ConditionEphemeralContainerRefused && c.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	if hostHas("root") {
		t.Fatal("a privileged ephemeral container reached the host pod of a baseline tenant")
	}
}
