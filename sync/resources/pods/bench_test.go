package pods

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	psapi "k8s.io/pod-security-admission/api"
)

func BenchmarkToHostPod(b *testing.B) {
	in := testInput(&testing.T{})
	v := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-5d9c7b-x2k", Namespace: "shop"}, Spec: corev1.PodSpec{
		Volumes: []corev1.Volume{{Name: "api", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}}},
		}}}}},
		Containers: []corev1.Container{{Name: "web", Image: "nginx", EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}}}},
	}}
	for b.Loop() {
		if _, err := ToHostPod(in, v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPodSecurityCheck(b *testing.B) {
	s, err := New(Options{PodSecurity: psapi.LevelRestricted})
	if err != nil {
		b.Fatal(err)
	}
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "n"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x"}}}}
	for b.Loop() {
		_ = s.checkSecurity(s.policy.Load(), p, p)
	}
}
