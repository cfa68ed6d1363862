// Package e2ekit holds what the end-to-end test packages share.
package e2ekit

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Create creates objs in order through c. A pod refused because its
// namespace's default ServiceAccount does not exist yet (the controller
// manager makes it moments after the namespace, as a tenant's kubectl
// apply of a namespace and a pod together also meets) is tried again for
// up to a minute; any other error ends it.
func Create(ctx context.Context, c client.Client, objs ...client.Object) error {
	for _, o := range objs {
		var last error
		err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			last = c.Create(ctx, o)
			switch {
			case last == nil:
				return true, nil
			case apierrors.IsForbidden(last) && strings.Contains(last.Error(), "error looking up service account"):
				return false, nil
			default:
				return false, last
			}
		})
		if err != nil {
			if last != nil {
				err = last
			}
			return fmt.Errorf("create %T %s/%s: %w", o, o.GetNamespace(), o.GetName(), err)
		}
	}
	return nil
}

// Cluster is a virtual cluster under test on a host, as the real-node e2e
// packages reach it: its admin client, and the host through kubectl.
type Cluster struct {
	// Virtual is the virtual cluster's admin client.
	Virtual client.Client
	// Kubectl is the kubectl binary; HostKubeconfig the host's admin
	// kubeconfig.
	Kubectl, HostKubeconfig string
	// Name is the virtual cluster's name, HostNamespace its host namespace.
	Name, HostNamespace string
	// TolerateGetErrors keeps WaitReady polling through errors reading the
	// virtual pod (an API server that is waking up); else only NotFound is.
	TolerateGetErrors bool
}

// HostPodName is the host name of virtual pod ns/name (short names only).
func (c Cluster) HostPodName(name, ns string) string { return name + "-x-" + ns + "-x-" + c.Name }

// HostExec runs a shell script in the host copy of virtual pod ns/name
// (the container a tenant's kubectl exec reaches) and returns its combined
// output.
func (c Cluster) HostExec(ctx context.Context, ns, name, script string) (string, error) {
	out, err := exec.CommandContext(ctx, c.Kubectl, "--kubeconfig", c.HostKubeconfig, "-n", c.HostNamespace,
		"exec", c.HostPodName(name, ns), "--", "sh", "-c", script).CombinedOutput()
	return string(out), err
}

// WaitReady waits up to timeout until the virtual pod ns/name is Ready;
// the error carries the host pod's description.
func (c Cluster) WaitReady(ctx context.Context, ns, name string, timeout time.Duration) error {
	var p corev1.Pod
	err := wait.PollUntilContextTimeout(ctx, 300*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		if err := c.Virtual.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &p); err != nil {
			if c.TolerateGetErrors {
				return false, nil
			}
			return false, client.IgnoreNotFound(err)
		}
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		out, _ := exec.Command(c.Kubectl, "--kubeconfig", c.HostKubeconfig, "-n", c.HostNamespace, "describe", "pod", c.HostPodName(name, ns)).CombinedOutput()
		return fmt.Errorf("virtual pod %s/%s never Ready (status %+v): %w\nhost pod:\n%s", ns, name, p.Status, err, out)
	}
	return nil
}
