package main

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/internal/images"
	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/netpol"
	"github.com/vclusterkit/vclusterkit/vcluster"
)

// Node kinds for --nodes.
const (
	nodesAuto = "auto"
	nodesReal = "real"
	nodesKWOK = "kwok"
)

// chooseNodes resolves --nodes: auto is a real node when this machine can
// run one (Linux, root, runc and the packages of make test-deps), else KWOK.
// It returns whether the node is real and a sentence saying why.
func chooseNodes(flag string) (bool, string, error) {
	switch flag {
	case nodesKWOK:
		return false, "KWOK fake nodes (--nodes kwok)", nil
	case nodesReal:
		if err := testenv.RealNodeMissing(); err != nil {
			return false, "", fmt.Errorf("--nodes real: %w", err)
		}
		return true, "a real node (--nodes real)", nil
	case nodesAuto, "":
		if runtime.GOOS != "linux" {
			return false, "KWOK fake nodes (a real node needs Linux)", nil
		}
		if err := testenv.RealNodeMissing(); err != nil {
			return false, "KWOK fake nodes (this machine cannot run a real node: " + strings.ReplaceAll(err.Error(), "\n", "; ") + ")", nil
		}
		return true, "a real node: this machine can run containers (use --nodes kwok for fake nodes)", nil
	}
	return false, "", fmt.Errorf("--nodes: %q is not one of auto, real, kwok", flag)
}

// shopImage is what the shop app runs: on a real node, a real web server
// (busybox httpd from the locally built image, which pods cannot pull);
// on KWOK nothing runs, so any reference does.
func (s *story) shopContainer() string {
	if !s.real {
		return `      - name: shop
        image: registry.example/shop:1.0`
	}
	return `      - name: shop
        image: ` + images.Busybox + `
        imagePullPolicy: IfNotPresent
        command: [sh, -c, 'echo "shop $(hostname) serving on :8080"; mkdir -p /www && echo "shop says hello from $(hostname)" > /www/index.html && exec httpd -f -p 8080 -h /www']`
}

// realContainers shows what only real containers show: the app answers
// HTTP, a pod reaches it by Service name through DNS, logs and exec work
// for a member, and tenant isolation holds for real packets exactly where
// the NetworkPolicy evaluator says it does.
func (s *story) realContainers(ctx context.Context) error {
	s.section("Real containers: web's app answers, bob uses logs and exec, isolation holds for real packets")
	var svcs corev1.ServiceList
	if err := s.c.List(ctx, &svcs, client.InNamespace("vc-web"), client.MatchingLabels{vcluster.LabelVirtualCluster: "web"}); err != nil {
		return err
	}
	var shop *corev1.Service
	for i := range svcs.Items {
		if strings.HasPrefix(svcs.Items[i].Name, "shop-x-default-x-web") {
			shop = &svcs.Items[i]
		}
	}
	if shop == nil {
		return fmt.Errorf("the shop Service of web's virtual cluster is not on the host (vc-web)")
	}
	shopDNS := shop.Name + ".vc-web.svc." + testenv.ClusterDomain

	// Inside web's virtual cluster, as bob: logs and exec reach the real
	// containers through the virtual API server and the engine's kubelet
	// proxy.
	vlogs, err := s.kubectlRun(ctx, "web-bob.kubeconfig", "", "-n", "default", "logs", "deploy/shop")
	if err != nil || !strings.Contains(vlogs, "serving on :8080") {
		return fmt.Errorf("kubectl logs inside web's virtual cluster as bob: %v: %q", err, vlogs)
	}
	// kubectl first says which of the Deployment's pods it reads.
	logLines := strings.Split(strings.TrimSpace(vlogs), "\n")
	s.say("$ kubectl logs deploy/shop          (web's virtual cluster, as bob) → %s", logLines[len(logLines)-1])
	vexec, err := s.kubectlRun(ctx, "web-bob.kubeconfig", "", "-n", "default", "exec", "deploy/shop", "--", "sh", "-c", "echo exec in $(hostname), pid 1 is $(cat /proc/1/comm)")
	if err != nil || !strings.Contains(vexec, "exec in shop-") {
		return fmt.Errorf("kubectl exec inside web's virtual cluster as bob: %v: %q", err, vexec)
	}
	s.say("$ kubectl exec deploy/shop -- …     (web's virtual cluster, as bob) → %s", strings.TrimSpace(vexec))

	// DNS inside the virtual cluster: its own CoreDNS answers the usual
	// names, so bob's pod reaches the shop as plain "shop".
	if out, err := s.kubectlRun(ctx, "web-bob.kubeconfig", "", "-n", "default", "run", "vclient", "--image", images.Busybox,
		"--image-pull-policy", "IfNotPresent", "--restart", "Never", "--", "sleep", "3600"); err != nil {
		return fmt.Errorf("kubectl run in web's virtual cluster as bob: %v: %s", err, out)
	}
	if out, err := s.kubectlRun(ctx, "web-bob.kubeconfig", "", "-n", "default", "wait", "--for=condition=Ready", "pod/vclient", "--timeout=120s"); err != nil {
		return fmt.Errorf("bob's pod in web's virtual cluster never became Ready: %v: %s", err, out)
	}
	var short string
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		short, _ = s.kubectlRun(ctx, "web-bob.kubeconfig", "", "-n", "default", "exec", "vclient", "--", "sh", "-c",
			"nslookup shop.default.svc.cluster.local | grep -A1 'Name:' | tail -1; printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 shop 80 | tail -1")
		return strings.Contains(short, "shop says hello"), nil
	})
	if err != nil {
		return fmt.Errorf("bob's pod cannot reach the shop by its short name inside web's virtual cluster: %q", short)
	}
	s.say("$ kubectl exec vclient -- nc shop 80  (web's virtual cluster, its own DNS) → %s", strings.ReplaceAll(strings.TrimSpace(short), "\n", " → "))

	// A NetworkPolicy bob writes inside his virtual cluster holds for real
	// packets, although the platform's isolation lets all of team web in.
	const frontendOnly = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: shop-from-frontend}
spec:
  podSelector: {matchLabels: {app: shop}}
  policyTypes: [Ingress]
  ingress:
  - from:
    - podSelector: {matchLabels: {role: frontend}}
`
	if out, err := s.kubectlRun(ctx, "web-bob.kubeconfig", frontendOnly, "apply", "-n", "default", "-f", "-"); err != nil {
		return fmt.Errorf("kubectl apply of a NetworkPolicy in web's virtual cluster as bob: %v: %s", err, out)
	}
	reach := func(want bool) (string, error) {
		var out string
		err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			out, _ = s.kubectlRun(ctx, "web-bob.kubeconfig", "", "-n", "default", "exec", "vclient", "--", "sh", "-c",
				"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 shop 80 | tail -1")
			return strings.Contains(out, "shop says hello") == want, nil
		})
		if !want {
			out = "refused"
		}
		return strings.TrimSpace(out), err
	}
	got, err := reach(false)
	if err != nil {
		return fmt.Errorf("bob's NetworkPolicy shop-from-frontend did not stop his unlabelled pod from reaching the shop")
	}
	s.say("$ kubectl apply NetworkPolicy shop-from-frontend (inside web's virtual cluster) → vclient to shop: %s", got)
	if out, err := s.kubectlRun(ctx, "web-bob.kubeconfig", "", "-n", "default", "label", "pod", "vclient", "role=frontend"); err != nil {
		return fmt.Errorf("kubectl label as bob: %v: %s", err, out)
	}
	if got, err = reach(true); err != nil {
		return fmt.Errorf("bob's pod labelled role=frontend cannot reach the shop through his NetworkPolicy: %q", got)
	}
	s.say("$ kubectl label pod vclient role=frontend → vclient to shop: %s", got)
	if out, err := s.kubectlRun(ctx, "web-bob.kubeconfig", "", "-n", "default", "delete", "networkpolicy", "shop-from-frontend"); err != nil {
		return fmt.Errorf("kubectl delete networkpolicy as bob: %v: %s", err, out)
	}

	// bob works in web's space with the host credentials of a member: the
	// admin's kubeconfig impersonating him, so his RBAC decides.
	asBob := func(args ...string) (string, error) {
		return s.kubectlHost(ctx, append([]string{"--as", "bob", "-n", "web-staging"}, args...)...)
	}
	if out, err := asBob("run", "client", "--image", images.Busybox, "--image-pull-policy", "IfNotPresent", "--restart", "Never",
		"--", "sh", "-c", "echo client up on $(hostname); exec sleep 3600"); err != nil {
		return fmt.Errorf("kubectl run as bob: %v: %s", err, out)
	}
	if out, err := asBob("wait", "--for=condition=Ready", "pod/client", "--timeout=120s"); err != nil {
		desc, _ := asBob("describe", "pod", "client")
		return fmt.Errorf("bob's client pod never became Ready: %v: %s\n%s", err, out, desc)
	}
	logs, err := asBob("logs", "client")
	if err != nil || !strings.Contains(logs, "client up on client") {
		return fmt.Errorf("kubectl logs as bob: %v: %q", err, logs)
	}
	s.say("$ kubectl --as bob -n web-staging logs client      → %s", logs)
	exe, err := asBob("exec", "client", "--", "sh", "-c", "id -u; cat /etc/resolv.conf | grep nameserver")
	if err != nil {
		return fmt.Errorf("kubectl exec as bob: %v: %s", err, exe)
	}
	s.say("$ kubectl --as bob -n web-staging exec client -- id -u; grep nameserver /etc/resolv.conf → %s", strings.ReplaceAll(exe, "\n", "; "))
	var body string
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		body, _ = asBob("exec", "client", "--", "sh", "-c", "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 "+shopDNS+" 80")
		return strings.Contains(body, "shop says hello"), nil
	})
	if err != nil {
		return fmt.Errorf("bob's client cannot reach the shop by name %s: %q", shopDNS, body)
	}
	lines := strings.Split(strings.TrimSpace(body), "\n")
	s.say("bob's client → http://%s (DNS, ClusterIP, a real container): %s … %s", shopDNS, strings.TrimSpace(lines[0]), lines[len(lines)-1])

	// A pod of team data, in its virtual cluster's host namespace, made by
	// the platform to probe: it meets data's restricted standard.
	probe := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "isolation-probe", Namespace: "vc-data", Labels: map[string]string{"app": "isolation-probe"}},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: ptr.To[int64](0),
			SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](65534),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			Containers: []corev1.Container{{
				Name: "probe", Image: images.Busybox, ImagePullPolicy: corev1.PullIfNotPresent, Command: []string{"sleep", "3600"},
				SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false),
					Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
			}},
		},
	}
	if err := s.c.Create(ctx, probe); err != nil {
		return fmt.Errorf("the isolation probe in vc-data: %w", err)
	}
	if out, err := s.kubectlHost(ctx, "-n", "vc-data", "wait", "--for=condition=Ready", "pod/isolation-probe", "--timeout=120s"); err != nil {
		return fmt.Errorf("the isolation probe never became Ready: %v: %s", err, out)
	}

	// What the evaluator says, from the objects in force, and what real
	// connections do, to the shop's ClusterIP (kube-proxy sends them to a
	// shop pod on 8080, where the policies apply).
	var pods corev1.PodList
	if err := s.c.List(ctx, &pods); err != nil {
		return err
	}
	var nss corev1.NamespaceList
	if err := s.c.List(ctx, &nss); err != nil {
		return err
	}
	var pols networkingv1.NetworkPolicyList
	if err := s.c.List(ctx, &pols); err != nil {
		return err
	}
	ev, err := netpol.NewEvaluator(pols.Items, nss.Items, pods.Items)
	if err != nil {
		return err
	}
	var shopPod string
	for _, p := range pods.Items {
		if p.Namespace == "vc-web" && p.Labels[vcluster.LabelVirtualCluster] == "web" && strings.HasPrefix(p.Name, "shop-") && p.Status.Phase == corev1.PodRunning {
			shopPod = p.Name
			break
		}
	}
	if shopPod == "" {
		return fmt.Errorf("no Running shop pod in vc-web")
	}
	s.say("%-34s %-10s %-10s", "from → web's shop (TCP 8080)", "evaluator", "real TCP")
	var disagree []string
	for _, from := range []struct{ ns, pod, label string }{
		{"web-staging", "client", "web-staging/client (team web)"},
		{"vc-data", "isolation-probe", "vc-data/isolation-probe (data)"},
	} {
		v, err := ev.Check(netpol.PodEndpoint(from.ns, from.pod), netpol.PodEndpoint("vc-web", shopPod), 8080, corev1.ProtocolTCP)
		if err != nil {
			return err
		}
		want := v.Allowed
		// A policy change takes kube-router a moment: a few tries, each a
		// real connection with a 3 s timeout.
		var got bool
		for range 5 {
			out, _ := s.kubectlHost(ctx, "-n", from.ns, "exec", from.pod, "--", "sh", "-c",
				"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 "+shop.Spec.ClusterIP+" 80")
			got = strings.Contains(out, "shop says hello")
			if got == want {
				break
			}
			time.Sleep(2 * time.Second)
		}
		s.say("%-34s %-10s %-10s", from.label, verdictWord(want), connWord(got))
		if got != want {
			disagree = append(disagree, fmt.Sprintf("%s: evaluator %s, real connection %s", from.label, verdictWord(want), connWord(got)))
		}
	}
	if len(disagree) > 0 {
		return fmt.Errorf("the evaluator and real packets disagree: %s", strings.Join(disagree, "; "))
	}
	s.say("the evaluator and real packets agree: web's space reaches web's app; data is refused.")

	// The probes go, so that the quota story below counts as before.
	for _, p := range []client.Object{probe, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "client", Namespace: "web-staging"}}} {
		if err := s.c.Delete(ctx, p, client.GracePeriodSeconds(0)); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return s.waitGone(ctx, time.Minute, probe, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "client", Namespace: "web-staging"}})
}

// kubectlHost runs kubectl against the host cluster.
func (s *story) kubectlHost(ctx context.Context, args ...string) (string, error) {
	cctx, cancel := context.WithTimeout(ctx, 150*time.Second)
	defer cancel()
	return s.kubectlAbs(cctx, s.host, args...)
}

func verdictWord(allowed bool) string {
	if allowed {
		return "allow"
	}
	return "deny"
}

func connWord(ok bool) string {
	if ok {
		return "connected"
	}
	return "refused"
}
