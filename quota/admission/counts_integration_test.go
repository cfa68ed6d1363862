package admission_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/vclusterkit/vclusterkit/quota"
)

var (
	configMaps  = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	deployments = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
)

// Any object count is a subtree limit, not only pods, claims and Services: 40
// concurrent ConfigMap creates across four namespaces of one tenant whose subtree
// admits 12 (count/configmaps) and a child that admits 4 (the bare "configmaps" key
// ResourceQuota also accepts): exactly 12 are created, at most 4 of them in the child.
// Deleting frees exactly once.
func TestConcurrentConfigMapsAdmitExactlyTheSubtreeCount(t *testing.T) {
	ctx := context.Background()
	e := setupCounted(t, []quota.Node{
		{Name: "cm-org", Hard: rl("count/configmaps", "12")},
		{Name: "cm-a", Parent: "cm-org"},
		{Name: "cm-b", Parent: "cm-org", Hard: rl("configmaps", "4")},
		{Name: "cm-b-dev", Parent: "cm-b"},
	}, nil, []schema.GroupVersionResource{configMaps})
	namespaces := []string{e.namespace(t, "cm1", "cm-org"), e.namespace(t, "cm2", "cm-a"),
		e.namespace(t, "cm3", "cm-b"), e.namespace(t, "cm4", "cm-b-dev")}

	var created, refused atomic.Int64
	perNS := make([]atomic.Int64, len(namespaces))
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			ns := i % len(namespaces)
			_, err := e.cs.CoreV1().ConfigMaps(namespaces[ns]).Create(ctx, &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%d", i)}}, metav1.CreateOptions{})
			switch {
			case err == nil:
				created.Add(1)
				perNS[ns].Add(1)
			case apierrors.IsForbidden(err) && strings.Contains(err.Error(), "quota exceeded"):
				refused.Add(1)
			default:
				t.Errorf("configmap %d: unexpected error: %v", i, err)
			}
		})
	}
	wg.Wait()
	if created.Load() != 12 || refused.Load() != 28 {
		t.Fatalf("created %d, refused %d; want exactly 12 created and 28 refused", created.Load(), refused.Load())
	}
	if child := perNS[2].Load() + perNS[3].Load(); child > 4 {
		t.Fatalf("the cm-b subtree got %d configmaps; its limit is 4", child)
	}
	e.waitUsage(t, "cm-org", "count/configmaps", "12")

	// The count is what exists: listing the namespaces finds exactly 12.
	total := 0
	for _, ns := range namespaces {
		l, err := e.cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		total += len(l.Items)
	}
	if total != 12 {
		t.Fatalf("%d configmaps exist; want 12", total)
	}

	// Delete one: exactly one more fits, and deleting frees once.
	var victim string
	for i := range 40 {
		if _, err := e.cs.CoreV1().ConfigMaps(namespaces[0]).Get(ctx, fmt.Sprintf("cm-%d", i), metav1.GetOptions{}); err == nil {
			victim = fmt.Sprintf("cm-%d", i)
			break
		}
	}
	if victim == "" {
		t.Fatal("no configmap of the first namespace was created")
	}
	if err := e.cs.CoreV1().ConfigMaps(namespaces[0]).Delete(ctx, victim, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitUsage(t, "cm-org", "count/configmaps", "11")
	if _, err := e.cs.CoreV1().ConfigMaps(namespaces[1]).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "again"}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("after a delete one more configmap must fit: %v", err)
	}
	_, err := e.cs.CoreV1().ConfigMaps(namespaces[1]).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "too-many"}}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "count/configmaps") {
		t.Fatalf("the 13th configmap: want a refusal naming count/configmaps, got %v", err)
	}
	e.waitUsage(t, "cm-org", "count/configmaps", "12")
}

// A resource of another API group (count/deployments.apps) is counted under its
// group's key; the ResourceQuota-style key names it in the refusal.
func TestGroupResourceCountIsASubtreeLimit(t *testing.T) {
	ctx := context.Background()
	e := setupCounted(t, []quota.Node{
		{Name: "dp-org", Hard: rl("count/deployments.apps", "2")},
		{Name: "dp-team", Parent: "dp-org"},
	}, nil, []schema.GroupVersionResource{deployments})
	ns1, ns2 := e.namespace(t, "dp1", "dp-org"), e.namespace(t, "dp2", "dp-team")
	deploy := func(ns, name string) error {
		one := int32(1)
		_, err := e.cs.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: appsv1.DeploymentSpec{Replicas: &one,
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10"}}}},
			}}, metav1.CreateOptions{})
		return err
	}
	if err := deploy(ns1, "a"); err != nil {
		t.Fatal(err)
	}
	if err := deploy(ns2, "b"); err != nil {
		t.Fatal(err)
	}
	err := deploy(ns2, "c")
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "count/deployments.apps") {
		t.Fatalf("a third deployment in the subtree: want a refusal naming count/deployments.apps, got %v", err)
	}
	e.waitUsage(t, "dp-org", "count/deployments.apps", "2")
	// A resource no limit counts (configmaps here) is not sent to the webhook at all.
	if _, err := e.cs.CoreV1().ConfigMaps(ns1).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "free"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := e.cs.AppsV1().Deployments(ns1).Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitUsage(t, "dp-org", "count/deployments.apps", "1")
	if err := deploy(ns2, "c"); err != nil {
		t.Fatalf("after a delete one more deployment must fit: %v", err)
	}
}

// An in-place resize (UPDATE pods/resize) is charged its increase: growing past the
// subtree's cpu is refused, growing within it is admitted and charged, so the next pod
// no longer fits; a shrink needs no quota.
func TestInPlaceResizeIsCharged(t *testing.T) {
	ctx := context.Background()
	e := setup(t, []quota.Node{
		{Name: "rs-org", Hard: rl("requests.cpu", "1")},
		{Name: "rs-team", Parent: "rs-org"},
	}, nil)
	ns := e.namespace(t, "rs", "rs-team")
	p := pod("grow", rl("cpu", "400m"))
	p.Spec.Containers[0].Resources.Limits = rl("cpu", "400m")
	if _, err := e.cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitUsage(t, "rs-org", "requests.cpu", "400m")

	resize := func(cpu string) error {
		cur, err := e.cs.CoreV1().Pods(ns).Get(ctx, "grow", metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Spec.Containers[0].Resources.Requests = rl("cpu", cpu)
		cur.Spec.Containers[0].Resources.Limits = rl("cpu", cpu)
		_, err = e.cs.CoreV1().Pods(ns).UpdateResize(ctx, "grow", cur, metav1.UpdateOptions{})
		return err
	}
	err := resize("1500m")
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "requests.cpu") {
		t.Fatalf("resizing past the subtree's cpu: want a refusal naming requests.cpu, got %v", err)
	}
	if err := resize("900m"); err != nil {
		t.Fatalf("resizing within the subtree's cpu: %v", err)
	}
	e.waitUsage(t, "rs-org", "requests.cpu", "900m")
	_, err = e.cs.CoreV1().Pods(ns).Create(ctx, pod("next", rl("cpu", "200m")), metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("a 200m pod after the resize to 900m of 1: want a refusal, got %v", err)
	}
	// A shrink is admitted without quota; with no kubelet to apply it, the charge
	// follows the spec (status reports nothing allocated here).
	if err := resize("300m"); err != nil {
		t.Fatalf("shrinking: %v", err)
	}
	e.waitUsage(t, "rs-org", "requests.cpu", "300m")
	if _, err := e.cs.CoreV1().Pods(ns).Create(ctx, pod("next", rl("cpu", "200m")), metav1.CreateOptions{}); err != nil {
		t.Fatalf("after the shrink a 200m pod fits: %v", err)
	}
}
