package vclusterkit_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	vclusterkit "github.com/vclusterkit/vclusterkit"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
)

// pidsWithArg lists processes whose command line has an argument that
// contains s.
func pidsWithArg(name, s string) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) == 0 || filepath.Base(args[0]) != name {
			continue
		}
		for _, a := range args[1:] {
			if strings.Contains(a, s) {
				out = append(out, pid)
				break
			}
		}
	}
	return out
}

// TestControlPlaneProcessDeathIsShownAndRecovered kills the virtual
// cluster's kube-apiserver: the VirtualCluster says so in a condition (the
// ComponentExited event is not asserted: the event recorder's spam filter
// may drop it after the many events of a cluster's creation), the engine
// brings the process back, and every object is still there.
func TestControlPlaneProcessDeathIsShownAndRecovered(t *testing.T) {
	host.LogsOnFailure(t)
	ctx := context.Background()
	createTenant(t, "umbrella", "")
	createSpace(t, "umbrella", "umbrella")
	eventually(t, 60*time.Second, "the tenant namespace", func(ctx context.Context) (bool, string) {
		err := hostC.Get(ctx, client.ObjectKey{Name: "umbrella"}, &corev1.Namespace{})
		return err == nil, fmt.Sprint(err)
	})
	vc := &vcluster.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: "lab", Namespace: "umbrella"},
		Spec: vcluster.VirtualClusterSpec{Tenant: "umbrella", HostNamespace: "umbrella-vc-lab"}}
	if err := hostC.Create(ctx, vc); err != nil {
		t.Fatal(err)
	}
	running := func(ctx context.Context) (bool, string) {
		got, err := getVC(ctx, "umbrella", "lab")
		if err != nil {
			return false, err.Error()
		}
		return got.Status.Phase == vcluster.PhaseRunning && meta.IsStatusConditionTrue(got.Status.Conditions, vcluster.ConditionComponentsHealthy),
			fmt.Sprintf("phase %s conditions %+v", got.Status.Phase, got.Status.Conditions)
	}
	eventually(t, 3*time.Minute, "the virtual cluster to run", running)
	got, _ := getVC(ctx, "umbrella", "lab")
	admin := virtualClientFromSecret(t, "umbrella", got.Status.KubeconfigSecret.Name)
	if err := admin.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "keep-me", Namespace: "default"}}); err != nil {
		t.Fatal(err)
	}

	dir := filepath.Join(stateDir, "umbrella-vc-lab", "lab")
	pids := pidsWithArg("kube-apiserver", dir)
	if len(pids) != 1 {
		t.Fatalf("want one kube-apiserver for %s, found %v", dir, pids)
	}
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the death to show on the VirtualCluster", func(ctx context.Context) (bool, string) {
		got, err := getVC(ctx, "umbrella", "lab")
		if err != nil {
			return false, err.Error()
		}
		// False while it is down; True with Reason Recovered and the exit
		// in its message once back (the False state may last one
		// reconcile, shorter than this poll).
		c := meta.FindStatusCondition(got.Status.Conditions, vcluster.ConditionComponentsHealthy)
		shown := c != nil && strings.Contains(c.Message, "kube-apiserver") &&
			(c.Status == metav1.ConditionFalse || c.Reason == "Recovered")
		return shown, fmt.Sprintf("conditions %+v", got.Status.Conditions)
	})
	eventually(t, 2*time.Minute, "the engine to bring the control plane back", running)
	if now := pidsWithArg("kube-apiserver", dir); len(now) != 1 || now[0] == pids[0] {
		t.Fatalf("after recovery: kube-apiserver pids %v (the killed one was %d)", now, pids[0])
	}
	got, _ = getVC(ctx, "umbrella", "lab")
	admin = virtualClientFromSecret(t, "umbrella", got.Status.KubeconfigSecret.Name)
	if err := admin.Get(ctx, client.ObjectKey{Namespace: "default", Name: "keep-me"}, &corev1.ConfigMap{}); err != nil {
		t.Fatalf("after recovery the ConfigMap is gone: %v", err)
	}

	// Clean up through the engine, which must leave no process behind.
	root := &tenancy.Tenant{}
	if err := hostC.Get(ctx, client.ObjectKey{Name: "umbrella"}, root); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(root.DeepCopy())
	root.Annotations = map[string]string{vclusterkit.AnnotationCascade: "true"}
	if err := hostC.Patch(ctx, root, patch); err != nil {
		t.Fatal(err)
	}
	if err := hostC.Delete(ctx, root); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, "the tenant and its virtual cluster to be gone", func(ctx context.Context) (bool, string) {
		if ok, why := gone(ctx, &vcluster.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Namespace: "umbrella", Name: "lab"}}); !ok {
			return false, why
		}
		return gone(ctx, &tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "umbrella"}})
	})
	for _, bin := range []string{"kube-apiserver", "kube-controller-manager", "kine"} {
		if left := pidsWithArg(bin, dir); len(left) > 0 {
			t.Errorf("%s of the deleted virtual cluster still running: %v", bin, left)
		}
	}
}
