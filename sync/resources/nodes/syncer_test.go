package nodes_test

import (
	"context"
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/sync/internal/synctest"
	"github.com/vclusterkit/vclusterkit/sync/resources/nodes"
	"github.com/vclusterkit/vclusterkit/sync/resources/pods"
	"github.com/vclusterkit/vclusterkit/sync/syncer"
)

var virtualEnv, hostEnv *testenv.APIServer

func TestMain(m *testing.M) { testenv.Main(m, testenv.APIServerOptions{}, &virtualEnv, &hostEnv) }

func hostNode(t *testing.T, c client.Client, name string) *corev1.Node {
	t.Helper()
	ctx := context.Background()
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"topology.kubernetes.io/zone": "z1", "secret-host-label": "x"}}}
	if err := c.Create(ctx, n); err != nil {
		t.Fatal(err)
	}
	n.Status = corev1.NodeStatus{
		Capacity:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8"), corev1.ResourcePods: resource.MustParse("110")},
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}},
		Addresses:  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.168.1.10"}},
	}
	if err := c.Status().Update(ctx, n); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), n) })
	return n
}

func run(t *testing.T, mode nodes.Mode, nodeName string, check func(t *testing.T, v *corev1.Node)) {
	e := synctest.New(t, virtualEnv, hostEnv, syncer.HostOptions{Unfiltered: []client.Object{&corev1.Node{}}})
	ns := e.Namespace("app")
	ps, err := pods.New(pods.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ns2, err := nodes.New(nodes.Options{Mode: mode})
	if err != nil {
		t.Fatal(err)
	}
	hostNode(t, e.Host, nodeName)
	hostNode(t, e.Host, nodeName+"-idle")
	e.Start(ps, ns2)
	ctx := context.Background()
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x"}}}}
	if err := e.Virtual.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	var h corev1.Pod
	synctest.Eventually(t, "host pod", func(ctx context.Context) (bool, error) {
		err := e.Host.Get(ctx, e.HostKey("web", ns), &h)
		return err == nil, client.IgnoreNotFound(err)
	})
	if err := e.Host.SubResource("binding").Create(ctx, &h, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: h.Name, Namespace: h.Namespace}, Target: corev1.ObjectReference{Kind: "Node", Name: nodeName}}); err != nil {
		t.Fatal(err)
	}
	var v corev1.Node
	synctest.Eventually(t, "virtual node", func(ctx context.Context) (bool, error) {
		err := e.Virtual.Get(ctx, client.ObjectKey{Name: nodeName}, &v)
		return err == nil && len(v.Status.Conditions) > 0, client.IgnoreNotFound(err)
	})
	check(t, &v)
	var lease coordinationv1.Lease
	if err := e.Virtual.Get(ctx, client.ObjectKey{Namespace: corev1.NamespaceNodeLease, Name: nodeName}, &lease); err != nil {
		t.Errorf("node lease: %v", err)
	}
	if err := e.Virtual.Get(ctx, client.ObjectKey{Name: nodeName + "-idle"}, &corev1.Node{}); !apierrors.IsNotFound(err) {
		t.Errorf("a host node without the tenant's pods is visible: %v", err)
	}
	if err := e.Virtual.Delete(ctx, p, client.GracePeriodSeconds(0)); err != nil {
		t.Fatal(err)
	}
	synctest.Eventually(t, "virtual node gone with its last pod", func(ctx context.Context) (bool, error) {
		err := e.Virtual.Get(ctx, client.ObjectKey{Name: nodeName}, &v)
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	})
}

func TestRealNodes(t *testing.T) {
	run(t, nodes.Real, "real-node", func(t *testing.T, v *corev1.Node) {
		if v.Labels["topology.kubernetes.io/zone"] != "z1" || v.Status.Capacity.Cpu().String() != "8" || len(v.Status.Addresses) != 1 {
			t.Errorf("real node copy: labels %v status %+v", v.Labels, v.Status)
		}
	})
}

func TestFakeNodes(t *testing.T) {
	run(t, nodes.Fake, "fake-node", func(t *testing.T, v *corev1.Node) {
		if _, leak := v.Labels["secret-host-label"]; leak || len(v.Status.Addresses) != 0 {
			t.Errorf("fake node leaks host details: labels %v addresses %v", v.Labels, v.Status.Addresses)
		}
		if v.Labels[corev1.LabelHostname] != "fake-node" || v.Status.Conditions[0].Type != corev1.NodeReady || v.Status.Conditions[0].Status != corev1.ConditionTrue {
			t.Errorf("fake node: labels %v conditions %v", v.Labels, v.Status.Conditions)
		}
	})
}

func TestBadMode(t *testing.T) {
	if _, err := nodes.New(nodes.Options{Mode: "imaginary"}); err == nil {
		t.Fatal("unknown mode accepted")
	}
}
