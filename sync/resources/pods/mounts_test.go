package pods_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/sync/internal/synctest"
	"github.com/vclusterkit/vclusterkit/sync/resources/pods"
	"github.com/vclusterkit/vclusterkit/sync/syncer"
	"github.com/vclusterkit/vclusterkit/sync/translate"
)

// The host pod is created only once what it mounts is on the host: its
// token Secret (written first, owned by the host pod afterwards) and the
// host copies of the ConfigMaps it requires. Optional references do not
// hold it back. Before, the host pod came first and the kubelet failed to
// mount the token Secret and ConfigMaps until they appeared (FailedMount).
func TestHostPodWaitsForWhatItMounts(t *testing.T) {
	e := synctest.New(t, virtualEnv, hostEnv, syncer.HostOptions{})
	ns := e.Namespace("app")
	e.Start(newSyncer(t, pods.Options{}))
	ctx := context.Background()

	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: ns}, Data: map[string]string{"k": "v"}}
	if err := e.Virtual.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	v := withToken(pod("web", ns))
	v.Spec.Volumes = append(v.Spec.Volumes, corev1.Volume{Name: "settings", VolumeSource: corev1.VolumeSource{
		ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}}})
	v.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "OPT", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "absent"}, Key: "k", Optional: new(true)}}}}
	if err := e.Virtual.Create(ctx, v); err != nil {
		t.Fatal(err)
	}

	// The token Secret is written while the pod waits for the ConfigMap,
	// which no syncer copies in this test.
	secKey := client.ObjectKey{Namespace: e.HostNS, Name: e.Tr().HostCompanionName("web", ns, pods.TokenSuffix)}
	var sec corev1.Secret
	synctest.Eventually(t, "token secret before the host pod", func(ctx context.Context) (bool, error) {
		err := e.Host.Get(ctx, secKey, &sec)
		return err == nil, client.IgnoreNotFound(err)
	})
	if len(sec.Data["token-0"]) == 0 || len(sec.OwnerReferences) != 0 {
		t.Errorf("token secret before the host pod: data keys %d, owners %v; want a token and no owner", len(sec.Data), sec.OwnerReferences)
	}
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		var h corev1.Pod
		if err := e.Host.Get(ctx, e.HostKey("web", ns), &h); err == nil {
			t.Fatalf("host pod created before the host copy of ConfigMap settings exists")
		}
		time.Sleep(200 * time.Millisecond)
	}

	// The ConfigMap reaches the host (as its syncer would copy it): the
	// pod follows, and its token Secret now belongs to it.
	meta, err := e.Tr().HostMeta("ConfigMap", cm)
	if err != nil {
		t.Fatal(err)
	}
	meta.Labels[translate.LabelVirtualCluster] = e.Name
	if err := e.Host.Create(ctx, &corev1.ConfigMap{ObjectMeta: meta, Data: cm.Data}); err != nil {
		t.Fatal(err)
	}
	h := hostPod(t, e, "web", ns)
	synctest.Eventually(t, "token secret owned by the host pod", func(ctx context.Context) (bool, error) {
		err := e.Host.Get(ctx, secKey, &sec)
		return err == nil && len(sec.OwnerReferences) == 1 && sec.OwnerReferences[0].UID == h.UID, client.IgnoreNotFound(err)
	})
}

func TestRequiredObjects(t *testing.T) {
	opt := new(true)
	p := &corev1.Pod{Spec: corev1.PodSpec{
		Volumes: []corev1.Volume{
			{Name: "a", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}}}},
			{Name: "b", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "opt", Optional: opt}}},
			{Name: "c", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}}},
				{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "sec"}}},
			}}}},
		},
		Containers: []corev1.Container{{Name: "x", EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}}}}}},
	}}
	cms, secs := pods.RequiredObjects(p)
	if len(cms) != 2 || cms[0] != "cm" || cms[1] != "kube-root-ca.crt" || len(secs) != 1 || secs[0] != "sec" {
		t.Errorf("RequiredObjects = %v, %v; want [cm kube-root-ca.crt], [sec]", cms, secs)
	}
}
