package testenv

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// TestAPIServerIsReal proves the shared API server is a real one: objects
// persist, watches deliver them, and optimistic concurrency rejects a
// write based on a stale resourceVersion.
func TestAPIServerIsReal(t *testing.T) {
	shared.LogsOnFailure(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cs := kubernetes.NewForConfigOrDie(shared.Config)

	ns, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "smoke"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	w, err := cs.CoreV1().Pods(ns.Name).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("watching pods: %v", err)
	}
	defer w.Stop()

	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns.Name},
		Spec: corev1.PodSpec{
			Containers:                    []corev1.Container{{Name: "web", Image: "registry.invalid/web:1"}},
			AutomountServiceAccountToken:  new(false),
			TerminationGracePeriodSeconds: new(int64(0)),
		},
	}
	created, err := cs.CoreV1().Pods(ns.Name).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating pod: %v", err)
	}
	if created.UID == "" || created.ResourceVersion == "" {
		t.Fatalf("created pod has no uid/resourceVersion: %+v", created.ObjectMeta)
	}

	select {
	case ev := <-w.ResultChan():
		got, ok := ev.Object.(*corev1.Pod)
		if ev.Type != watch.Added || !ok || got.UID != created.UID {
			t.Fatalf("first watch event = %s %T, want ADDED of pod %s", ev.Type, ev.Object, created.UID)
		}
	case <-ctx.Done():
		t.Fatal("no watch event for the created pod")
	}

	// Two writers start from the same version: the first wins, the second
	// must get a conflict rather than silently overwrite.
	fresh := created.DeepCopy()
	fresh.Labels = map[string]string{"writer": "first"}
	if _, err := cs.CoreV1().Pods(ns.Name).Update(ctx, fresh, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("first update: %v", err)
	}
	stale := created.DeepCopy()
	stale.Labels = map[string]string{"writer": "second"}
	_, err = cs.CoreV1().Pods(ns.Name).Update(ctx, stale, metav1.UpdateOptions{})
	if !apierrors.IsConflict(err) {
		t.Fatalf("update with stale resourceVersion: err = %v, want a conflict", err)
	}

	select {
	case ev := <-w.ResultChan():
		got, ok := ev.Object.(*corev1.Pod)
		if ev.Type != watch.Modified || !ok || got.Labels["writer"] != "first" {
			t.Fatalf("second watch event = %s %v, want MODIFIED with writer=first", ev.Type, ev.Object)
		}
	case <-ctx.Done():
		t.Fatal("no watch event for the update")
	}
	final, err := cs.CoreV1().Pods(ns.Name).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if final.Labels["writer"] != "first" {
		t.Fatalf("stored labels = %v, want the first writer's", final.Labels)
	}
}
