package admission_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/vclusterkit/vclusterkit/quota"
	"github.com/vclusterkit/vclusterkit/quota/admission"
)

func pvc(name, size, class string) *corev1.PersistentVolumeClaim {
	c := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PersistentVolumeClaimSpec{
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Resources:   corev1.VolumeResourceRequirements{Requests: rl("storage", size)}}}
	if class != "" {
		c.Spec.StorageClassName = &class
	}
	return c
}

func svc(name string, typ corev1.ServiceType) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.ServiceSpec{Type: typ,
		Selector: map[string]string{"app": name}, Ports: []corev1.ServicePort{{Port: 80}}}}
}

// Storage is a subtree limit like cpu: 40 concurrent 1Gi claims across four namespaces
// of one tenant whose subtree admits 10Gi: exactly 10 are created, although no
// namespace has a ResourceQuota and each alone would be under the limit. An expansion is
// an update charged its increase; deleting frees exactly once.
func TestConcurrentClaimsAdmitExactlyTheSubtreeStorage(t *testing.T) {
	ctx := context.Background()
	class := unique("fast")
	perClass := quota.StorageClassResource(class, corev1.ResourcePersistentVolumeClaims)
	e := setup(t, []quota.Node{
		{Name: "st-org", Hard: rl("requests.storage", "10Gi", string(perClass), "12")},
		{Name: "st-a", Parent: "st-org"},
		{Name: "st-b", Parent: "st-org", Hard: rl("requests.storage", "4Gi")},
		{Name: "st-b-dev", Parent: "st-b"},
	}, nil)
	// The API server's own resize admission wants an expandable class.
	expand := true
	if _, err := e.cs.StorageV1().StorageClasses().Create(ctx, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: class},
		Provisioner: "example.com/test", AllowVolumeExpansion: &expand}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = e.cs.StorageV1().StorageClasses().Delete(context.Background(), class, metav1.DeleteOptions{})
	})
	var names []string
	for _, tenant := range []string{"st-org", "st-a", "st-b", "st-b-dev"} {
		names = append(names, e.namespace(t, tenant, tenant))
	}
	var admitted, denied atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 40 {
		wg.Go(func() {
			<-start
			ns := names[i%4]
			_, err := e.cs.CoreV1().PersistentVolumeClaims(ns).Create(ctx, pvc(fmt.Sprintf("c-%02d", i), "1Gi", class), metav1.CreateOptions{})
			switch {
			case err == nil:
				admitted.Add(1)
			case apierrors.IsForbidden(err) && strings.Contains(err.Error(), "quota exceeded"):
				denied.Add(1)
			default:
				t.Errorf("create %s/c-%02d: %v", ns, i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if admitted.Load() != 10 || denied.Load() != 30 {
		t.Fatalf("admitted %d, denied %d; want exactly 10 and 30", admitted.Load(), denied.Load())
	}
	var outsideB []corev1.PersistentVolumeClaim
	total := 0
	for i, ns := range names {
		list, err := e.cs.CoreV1().PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		total += len(list.Items)
		if i < 2 {
			outsideB = append(outsideB, list.Items...)
		}
	}
	// st-b admits at most 4Gi, so at least 6 claims are outside it.
	if total != 10 || len(outsideB) < 6 {
		t.Fatalf("%d claims exist (%d outside st-b), want 10 (at least 6)", total, len(outsideB))
	}
	e.waitUsage(t, "st-org", "requests.storage", "10Gi")
	e.waitUsage(t, "st-org", perClass, "10")

	// Only a bound claim can be expanded; bind x by hand (no controllers run here).
	x, y := outsideB[0], outsideB[1]
	x.Status.Phase = corev1.ClaimBound
	bound, err := e.cs.CoreV1().PersistentVolumeClaims(x.Namespace).UpdateStatus(ctx, &x, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	expandTo := func(size string) error {
		cur, err := e.cs.CoreV1().PersistentVolumeClaims(x.Namespace).Get(ctx, x.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Spec.Resources.Requests = rl("storage", size)
		_, err = e.cs.CoreV1().PersistentVolumeClaims(x.Namespace).Update(ctx, cur, metav1.UpdateOptions{})
		return err
	}
	// The API server's resize admission may not have seen the new class yet; wait until
	// the refusal is ours.
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 20*time.Second, true, func(context.Context) (bool, error) {
		err := expandTo("2Gi")
		if err == nil {
			return false, fmt.Errorf("expansion past the subtree limit admitted")
		}
		return strings.Contains(err.Error(), "quota exceeded") && strings.Contains(err.Error(), "requests.storage"), nil
	})
	if err != nil {
		t.Fatalf("expanding a claim past the subtree limit: %v", err)
	}
	// Free 1Gi: the same expansion now fits, charged as its 1Gi increase.
	e.deleteClaim(t, &y)
	e.waitUsage(t, "st-org", "requests.storage", "9Gi")
	if err := expandTo("2Gi"); err != nil {
		t.Fatalf("expansion within the limit: %v", err)
	}
	e.waitUsage(t, "st-org", "requests.storage", "10Gi") // and the update's reservation is released
	if _, err := e.cs.CoreV1().PersistentVolumeClaims(names[1]).Create(ctx, pvc("late", "1Gi", class), metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("a claim after the expansion filled the subtree: want forbidden, got %v", err)
	}
	// Deleting frees exactly what the claim uses now (2Gi), once.
	e.deleteClaim(t, bound)
	e.waitUsage(t, "st-org", "requests.storage", "8Gi")
	tracker := &admission.ObjectTracker{Ledger: e.ledger}
	if tracker.Forget(bound) || tracker.Forget(&y) {
		t.Fatal("a replayed delete freed quota again")
	}
	e.waitUsage(t, "st-org", "requests.storage", "8Gi")
}

// deleteClaim deletes a claim and takes the pvc-protection finalizer off (no controller
// runs against this API server to do it).
func (e *env) deleteClaim(t *testing.T, c *corev1.PersistentVolumeClaim) {
	t.Helper()
	ctx := context.Background()
	claims := e.cs.CoreV1().PersistentVolumeClaims(c.Namespace)
	if err := claims.Delete(ctx, c.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := claims.Patch(ctx, c.Name, types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
}

// services.loadbalancers and count/services are subtree limits: a LoadBalancer beyond the
// tenant's one is refused in a sibling namespace while ClusterIP services pass; turning a
// ClusterIP Service into a LoadBalancer is an update charged its increase (refused at the
// limit, admitted once a load balancer is freed); deleting frees exactly once.
func TestLoadBalancersAreASubtreeLimit(t *testing.T) {
	ctx := context.Background()
	e := setup(t, []quota.Node{
		{Name: "lb-org", Hard: rl("services.loadbalancers", "1", "count/services", "4")},
		{Name: "lb-a", Parent: "lb-org"},
		{Name: "lb-b", Parent: "lb-org"},
	}, nil)
	a, b := e.namespace(t, "lb-a", "lb-a"), e.namespace(t, "lb-b", "lb-b")
	create := func(ns string, s *corev1.Service) error {
		_, err := e.cs.CoreV1().Services(ns).Create(ctx, s, metav1.CreateOptions{})
		return err
	}
	forbidden := func(what string, err error, res string) {
		t.Helper()
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "quota exceeded") || !strings.Contains(err.Error(), res) {
			t.Fatalf("%s: want forbidden on %s, got %v", what, res, err)
		}
	}
	if err := create(a, svc("lb1", corev1.ServiceTypeLoadBalancer)); err != nil {
		t.Fatal(err)
	}
	forbidden("a second load balancer in a sibling namespace", create(b, svc("lb2", corev1.ServiceTypeLoadBalancer)), `"lb-org" services.loadbalancers`)
	for _, c := range []struct{ ns, name string }{{a, "cip1"}, {b, "cip2"}, {b, "cip3"}} {
		if err := create(c.ns, svc(c.name, "")); err != nil {
			t.Fatalf("ClusterIP %s: %v", c.name, err)
		}
	}
	forbidden("a fifth service", create(a, svc("cip4", "")), "count/services")
	toLB := func(ns, name string) error {
		cur, err := e.cs.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Spec.Type = corev1.ServiceTypeLoadBalancer
		_, err = e.cs.CoreV1().Services(ns).Update(ctx, cur, metav1.UpdateOptions{})
		return err
	}
	forbidden("ClusterIP -> LoadBalancer at the limit", toLB(b, "cip2"), "services.loadbalancers")
	e.waitUsage(t, "lb-org", "services.loadbalancers", "1")
	e.waitUsage(t, "lb-org", "count/services", "4")

	lb1, err := e.cs.CoreV1().Services(a).Get(ctx, "lb1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.cs.CoreV1().Services(a).Delete(ctx, "lb1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := e.cs.CoreV1().Services(a).Delete(ctx, "lb1", metav1.DeleteOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("second delete: %v", err)
	}
	e.waitUsage(t, "lb-org", "services.loadbalancers", "0")
	if (&admission.ObjectTracker{Ledger: e.ledger}).Forget(lb1) {
		t.Fatal("a replayed delete freed quota again")
	}
	// The freed load balancer goes to the update, charged as its increase.
	if err := toLB(b, "cip2"); err != nil {
		t.Fatalf("ClusterIP -> LoadBalancer with room: %v", err)
	}
	e.waitUsage(t, "lb-org", "services.loadbalancers", "1") // and no reservation left over
	e.waitUsage(t, "lb-org", "services.nodeports", "1")
	forbidden("a load balancer after the update took the last one", create(a, svc("lb3", corev1.ServiceTypeLoadBalancer)), "services.loadbalancers")
	if err := create(a, svc("cip5", "")); err != nil {
		t.Fatalf("ClusterIP in the freed count: %v", err)
	}
	e.waitUsage(t, "lb-org", "count/services", "4")
}
