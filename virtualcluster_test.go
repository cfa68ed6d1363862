package vclusterkit_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	vclusterkit "github.com/vclusterkit/vclusterkit"
	"github.com/vclusterkit/vclusterkit/lifecycle"
	"github.com/vclusterkit/vclusterkit/sync/translate"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
	"github.com/vclusterkit/vclusterkit/vcluster/kubeconfig"
)

func getVC(ctx context.Context, ns, name string) (*vcluster.VirtualCluster, error) {
	vc := &vcluster.VirtualCluster{}
	return vc, hostC.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, vc)
}

func virtualClientFromSecret(t *testing.T, ns, secret string) client.Client {
	t.Helper()
	kc, err := kubeconfig.FromSecret(context.Background(), hostC, vcluster.SecretRef{Name: secret, Namespace: ns})
	if err != nil {
		t.Fatalf("kubeconfig from secret %s/%s: %v", ns, secret, err)
	}
	cfg, err := kubeconfig.RESTConfig(kc)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestVirtualClusterEndToEnd provisions a virtual cluster through the
// engine with the local provisioner, uses it as a tenant member, sees a pod
// synced to the host, refuses a privileged pod, sleeps and wakes it, then
// deletes it and finds nothing left: no host namespace, no state, no pod.
func TestVirtualClusterEndToEnd(t *testing.T) {
	host.LogsOnFailure(t)
	ctx := context.Background()
	createTenant(t, "initech", "", func(tn *tenancy.Tenant) {
		tn.Spec.Members = []tenancy.Member{{Kind: tenancy.MemberUser, Name: "peter", Role: tenancy.RoleEdit}}
		tn.Spec.Policy.PodSecurity = tenancy.PodSecurityBaseline
	})
	createSpace(t, "initech", "initech")
	vc := &vcluster.VirtualCluster{
		ObjectMeta: metav1.ObjectMeta{Name: "dev", Namespace: "initech"},
		Spec:       vcluster.VirtualClusterSpec{Tenant: "initech", HostNamespace: "initech-vc-dev"},
	}
	eventually(t, 60*time.Second, "the tenant's space namespace", func(ctx context.Context) (bool, string) {
		err := hostC.Get(ctx, client.ObjectKey{Name: "initech"}, &corev1.Namespace{})
		return err == nil, fmt.Sprint(err)
	})
	if err := hostC.Create(ctx, vc); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Minute, "the virtual cluster to be Running", func(ctx context.Context) (bool, string) {
		got, err := getVC(ctx, "initech", "dev")
		if err != nil {
			return false, err.Error()
		}
		return got.Status.Phase == vcluster.PhaseRunning && meta.IsStatusConditionTrue(got.Status.Conditions, "SyncerReady"),
			fmt.Sprintf("phase %s conditions %+v", got.Status.Phase, got.Status.Conditions)
	})
	got, _ := getVC(ctx, "initech", "dev")
	if got.Status.KubeconfigSecret == nil || got.Status.Endpoint == "" {
		t.Fatalf("status lacks kubeconfig secret or endpoint: %+v", got.Status)
	}
	hostNS := &corev1.Namespace{}
	if err := hostC.Get(ctx, client.ObjectKey{Name: "initech-vc-dev"}, hostNS); err != nil {
		t.Fatal(err)
	}
	if hostNS.Labels[tenancy.LabelTenant] != "initech" || hostNS.Labels[vcluster.LabelVirtualCluster] != "dev" {
		t.Errorf("host namespace labels = %v", hostNS.Labels)
	}

	// The member's own kubeconfig works and carries the edit role.
	peter := virtualClientFromSecret(t, "initech", vclusterkit.MemberKubeconfigSecret("dev", "peter"))
	if err := peter.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: "default"}, Data: map[string]string{"a": "b"}}); err != nil {
		t.Fatalf("member peter (edit) cannot create a ConfigMap in the virtual cluster: %v", err)
	}
	if err := peter.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "not-allowed"}}); err == nil {
		t.Error("member peter (edit) created a namespace: edit must not be cluster-admin")
	}

	admin := virtualClientFromSecret(t, "initech", got.Status.KubeconfigSecret.Name)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "registry.invalid/web:1"}},
			Tolerations: []corev1.Toleration{{Key: "kwok.x-k8s.io/node", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}},
	}
	if err := admin.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	tr, err := translate.New("dev", "initech-vc-dev")
	if err != nil {
		t.Fatal(err)
	}
	hostName := tr.HostName("web", "default")
	eventually(t, 60*time.Second, "the pod to run on the host and its status to flow back", func(ctx context.Context) (bool, string) {
		hp := &corev1.Pod{}
		if err := hostC.Get(ctx, client.ObjectKey{Namespace: "initech-vc-dev", Name: hostName}, hp); err != nil {
			return false, "host pod: " + err.Error()
		}
		vp := &corev1.Pod{}
		if err := admin.Get(ctx, client.ObjectKeyFromObject(pod), vp); err != nil {
			return false, err.Error()
		}
		return hp.Status.Phase == corev1.PodRunning && vp.Status.Phase == corev1.PodRunning && vp.Spec.NodeName != "",
			fmt.Sprintf("host phase %s, virtual phase %s node %q", hp.Status.Phase, vp.Status.Phase, vp.Spec.NodeName)
	})

	// A privileged pod breaks the tenant's baseline standard: not synced.
	priv := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "root", Namespace: "default"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "sh", Image: "registry.invalid/sh:1",
			SecurityContext: &corev1.SecurityContext{Privileged: new(true)}}}},
	}
	if err := admin.Create(ctx, priv); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the privileged pod to be refused with a reason", func(ctx context.Context) (bool, string) {
		vp := &corev1.Pod{}
		if err := admin.Get(ctx, client.ObjectKeyFromObject(priv), vp); err != nil {
			return false, err.Error()
		}
		for _, c := range vp.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == "PodSecurity" {
				return true, ""
			}
		}
		return false, fmt.Sprintf("conditions %+v", vp.Status.Conditions)
	})
	hostPriv := tr.HostName("root", "default")
	if err := hostC.Get(ctx, client.ObjectKey{Namespace: "initech-vc-dev", Name: hostPriv}, &corev1.Pod{}); err == nil {
		t.Fatal("the privileged pod reached the host")
	}

	// Sleep and wake keep every object.
	setPaused(t, true)
	eventually(t, 60*time.Second, "the virtual cluster to sleep", func(ctx context.Context) (bool, string) {
		got, err := getVC(ctx, "initech", "dev")
		if err != nil {
			return false, err.Error()
		}
		return got.Status.Phase == vcluster.PhaseSleeping, fmt.Sprintf("phase %s", got.Status.Phase)
	})
	if err := admin.Get(ctx, client.ObjectKeyFromObject(pod), &corev1.Pod{}); err == nil {
		t.Error("the virtual API server still answers while asleep")
	}
	setPaused(t, false)
	eventually(t, 2*time.Minute, "the virtual cluster to wake", func(ctx context.Context) (bool, string) {
		got, err := getVC(ctx, "initech", "dev")
		if err != nil {
			return false, err.Error()
		}
		return got.Status.Phase == vcluster.PhaseRunning && meta.IsStatusConditionTrue(got.Status.Conditions, lifecycle.ConditionReady), fmt.Sprintf("phase %s", got.Status.Phase)
	})
	admin = virtualClientFromSecret(t, "initech", got.Status.KubeconfigSecret.Name)
	cm := &corev1.ConfigMap{}
	if err := admin.Get(ctx, client.ObjectKey{Namespace: "default", Name: "settings"}, cm); err != nil || cm.Data["a"] != "b" {
		t.Fatalf("after waking, the ConfigMap created before sleeping is gone: %v", err)
	}

	// Delete: nothing of the virtual cluster is left.
	if err := hostC.Delete(ctx, got); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, "the virtual cluster and its host namespace to be gone", func(ctx context.Context) (bool, string) {
		if ok, why := gone(ctx, &vcluster.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Namespace: "initech", Name: "dev"}}); !ok {
			return false, why
		}
		return gone(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "initech-vc-dev"}})
	})
	if _, err := os.Stat(filepath.Join(stateDir, "initech-vc-dev", "dev")); !os.IsNotExist(err) {
		t.Errorf("the control plane's state directory is still there (stat err %v)", err)
	}
	var secrets corev1.SecretList
	if err := hostC.List(ctx, &secrets, client.InNamespace("initech")); err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets.Items {
		if strings.HasPrefix(s.Name, "dev-kubeconfig") {
			t.Errorf("kubeconfig secret %s left behind", s.Name)
		}
	}
}

func setPaused(t *testing.T, paused bool) {
	t.Helper()
	ctx := context.Background()
	vc, err := getVC(ctx, "initech", "dev")
	if err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(vc.DeepCopy())
	vc.Spec.Sleep = &vcluster.SleepSpec{Paused: paused}
	if err := hostC.Patch(ctx, vc, patch); err != nil {
		t.Fatal(err)
	}
}

// TestSleepAfterInactivity: a virtual cluster with AfterInactivity sleeps
// once nobody uses it, stays awake while a member keeps using it, and
// wakes on demand.
func TestSleepAfterInactivity(t *testing.T) {
	host.LogsOnFailure(t)
	ctx := context.Background()
	createTenant(t, "hooli", "", func(tn *tenancy.Tenant) {
		tn.Spec.Members = []tenancy.Member{{Kind: tenancy.MemberUser, Name: "gavin", Role: tenancy.RoleView}}
	})
	createSpace(t, "hooli", "hooli")
	eventually(t, 60*time.Second, "the tenant namespace", func(ctx context.Context) (bool, string) {
		err := hostC.Get(ctx, client.ObjectKey{Name: "hooli"}, &corev1.Namespace{})
		return err == nil, fmt.Sprint(err)
	})
	vc := &vcluster.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: "idle", Namespace: "hooli"},
		Spec: vcluster.VirtualClusterSpec{Tenant: "hooli", HostNamespace: "hooli-vc-idle",
			Sleep: &vcluster.SleepSpec{AfterInactivity: &metav1.Duration{Duration: 6 * time.Second}}}}
	if err := hostC.Create(ctx, vc); err != nil {
		t.Fatal(err)
	}
	phase := func(want vcluster.Phase) func(ctx context.Context) (bool, string) {
		return func(ctx context.Context) (bool, string) {
			got, err := getVC(ctx, "hooli", "idle")
			if err != nil {
				return false, err.Error()
			}
			return got.Status.Phase == want, fmt.Sprintf("phase %s annotations %v", got.Status.Phase, got.Annotations)
		}
	}
	eventually(t, 3*time.Minute, "the virtual cluster to run", phase(vcluster.PhaseRunning))
	eventually(t, 90*time.Second, "the idle virtual cluster to fall asleep", phase(vcluster.PhaseSleeping))
	got, _ := getVC(ctx, "hooli", "idle")
	if got.Annotations[vcluster.AnnotationAsleepSince] == "" {
		t.Fatalf("asleep without %s", vcluster.AnnotationAsleepSince)
	}

	if err := engine.Wake(ctx, "hooli", "idle"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, "the virtual cluster to wake on demand", phase(vcluster.PhaseRunning))

	// A member keeps using it for three inactivity periods: it stays awake.
	gavin := virtualClientFromSecret(t, "hooli", vclusterkit.MemberKubeconfigSecret("idle", "gavin"))
	deadline := time.Now().Add(18 * time.Second)
	for time.Now().Before(deadline) {
		if err := gavin.List(ctx, &corev1.ConfigMapList{}, client.InNamespace("default")); err != nil {
			t.Fatalf("member request: %v", err)
		}
		if ok, why := phase(vcluster.PhaseRunning)(ctx); !ok {
			t.Fatalf("fell asleep while a member was using it: %s", why)
		}
		time.Sleep(time.Second)
	}
	eventually(t, 90*time.Second, "the virtual cluster to fall asleep once the member stops", phase(vcluster.PhaseSleeping))
}

// TestVirtualClusterPolicyRefusals: a provisioner the tenant does not allow
// and a virtual cluster over the tenant's MaxVirtualClusters are refused
// with conditions, and nothing is provisioned for them.
func TestVirtualClusterPolicyRefusals(t *testing.T) {
	host.LogsOnFailure(t)
	ctx := context.Background()
	zero := int32(0)
	createTenant(t, "cyberdyne", "", func(tn *tenancy.Tenant) {
		tn.Spec.Policy.AllowedProvisioners = []string{"local"}
		tn.Spec.Policy.MaxVirtualClusters = &zero
	})
	createSpace(t, "cyberdyne", "cyberdyne")
	eventually(t, 60*time.Second, "the tenant namespace", func(ctx context.Context) (bool, string) {
		err := hostC.Get(ctx, client.ObjectKey{Name: "cyberdyne"}, &corev1.Namespace{})
		return err == nil, fmt.Sprint(err)
	})
	for _, tc := range []struct {
		name, provisioner, want string
	}{
		{"over-limit", "", "allows at most 0 virtual clusters"},
		{"wrong-provisioner", "helm", `"helm" is not allowed by tenant cyberdyne`},
	} {
		vc := &vcluster.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: tc.name, Namespace: "cyberdyne"},
			Spec: vcluster.VirtualClusterSpec{Tenant: "cyberdyne", HostNamespace: "cyberdyne-" + tc.name, Provisioner: tc.provisioner}}
		if err := hostC.Create(ctx, vc); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, tc.name+" to be refused", func(ctx context.Context) (bool, string) {
			got, err := getVC(ctx, "cyberdyne", tc.name)
			if err != nil {
				return false, err.Error()
			}
			c := meta.FindStatusCondition(got.Status.Conditions, "Validated")
			return got.Status.Phase == vcluster.PhaseFailed && c != nil && strings.Contains(c.Message, tc.want),
				fmt.Sprintf("phase %s conditions %+v", got.Status.Phase, got.Status.Conditions)
		})
		if err := hostC.Get(ctx, client.ObjectKey{Name: "cyberdyne-" + tc.name}, &corev1.Namespace{}); err == nil {
			t.Errorf("%s: a host namespace was created for a refused virtual cluster", tc.name)
		}
		if _, err := os.Stat(filepath.Join(stateDir, "cyberdyne-"+tc.name)); err == nil {
			t.Errorf("%s: control-plane state was created for a refused virtual cluster", tc.name)
		}
	}
}

// TestVirtualPodsAdmittedAgainstTenantQuota: the syncer admits host pods
// against the tenant's quota in process: the virtual cluster's DNS pod and
// two more fit a three-pod quota (the webhook finds the syncer's
// reservation instead of charging twice), the fourth is refused on the virtual pod with reason QuotaExceeded and never
// reaches the host, and it is synced once a pod is deleted.
func TestVirtualPodsAdmittedAgainstTenantQuota(t *testing.T) {
	host.LogsOnFailure(t)
	ctx := context.Background()
	createTenant(t, "oscorp", "", func(tn *tenancy.Tenant) {
		tn.Spec.Quota = corev1.ResourceList{corev1.ResourcePods: resource.MustParse("3")}
	})
	createSpace(t, "oscorp", "oscorp")
	eventually(t, 60*time.Second, "the tenant namespace", func(ctx context.Context) (bool, string) {
		err := hostC.Get(ctx, client.ObjectKey{Name: "oscorp"}, &corev1.Namespace{})
		return err == nil, fmt.Sprint(err)
	})
	vc := &vcluster.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: "lab", Namespace: "oscorp"},
		Spec: vcluster.VirtualClusterSpec{Tenant: "oscorp", HostNamespace: "oscorp-vc-lab"}}
	if err := hostC.Create(ctx, vc); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Minute, "the virtual cluster to run", func(ctx context.Context) (bool, string) {
		got, err := getVC(ctx, "oscorp", "lab")
		if err != nil {
			return false, err.Error()
		}
		return got.Status.Phase == vcluster.PhaseRunning && meta.IsStatusConditionTrue(got.Status.Conditions, "SyncerReady"), fmt.Sprintf("phase %s", got.Status.Phase)
	})
	got, _ := getVC(ctx, "oscorp", "lab")
	admin := virtualClientFromSecret(t, "oscorp", got.Status.KubeconfigSecret.Name)
	tr, err := translate.New("lab", "oscorp-vc-lab")
	if err != nil {
		t.Fatal(err)
	}
	mk := func(name string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.invalid/c:1"}}}}
	}
	running := func(want int) func(ctx context.Context) (bool, string) {
		return func(ctx context.Context) (bool, string) {
			var pods corev1.PodList
			if err := hostC.List(ctx, &pods, client.InNamespace("oscorp-vc-lab")); err != nil {
				return false, err.Error()
			}
			n := 0
			for _, p := range pods.Items {
				if p.Status.Phase == corev1.PodRunning {
					n++
				}
			}
			return n == want, fmt.Sprintf("%d of %d host pods running", n, len(pods.Items))
		}
	}
	// The virtual cluster's own DNS pod (vcluster/dns) takes one pod of the
	// quota, like any of its pods.
	eventually(t, 60*time.Second, "the DNS pod running on the host", running(1))
	for _, n := range []string{"one", "two"} {
		if err := admin.Create(ctx, mk(n)); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 60*time.Second, "three pods running on the host", running(3))
	third := mk("three")
	if err := admin.Create(ctx, third); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the third pod to be refused by quota", func(ctx context.Context) (bool, string) {
		vp := &corev1.Pod{}
		if err := admin.Get(ctx, client.ObjectKeyFromObject(third), vp); err != nil {
			return false, err.Error()
		}
		for _, c := range vp.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Reason == "QuotaExceeded" && strings.Contains(c.Message, "oscorp") {
				return true, ""
			}
		}
		return false, fmt.Sprintf("conditions %+v", vp.Status.Conditions)
	})
	if err := hostC.Get(ctx, client.ObjectKey{Namespace: "oscorp-vc-lab", Name: tr.HostName("three", "default")}, &corev1.Pod{}); err == nil {
		t.Fatal("the pod over quota reached the host")
	}
	if err := admin.Delete(ctx, mk("one"), client.GracePeriodSeconds(0)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 90*time.Second, "the refused pod to be synced once quota is freed", func(ctx context.Context) (bool, string) {
		hp := &corev1.Pod{}
		if err := hostC.Get(ctx, client.ObjectKey{Namespace: "oscorp-vc-lab", Name: tr.HostName("three", "default")}, hp); err != nil {
			return false, err.Error()
		}
		return hp.Status.Phase == corev1.PodRunning, "host phase " + string(hp.Status.Phase)
	})
}
