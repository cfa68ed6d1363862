package nodesmoke

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/vclusterkit/vclusterkit/internal/binaries"
	"github.com/vclusterkit/vclusterkit/internal/images"
	"github.com/vclusterkit/vclusterkit/internal/testenv"
)

// childEnv marks the re-executed test binary that starts a node and is
// then killed.
const childEnv = "VCLUSTERKIT_NODESMOKE_CHILD"

// TestRealNode starts the real-node host, probes it, stops it and checks
// that nothing of it is left; then does the same with a test binary that
// is killed (SIGKILL) while its pods run.
func TestRealNode(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		t.Fatal("TestRealNode must not run in the child process")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	if left := testenv.NodeLeftovers(); len(left) > 0 {
		t.Fatalf("the machine has real-node state before the test: %v", left)
	}

	h, err := testenv.StartHost(ctx, testenv.HostOptions{RealNode: true})
	if err != nil {
		t.Fatal(err)
	}
	tm := h.NodeTimings()
	t.Logf("real node: API server ready %s, node Ready %s, CoreDNS ready %s after start (node images built and imported in %s)",
		tm.APIServer.Round(time.Millisecond), tm.NodeReady.Round(time.Millisecond), tm.DNSReady.Round(time.Millisecond), tm.Images.Round(time.Millisecond))
	stopped := false
	defer func() {
		if !stopped {
			_ = h.Stop()
		}
	}()
	b := &bed{t: t, h: h, cs: kubernetes.NewForConfigOrDie(h.Config)}
	b.kubectlBin, err = binaries.Path(binaries.Kubectl)
	if err != nil {
		t.Fatal(err)
	}
	ok := t.Run("probes", func(t *testing.T) {
		h.LogsOnFailure(t)
		b.t = t
		b.probes(ctx)
	})
	stopped = true
	if err := h.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if left := testenv.NodeLeftovers(); len(left) > 0 {
		t.Fatalf("after Stop the machine still has: %v", left)
	}
	if !ok {
		return
	}
	t.Run("killed test binary leaves nothing", func(t *testing.T) { killedChild(ctx, t) })
}

// TestNodeChild is the body of the child process of TestRealNode: it starts
// a node with pods running, says READY, and waits to be killed.
func TestNodeChild(t *testing.T) {
	if os.Getenv(childEnv) == "" {
		return // only meaningful as TestRealNode's child
	}
	ctx := context.Background()
	h, err := testenv.StartHost(ctx, testenv.HostOptions{RealNode: true})
	if err != nil {
		t.Fatal(err)
	}
	b := &bed{t: t, h: h, cs: kubernetes.NewForConfigOrDie(h.Config)}
	b.namespace(ctx, "doomed")
	b.deployment(ctx, "doomed", "sleepers", 5, []string{"sleep", "3600"})
	b.waitRunning(ctx, "doomed", "app=sleepers", 5)
	fmt.Println("READY")
	time.Sleep(time.Hour)
}

func killedChild(ctx context.Context, t *testing.T) {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestNodeChild$", "-test.v", "-test.timeout=10m")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if sc.Text() == "READY" {
				ready <- true
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			_ = cmd.Wait()
			t.Fatalf("the child exited before its node was ready:\n%s", log.String())
		}
	case <-time.After(6 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("the child's node was not ready in 6 minutes:\n%s", log.String())
	}
	if left := testenv.NodeLeftovers(); len(left) == 0 {
		t.Fatal("the child says READY but no real-node state is visible: the leftover check would miss leaks")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	// The child's reaper notices within a second and runs the sweep.
	deadline := time.Now().Add(2 * time.Minute)
	var left []string
	for time.Now().Before(deadline) {
		if left = testenv.NodeLeftovers(); len(left) == 0 {
			return
		}
		time.Sleep(time.Second)
	}
	sweep, _ := os.ReadFile("/tmp/vclusterkit-node-sweep.log")
	t.Fatalf("2 minutes after kill -9 of the test binary the machine still has: %v\nsweep log:\n%s", left, sweep)
}

// bed drives probes against the real-node host.
type bed struct {
	t          testing.TB
	h          *testenv.Host
	cs         kubernetes.Interface
	kubectlBin string
}

func (b *bed) probes(ctx context.Context) {
	t := b.t.(*testing.T)
	const ns = "probe"
	b.namespace(ctx, ns)

	t.Run("a pod runs and logs, exec works", func(t *testing.T) {
		b := b.with(t)
		b.pod(ctx, ns, "hello", map[string]string{"app": "hello"}, []string{"sh", "-c", "echo hello from a real container; exec sleep 3600"})
		b.waitRunning(ctx, ns, "app=hello", 1)
		logs := b.kubectlOK(ctx, "logs", "-n", ns, "hello")
		if !strings.Contains(logs, "hello from a real container") {
			t.Fatalf("kubectl logs: %q", logs)
		}
		out := b.kubectlOK(ctx, "exec", "-n", ns, "hello", "--", "sh", "-c", "echo $((6*7)) $(hostname)")
		if strings.TrimSpace(out) != "42 hello" {
			t.Fatalf("kubectl exec: %q, want \"42 hello\"", out)
		}
	})

	t.Run("the control-plane images run", func(t *testing.T) {
		b := b.with(t)
		imgs, err := images.ControlPlaneImages()
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		if err := b.h.ImportImages(ctx, imgs...); err != nil {
			t.Fatal(err)
		}
		t.Logf("built and imported %d control-plane images in %s", len(imgs), time.Since(t0).Round(time.Millisecond))
		// Each binary is dynamically linked: it runs only if its libraries
		// came along. As the chart runs them: by name, not as root.
		for _, c := range []struct{ name, image, want string }{
			{"apiserver", images.KubeAPIServer, "Kubernetes " + binaries.KubernetesVersion},
			{"kcm", images.KubeControllerManager, "Kubernetes " + binaries.KubernetesVersion},
			{"kine", images.Kine, "kine"},
			{"kubectl", images.Kubectl, "Client Version"},
		} {
			bin := map[string]string{"apiserver": "kube-apiserver", "kcm": "kube-controller-manager", "kine": "kine", "kubectl": "kubectl"}[c.name]
			arg := "--version"
			if c.name == "kubectl" {
				arg = "version --client"
			}
			p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "version-" + c.name}, Spec: corev1.PodSpec{
				RestartPolicy:   corev1.RestartPolicyNever,
				SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](65532)},
				Containers: []corev1.Container{{Name: "main", Image: c.image, ImagePullPolicy: corev1.PullNever,
					Command: []string{"sh", "-c", bin + " " + arg}}},
			}}
			if _, err := b.cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			b.eventually(ctx, c.name+" image ran", func() error {
				got, err := b.cs.CoreV1().Pods(ns).Get(ctx, p.Name, metav1.GetOptions{})
				if err != nil {
					return err
				}
				if got.Status.Phase != corev1.PodSucceeded {
					return fmt.Errorf("phase %s %s", got.Status.Phase, waitingReason(got))
				}
				return nil
			})
			if logs := b.kubectlOK(ctx, "logs", "-n", ns, p.Name); !strings.Contains(logs, c.want) {
				t.Errorf("%s %s in image %s printed %q, want %q", bin, arg, c.image, logs, c.want)
			}
		}
	})

	t.Run("the operator image runs", func(t *testing.T) {
		b := b.with(t)
		img, err := images.OperatorImage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.h.ImportImages(ctx, img); err != nil {
			t.Fatal(err)
		}
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "operator-help"}, Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "main", Image: images.Operator, ImagePullPolicy: corev1.PullNever, Args: []string{"--help"}}},
		}}
		if _, err := b.cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		b.eventually(ctx, "the operator printed its usage", func() error {
			logs, err := b.kubectl(ctx, "logs", "-n", ns, p.Name)
			if err != nil || !strings.Contains(logs, "-leader-elect") {
				return fmt.Errorf("%v: %q", err, logs)
			}
			return nil
		})
	})

	t.Run("30 pods Running", func(t *testing.T) {
		b := b.with(t)
		start := time.Now()
		b.deployment(ctx, ns, "thirty", 30, []string{"sleep", "3600"})
		lat := b.waitRunning(ctx, ns, "app=thirty", 30)
		t.Logf("30 pods: all Running %s after the Deployment was created; create→Running p50 %s p99 %s (from pod creation and Running condition timestamps, 1 s resolution)",
			time.Since(start).Round(time.Millisecond), testenv.Percentile(lat, 50), testenv.Percentile(lat, 99))
		if err := b.cs.AppsV1().Deployments(ns).Delete(ctx, "thirty", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	})

	// A web server (busybox httpd) behind a Service, and a client pod.
	b.pod(ctx, ns, "web", map[string]string{"app": "web"}, []string{"sh", "-c", "mkdir -p /www && echo served-by-web > /www/index.html && exec httpd -f -p 8080 -h /www"})
	b.pod(ctx, ns, "client", map[string]string{"app": "client"}, []string{"sleep", "3600"})
	b.pod(ctx, ns, "stranger", map[string]string{"app": "stranger"}, []string{"sleep", "3600"})
	if _, err := b.cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	b.waitRunning(ctx, ns, "app in (web,client,stranger)", 3)

	t.Run("DNS resolves a Service and a ClusterIP routes", func(t *testing.T) {
		b := b.with(t)
		svc, err := b.cs.CoreV1().Services(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		out := b.kubectlOK(ctx, "exec", "-n", ns, "client", "--", "nslookup", "web."+ns+".svc."+testenv.ClusterDomain)
		if !strings.Contains(out, svc.Spec.ClusterIP) {
			t.Fatalf("nslookup web: %q does not name the ClusterIP %s", out, svc.Spec.ClusterIP)
		}
		resolv := b.kubectlOK(ctx, "exec", "-n", ns, "client", "--", "cat", "/etc/resolv.conf")
		if !strings.Contains(resolv, "nameserver "+testenv.DNSServiceIP) || !strings.Contains(resolv, "search "+ns+".svc."+testenv.ClusterDomain) {
			t.Fatalf("the pod's resolv.conf is not kubelet's: %q", resolv)
		}
		// By the short name (search path), through the Service's ClusterIP.
		b.eventually(ctx, "client reaches http://web", func() error { return b.httpFrom(ctx, ns, "client", "web", 80) })
		// From the machine itself, through kube-proxy's rules.
		b.eventually(ctx, "the machine reaches the ClusterIP", func() error {
			out, err := exec.CommandContext(ctx, "/usr/bin/busybox", "sh", "-c",
				fmt.Sprintf("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 3 %s 80", svc.Spec.ClusterIP)).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "served-by-web") {
				return fmt.Errorf("%v: %q", err, out)
			}
			return nil
		})
	})

	t.Run("a NetworkPolicy denies, then allows, a real connection", func(t *testing.T) {
		b := b.with(t)
		np := b.cs.NetworkingV1().NetworkPolicies(ns)
		deny := &networkingv1.NetworkPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: "web-deny-all"},
			Spec: networkingv1.NetworkPolicySpec{
				PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			},
		}
		if _, err := np.Create(ctx, deny, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		b.eventually(ctx, "client is refused", func() error {
			if err := b.httpFrom(ctx, ns, "client", "web", 80); err == nil {
				return fmt.Errorf("client still reaches web under a deny-all policy")
			}
			return nil
		})
		allow := &networkingv1.NetworkPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: "web-allow-client"},
			Spec: networkingv1.NetworkPolicySpec{
				PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
				Ingress: []networkingv1.NetworkPolicyIngressRule{{
					From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "client"}}}},
					Ports: []networkingv1.NetworkPolicyPort{{Port: ptr.To(intstr.FromInt32(8080))}},
				}},
			},
		}
		if _, err := np.Create(ctx, allow, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		b.eventually(ctx, "client is allowed again", func() error { return b.httpFrom(ctx, ns, "client", "web", 80) })
		// The allow names client only: stranger stays out.
		if err := b.httpFrom(ctx, ns, "stranger", "web", 80); err == nil {
			t.Fatal("stranger reaches web, though only client is allowed")
		}
		if err := np.Delete(ctx, deny.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := np.Delete(ctx, allow.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		b.eventually(ctx, "stranger reaches web with no policy", func() error { return b.httpFrom(ctx, ns, "stranger", "web", 80) })
	})
}

func (b *bed) with(t testing.TB) *bed { c := *b; c.t = t; return &c }

func (b *bed) namespace(ctx context.Context, ns string) {
	b.t.Helper()
	if _, err := b.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		b.t.Fatal(err)
	}
	// Pods need the namespace's default ServiceAccount.
	b.eventually(ctx, "ServiceAccount "+ns+"/default", func() error {
		_, err := b.cs.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err
	})
}

func busybox(cmd []string) corev1.PodSpec {
	return corev1.PodSpec{
		TerminationGracePeriodSeconds: ptr.To[int64](1),
		Containers:                    []corev1.Container{{Name: "main", Image: images.Busybox, ImagePullPolicy: corev1.PullNever, Command: cmd}},
	}
}

func (b *bed) pod(ctx context.Context, ns, name string, labels map[string]string, cmd []string) {
	b.t.Helper()
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Spec: busybox(cmd)}
	if _, err := b.cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
		b.t.Fatal(err)
	}
}

func (b *bed) deployment(ctx context.Context, ns, name string, replicas int32, cmd []string) {
	b.t.Helper()
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: busybox(cmd)},
		},
	}
	if _, err := b.cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		b.t.Fatal(err)
	}
}

// waitRunning waits until n pods matching selector run, and returns each
// one's create→Running latency.
func (b *bed) waitRunning(ctx context.Context, ns, selector string, n int) []time.Duration {
	b.t.Helper()
	var lat []time.Duration
	b.eventually(ctx, fmt.Sprintf("%d pods %s Running", n, selector), func() error {
		pods, err := b.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return err
		}
		lat = lat[:0]
		var notYet []string
		for _, p := range pods.Items {
			ready := false
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
					ready = true
					lat = append(lat, c.LastTransitionTime.Sub(p.CreationTimestamp.Time))
				}
			}
			if p.Status.Phase != corev1.PodRunning || !ready {
				notYet = append(notYet, fmt.Sprintf("%s %s %s", p.Name, p.Status.Phase, waitingReason(&p)))
			}
		}
		if len(pods.Items) < n || len(notYet) > 0 {
			return fmt.Errorf("%d of %d pods; not Running: %v", len(pods.Items)-len(notYet), n, notYet)
		}
		return nil
	})
	return lat
}

func waitingReason(p *corev1.Pod) string {
	for _, s := range p.Status.ContainerStatuses {
		if s.State.Waiting != nil {
			return s.State.Waiting.Reason + ": " + s.State.Waiting.Message
		}
	}
	return ""
}

// httpFrom makes a real HTTP request from pod to host:port with busybox nc
// (busybox wget -T segfaults on Debian's build) and checks the answer.
func (b *bed) httpFrom(ctx context.Context, ns, pod, host string, port int) error {
	out, err := b.kubectl(ctx, "exec", "-n", ns, pod, "--", "sh", "-c",
		fmt.Sprintf("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 %s %d", host, port))
	if err != nil || !strings.Contains(out, "served-by-web") {
		return fmt.Errorf("%s → %s:%d: %v %q", pod, host, port, err, out)
	}
	return nil
}

func (b *bed) kubectl(ctx context.Context, args ...string) (string, error) {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(cctx, b.kubectlBin, append([]string{"--kubeconfig", b.h.KubeconfigPath}, args...)...).CombinedOutput()
	return string(out), err
}

func (b *bed) kubectlOK(ctx context.Context, args ...string) string {
	b.t.Helper()
	out, err := b.kubectl(ctx, args...)
	if err != nil {
		b.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// eventually retries f for up to a minute (a policy takes kube-router a
// moment; a pod, kubelet's next sync).
func (b *bed) eventually(ctx context.Context, what string, f func() error) {
	b.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var err error
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if err = f(); err == nil {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	b.t.Fatalf("%s: not within 90 s: %v", what, err)
}
