package pods_test

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/sync/internal/synctest"
	"github.com/vclusterkit/vclusterkit/sync/resources/pods"
	"github.com/vclusterkit/vclusterkit/sync/syncer"
)

func cpu(v string) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(v)},
		Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(v)}}
}

// An in-place resize of a virtual pod is carried to the host pod through
// the host's pods/resize, where quota admission judges it: within the
// host namespace's quota it is applied; past it the host refuses, the host
// pod keeps its size, and the virtual pod says why (an event and a
// PodResizePending condition with reason ResizeRefused).
func TestPodResizeFollowsVirtual(t *testing.T) {
	e := synctest.New(t, virtualEnv, hostEnv, syncer.HostOptions{})
	ns := e.Namespace("app")
	e.Start(newSyncer(t, pods.Options{}))
	ctx := context.Background()
	v := pod("web", ns)
	v.Spec.Containers[0].Resources = cpu("100m")
	if err := e.Virtual.Create(ctx, v); err != nil {
		t.Fatal(err)
	}
	h := hostPod(t, e, "web", ns)

	// The host namespace's quota: 500m of cpu, 100m of it used by the pod.
	// (No kube-controller-manager runs here: the status is written by hand,
	// as its quota controller would.)
	rq := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "q", Namespace: h.Namespace},
		Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourceRequestsCPU: resource.MustParse("500m")}}}
	if err := e.Host.Create(ctx, rq); err != nil {
		t.Fatal(err)
	}
	rq.Status = corev1.ResourceQuotaStatus{Hard: rq.Spec.Hard, Used: corev1.ResourceList{corev1.ResourceRequestsCPU: resource.MustParse("100m")}}
	if err := e.Host.Status().Update(ctx, rq); err != nil {
		t.Fatal(err)
	}

	resize := func(to string) {
		t.Helper()
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			var cur corev1.Pod
			if err := e.Virtual.Get(ctx, client.ObjectKeyFromObject(v), &cur); err != nil {
				return err
			}
			cur.Spec.Containers[0].Resources = cpu(to)
			return e.Virtual.SubResource("resize").Update(ctx, &cur)
		}); err != nil {
			t.Fatalf("resizing the virtual pod to %s: %v", to, err)
		}
	}
	hostCPU := func(ctx context.Context) (string, error) {
		var hp corev1.Pod
		if err := e.Host.Get(ctx, e.HostKey("web", ns), &hp); err != nil {
			return "", err
		}
		q := hp.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU]
		return q.String(), nil
	}

	resize("300m")
	synctest.Eventually(t, "the host pod resized to 300m", func(ctx context.Context) (bool, error) {
		got, err := hostCPU(ctx)
		return got == "300m", err
	})

	resize("2")
	ev := e.WaitEvent(ns, "web", pods.ReasonResizeRefused, "exceeded quota")
	if !strings.Contains(ev.Message, "requests.cpu") {
		t.Errorf("refusal event does not name the resource: %q", ev.Message)
	}
	synctest.Eventually(t, "the virtual pod's PodResizePending condition", func(ctx context.Context) (bool, error) {
		var cur corev1.Pod
		if err := e.Virtual.Get(ctx, client.ObjectKeyFromObject(v), &cur); err != nil {
			return false, err
		}
		for _, c := range cur.Status.Conditions {
			if c.Type == corev1.PodResizePending && c.Reason == pods.ReasonResizeRefused && strings.Contains(c.Message, "exceeded quota") {
				return true, nil
			}
		}
		return false, nil
	})
	if got, err := hostCPU(ctx); err != nil || got != "300m" {
		t.Fatalf("the refused resize changed the host pod: %s %v", got, err)
	}

	// Back within the quota: applied, and the condition goes.
	resize("400m")
	synctest.Eventually(t, "the host pod resized to 400m and the condition cleared", func(ctx context.Context) (bool, error) {
		got, err := hostCPU(ctx)
		if err != nil || got != "400m" {
			return false, err
		}
		var cur corev1.Pod
		if err := e.Virtual.Get(ctx, client.ObjectKeyFromObject(v), &cur); err != nil {
			return false, err
		}
		for _, c := range cur.Status.Conditions {
			if c.Type == corev1.PodResizePending && c.Reason == pods.ReasonResizeRefused {
				return false, nil
			}
		}
		return true, nil
	})
}
