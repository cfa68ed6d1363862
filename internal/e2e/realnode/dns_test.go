package realnode

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/internal/images"
	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/vcluster/dns"
)

// Inside the virtual cluster, names resolve as in any cluster, through the
// CoreDNS the engine runs in it: a Service by svc, svc.ns and its full
// name (fetched over HTTP, so the search paths kubelet would write are the
// ones that work), a headless Service to its pods, a StatefulSet pod by
// its hostname, another namespace's Service; outside names resolve
// through the host's DNS; and the host's own names (the translated host
// copy of a Service, which the host's DNS knows) do not resolve.
func TestDNS(t *testing.T) {
	t.Parallel()
	const ns, other = "dnsapp", "dnsother"
	web := map[string]string{"app": "web"}
	db := map[string]string{"app": "db"}
	httpd := func(body string) []string {
		return []string{"sh", "-c", "mkdir -p /tmp/www && echo " + body + " > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www"}
	}
	mustCreate(t,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: other}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}, Spec: corev1.ServiceSpec{
			Selector: web, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns}, Spec: corev1.ServiceSpec{
			ClusterIP: corev1.ClusterIPNone, Selector: db, Ports: []corev1.ServicePort{{Port: 8080}}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "elsewhere", Namespace: other}, Spec: corev1.ServiceSpec{
			Selector: web, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns, Labels: web}, Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: ptr.To[int64](0),
			Containers:                    []corev1.Container{{Name: "web", Image: images.Busybox, ImagePullPolicy: corev1.PullIfNotPresent, Command: httpd("hello-from-web")}},
		}},
		&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns}, Spec: appsv1.StatefulSetSpec{
			ServiceName: "db", Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: db},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: db}, Spec: corev1.PodSpec{
				TerminationGracePeriodSeconds: ptr.To[int64](0),
				Containers: []corev1.Container{{Name: "db", Image: images.Busybox, ImagePullPolicy: corev1.PullIfNotPresent,
					Command: []string{"sh", "-c", "mkdir -p /tmp/www && hostname > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www"}}},
			}},
		}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "client", Namespace: ns}, Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: ptr.To[int64](0),
			Containers:                    []corev1.Container{{Name: "client", Image: images.Busybox, ImagePullPolicy: corev1.PullIfNotPresent, Command: []string{"sleep", "3600"}}},
		}},
	)
	waitRunning(t, dns.Namespace, coreDNSPod(t))
	waitRunning(t, ns, "web")
	waitRunning(t, ns, "db-0")
	waitRunning(t, ns, "client")
	ctx := context.Background()
	var dbPod corev1.Pod
	if err := bed.virtual.Get(ctx, client.ObjectKey{Namespace: ns, Name: "db-0"}, &dbPod); err != nil {
		t.Fatal(err)
	}
	var vdns, vweb corev1.Service
	if err := bed.virtual.Get(ctx, client.ObjectKey{Namespace: dns.Namespace, Name: dns.ServiceName}, &vdns); err != nil {
		t.Fatal(err)
	}
	if err := bed.virtual.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, &vweb); err != nil {
		t.Fatal(err)
	}
	run := func(script string) (string, error) {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		return hostExec(cctx, ns, "client", script)
	}

	// resolv.conf as kubelet writes it for the virtual namespace, with the
	// virtual cluster's DNS (its Service's host IP, which the virtual
	// Service mirrors).
	out, err := run("cat /etc/resolv.conf")
	if err != nil {
		t.Fatalf("cat /etc/resolv.conf: %v\n%s", err, out)
	}
	for _, want := range []string{"nameserver " + vdns.Spec.ClusterIP, "search " + ns + ".svc.cluster.local svc.cluster.local cluster.local", "ndots:5"} {
		if !strings.Contains(out, want) {
			t.Errorf("resolv.conf lacks %q:\n%s", want, out)
		}
	}

	// A Service by every usual name, through the resolver's search path:
	// the page is fetched, so the name resolved to an address that routes
	// (busybox wget -T segfaults on Debian's build: timeout instead).
	// CoreDNS may need a moment to list a new Service.
	for _, name := range []string{"web", "web." + ns, "web." + ns + ".svc", "web." + ns + ".svc.cluster.local"} {
		eventuallyOutput(t, run, "timeout 5 wget -q -O- http://"+name+"/", "hello-from-web")
	}
	// A StatefulSet pod by its hostname under its headless Service.
	eventuallyOutput(t, run, "timeout 5 wget -q -O- http://db-0.db:8080/", "db-0")
	// A headless Service resolves to its pods; a Service of another
	// namespace by svc.ns.
	eventuallyOutput(t, run, "nslookup db."+ns+".svc.cluster.local", dbPod.Status.PodIP)
	eventuallyOutput(t, run, "nslookup db-0.db."+ns+".svc.cluster.local", dbPod.Status.PodIP)
	var vother corev1.Service
	if err := bed.virtual.Get(ctx, client.ObjectKey{Namespace: other, Name: "elsewhere"}, &vother); err != nil {
		t.Fatal(err)
	}
	eventuallyOutput(t, run, "nslookup elsewhere."+other+".svc.cluster.local", vother.Spec.ClusterIP)
	if vweb.Spec.ClusterIP == "" {
		t.Fatal("virtual Service web has no cluster IP")
	}
	eventuallyOutput(t, run, "nslookup web."+ns+".svc.cluster.local", vweb.Spec.ClusterIP)

	// Outside names through the host's DNS.
	eventuallyOutput(t, run, "nslookup "+testenv.OutsideName, testenv.OutsideIP)

	// The host's names stay the host's: the translated host copy of web
	// resolves through the host's DNS, not through the virtual cluster's.
	hostName := hostServiceName("web", ns) + "." + hostNS + ".svc.cluster.local"
	eventuallyOutput(t, run, "nslookup "+hostName+" "+testenv.DNSServiceIP, vweb.Spec.ClusterIP)
	if out, err := run("nslookup " + hostName); err == nil || strings.Contains(out, vweb.Spec.ClusterIP) {
		t.Errorf("the host's name %s resolved inside the virtual cluster (err %v):\n%s", hostName, err, out)
	}
	reportDNSMemory(t)
}

// eventuallyOutput runs script until its output contains want (30 s).
func eventuallyOutput(t *testing.T, run func(string) (string, error), script, want string) {
	t.Helper()
	var out string
	var err error
	if perr := wait.PollUntilContextTimeout(context.Background(), 500*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		out, err = run(script)
		return err == nil && strings.Contains(out, want), nil
	}); perr != nil {
		t.Errorf("%s: want %q in the output, got err %v:\n%s", script, want, err, out)
	}
}

// coreDNSPod waits for the virtual cluster's CoreDNS pod and returns its
// name.
func coreDNSPod(t *testing.T) string {
	t.Helper()
	var name string
	err := wait.PollUntilContextTimeout(context.Background(), 300*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		var pods corev1.PodList
		if err := bed.virtual.List(ctx, &pods, client.InNamespace(dns.Namespace), client.MatchingLabels(dns.Labels)); err != nil {
			return false, err
		}
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil {
				name = p.Name
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("no CoreDNS pod in the virtual cluster's %s: %v", dns.Namespace, err)
	}
	return name
}

// hostServiceName is the host name of a virtual Service (short names).
func hostServiceName(name, ns string) string { return name + "-x-" + ns + "-x-" + vcName }

// reportDNSMemory logs the proportional set size (PSS) and anonymous RSS of
// the virtual cluster's CoreDNS process, found by its host pod's UID in
// the process's cgroup: what the DNS costs a virtual cluster.
func reportDNSMemory(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	var pods corev1.PodList
	if err := bed.hostClient.List(ctx, &pods, client.InNamespace(hostNS)); err != nil {
		t.Fatal(err)
	}
	var uid string
	for _, p := range pods.Items {
		if strings.HasPrefix(p.Name, "coredns-") && strings.HasSuffix(p.Name, "-x-"+dns.Namespace+"-x-"+vcName) {
			uid = string(p.UID)
		}
	}
	if uid == "" {
		t.Fatal("no host pod of the virtual cluster's CoreDNS")
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cgroup")
	uidRe := regexp.MustCompile(strings.ReplaceAll(regexp.QuoteMeta(uid), "-", "[-_]"))
	for _, cg := range procs {
		b, err := os.ReadFile(cg)
		if err != nil || !uidRe.Match(b) {
			continue
		}
		dir := filepath.Dir(cg)
		cmd, _ := os.ReadFile(filepath.Join(dir, "cmdline"))
		if !strings.Contains(string(cmd), "coredns") {
			continue
		}
		f, err := os.Open(filepath.Join(dir, "smaps_rollup"))
		if err != nil {
			continue
		}
		fields := map[string]string{}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok {
				fields[k] = strings.TrimSpace(v)
			}
		}
		f.Close()
		t.Logf("memory of the virtual cluster's CoreDNS (pid %s): Pss %s, Rss %s, Anonymous %s", filepath.Base(dir), fields["Pss"], fields["Rss"], fields["Anonymous"])
		return
	}
	t.Errorf("no coredns process in a cgroup of host pod %s", uid)
}
