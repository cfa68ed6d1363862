package main

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
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
		"--image-pull-policy", "IfNotPresent", "--restart", "Never", "--", "sh", "-c", probeServer); err != nil {
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

	// bob works in web's space with the host credentials of a member: the
	// admin's kubeconfig impersonating him, so his RBAC decides.
	asBob := func(args ...string) (string, error) {
		return s.kubectlHost(ctx, append([]string{"--as", "bob", "-n", "web-staging"}, args...)...)
	}
	// Both pods serve on 8080 too, for the reachability matrix below.
	for _, name := range []string{"client", "peer"} {
		if out, err := asBob("run", name, "--image", images.Busybox, "--image-pull-policy", "IfNotPresent", "--restart", "Never",
			"--", "sh", "-c", "echo "+name+" up on $(hostname); "+probeServer); err != nil {
			return fmt.Errorf("kubectl run as bob: %v: %s", err, out)
		}
	}
	for _, name := range []string{"client", "peer"} {
		if out, err := asBob("wait", "--for=condition=Ready", "pod/"+name, "--timeout=120s"); err != nil {
			desc, _ := asBob("describe", "pod", name)
			return fmt.Errorf("bob's %s pod never became Ready: %v: %s\n%s", name, err, out, desc)
		}
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
	// bob's policy stays in force for the reachability matrix below.

	if err := s.probeMatrix(ctx); err != nil {
		return err
	}

	// bob's policy and the probes go, so that the quota story and the
	// reachability report below count as before.
	if out, err := s.kubectlRun(ctx, "web-bob.kubeconfig", "", "-n", "default", "delete", "networkpolicy", "shop-from-frontend"); err != nil {
		return fmt.Errorf("kubectl delete networkpolicy as bob: %v: %s", err, out)
	}
	if out, err := s.kubectlRun(ctx, "data-carol.kubeconfig", "", "-n", "default", "delete", "pod", "probe-a", "probe-b", "--grace-period=0", "--wait=false"); err != nil {
		return fmt.Errorf("kubectl delete pod as carol: %v: %s", err, out)
	}
	var gone []client.Object
	for _, name := range []string{"client", "peer"} {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "web-staging"}}
		if err := s.c.Delete(ctx, p, client.GracePeriodSeconds(0)); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		gone = append(gone, p)
	}
	for _, name := range []string{"probe-a", "probe-b"} {
		gone = append(gone, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name + "-x-default-x-data", Namespace: "vc-data"}})
	}
	return s.waitGone(ctx, time.Minute, gone...)
}

// probeServer is the shell script of every pod of the reachability matrix:
// a web server on 8080 answering with the pod's name.
const probeServer = "mkdir -p /tmp/www && echo probe $(hostname) > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www"

// probeMatrix checks every cell of the reachability matrix between the
// tenants' namespaces, pod by pod, with bob's NetworkPolicy (written inside
// web's virtual cluster) in force: two pods of team web's space, bob's
// vclient and a shop pod in web's virtual cluster, and two pods carol
// starts in data's virtual cluster. From every pod to every other one, a
// real TCP connection to the pod's IP on 8080 is compared with what the
// NetworkPolicy evaluator says of the same connection on the host's
// policies, pods and namespaces; any disagreement fails the story. A pod's
// connection to its own IP is not probed: it never leaves the pod's network
// namespace, so no NetworkPolicy implementation sees it.
func (s *story) probeMatrix(ctx context.Context) error {
	// carol's pods meet data's restricted standard.
	const dataProbes = `apiVersion: v1
kind: Pod
metadata: {name: NAME, labels: {app: NAME}}
spec:
  terminationGracePeriodSeconds: 0
  securityContext: {runAsNonRoot: true, runAsUser: 65534, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: probe
    image: ` + images.Busybox + `
    imagePullPolicy: IfNotPresent
    command: [sh, -c, 'SCRIPT']
    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
`
	for _, name := range []string{"probe-a", "probe-b"} {
		manifest := strings.NewReplacer("NAME", name, "SCRIPT", probeServer).Replace(dataProbes)
		if out, err := s.kubectlRun(ctx, "data-carol.kubeconfig", manifest, "apply", "-n", "default", "-f", "-"); err != nil {
			return fmt.Errorf("kubectl apply of %s in data's virtual cluster as carol: %v: %s", name, err, out)
		}
	}
	for _, name := range []string{"probe-a", "probe-b"} {
		if out, err := s.kubectlRun(ctx, "data-carol.kubeconfig", "", "-n", "default", "wait", "--for=condition=Ready", "pod/"+name, "--timeout=120s"); err != nil {
			return fmt.Errorf("carol's pod %s never became Ready in data's virtual cluster: %v: %s", name, err, out)
		}
	}

	// The evaluator's view: the host's objects in force now.
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
	type member struct{ ns, pod, label string }
	members := []member{
		{"web-staging", "client", "web-staging/client"},
		{"web-staging", "peer", "web-staging/peer"},
		{"vc-web", "vclient-x-default-x-web", "vc web: vclient"},
		{"vc-web", shopPod, "vc web: shop"},
		{"vc-data", "probe-a-x-default-x-data", "vc data: probe-a"},
		{"vc-data", "probe-b-x-default-x-data", "vc data: probe-b"},
	}
	ips := map[string]string{}
	for _, p := range pods.Items {
		ips[p.Namespace+"/"+p.Name] = p.Status.PodIP
	}
	for _, m := range members {
		if ips[m.ns+"/"+m.pod] == "" {
			return fmt.Errorf("the matrix's pod %s/%s has no IP on the host", m.ns, m.pod)
		}
	}

	// Every cell, the sources in parallel. A policy change or a new pod
	// takes kube-router a moment: a cell that disagrees is tried again, up
	// to 5 times 2 s apart, each a real connection with a 2 s timeout.
	type cell struct{ want, got bool }
	cells := make([][]cell, len(members))
	var wg sync.WaitGroup
	errs := make([]error, len(members))
	for i, from := range members {
		cells[i] = make([]cell, len(members))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j, to := range members {
				if i == j {
					continue
				}
				v, err := ev.Check(netpol.PodEndpoint(from.ns, from.pod), netpol.PodEndpoint(to.ns, to.pod), 8080, corev1.ProtocolTCP)
				if err != nil {
					errs[i] = err
					return
				}
				c := cell{want: v.Allowed}
				for try := range 5 {
					if try > 0 {
						time.Sleep(2 * time.Second)
					}
					out, _ := s.kubectlHost(ctx, "-n", from.ns, "exec", from.pod, "--", "sh", "-c",
						"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 "+ips[to.ns+"/"+to.pod]+" 8080")
					c.got = strings.Contains(out, "probe ") || strings.Contains(out, "shop says hello")
					if c.got == c.want {
						break
					}
				}
				cells[i][j] = c
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}

	s.say("every cell of the matrix, pod to pod on TCP 8080, with bob's policy in force: the evaluator on the host's policies, and a real connection")
	s.say(". both allow   X both deny   ! they disagree   - the pod itself (not probed)")
	header := fmt.Sprintf("%-20s", "from \\ to")
	for k := range members {
		header += fmt.Sprintf(" %d", k+1)
	}
	s.say("%s", header)
	var disagree []string
	probed := 0
	allowed := 0
	for i, from := range members {
		row := fmt.Sprintf("%d %-18s", i+1, from.label)
		for j, to := range members {
			c := cells[i][j]
			mark := "-"
			switch {
			case i == j:
			case c.want != c.got:
				mark = "!"
				disagree = append(disagree, fmt.Sprintf("%s → %s: evaluator %s, real connection %s", from.label, to.label, verdictWord(c.want), connWord(c.got)))
			case c.want:
				mark = "."
			default:
				mark = "X"
			}
			if i != j {
				probed++
				if c.got {
					allowed++
				}
			}
			row += " " + mark
		}
		s.say("%s", row)
	}
	if len(disagree) > 0 {
		return fmt.Errorf("the evaluator and real packets disagree: %s", strings.Join(disagree, "; "))
	}
	// What the story's policies mean, cell by cell: the matrix above must
	// show it, or the story is wrong even where both sides agree.
	for _, e := range []struct {
		from, to int
		allowed  bool
		why      string
	}{
		{0, 1, true, "web's space is one tenant"},
		{0, 2, true, "tenant isolation lets team web's space reach web's virtual cluster"},
		{2, 3, true, "bob's policy lets role=frontend reach the shop"},
		{0, 3, false, "bob's policy admits only role=frontend pods of his own virtual cluster"},
		{4, 5, true, "data's virtual cluster reaches itself"},
		{4, 0, false, "data is strictly isolated"},
		{0, 4, false, "data is strictly isolated"},
	} {
		if cells[e.from][e.to].got != e.allowed {
			return fmt.Errorf("%s → %s: connected=%v, but %s", members[e.from].label, members[e.to].label, cells[e.from][e.to].got, e.why)
		}
	}
	s.say("the evaluator and real packets agree on all %d cells (%d connected, %d refused): bob's policy admits only his frontend pod to the shop; data is strictly isolated.",
		probed, allowed, probed-allowed)
	return nil
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
