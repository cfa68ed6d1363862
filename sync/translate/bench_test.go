package translate

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func BenchmarkHostName(b *testing.B) {
	tr, _ := New("dev", "team-a")
	long := strings.Repeat("a", 80)
	b.Run("short", func(b *testing.B) {
		for b.Loop() {
			_ = tr.HostName("web-5d9c7b", "shop")
		}
	})
	b.Run("hashed", func(b *testing.B) {
		for b.Loop() {
			_ = tr.HostName(long, "shop")
		}
	})
}

func BenchmarkHostMeta(b *testing.B) {
	tr, _ := New("dev", "team-a")
	v := &metav1.ObjectMeta{Name: "web-5d9c7b-x2k", Namespace: "shop", UID: "u",
		Labels:      map[string]string{"app": "web", "pod-template-hash": "5d9c7b", "app.kubernetes.io/name": "web"},
		Annotations: map[string]string{"kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z"}}
	for b.Loop() {
		if _, err := tr.HostMeta("Pod", v); err != nil {
			b.Fatal(err)
		}
	}
}
