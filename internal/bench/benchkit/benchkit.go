// Package benchkit holds the small pieces the benchmark drivers under
// internal/bench share.
package benchkit

import (
	"os/exec"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// PodReady reports whether p is Running with its Ready condition True.
func PodReady(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// Unlimited returns a clientset for a copy of cfg without any client-side
// rate limiter (a negative QPS turns client-go's off), so a load
// generator or a watcher never sets the pace.
func Unlimited(cfg *rest.Config) *kubernetes.Clientset {
	c := rest.CopyConfig(cfg)
	c.QPS, c.Burst = -1, 0
	return kubernetes.NewForConfigOrDie(c)
}

// Stop ends a process started in its own process group (Setpgid): SIGTERM
// to the group, SIGKILL after 10 seconds, and waits for it.
func Stop(c *exec.Cmd) {
	pid := c.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = c.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-done
	}
}
