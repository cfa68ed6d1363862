package realnode_test

import (
	"context"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/internal/binaries"
	"github.com/vclusterkit/vclusterkit/internal/images"
	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/netpol"
	"github.com/vclusterkit/vclusterkit/sync/resources/networkpolicies"
	"github.com/vclusterkit/vclusterkit/sync/resources/pods"
	"github.com/vclusterkit/vclusterkit/sync/syncer"
	"github.com/vclusterkit/vclusterkit/sync/translate"
)

const (
	devNS   = "vc-dev"   // host namespace of the virtual cluster under test
	otherNS = "vc-other" // host namespace of a second virtual cluster
	port    = 8080
)

// server is the container every pod runs: busybox httpd on the named
// port "http".
func server(name string) corev1.PodSpec {
	return corev1.PodSpec{
		TerminationGracePeriodSeconds: ptr.To[int64](1),
		Containers: []corev1.Container{{Name: "main", Image: images.Busybox, ImagePullPolicy: corev1.PullNever,
			Command: []string{"sh", "-c", "mkdir -p /www && echo " + name + " > /www/index.html && exec httpd -f -p 8080 -h /www"},
			Ports:   []corev1.ContainerPort{{Name: "http", ContainerPort: port, Protocol: corev1.ProtocolTCP}}}},
	}
}

// TestRealPacketsAgreeWithEvaluator: virtual cluster "dev" (two virtual
// namespaces, pods synced by the pods syncer) and the pods of two other
// virtual clusters (one in its own host namespace, one sharing dev's);
// policies written inside dev, step by step; after each step every
// ordered pair of distinct pods is probed with a real TCP connection and
// compared with the evaluator on the host objects.
func TestRealPacketsAgreeWithEvaluator(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	h, err := testenv.StartHost(ctx, testenv.HostOptions{RealNode: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := h.Stop(); err != nil {
			t.Errorf("host Stop: %v", err)
		}
	}()
	h.LogsOnFailure(t)
	venv, err := testenv.StartAPIServer(testenv.APIServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = venv.Stop() }()
	venv.LogsOnFailure(t)
	kubectl, err := binaries.Path(binaries.Kubectl)
	if err != nil {
		t.Fatal(err)
	}
	hc, err := client.New(h.Config, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	vc, err := client.New(venv.Config, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{devNS, otherNS} {
		if err := hc.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
		poll(ctx, t, "host ServiceAccount "+ns+"/default", func(ctx context.Context) (bool, error) {
			err := hc.Get(ctx, client.ObjectKey{Namespace: ns, Name: "default"}, &corev1.ServiceAccount{})
			return err == nil, client.IgnoreNotFound(err)
		})
	}
	// The virtual cluster: its API server, two namespaces (no controller
	// manager: the default ServiceAccounts by hand), the syncers.
	for _, ns := range []string{"shop", "tools"} {
		if err := vc.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"team": ns}}}); err != nil {
			t.Fatal(err)
		}
		if err := vc.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	host, err := syncer.NewHost(h.Config, syncer.HostOptions{Namespaces: []string{devNS}})
	if err != nil {
		t.Fatal(err)
	}
	ps, err := pods.New(pods.Options{})
	if err != nil {
		t.Fatal(err)
	}
	nps, err := networkpolicies.New(networkpolicies.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := syncer.New(host, venv.Config, syncer.Options{Name: "dev", HostNamespace: devNS, Syncers: []syncer.Syncer{ps, nps}, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctrl.LoggerInto(ctx, ctrl.Log))
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = host.Start(sctx) }()
	go func() {
		defer wg.Done()
		if err := eng.Start(sctx); err != nil && sctx.Err() == nil {
			t.Errorf("engine: %v", err)
		}
	}()
	defer func() { stop(); wg.Wait() }()

	// dev's pods, created inside the virtual cluster.
	for _, p := range []struct{ ns, name, app string }{{"shop", "web", "web"}, {"shop", "api", "api"}, {"tools", "probe", "probe"}} {
		if err := vc.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: p.name, Namespace: p.ns, Labels: map[string]string{"app": p.app}}, Spec: server(p.name)}); err != nil {
			t.Fatal(err)
		}
	}
	// The other virtual clusters' pods, as their syncers write them, with
	// the labels a forged selector would name.
	for _, o := range []struct{ vc, hostNS string }{{"other", otherNS}, {"neighbour", devNS}} {
		tr, err := translate.New(o.vc, o.hostNS)
		if err != nil {
			t.Fatal(err)
		}
		l, err := tr.HostLabels("shop", map[string]string{"app": "web", "role": "trusted"})
		if err != nil {
			t.Fatal(err)
		}
		if err := hc.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: tr.HostName("db", "shop"), Namespace: o.hostNS, Labels: l}, Spec: server(o.vc)}); err != nil {
			t.Fatal(err)
		}
	}
	poll(ctx, t, "5 host pods Running with IPs", func(ctx context.Context) (bool, error) {
		ps, err := hostPods(ctx, hc)
		if err != nil || len(ps) != 5 {
			return false, err
		}
		for _, p := range ps {
			if p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" || !ready(&p) {
				return false, nil
			}
		}
		return true, nil
	})

	http := intstr.FromString("http")
	ingress := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	egress := []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
	app := func(a string) *metav1.LabelSelector {
		return &metav1.LabelSelector{MatchLabels: map[string]string{"app": a}}
	}
	steps := []struct {
		name   string
		create []*networkingv1.NetworkPolicy
	}{
		{name: "no policy"},
		{name: "deny-all ingress in shop", create: []*networkingv1.NetworkPolicy{
			{ObjectMeta: metav1.ObjectMeta{Name: "deny-all", Namespace: "shop"}, Spec: networkingv1.NetworkPolicySpec{PolicyTypes: ingress}}}},
		{name: "allow-from-label: api reaches web on the named port", create: []*networkingv1.NetworkPolicy{
			{ObjectMeta: metav1.ObjectMeta{Name: "web-from-api", Namespace: "shop"}, Spec: networkingv1.NetworkPolicySpec{PodSelector: *app("web"), PolicyTypes: ingress,
				Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: app("api")}}, Ports: []networkingv1.NetworkPolicyPort{{Port: &http}}}}}}}},
		{name: "namespaceSelector{}: api open to every namespace of dev", create: []*networkingv1.NetworkPolicy{
			{ObjectMeta: metav1.ObjectMeta{Name: "api-from-all-namespaces", Namespace: "shop"}, Spec: networkingv1.NetworkPolicySpec{PodSelector: *app("api"), PolicyTypes: ingress,
				Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}}}}}}}},
		{name: "hostile ipBlock 0.0.0.0/0 into web", create: []*networkingv1.NetworkPolicy{
			{ObjectMeta: metav1.ObjectMeta{Name: "web-from-world", Namespace: "shop"}, Spec: networkingv1.NetworkPolicySpec{PodSelector: *app("web"), PolicyTypes: ingress,
				Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0"}}}}}}}}},
		{name: "forged selector: web from the neighbour's trusted pods", create: []*networkingv1.NetworkPolicy{
			{ObjectMeta: metav1.ObjectMeta{Name: "web-from-forged", Namespace: "shop"}, Spec: networkingv1.NetworkPolicySpec{PodSelector: *app("web"), PolicyTypes: ingress,
				Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{
					{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{translate.LabelVirtualCluster: "neighbour", "role": "trusted"}}},
					{NamespaceSelector: &metav1.LabelSelector{}, PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{translate.LabelVirtualCluster: "other"}}}}}}}}}},
		{name: "egress: tools to dev and 0.0.0.0/0 only", create: []*networkingv1.NetworkPolicy{
			{ObjectMeta: metav1.ObjectMeta{Name: "egress-world", Namespace: "tools"}, Spec: networkingv1.NetworkPolicySpec{PolicyTypes: egress,
				Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0"}}, {NamespaceSelector: &metav1.LabelSelector{}, PodSelector: app("api")}}}}}}}},
	}
	total, agreed := 0, 0
	for _, step := range steps {
		for _, p := range step.create {
			if err := vc.Create(ctx, p); err != nil {
				t.Fatalf("%s: %v", step.name, err)
			}
		}
		waitSynced(ctx, t, vc, hc)
		pods, err := hostPods(ctx, hc)
		if err != nil {
			t.Fatal(err)
		}
		var pols networkingv1.NetworkPolicyList
		if err := hc.List(ctx, &pols); err != nil {
			t.Fatal(err)
		}
		var nss corev1.NamespaceList
		if err := hc.List(ctx, &nss); err != nil {
			t.Fatal(err)
		}
		ev, err := netpol.NewEvaluator(pols.Items, nss.Items, pods)
		if err != nil {
			t.Fatal(err)
		}
		n, a, matrix := probeMatrix(ctx, t, kubectl, h.KubeconfigPath, ev, pods)
		total += n
		agreed += a
		t.Logf("step %q: %d/%d cells agree (from row to column, %d policies on the host):\n%s", step.name, a, n, len(pols.Items), matrix)
	}
	t.Logf("real node: %d of %d cells agree with the evaluator over %d steps", agreed, total, len(steps))
	if agreed != total {
		t.Errorf("%d cells disagree", total-agreed)
	}
	// The hostile steps must have had an effect: check the verdicts that
	// the tests are about, on the final state.
	pods, _ := hostPods(ctx, hc)
	var pols networkingv1.NetworkPolicyList
	_ = hc.List(ctx, &pols)
	var nss corev1.NamespaceList
	_ = hc.List(ctx, &nss)
	ev, err := netpol.NewEvaluator(pols.Items, nss.Items, pods)
	if err != nil {
		t.Fatal(err)
	}
	name := func(vcl, vns, n string) netpol.Endpoint {
		for _, p := range pods {
			if p.Labels[translate.LabelVirtualCluster] == vcl && p.Labels[translate.LabelNamespace] == vns && strings.HasPrefix(p.Name, n+"-x-") {
				return netpol.PodEndpoint(p.Namespace, p.Name)
			}
		}
		t.Fatalf("no host pod %s/%s of %s", vns, n, vcl)
		return netpol.Endpoint{}
	}
	web, api, probe := name("dev", "shop", "web"), name("dev", "shop", "api"), name("dev", "tools", "probe")
	other, neighbour := name("other", "shop", "db"), name("neighbour", "shop", "db")
	for _, c := range []struct {
		from, to netpol.Endpoint
		want     bool
	}{
		{api, web, true}, {probe, web, false}, {other, web, false}, {neighbour, web, false},
		{other, api, false}, {neighbour, api, false}, {probe, api, true},
		{probe, other, false}, {probe, neighbour, false},
	} {
		v, err := ev.Check(c.from, c.to, port, corev1.ProtocolTCP)
		if err != nil {
			t.Fatal(err)
		}
		if v.Allowed != c.want {
			t.Errorf("final state: %s → %s allowed=%v, want %v\n%s", c.from, c.to, v.Allowed, c.want, v.Explain())
		}
	}
}

func ready(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func hostPods(ctx context.Context, hc client.Client) ([]corev1.Pod, error) {
	var out []corev1.Pod
	for _, ns := range []string{devNS, otherNS} {
		var l corev1.PodList
		if err := hc.List(ctx, &l, client.InNamespace(ns)); err != nil {
			return nil, err
		}
		out = append(out, l.Items...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Namespace+"/"+out[i].Name < out[j].Namespace+"/"+out[j].Name })
	return out, nil
}

// waitSynced waits until every virtual policy's host copy is in place for
// its current generation.
func waitSynced(ctx context.Context, t *testing.T, vc, hc client.Client) {
	t.Helper()
	poll(ctx, t, "virtual policies synced", func(ctx context.Context) (bool, error) {
		var l networkingv1.NetworkPolicyList
		if err := vc.List(ctx, &l); err != nil {
			return false, err
		}
		for i := range l.Items {
			c, ok := networkpolicies.Condition(&l.Items[i])
			if !ok || c.Status != metav1.ConditionTrue || c.ObservedGeneration != l.Items[i].Generation {
				return false, nil
			}
		}
		var hl networkingv1.NetworkPolicyList
		if err := hc.List(ctx, &hl, client.InNamespace(devNS)); err != nil {
			return false, err
		}
		return len(hl.Items) == len(l.Items), nil
	})
}

// probeMatrix probes every ordered pair of distinct pods (a pod to itself
// never crosses the bridge, so no enforcer sees it) with a real TCP
// connection and compares with the evaluator, retrying a disagreeing cell
// while the enforcer may still be applying the last change.
func probeMatrix(ctx context.Context, t *testing.T, kubectl, kubeconfig string, ev *netpol.Evaluator, pods []corev1.Pod) (cells, agreed int, table string) {
	t.Helper()
	type cell struct {
		i, j          int
		want, got     bool
		explain, note string
	}
	var cs []*cell
	for i := range pods {
		for j := range pods {
			if i == j {
				continue
			}
			v, err := ev.Check(netpol.PodEndpoint(pods[i].Namespace, pods[i].Name), netpol.PodEndpoint(pods[j].Namespace, pods[j].Name), port, corev1.ProtocolTCP)
			if err != nil {
				t.Fatal(err)
			}
			cs = append(cs, &cell{i: i, j: j, want: v.Allowed, explain: v.Explain()})
		}
	}
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			for attempt := 0; attempt < 6; attempt++ {
				if attempt > 0 {
					time.Sleep(2 * time.Second)
				}
				got, err := connect(ctx, kubectl, kubeconfig, &pods[c.i], pods[c.j].Status.PodIP)
				if err != nil {
					c.got, c.note = !c.want, err.Error() // unknown: never an agreement
					continue
				}
				c.got, c.note = got, ""
				if got == c.want {
					return
				}
			}
		}()
	}
	wg.Wait()
	short := func(p corev1.Pod) string {
		return p.Labels[translate.LabelVirtualCluster] + "/" + p.Labels[translate.LabelNamespace] + "/" + strings.SplitN(p.Name, "-x-", 2)[0]
	}
	grid := map[[2]int]*cell{}
	for _, c := range cs {
		cells++
		grid[[2]int{c.i, c.j}] = c
		if c.got == c.want {
			agreed++
			continue
		}
		t.Errorf("%s → %s: real connection %v, evaluator %v (%s)\n%s", short(pods[c.i]), short(pods[c.j]), word(c.got), word(c.want), c.note, c.explain)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-22s", "")
	for j := range pods {
		fmt.Fprintf(&b, " %-22s", short(pods[j]))
	}
	b.WriteString("\n")
	for i := range pods {
		fmt.Fprintf(&b, "%-22s", short(pods[i]))
		for j := range pods {
			s := "-"
			if c := grid[[2]int{i, j}]; c != nil {
				s = word(c.got)
				if c.got != c.want {
					s += "≠" + word(c.want)
				}
			}
			fmt.Fprintf(&b, " %-22s", s)
		}
		b.WriteString("\n")
	}
	return cells, agreed, b.String()
}

func word(b bool) string {
	if b {
		return "allowed"
	}
	return "denied"
}

// connect opens a TCP connection from inside pod to ip:8080 and asks
// for a page: true when the server answered. An error means the probe
// itself did not run (kubectl exec failed), which says nothing about the
// network.
func connect(ctx context.Context, kubectl, kubeconfig string, from *corev1.Pod, ip string) (bool, error) {
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(cctx, kubectl, "--kubeconfig", kubeconfig, "exec", "-n", from.Namespace, from.Name, "--",
		"sh", "-c", fmt.Sprintf("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 %s %d; echo probe-rc=$?", ip, port)).CombinedOutput()
	body := string(out)
	if !strings.Contains(body, "probe-rc=") {
		return false, fmt.Errorf("kubectl exec: %v: %q", err, strings.TrimSpace(body))
	}
	return strings.Contains(body, "200 OK"), nil
}

func poll(ctx context.Context, t *testing.T, what string, cond func(context.Context) (bool, error)) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 3*time.Minute, true, cond); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}
