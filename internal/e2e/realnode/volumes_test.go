package realnode

import (
	"context"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/internal/images"
	"github.com/vclusterkit/vclusterkit/internal/testenv"
)

// A container reads the virtual cluster's ConfigMap, Secret, projected
// ServiceAccount token and downward API (its virtual name, namespace and
// labels) from its mounted volumes; a ConfigMap change reaches the mounted
// file; and the host pod met no FailedMount on the way (it is created only
// once what it mounts is on the host).
func TestVolumes(t *testing.T) {
	t.Parallel()
	const ns = "vols"
	ctx := context.Background()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "app-config", Namespace: ns}, Data: map[string]string{"greeting": "hello"}}
	mustCreate(t,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		cm,
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "app-secret", Namespace: ns}, StringData: map[string]string{"password": "s3cret"}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "reader", Namespace: ns, Labels: map[string]string{"tier": "web"}}, Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: ptr.To[int64](0),
			Containers: []corev1.Container{{Name: "reader", Image: images.Busybox, ImagePullPolicy: corev1.PullIfNotPresent,
				Command: []string{"sleep", "3600"},
				VolumeMounts: []corev1.VolumeMount{
					{Name: "cfg", MountPath: "/etc/cfg"}, {Name: "sec", MountPath: "/etc/sec"}, {Name: "podinfo", MountPath: "/etc/podinfo"},
				}}},
			Volumes: []corev1.Volume{
				{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "app-config"}}}},
				{Name: "sec", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "app-secret"}}},
				{Name: "podinfo", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
					{Path: "name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}},
					{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}},
					{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
				}}}},
			},
		}},
	)
	waitRunning(t, ns, "reader")
	read := func(path string) string {
		t.Helper()
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		out, err := hostExec(cctx, ns, "reader", "cat "+path)
		if err != nil {
			t.Errorf("cat %s: %v\n%s", path, err, out)
		}
		return out
	}
	const sa = "/var/run/secrets/kubernetes.io/serviceaccount"
	for path, want := range map[string]string{
		"/etc/cfg/greeting": "hello", "/etc/sec/password": "s3cret",
		"/etc/podinfo/name": "reader", "/etc/podinfo/namespace": ns,
		sa + "/namespace": ns,
	} {
		if got := read(path); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	if got := read("/etc/podinfo/labels"); !strings.Contains(got, `tier="web"`) {
		t.Errorf("/etc/podinfo/labels = %q, want the virtual label tier=\"web\"", got)
	}
	if got := read(sa + "/ca.crt"); !strings.Contains(got, "BEGIN CERTIFICATE") {
		t.Errorf("%s/ca.crt = %q, want the virtual cluster's CA", sa, got)
	}
	// The token is the virtual cluster's, for this pod's ServiceAccount.
	token := read(sa + "/token")
	review := &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token}}
	if err := bed.virtual.Create(ctx, review); err != nil {
		t.Fatal(err)
	}
	if !review.Status.Authenticated || review.Status.User.Username != "system:serviceaccount:"+ns+":default" {
		t.Errorf("the mounted token on the virtual API server: %+v", review.Status)
	}

	// A ConfigMap change reaches the file (the kubelet refreshes it on its
	// periodic pod sync, a minute by default).
	cm.Data["greeting"] = "updated"
	if err := bed.virtual.Update(ctx, cm); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 3*time.Minute, "the ConfigMap change in the mounted file", func(ctx context.Context) (bool, string) {
		out, err := hostExec(ctx, ns, "reader", "cat /etc/cfg/greeting")
		return err == nil && out == "updated", out
	})

	var events corev1.EventList
	if err := bed.hostClient.List(ctx, &events, client.InNamespace(hostNS)); err != nil {
		t.Fatal(err)
	}
	for _, e := range events.Items {
		if e.InvolvedObject.Name == hostPodName("reader", ns) && e.Reason == "FailedMount" {
			t.Errorf("host pod event FailedMount: %s", e.Message)
		}
	}
}
