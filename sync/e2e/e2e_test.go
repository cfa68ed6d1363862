package e2e_test

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/sync/resources/configmaps"
	"github.com/vclusterkit/vclusterkit/sync/resources/events"
	"github.com/vclusterkit/vclusterkit/sync/resources/nodes"
	"github.com/vclusterkit/vclusterkit/sync/resources/pods"
	"github.com/vclusterkit/vclusterkit/sync/resources/secrets"
	"github.com/vclusterkit/vclusterkit/sync/resources/services"
	"github.com/vclusterkit/vclusterkit/sync/syncer"
	"github.com/vclusterkit/vclusterkit/sync/translate"
	"github.com/vclusterkit/vclusterkit/vcluster"
	"github.com/vclusterkit/vclusterkit/vcluster/local"
)

// A Deployment created in the virtual cluster — whose own controller
// manager makes the ReplicaSet and pods — becomes Available because the
// host scheduled the synced pods onto KWOK nodes and KWOK ran them.
func TestDeploymentBecomesAvailableOnKWOKHost(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	host, err := testenv.StartHost(ctx, testenv.HostOptions{Nodes: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { host.LogsOnFailure(t); _ = host.Stop() })

	const hostNS = "team-a"
	hc, err := client.New(host.Config, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := hc.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: hostNS}}); err != nil {
		t.Fatal(err)
	}

	prov, err := local.New(local.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prov.Shutdown(context.Background()) })
	vc := &vcluster.VirtualCluster{
		ObjectMeta: metav1.ObjectMeta{Name: "dev", Namespace: hostNS, UID: types.UID("uid-dev")},
		Spec:       vcluster.VirtualClusterSpec{Tenant: hostNS},
	}
	if res, err := prov.Provision(ctx, vcluster.Request{Cluster: vc}); err != nil || !res.Ready {
		t.Fatalf("provision: %+v, %v", res, err)
	}
	kc, err := prov.Kubeconfig(ctx, vc)
	if err != nil {
		t.Fatal(err)
	}
	vcfg, err := clientcmd.RESTConfigFromKubeConfig(kc)
	if err != nil {
		t.Fatal(err)
	}
	vclient, err := client.New(vcfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}

	sh, err := syncer.NewHost(host.Config, syncer.HostOptions{Namespaces: []string{hostNS}, Unfiltered: []client.Object{&corev1.Node{}, &corev1.Event{}}})
	if err != nil {
		t.Fatal(err)
	}
	ps, err := pods.New(pods.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ns, err := nodes.New(nodes.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := syncer.New(sh, vcfg, syncer.Options{Name: "dev", HostNamespace: hostNS, Syncers: []syncer.Syncer{
		ps, configmaps.New(configmaps.Options{}), secrets.New(secrets.Options{}), services.New(), ns, events.New(),
	}})
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctrl.LoggerInto(ctx, ctrl.Log))
	done := make(chan struct{}, 2)
	go func() { _ = sh.Start(rctx); done <- struct{}{} }()
	go func() {
		if err := eng.Start(rctx); err != nil {
			t.Errorf("engine: %v", err)
		}
		done <- struct{}{}
	}()
	t.Cleanup(func() { stop(); <-done; <-done })

	// The virtual controller manager creates the default service account;
	// the Deployment's pods need it.
	poll(t, ctx, "default service account in the virtual cluster", func(ctx context.Context) (bool, error) {
		err := vclient.Get(ctx, client.ObjectKey{Namespace: "default", Name: "default"}, &corev1.ServiceAccount{})
		return err == nil, client.IgnoreNotFound(err)
	})
	replicas := int32(3)
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"}, Spec: appsv1.DeploymentSpec{
		Replicas: &replicas,
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "registry.example/web:1"}}},
		},
	}}
	if err := vclient.Create(ctx, dep); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "Deployment Available in the virtual cluster", func(ctx context.Context) (bool, error) {
		if err := vclient.Get(ctx, client.ObjectKeyFromObject(dep), dep); err != nil {
			return false, err
		}
		for _, c := range dep.Status.Conditions {
			if c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionTrue {
				return dep.Status.AvailableReplicas == replicas, nil
			}
		}
		return false, nil
	})

	// What made it true: host pods of this virtual cluster, running on
	// KWOK nodes; the virtual pods carry their nodes and IPs.
	var hostPods corev1.PodList
	if err := hc.List(ctx, &hostPods, client.InNamespace(hostNS), client.MatchingLabels{translate.LabelVirtualCluster: "dev"}); err != nil {
		t.Fatal(err)
	}
	running := 0
	for _, p := range hostPods.Items {
		if p.Status.Phase == corev1.PodRunning && p.Spec.NodeName != "" {
			running++
		}
	}
	if running != int(replicas) {
		t.Errorf("%d running host pods, want %d", running, replicas)
	}
	var vpods corev1.PodList
	if err := vclient.List(ctx, &vpods, client.InNamespace("default"), client.MatchingLabels{"app": "web"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range vpods.Items {
		if p.Spec.NodeName == "" || p.Status.PodIP == "" {
			t.Errorf("virtual pod %s: node %q ip %q", p.Name, p.Spec.NodeName, p.Status.PodIP)
		}
		var n corev1.Node
		if err := vclient.Get(ctx, client.ObjectKey{Name: p.Spec.NodeName}, &n); err != nil {
			t.Errorf("virtual node %s: %v", p.Spec.NodeName, err)
		}
	}

	// The pods' service account tokens came from the virtual API server
	// through host Secrets, and the virtual root CA ConfigMap they mount
	// was synced because they reference it.
	tr, err := translate.New("dev", hostNS)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range vpods.Items {
		if len(pods.TokenSources(&p)) == 0 {
			t.Errorf("virtual pod %s has no projected token (ServiceAccount admission off?)", p.Name)
			continue
		}
		var sec corev1.Secret
		if err := hc.Get(ctx, client.ObjectKey{Namespace: hostNS, Name: tr.HostCompanionName(p.Name, p.Namespace, pods.TokenSuffix)}, &sec); err != nil || len(sec.Data["token-0"]) == 0 {
			t.Errorf("token secret of %s: %v", p.Name, err)
		}
	}
	if err := hc.Get(ctx, client.ObjectKey{Namespace: hostNS, Name: tr.HostName("kube-root-ca.crt", "default")}, &corev1.ConfigMap{}); err != nil {
		t.Errorf("virtual root CA not synced: %v", err)
	}

	// Scaling down in the virtual cluster removes host pods.
	replicas = 1
	if err := vclient.Get(ctx, client.ObjectKeyFromObject(dep), dep); err != nil {
		t.Fatal(err)
	}
	dep.Spec.Replicas = &replicas
	if err := vclient.Update(ctx, dep); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "host pods follow the scale-down", func(ctx context.Context) (bool, error) {
		var l corev1.PodList
		if err := hc.List(ctx, &l, client.InNamespace(hostNS), client.MatchingLabels{translate.LabelVirtualCluster: "dev"}); err != nil {
			return false, err
		}
		return len(l.Items) == 1, nil
	})
}

func poll(t *testing.T, ctx context.Context, what string, cond func(context.Context) (bool, error)) {
	t.Helper()
	testenv.Eventually(t, 3*time.Minute, what, func(pctx context.Context) (bool, string) {
		if ctx.Err() != nil {
			t.Fatalf("%s: %v", what, ctx.Err())
		}
		ok, err := cond(pctx)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return ok, "not yet"
	})
}
