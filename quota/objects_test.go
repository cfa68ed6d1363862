package quota

import (
	"context"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPersistentVolumeClaimUsage(t *testing.T) {
	fast := "fast"
	empty := ""
	claim := func(class *string, ann string, req corev1.ResourceList) *corev1.PersistentVolumeClaim {
		pvc := &corev1.PersistentVolumeClaim{Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: class,
			Resources: corev1.VolumeResourceRequirements{Requests: req}}}
		if ann != "" {
			pvc.Annotations = map[string]string{"volume.beta.kubernetes.io/storage-class": ann}
		}
		return pvc
	}
	tests := []struct {
		name string
		pvc  *corev1.PersistentVolumeClaim
		want corev1.ResourceList
	}{
		{"no class", claim(nil, "", rl("storage", "10Gi")),
			rl("persistentvolumeclaims", "1", "count/persistentvolumeclaims", "1", "requests.storage", "10Gi")},
		{"class charges the per-class keys too", claim(&fast, "", rl("storage", "1Gi")),
			rl("persistentvolumeclaims", "1", "count/persistentvolumeclaims", "1", "requests.storage", "1Gi",
				"fast.storageclass.storage.k8s.io/requests.storage", "1Gi", "fast.storageclass.storage.k8s.io/persistentvolumeclaims", "1")},
		{"beta annotation names the class", claim(nil, "slow", rl("storage", "2Gi")),
			rl("persistentvolumeclaims", "1", "count/persistentvolumeclaims", "1", "requests.storage", "2Gi",
				"slow.storageclass.storage.k8s.io/requests.storage", "2Gi", "slow.storageclass.storage.k8s.io/persistentvolumeclaims", "1")},
		{"explicitly empty class wins over the annotation", claim(&empty, "slow", rl("storage", "2Gi")),
			rl("persistentvolumeclaims", "1", "count/persistentvolumeclaims", "1", "requests.storage", "2Gi")},
		{"fractional bytes round up", claim(nil, "", rl("storage", "1500m")),
			rl("persistentvolumeclaims", "1", "count/persistentvolumeclaims", "1", "requests.storage", "2")},
		{"no request: counts only", claim(nil, "", nil),
			rl("persistentvolumeclaims", "1", "count/persistentvolumeclaims", "1")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { cmpRL(t, "usage", tc.want, PersistentVolumeClaimUsage(tc.pvc)) })
	}
}

func TestServiceUsage(t *testing.T) {
	no := false
	ports := []corev1.ServicePort{{Port: 80}, {Port: 443, NodePort: 30443}}
	svc := func(typ corev1.ServiceType, alloc *bool) *corev1.Service {
		return &corev1.Service{Spec: corev1.ServiceSpec{Type: typ, Ports: ports, AllocateLoadBalancerNodePorts: alloc}}
	}
	tests := []struct {
		name string
		svc  *corev1.Service
		want corev1.ResourceList
	}{
		{"default type is ClusterIP", svc("", nil), rl("services", "1", "count/services", "1")},
		{"ClusterIP", svc(corev1.ServiceTypeClusterIP, nil), rl("services", "1", "count/services", "1")},
		{"ExternalName", svc(corev1.ServiceTypeExternalName, nil), rl("services", "1", "count/services", "1")},
		{"NodePort counts every port", svc(corev1.ServiceTypeNodePort, nil), rl("services", "1", "count/services", "1", "services.nodeports", "2")},
		{"LoadBalancer", svc(corev1.ServiceTypeLoadBalancer, nil),
			rl("services", "1", "count/services", "1", "services.loadbalancers", "1", "services.nodeports", "2")},
		{"LoadBalancer without node port allocation counts explicit node ports", svc(corev1.ServiceTypeLoadBalancer, &no),
			rl("services", "1", "count/services", "1", "services.loadbalancers", "1", "services.nodeports", "1")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { cmpRL(t, "usage", tc.want, ServiceUsage(tc.svc)) })
	}
}

func TestIncrease(t *testing.T) {
	cip := ServiceUsage(&corev1.Service{})
	lb := ServiceUsage(&corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Port: 80}}}})
	cmpRL(t, "ClusterIP -> LoadBalancer", rl("services.loadbalancers", "1", "services.nodeports", "1"), Increase(cip, lb))
	cmpRL(t, "LoadBalancer -> ClusterIP", rl(), Increase(lb, cip))
	cmpRL(t, "expansion", rl("requests.storage", "2Gi"), Increase(rl("requests.storage", "1Gi", "count/persistentvolumeclaims", "1"),
		rl("requests.storage", "3Gi", "count/persistentvolumeclaims", "1")))
	cmpRL(t, "unchanged", rl(), Increase(lb, lb))
}

// Recharge follows an object's changed usage in one step, without a limit check, and
// frees exactly the new amount on release.
func TestRecharge(t *testing.T) {
	ctx := context.Background()
	l := NewLedger(LedgerOptions{})
	if err := l.SetNodes([]Node{{Name: "org", Hard: rl("services.loadbalancers", "1")}, {Name: "a", Parent: "org"}}); err != nil {
		t.Fatal(err)
	}
	svc := ServiceUsage(&corev1.Service{})
	if err := l.Admit(ctx, "s1", "a", svc); err != nil {
		t.Fatal(err)
	}
	// The object appears: the reservation becomes usage.
	if err := l.Recharge(Object{UID: "s1", Node: "a", Resources: svc}); err != nil {
		t.Fatal(err)
	}
	if ok, committed := l.Holds("s1"); !ok || !committed {
		t.Fatalf("holds %v committed %v", ok, committed)
	}
	// It became a LoadBalancer (its increase was admitted under another key).
	lb := ServiceUsage(&corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer}})
	if err := l.Admit(ctx, "s1/update/1", "a", Increase(svc, lb)); err != nil {
		t.Fatal(err)
	}
	if err := l.Recharge(Object{UID: "s1", Node: "a", Resources: lb}); err != nil {
		t.Fatal(err)
	}
	l.Release("s1/update/1")
	u := usageOf(t, l, "org")
	cmpRL(t, "subtree after the update", rl("services", "1", "count/services", "1", "services.loadbalancers", "1"), u.Subtree)
	cmpRL(t, "reserved after the update", rl(), u.Reserved)
	if err := l.Check("a", rl("services.loadbalancers", "1")); !errors.Is(err, ErrQuotaExceeded) {
		t.Fatalf("a second load balancer: %v", err)
	}
	// Recharging an object that exists never fails on limits: it is there.
	twoLB := rl("services.loadbalancers", "2")
	if err := l.Recharge(Object{UID: "s2", Node: "a", Resources: twoLB}); err != nil {
		t.Fatal(err)
	}
	if !l.Release("s2") || l.Release("s2") {
		t.Fatal("release must free once")
	}
	if !l.Release("s1") {
		t.Fatal("release s1")
	}
	cmpRL(t, "all freed", rl(), usageOf(t, l, "org").Subtree)
	for _, bad := range []Object{{Node: "a"}, {UID: "x", Node: "nope"}, {UID: "x", Node: "a", Resources: rl("services", "-1")}} {
		if err := l.Recharge(bad); err == nil {
			t.Errorf("recharge %+v accepted", bad)
		}
	}
}

func TestSharedLedgerRecharge(t *testing.T) {
	store := &memStore{}
	nodes := []Node{{Name: "org", Hard: rl("requests.storage", "3Gi")}}
	a, b := NewSharedLedger(store, SharedLedgerOptions{}), NewSharedLedger(store, SharedLedgerOptions{})
	for _, r := range []*SharedLedger{a, b} {
		if err := r.SetNodes(nodes); err != nil {
			t.Fatal(err)
		}
	}
	claim := func(size string) corev1.ResourceList {
		return PersistentVolumeClaimUsage(&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{UID: "c"},
			Spec: corev1.PersistentVolumeClaimSpec{Resources: corev1.VolumeResourceRequirements{Requests: rl("storage", size)}}})
	}
	if err := a.Recharge(Object{UID: "c", Node: "org", Resources: claim("1Gi")}); err != nil {
		t.Fatal(err)
	}
	saves := store.saves.Load()
	if err := a.Recharge(Object{UID: "c", Node: "org", Resources: claim("1Gi")}); err != nil {
		t.Fatal(err)
	}
	if store.saves.Load() != saves {
		t.Error("a recharge that changes nothing saved the ledger")
	}
	if err := a.Recharge(Object{UID: "c", Node: "org", Resources: claim("2Gi")}); err != nil {
		t.Fatal(err)
	}
	// The other replica sees the expanded claim: 2Gi used, 1Gi left.
	if err := b.Admit(context.Background(), "d", "org", rl("requests.storage", "2Gi")); !errors.Is(err, ErrQuotaExceeded) {
		t.Fatalf("want exceeded on the other replica, got %v", err)
	}
	if err := b.Admit(context.Background(), "d", "org", rl("requests.storage", "1Gi")); err != nil {
		t.Fatal(err)
	}
}
