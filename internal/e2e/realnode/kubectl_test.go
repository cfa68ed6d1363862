package realnode

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/internal/images"
)

// TestKubectlInsideVirtualCluster uses kubectl with the virtual cluster's
// own kubeconfig, as a tenant does, against a real container: logs, exec,
// exec with stdin, attach, port-forward and debug go through the virtual API server
// to the engine's kubelet proxy and on to the host's pod subresources.
func TestKubectlInsideVirtualCluster(t *testing.T) {
	ctx := context.Background()
	const ns = "kx"
	mustCreate(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	mustCreate(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "main", Image: images.Busybox, ImagePullPolicy: corev1.PullIfNotPresent,
			Command: []string{"sh", "-c", "echo web started; mkdir -p /www && echo page-from-web > /www/index.html && exec httpd -f -p 8080 -h /www"}}},
	}})
	waitRunning(t, ns, "web")
	vk := func(stdin string, args ...string) (string, error) {
		cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(cctx, bed.kubectl, append([]string{"--kubeconfig", bed.virtualKubeconfig, "-n", ns}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	eventually := func(t *testing.T, what string, f func() error) {
		t.Helper()
		var last error
		if err := wait.PollUntilContextTimeout(ctx, time.Second, 90*time.Second, true, func(context.Context) (bool, error) {
			last = f()
			return last == nil, nil
		}); err != nil {
			t.Fatalf("%s: %v", what, last)
		}
	}

	t.Run("logs", func(t *testing.T) {
		eventually(t, "kubectl logs", func() error {
			out, err := vk("", "logs", "web")
			if err != nil || !strings.Contains(out, "web started") {
				return fmt.Errorf("%v: %q", err, out)
			}
			return nil
		})
	})
	t.Run("exec", func(t *testing.T) {
		out, err := vk("", "exec", "web", "--", "sh", "-c", "echo $((6*7)) $(hostname)")
		if err != nil || strings.TrimSpace(out) != "42 web" {
			t.Fatalf("kubectl exec: %v: %q, want \"42 web\"", err, out)
		}
	})
	t.Run("exec with stdin", func(t *testing.T) {
		out, err := vk("bytes through stdin\n", "exec", "-i", "web", "--", "cat")
		if err != nil || strings.TrimSpace(out) != "bytes through stdin" {
			t.Fatalf("kubectl exec -i: %v: %q", err, out)
		}
	})
	t.Run("attach", func(t *testing.T) {
		// A container reading its stdin (stdinOnce: the first attach's end
		// of input is the container's): kubectl attach -i sends a line
		// through, reads the answer from the container's stdout, and the
		// container ends with its input.
		mustCreate(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "talker", Namespace: ns}, Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "main", Image: images.Busybox, ImagePullPolicy: corev1.PullIfNotPresent,
				Stdin: true, StdinOnce: true,
				Command: []string{"sh", "-c", "while read l; do echo \"got:$l\"; done; echo input ended"}}},
		}})
		waitRunning(t, ns, "talker")
		out, err := vk("ping through attach\n", "attach", "-i", "talker", "-c", "main")
		if err != nil || !strings.Contains(out, "got:ping through attach") {
			t.Fatalf("kubectl attach -i: %v: %q", err, out)
		}
		eventually(t, "the attached container ended with its input", func() error {
			out, err := vk("", "logs", "talker")
			if err != nil || !strings.Contains(out, "input ended") {
				return fmt.Errorf("%v: %q", err, out)
			}
			return nil
		})
	})
	t.Run("port-forward", func(t *testing.T) {
		cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(cctx, bed.kubectl, "--kubeconfig", bed.virtualKubeconfig, "-n", ns, "port-forward", "pod/web", "0:8080")
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
		port := make(chan string, 1)
		go func() {
			re := regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+)`)
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if m := re.FindStringSubmatch(sc.Text()); m != nil {
					port <- m[1]
					return
				}
			}
			close(port)
		}()
		p, ok := <-port
		if !ok {
			t.Fatal("kubectl port-forward never said where it listens")
		}
		resp, err := http.Get("http://127.0.0.1:" + p + "/")
		if err != nil {
			t.Fatalf("GET through port-forward: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), "page-from-web") {
			t.Fatalf("through port-forward: %d %q", resp.StatusCode, body)
		}
	})
	t.Run("debug", func(t *testing.T) {
		// kubectl's default debug profile adds SYS_PTRACE, which the
		// tenant's baseline standard forbids; --profile baseline meets it.
		out, err := vk("", "debug", "web", "--image", images.Busybox, "--image-pull-policy", "IfNotPresent", "--profile", "baseline",
			"--container", "dbg", "--target", "main", "--", "sh", "-c", "echo debugger ran; sleep 3600")
		if err != nil {
			t.Fatalf("kubectl debug: %v: %q", err, out)
		}
		defer func() {
			if t.Failed() {
				desc, _ := vk("", "describe", "pod", "web")
				t.Logf("virtual pod:\n%s", desc)
			}
		}()
		eventually(t, "the debug container's logs", func() error {
			out, err := vk("", "logs", "web", "-c", "dbg")
			if err != nil || !strings.Contains(out, "debugger ran") {
				return fmt.Errorf("%v: %q", err, out)
			}
			return nil
		})
		// A privileged debugger (--profile sysadmin) breaks the baseline
		// standard: it never reaches the host pod, and the virtual pod says
		// why.
		if out, err := vk("", "debug", "web", "--image", images.Busybox, "--image-pull-policy", "IfNotPresent",
			"--profile", "sysadmin", "--container", "root", "--", "sleep", "3600"); err != nil {
			t.Fatalf("kubectl debug --profile sysadmin: %v: %q", err, out)
		}
		eventually(t, "the privileged debugger refused", func() error {
			out, _ := vk("", "get", "events", "--field-selector", "involvedObject.name=web,reason=EphemeralContainerRefused", "-o", "jsonpath={.items[*].message}")
			if !strings.Contains(out, "ephemeral container root refused") || !strings.Contains(out, "privileged") {
				return fmt.Errorf("no EphemeralContainerRefused event for root: %q", out)
			}
			return nil
		})
		var hp corev1.Pod
		if err := bed.hostClient.Get(ctx, client.ObjectKey{Namespace: hostNS, Name: hostPodName("web", ns)}, &hp); err != nil {
			t.Fatal(err)
		}
		for _, c := range hp.Spec.EphemeralContainers {
			if c.Name == "root" {
				t.Fatal("a privileged debug container reached the host pod of a baseline tenant")
			}
		}
	})
}
