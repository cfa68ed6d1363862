package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	vclusterkit "github.com/vclusterkit/vclusterkit"
	"github.com/vclusterkit/vclusterkit/internal/binaries"
	"github.com/vclusterkit/vclusterkit/internal/images"
	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/netpol"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
	"github.com/vclusterkit/vclusterkit/vcluster/dns"
	"github.com/vclusterkit/vclusterkit/vcluster/kubeconfig"
	"github.com/vclusterkit/vclusterkit/vcluster/local"
)

type options struct {
	nodes      string
	kubeconfig string
	out        string
	keep       bool
	timeout    time.Duration
	// clusters is 1, or 2 for the fleet part of the story (fleet.go).
	clusters int
}

// platformNamespace holds the VirtualCluster objects: the platform team's
// namespace, not a tenant's.
const platformNamespace = "vclusterkit-system"

type story struct {
	w       io.Writer
	start   time.Time
	step    int
	c       client.Client
	out     string
	kubectl string
	host    string // host kubeconfig path
	real    bool   // the host's node runs real containers
}

func (s *story) section(format string, args ...any) {
	s.step++
	fmt.Fprintf(s.w, "\n[%5.1fs] %d. %s\n", time.Since(s.start).Seconds(), s.step, fmt.Sprintf(format, args...))
}

func (s *story) say(format string, args ...any) {
	fmt.Fprintf(s.w, "         %s\n", fmt.Sprintf(format, args...))
}

func run(ctx context.Context, opts options, w io.Writer) (err error) {
	switch opts.clusters {
	case 0:
		opts.clusters = 1
	case 1, 2:
	default:
		return fmt.Errorf("--clusters: 1 or 2, got %d", opts.clusters)
	}
	ctx, cancel := context.WithTimeout(ctx, opts.timeout)
	defer cancel()
	s := &story{w: w, start: time.Now()}
	kubectl, err := binaries.Path(binaries.Kubectl)
	if err != nil {
		return err
	}
	s.kubectl = kubectl

	s.out = opts.out
	if s.out == "" {
		dir, err := os.MkdirTemp("", "vclusterkit-quickstart-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		s.out = dir
	} else if err := os.MkdirAll(s.out, 0o700); err != nil {
		return err
	}

	var cfg *rest.Config
	if opts.kubeconfig == "" {
		real, why, err := chooseNodes(opts.nodes)
		if err != nil {
			return err
		}
		s.real = real
		hopts := testenv.HostOptions{Nodes: 2}
		what := "2 KWOK nodes"
		if real {
			hopts = testenv.HostOptions{RealNode: true}
			what = "a real node: kubelet, containerd, runc, kube-proxy, CoreDNS, kube-router"
		}
		s.section("Starting a local host cluster (etcd, kube-apiserver, controller-manager, scheduler, %s)", what)
		s.say("nodes: %s", why)
		h, err := testenv.StartHost(ctx, hopts)
		if err != nil {
			return fmt.Errorf("starting the host: %w", err)
		}
		defer func() {
			if serr := h.Stop(); serr != nil && err == nil {
				err = serr
			}
		}()
		cfg = h.Config
		s.host = filepath.Join(s.out, "host.kubeconfig")
		if err := copyFile(h.KubeconfigPath, s.host); err != nil {
			return err
		}
		s.say("host API server ready; kubeconfig: %s", s.host)
		if real {
			tm := h.NodeTimings()
			s.say("real node Ready %s after start; CoreDNS and the NetworkPolicy enforcer ready %s after start",
				tm.NodeReady.Round(100*time.Millisecond), tm.DNSReady.Round(100*time.Millisecond))
		}
	} else {
		s.section("Using the host cluster of %s", opts.kubeconfig)
		cfg, err = clientcmd.BuildConfigFromFlags("", opts.kubeconfig)
		if err != nil {
			return err
		}
		s.host = opts.kubeconfig
		// Whether the nodes of a host we did not start are real is for its
		// owner to say.
		s.real = opts.nodes == nodesReal
	}

	s.section("Starting the vclusterkit Engine (Tenant, Space and VirtualCluster controllers, quota webhook, syncers)")
	stateDir, err := os.MkdirTemp("", "vclusterkit-quickstart-vclusters-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stateDir)
	// The engine's own logs go to a file, so the story stays readable.
	logPath := filepath.Join(s.out, "engine.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	logger := funcr.New(func(prefix, args string) { fmt.Fprintln(logFile, time.Now().Format(time.TimeOnly), prefix, args) }, funcr.Options{})
	ctrl.SetLogger(logger)
	klog.SetLogger(logger)
	lopts := local.Options{Dir: stateDir}
	// Each virtual cluster runs its own CoreDNS, from the image built here
	// (nothing can be pulled).
	dnsOpts := dns.Options{Image: images.CoreDNS, ImagePullPolicy: corev1.PullNever}
	if s.real {
		// Pods on the real node reach their virtual API server (and so
		// does each virtual cluster's DNS) on the node's IP.
		lopts.Address = testenv.NodeIP
	}
	eng, err := vclusterkit.New(cfg, vclusterkit.Options{
		Local:        lopts,
		DNS:          dnsOpts,
		ResyncPeriod: 3 * time.Second,
		Logger:       logger,
	})
	if err != nil {
		return err
	}
	ectx, estop := context.WithCancel(context.Background())
	engineDone := make(chan error, 1)
	go func() { engineDone <- eng.Start(ectx) }()
	defer func() {
		estop()
		<-engineDone
		// Start has shut the local control planes down (the engine stops
		// vcluster.Shutdowner provisioners when it returns).
	}()
	sch := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, tenancy.AddToScheme, vcluster.AddToScheme} {
		if err := add(sch); err != nil {
			return err
		}
	}
	s.c, err = client.New(cfg, client.Options{Scheme: sch})
	if err != nil {
		return err
	}
	s.say("engine running; provisioners: %v; engine log: %s", eng.Provisioners().Names(), logPath)

	if err := s.createTree(ctx); err != nil {
		return err
	}
	if err := s.createSpacesAndClusters(ctx); err != nil {
		return err
	}
	if err := s.deployApp(ctx); err != nil {
		return err
	}
	if s.real {
		if err := s.realContainers(ctx); err != nil {
			return err
		}
	}
	if err := s.refusals(ctx); err != nil {
		return err
	}
	if err := s.printTree(ctx); err != nil {
		return err
	}
	if err := s.printReachability(ctx); err != nil {
		return err
	}
	if err := s.sleepAndWake(ctx); err != nil {
		return err
	}
	if err := s.deleteTeam(ctx, stateDir); err != nil {
		return err
	}
	if opts.clusters == 2 {
		stopFleet, err := s.secondCluster(ctx)
		defer stopFleet()
		if err != nil {
			return err
		}
	}
	if opts.keep {
		s.section("Everything is running (--keep). Explore, then press Ctrl-C to clean up:")
		s.say("kubectl --kubeconfig %s get tenants,spaces,virtualclusters -A", s.host)
		s.say("kubectl --kubeconfig %s get deploy,pods   # team web's virtual cluster, as bob", filepath.Join(s.out, "web-bob.kubeconfig"))
		<-ctx.Done()
		ctx = context.Background()
	}
	return s.cleanup(ctx)
}

// createTree makes the organisation: acme → web, data → one project each.
func (s *story) createTree(ctx context.Context) error {
	s.section("Creating the organisation tree")
	q := func(pairs ...string) corev1.ResourceList {
		rl := corev1.ResourceList{}
		for i := 0; i < len(pairs); i += 2 {
			rl[corev1.ResourceName(pairs[i])] = resource.MustParse(pairs[i+1])
		}
		return rl
	}
	tenants := []*tenancy.Tenant{
		{ObjectMeta: metav1.ObjectMeta{Name: "acme"}, Spec: tenancy.TenantSpec{
			DisplayName: "ACME Corp",
			Members:     []tenancy.Member{{Kind: tenancy.MemberUser, Name: "alice", Role: tenancy.RoleAdmin}},
			Quota:       q("pods", "20", "requests.cpu", "8", "requests.memory", "16Gi"),
			LimitRange:  &tenancy.LimitRangeDefaults{DefaultRequest: q("cpu", "100m", "memory", "64Mi"), Default: q("cpu", "200m", "memory", "128Mi")},
			Policy:      tenancy.Policy{PodSecurity: tenancy.PodSecurityBaseline, NetworkIsolation: tenancy.IsolationTenant},
		}},
		{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: tenancy.TenantSpec{
			Parent: "acme", DisplayName: "Web team",
			Members: []tenancy.Member{{Kind: tenancy.MemberUser, Name: "bob", Role: tenancy.RoleEdit}},
			Quota:   q("pods", "8"),
		}},
		{ObjectMeta: metav1.ObjectMeta{Name: "data"}, Spec: tenancy.TenantSpec{
			Parent: "acme", DisplayName: "Data team",
			Members: []tenancy.Member{{Kind: tenancy.MemberUser, Name: "carol", Role: tenancy.RoleEdit}},
			Quota:   q("pods", "6"),
			Policy:  tenancy.Policy{PodSecurity: tenancy.PodSecurityRestricted, NetworkIsolation: tenancy.IsolationStrict},
		}},
		{ObjectMeta: metav1.ObjectMeta{Name: "web-shop"}, Spec: tenancy.TenantSpec{Parent: "web", DisplayName: "Shop project"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "data-etl"}, Spec: tenancy.TenantSpec{Parent: "data", DisplayName: "ETL project"}},
	}
	for _, t := range tenants {
		if err := s.c.Create(ctx, t); err != nil {
			return fmt.Errorf("creating tenant %s: %w", t.Name, err)
		}
	}
	s.say("acme (admin alice; 20 pods; baseline pod security; tenant network isolation)")
	s.say("├── web (edit bob; 6 pods)")
	s.say("│   └── web-shop")
	s.say("└── data (edit carol; 6 pods; restricted pod security; strict isolation: tighter than acme)")
	s.say("    └── data-etl")

	// A child may only tighten: loosening the parent's policy is refused.
	loose := &tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "data-lax"}, Spec: tenancy.TenantSpec{Parent: "data", Policy: tenancy.Policy{PodSecurity: tenancy.PodSecurityPrivileged}}}
	if err := s.c.Create(ctx, loose); err == nil {
		if err := s.waitCondition(ctx, loose, "PolicyValid", metav1.ConditionFalse, 30*time.Second); err != nil {
			return err
		}
		got := &tenancy.Tenant{}
		_ = s.c.Get(ctx, client.ObjectKeyFromObject(loose), got)
		if c := meta.FindStatusCondition(got.Status.Conditions, "PolicyValid"); c != nil {
			s.say("a child that loosens its parent is refused: %s", c.Message)
		}
		_ = s.c.Delete(ctx, loose)
	} else {
		s.say("a child that loosens its parent is refused: %v", err)
	}
	return nil
}

func (s *story) waitCondition(ctx context.Context, obj client.Object, typ string, status metav1.ConditionStatus, timeout time.Duration) error {
	return wait.PollUntilContextTimeout(ctx, 300*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		if err := s.c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		var conds []metav1.Condition
		switch o := obj.(type) {
		case *tenancy.Tenant:
			conds = o.Status.Conditions
		case *tenancy.Space:
			conds = o.Status.Conditions
		case *vcluster.VirtualCluster:
			conds = o.Status.Conditions
		}
		c := meta.FindStatusCondition(conds, typ)
		return c != nil && c.Status == status, nil
	})
}

func (s *story) createSpacesAndClusters(ctx context.Context) error {
	s.section("Giving team web a space and each team a virtual cluster (local provisioner: kine/SQLite + kube-apiserver + controller-manager)")
	if err := s.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: platformNamespace}}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	space := &tenancy.Space{ObjectMeta: metav1.ObjectMeta{Name: "web-staging"}, Spec: tenancy.SpaceSpec{Tenant: "web"}}
	if err := s.c.Create(ctx, space); err != nil {
		return err
	}
	vcs := []*vcluster.VirtualCluster{
		{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: platformNamespace}, Spec: vcluster.VirtualClusterSpec{Tenant: "web-shop", HostNamespace: "vc-web"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: platformNamespace}, Spec: vcluster.VirtualClusterSpec{Tenant: "data-etl", HostNamespace: "vc-data"}},
	}
	for _, vc := range vcs {
		if err := s.c.Create(ctx, vc); err != nil {
			return err
		}
	}
	if err := s.waitCondition(ctx, space, "Ready", metav1.ConditionTrue, time.Minute); err != nil {
		return fmt.Errorf("space web-staging never became Ready: %w", err)
	}
	ns := &corev1.Namespace{}
	if err := s.c.Get(ctx, client.ObjectKey{Name: "web-staging"}, ns); err != nil {
		return err
	}
	s.say("space web-staging → host namespace web-staging, labels:")
	for _, k := range sortedKeys(ns.Labels) {
		s.say("    %s=%s", k, ns.Labels[k])
	}
	for _, vc := range vcs {
		t0 := time.Now()
		if err := s.waitPhase(ctx, vc, vcluster.PhaseRunning, 3*time.Minute); err != nil {
			return err
		}
		s.say("virtual cluster %s (tenant %s) Running at %s, host namespace %s (ready %s later)", vc.Name, vc.Spec.Tenant, vc.Status.Endpoint, vc.Spec.HostNamespace, time.Since(t0).Round(100*time.Millisecond))
	}
	// Kubeconfigs: the admin one and one per member, as the engine wrote them.
	for _, k := range []struct{ file, secret string }{
		{"web-admin.kubeconfig", "web-kubeconfig"},
		{"web-bob.kubeconfig", vclusterkit.MemberKubeconfigSecret("web", "bob")},
		{"web-alice.kubeconfig", vclusterkit.MemberKubeconfigSecret("web", "alice")},
		{"data-admin.kubeconfig", "data-kubeconfig"},
		{"data-carol.kubeconfig", vclusterkit.MemberKubeconfigSecret("data", "carol")},
	} {
		if err := s.writeKubeconfig(ctx, k.secret, k.file); err != nil {
			return err
		}
	}
	s.say("kubeconfigs for the admins and members (alice inherits admin from acme) are in %s", s.out)
	return nil
}

func (s *story) writeKubeconfig(ctx context.Context, secret, file string) error {
	kc, err := kubeconfig.FromSecret(ctx, s.c, vcluster.SecretRef{Name: secret, Namespace: platformNamespace})
	if err != nil {
		return fmt.Errorf("kubeconfig %s: %w", secret, err)
	}
	return os.WriteFile(filepath.Join(s.out, file), kc, 0o600)
}

func (s *story) waitPhase(ctx context.Context, vc *vcluster.VirtualCluster, phase vcluster.Phase, timeout time.Duration) error {
	err := wait.PollUntilContextTimeout(ctx, 300*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		if err := s.c.Get(ctx, client.ObjectKeyFromObject(vc), vc); err != nil {
			return false, err
		}
		return vc.Status.Phase == phase, nil
	})
	if err != nil {
		var msgs []string
		for _, c := range vc.Status.Conditions {
			if c.Status != metav1.ConditionTrue {
				msgs = append(msgs, c.Type+": "+c.Message)
			}
		}
		return fmt.Errorf("virtual cluster %s is %s, not %s: %v (%s)", vc.Name, vc.Status.Phase, phase, err, strings.Join(msgs, "; "))
	}
	return nil
}

// kubectlRun runs kubectl with a kubeconfig from the output directory.
func (s *story) kubectlRun(ctx context.Context, kubeconfigFile string, stdin string, args ...string) (string, error) {
	return s.kubectlIn(ctx, filepath.Join(s.out, kubeconfigFile), stdin, args...)
}

// kubectlAbs runs kubectl with the kubeconfig at path.
func (s *story) kubectlAbs(ctx context.Context, path string, args ...string) (string, error) {
	return s.kubectlIn(ctx, path, "", args...)
}

func (s *story) kubectlIn(ctx context.Context, kubeconfigPath string, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, s.kubectl, append([]string{"--kubeconfig", kubeconfigPath}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	return strings.TrimSpace(b.String()), err
}

const shopApp = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  replicas: 3
  selector:
    matchLabels: {app: shop}
  template:
    metadata:
      labels: {app: shop}
    spec:
      containers:
SHOP_CONTAINER
        ports: [{containerPort: 8080}]
        resources:
          requests: {cpu: 100m, memory: 64Mi}
---
apiVersion: v1
kind: Service
metadata:
  name: shop
spec:
  selector: {app: shop}
  ports: [{port: 80, targetPort: 8080}]
`

func (s *story) deployApp(ctx context.Context) error {
	s.section("Deploying an app into team web's virtual cluster with kubectl, as member bob")
	out, err := s.kubectlRun(ctx, "web-bob.kubeconfig", strings.Replace(shopApp, "SHOP_CONTAINER", s.shopContainer(), 1), "apply", "-n", "default", "-f", "-")
	if err != nil {
		return fmt.Errorf("kubectl apply: %v: %s", err, out)
	}
	for _, l := range strings.Split(out, "\n") {
		s.say("$ kubectl apply: %s", l)
	}
	out, err = s.kubectlRun(ctx, "web-bob.kubeconfig", "", "-n", "default", "wait", "--for=condition=Available", "deployment/shop", "--timeout=120s")
	if err != nil {
		pods, _ := s.kubectlRun(ctx, "web-bob.kubeconfig", "", "-n", "default", "get", "pods", "-o", "wide")
		return fmt.Errorf("deployment shop never became Available: %v: %s\n%s", err, out, pods)
	}
	s.say("inside the virtual cluster: %s", out)
	pods, _ := s.kubectlRun(ctx, "web-bob.kubeconfig", "", "-n", "default", "get", "pods", "-o", "wide")
	for _, l := range strings.Split(pods, "\n") {
		s.say("  virtual │ %s", l)
	}
	var hostPods corev1.PodList
	if err := s.c.List(ctx, &hostPods, client.InNamespace("vc-web"), client.MatchingLabels{vcluster.LabelVirtualCluster: "web"}); err != nil {
		return err
	}
	nodes := "KWOK nodes (nothing runs)"
	if s.real {
		nodes = "the real node (real containers)"
	}
	s.say("on the host, the same pods, translated into namespace vc-web and scheduled on %s:", nodes)
	for _, p := range hostPods.Items {
		s.say("  host    │ %-40s %-8s node=%s", p.Name, p.Status.Phase, p.Spec.NodeName)
	}
	return nil
}

func (s *story) refusals(ctx context.Context) error {
	s.section("Quota and pod security hold")
	// web's subtree may run 8 pods; its virtual cluster's app uses 3 and
	// its DNS 1 (on a real node, bob's two client pods 2 more).
	var admitted int
	var refusal string
	for i := 0; i < 8; i++ {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("batch-%d", i), Namespace: "web-staging"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "job", Image: "registry.example/job:1"}}}}
		if err := s.c.Create(ctx, p); err != nil {
			refusal = err.Error()
			break
		}
		admitted++
	}
	if refusal == "" {
		return fmt.Errorf("quota: 8 more pods were admitted in web-staging although web's subtree allows 8 and at least 4 run")
	}
	s.say("space web-staging: %d pods admitted, the next refused by the quota webhook:", admitted)
	s.say("  %s", refusal)

	priv := `apiVersion: v1
kind: Pod
metadata: {name: root-shell}
spec:
  containers:
  - name: sh
    image: registry.example/busybox:1
    securityContext: {privileged: true}
`
	if out, err := s.kubectlRun(ctx, "data-carol.kubeconfig", priv, "apply", "-n", "default", "-f", "-"); err != nil {
		return fmt.Errorf("kubectl apply privileged pod: %v: %s", err, out)
	}
	var reason string
	err := wait.PollUntilContextTimeout(ctx, 300*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		out, _ := s.kubectlRun(ctx, "data-carol.kubeconfig", "", "-n", "default", "get", "pod", "root-shell",
			"-o", `jsonpath={range .status.conditions[?(@.type=="PodScheduled")]}{.reason}: {.message}{end}`)
		reason = out
		return strings.HasPrefix(out, "PodSecurity"), nil
	})
	if err != nil {
		return fmt.Errorf("the privileged pod was not refused by the pod security standard (condition %q)", reason)
	}
	s.say("team data (restricted): a privileged pod stays Pending in its virtual cluster and never reaches the host:")
	s.say("  %s", reason)
	return nil
}

func (s *story) printTree(ctx context.Context) error {
	s.section("The tenant tree with usage")
	var tl tenancy.TenantList
	if err := s.c.List(ctx, &tl); err != nil {
		return err
	}
	var sl tenancy.SpaceList
	if err := s.c.List(ctx, &sl); err != nil {
		return err
	}
	tree, err := tenancy.NewTree(tl.Items, sl.Items, tenancy.TreeOptions{})
	if err != nil {
		return err
	}
	// Usage is reported by the engine from the namespaces' quota status;
	// give it one resync to catch up with the pods just created.
	_ = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 15*time.Second, true, func(ctx context.Context) (bool, error) {
		t := &tenancy.Tenant{}
		if err := s.c.Get(ctx, client.ObjectKey{Name: "web"}, t); err != nil {
			return false, nil
		}
		used := t.Status.Usage[corev1.ResourcePods]
		return used.Value() >= 6, nil
	})
	if err := s.c.List(ctx, &tl); err != nil {
		return err
	}
	byName := map[string]tenancy.Tenant{}
	for _, t := range tl.Items {
		byName[t.Name] = t
	}
	var walk func(name, indent string)
	walk = func(name, indent string) {
		t := byName[name]
		used, hard := t.Status.Usage[corev1.ResourcePods], t.Spec.Quota[corev1.ResourcePods]
		limit := "-"
		if !hard.IsZero() {
			limit = hard.String()
		}
		pol, _ := tree.EffectivePolicy(name)
		s.say("%s%-*s pods %2s/%-3s spaces %d  vclusters %d  psa=%s net=%s", indent, 24-len(indent), name, used.String(), limit,
			t.Status.Spaces, t.Status.VirtualClusters, pol.PodSecurity, pol.NetworkIsolation)
		for _, c := range tree.Children(name) {
			walk(c, indent+"  ")
		}
	}
	for _, r := range tree.Roots() {
		walk(r, "")
	}
	return nil
}

func (s *story) printReachability(ctx context.Context) error {
	s.section("Network reachability between spaces and virtual clusters (evaluated from the NetworkPolicies in force)")
	var tl tenancy.TenantList
	if err := s.c.List(ctx, &tl); err != nil {
		return err
	}
	var nsl corev1.NamespaceList
	if err := s.c.List(ctx, &nsl); err != nil {
		return err
	}
	var npl networkingv1.NetworkPolicyList
	if err := s.c.List(ctx, &npl); err != nil {
		return err
	}
	targets := []struct{ ns, tenant, vc string }{{"web-staging", "web", ""}, {"vc-web", "web-shop", "web"}, {"vc-data", "data-etl", "data"}}
	// Rows and columns: the tenants' namespaces only.
	var nss []corev1.Namespace
	for _, ns := range nsl.Items {
		for _, t := range targets {
			if ns.Name == t.ns {
				nss = append(nss, ns)
			}
		}
	}
	in := netpol.ConnectivityInput{Namespaces: nss, Policies: npl.Items}
	if in.Policies == nil {
		in.Policies = []networkingv1.NetworkPolicy{}
	}
	for _, t := range targets {
		tg, err := netpol.TargetFor(tl.Items, t.tenant, t.ns, t.vc)
		if err != nil {
			return err
		}
		in.Targets = append(in.Targets, tg)
	}
	var b bytes.Buffer
	if err := netpol.Report(&b, in); err != nil {
		return err
	}
	for _, l := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
		s.say("%s", l)
	}
	s.say("web's space and virtual cluster share tenant isolation; data is strict and reaches no one.")
	return nil
}

func (s *story) sleepAndWake(ctx context.Context) error {
	s.section("Putting team web's virtual cluster to sleep and waking it")
	vc := &vcluster.VirtualCluster{}
	if err := s.c.Get(ctx, client.ObjectKey{Namespace: platformNamespace, Name: "web"}, vc); err != nil {
		return err
	}
	setPaused := func(paused bool) error {
		patch := client.MergeFrom(vc.DeepCopy())
		vc.Spec.Sleep = &vcluster.SleepSpec{Paused: paused}
		return s.c.Patch(ctx, vc, patch)
	}
	t0 := time.Now()
	if err := setPaused(true); err != nil {
		return err
	}
	if err := s.waitPhase(ctx, vc, vcluster.PhaseSleeping, time.Minute); err != nil {
		return err
	}
	s.say("asleep after %s: its API server and controller-manager processes are stopped, state kept on disk", time.Since(t0).Round(100*time.Millisecond))
	if _, err := s.kubectlRun(ctx, "web-bob.kubeconfig", "", "get", "ns", "--request-timeout=2s"); err == nil {
		return fmt.Errorf("the sleeping virtual cluster still answers")
	}
	s.say("kubectl against it now fails, as expected")
	t0 = time.Now()
	if err := setPaused(false); err != nil {
		return err
	}
	if err := s.waitPhase(ctx, vc, vcluster.PhaseRunning, 2*time.Minute); err != nil {
		return err
	}
	// The endpoint may have moved: fetch the kubeconfigs again.
	for _, k := range []struct{ file, secret string }{{"web-bob.kubeconfig", vclusterkit.MemberKubeconfigSecret("web", "bob")}, {"web-admin.kubeconfig", "web-kubeconfig"}} {
		if err := s.writeKubeconfig(ctx, k.secret, k.file); err != nil {
			return err
		}
	}
	out, err := s.kubectlRun(ctx, "web-bob.kubeconfig", "", "-n", "default", "get", "deployment", "shop", "-o", "jsonpath={.metadata.name} {.spec.replicas} replicas")
	if err != nil {
		return fmt.Errorf("after waking: %v: %s", err, out)
	}
	s.say("awake again after %s; deployment still there: %s", time.Since(t0).Round(100*time.Millisecond), out)
	return nil
}

func (s *story) deleteTeam(ctx context.Context, stateDir string) error {
	s.section("Deleting team data (with its subtree) and checking that nothing of it is left")
	t := &tenancy.Tenant{}
	if err := s.c.Get(ctx, client.ObjectKey{Name: "data"}, t); err != nil {
		return err
	}
	if err := s.c.Delete(ctx, t); err != nil {
		return err
	}
	// Without the cascade annotation the engine refuses and says why.
	if err := s.waitCondition(ctx, t, "SubtreeEmpty", metav1.ConditionFalse, 30*time.Second); err != nil {
		return err
	}
	if c := meta.FindStatusCondition(t.Status.Conditions, "SubtreeEmpty"); c != nil {
		s.say("without cascade: %s", c.Message)
	}
	patch := client.MergeFrom(t.DeepCopy())
	if t.Annotations == nil {
		t.Annotations = map[string]string{}
	}
	t.Annotations[vclusterkit.AnnotationCascade] = "true"
	if err := s.c.Patch(ctx, t, patch); err != nil {
		return err
	}
	t0 := time.Now()
	if err := s.waitGone(ctx, 3*time.Minute, treeObjects("data")...); err != nil {
		return err
	}
	s.say("with %s=true: tenants data and data-etl, virtual cluster data and namespace vc-data deleted in %s", vclusterkit.AnnotationCascade, time.Since(t0).Round(100*time.Millisecond))
	left, err := s.leftovers(ctx, "data", stateDir, "data")
	if err != nil {
		return err
	}
	if len(left) > 0 {
		return fmt.Errorf("team data left behind: %s", strings.Join(left, ", "))
	}
	s.say("host checked: no namespace carries data's tree label, no pod of its virtual cluster is left, its control-plane state directory is gone")
	return nil
}

func treeObjects(tenant string) []client.Object {
	switch tenant {
	case "data":
		return []client.Object{
			&tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "data"}},
			&tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "data-etl"}},
			&vcluster.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Namespace: platformNamespace, Name: "data"}},
			&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "vc-data"}},
		}
	default:
		return []client.Object{
			&tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "acme"}},
			&tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "web"}},
			&tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "web-shop"}},
			&tenancy.Space{ObjectMeta: metav1.ObjectMeta{Name: "web-staging"}},
			&vcluster.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Namespace: platformNamespace, Name: "web"}},
			&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "web-staging"}},
			&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "vc-web"}},
		}
	}
}

func (s *story) waitGone(ctx context.Context, timeout time.Duration, objs ...client.Object) error {
	var still []string
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		still = nil
		for _, o := range objs {
			err := s.c.Get(ctx, client.ObjectKeyFromObject(o), o)
			if err == nil {
				still = append(still, fmt.Sprintf("%T %s", o, o.GetName()))
			} else if !apierrors.IsNotFound(err) {
				return false, err
			}
		}
		return len(still) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("still there after %s: %s (%v)", timeout, strings.Join(still, ", "), err)
	}
	return nil
}

// leftovers lists what of a tenant's subtree is still on the host: any
// namespace carrying its tree label, any pod, RoleBinding or NetworkPolicy
// in such a namespace, and the virtual cluster's state directory.
func (s *story) leftovers(ctx context.Context, tenant, stateDir, vcName string) ([]string, error) {
	var left []string
	var nsl corev1.NamespaceList
	if err := s.c.List(ctx, &nsl, client.HasLabels{tenancy.TreeLabel(tenant)}); err != nil {
		return nil, err
	}
	for _, ns := range nsl.Items {
		left = append(left, "namespace/"+ns.Name)
	}
	var pods corev1.PodList
	if err := s.c.List(ctx, &pods, client.MatchingLabels{vcluster.LabelVirtualCluster: vcName}); err != nil {
		return nil, err
	}
	for _, p := range pods.Items {
		left = append(left, "pod/"+p.Namespace+"/"+p.Name)
	}
	entries, _ := filepath.Glob(filepath.Join(stateDir, "*", vcName))
	left = append(left, entries...)
	return left, nil
}

func (s *story) cleanup(ctx context.Context) error {
	s.section("Cleaning up: deleting org acme with cascade")
	t := &tenancy.Tenant{}
	if err := s.c.Get(ctx, client.ObjectKey{Name: "acme"}, t); err != nil {
		return err
	}
	patch := client.MergeFrom(t.DeepCopy())
	t.Annotations = map[string]string{vclusterkit.AnnotationCascade: "true"}
	if err := s.c.Patch(ctx, t, patch); err != nil {
		return err
	}
	if err := s.c.Delete(ctx, t); err != nil {
		return err
	}
	// The pods created directly in the space go with its namespace.
	if err := s.waitGone(ctx, 3*time.Minute, treeObjects("acme")...); err != nil {
		return err
	}
	s.say("org acme, its spaces and virtual clusters are gone; stopping the engine and the host")
	return nil
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o600)
}
