package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
)

var apiServer *testenv.APIServer

// TestMain starts one real kube-apiserver + etcd for the package (RBAC
// authorization on). The operator installs the CRDs itself.
func TestMain(m *testing.M) { testenv.Main(m, testenv.APIServerOptions{}, &apiServer) }

func adminClient(t *testing.T) client.Client {
	t.Helper()
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme, tenancy.AddToScheme, vcluster.AddToScheme} {
		if err := add(s); err != nil {
			t.Fatal(err)
		}
	}
	c, err := client.New(apiServer.Config, client.Options{Scheme: s})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// operatorBinary builds this package's binary once per test run.
func operatorBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		// A fixed place in the user cache, overwritten by every run, so
		// nothing accumulates in /tmp (TestMain cannot clean up after
		// testenv.Main exits).
		cache, err := os.UserCacheDir()
		if err != nil {
			buildErr = err
			return
		}
		dir := filepath.Join(cache, "vclusterkit", "test-bin")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "operator")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// operator is one running operator process.
type operator struct {
	cmd   *exec.Cmd
	probe string
	met   string
	mu    sync.Mutex
	lines []string
	done  chan error
}

func (o *operator) log() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.lines...)
}

// startOperator runs the binary with args plus free loopback probe and
// metrics addresses; it is killed at the end of the test if still running.
func startOperator(t *testing.T, env []string, args ...string) *operator {
	t.Helper()
	o := &operator{probe: freeAddr(t), met: freeAddr(t), done: make(chan error, 1)}
	args = append(args, "--health-probe-bind-address="+o.probe, "--metrics-bind-address="+o.met)
	o.cmd = exec.Command(operatorBinary(t), args...)
	o.cmd.Env = append(os.Environ(), env...)
	pr, pw := io.Pipe()
	o.cmd.Stdout, o.cmd.Stderr = pw, pw
	if err := o.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			o.mu.Lock()
			o.lines = append(o.lines, sc.Text())
			o.mu.Unlock()
		}
	}()
	go func() { err := o.cmd.Wait(); pw.Close(); o.done <- err }()
	t.Cleanup(func() {
		if o.cmd.ProcessState == nil {
			_ = o.cmd.Process.Kill()
			<-o.done
		}
		if t.Failed() {
			l := o.log()
			t.Logf("operator log (last %d lines):\n%s", min(len(l), 60), strings.Join(l[max(0, len(l)-60):], "\n"))
		}
	})
	return o
}

func (o *operator) get(path string) (int, string, error) {
	c := http.Client{Timeout: 5 * time.Second}
	addr := o.probe
	if path == "/metrics" {
		addr = o.met
	}
	resp, err := c.Get("http://" + addr + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// stop sends SIGTERM and waits for a clean exit.
func (o *operator) stop(t *testing.T) {
	t.Helper()
	if err := o.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-o.done:
		if err != nil {
			t.Fatalf("operator did not exit cleanly on SIGTERM: %v", err)
		}
	case <-time.After(45 * time.Second):
		t.Fatal("operator still running 45s after SIGTERM")
	}
}

// eventually is testenv.Eventually.
var eventually = testenv.Eventually

func (o *operator) waitReady(t *testing.T) {
	t.Helper()
	eventually(t, 90*time.Second, "/readyz to answer 200", func(context.Context) (bool, string) {
		code, body, err := o.get("/readyz")
		return err == nil && code == http.StatusOK, fmt.Sprintf("%d %q %v", code, body, err)
	})
}

// TestOperatorBinary builds the binary and runs it against a real API
// server: it installs the CRDs, takes the leader Lease, serves probes,
// metrics and the quota webhook, logs JSON, and exits 0 on SIGTERM, removing
// its loopback webhook.
func TestOperatorBinary(t *testing.T) {
	apiServer.LogsOnFailure(t)
	ctx := context.Background()
	c := adminClient(t)
	o := startOperator(t, nil, "--kubeconfig="+apiServer.KubeconfigPath, "--leader-elect",
		"--leader-election-namespace=default", "--leader-election-id=operator-test",
		"--provisioners=local", "--local-state-dir="+t.TempDir())
	o.waitReady(t)
	if code, body, err := o.get("/healthz"); err != nil || code != http.StatusOK {
		t.Errorf("/healthz: %d %q %v", code, body, err)
	}
	for _, name := range []string{"tenants.tenancy.vclusterkit.io", "spaces.tenancy.vclusterkit.io", "virtualclusters.vcluster.vclusterkit.io"} {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, crd); err != nil {
			t.Errorf("CRD %s not installed: %v", name, err)
			continue
		}
		established := false
		for _, cond := range crd.Status.Conditions {
			established = established || cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue
		}
		if !established {
			t.Errorf("CRD %s not Established", name)
		}
	}
	eventually(t, 30*time.Second, "the leader Lease", func(ctx context.Context) (bool, string) {
		l := &coordinationv1.Lease{}
		err := c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "operator-test"}, l)
		return err == nil && l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity != "", fmt.Sprint(err)
	})
	eventually(t, 30*time.Second, "the quota webhook to be registered", func(ctx context.Context) (bool, string) {
		err := c.Get(ctx, client.ObjectKey{Name: "vclusterkit-quota"}, &admissionregistrationv1.ValidatingWebhookConfiguration{})
		return err == nil, fmt.Sprint(err)
	})
	code, metrics, err := o.get("/metrics")
	if err != nil || code != http.StatusOK || !strings.Contains(metrics, "controller_runtime_reconcile_total") {
		t.Errorf("/metrics: %d %v, reconcile metrics present: %v", code, err, strings.Contains(metrics, "controller_runtime_reconcile_total"))
	}
	// The engine works: a tenant is reconciled (its finalizer is added).
	tn := &tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "op-smoke"}}
	if err := c.Create(ctx, tn); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the tenant's finalizer", func(ctx context.Context) (bool, string) {
		err := c.Get(ctx, client.ObjectKeyFromObject(tn), tn)
		return err == nil && len(tn.Finalizers) > 0, fmt.Sprint(tn.Finalizers, err)
	})

	o.stop(t)
	if err := c.Get(ctx, client.ObjectKey{Name: "vclusterkit-quota"}, &admissionregistrationv1.ValidatingWebhookConfiguration{}); !apierrors.IsNotFound(err) {
		t.Errorf("loopback quota webhook left registered after shutdown: %v", err)
	}
	lines := o.log()
	if len(lines) == 0 {
		t.Fatal("operator logged nothing")
	}
	var sawStop bool
	for _, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Errorf("log line is not JSON: %q", l)
			continue
		}
		if rec["msg"] == "operator stopped cleanly" {
			sawStop = true
		}
	}
	if !sawStop {
		t.Error("no \"operator stopped cleanly\" log record")
	}
	// Leave the tenant deletable for other tests.
	tn.Finalizers = nil
	_ = c.Update(ctx, tn)
	_ = c.Delete(ctx, tn)
}

// TestOperatorBadFlags checks that flag errors name the flag and exit 2.
func TestOperatorBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--leader-elect"}, "--leader-election-namespace"},
		{[]string{"--provisioners=kamaji"}, "--provisioners: unknown provisioner \"kamaji\""},
		{[]string{"--provisioners=local,local"}, "given twice"},
		{[]string{"--webhook-service-name=x", "--webhook-service-namespace=y", "--webhook-service-port=0"}, "--webhook-service-port"},
		{[]string{"--log-level=loud"}, "--log-level"},
		{[]string{"--kubelet-address=node-1"}, "--kubelet-address: \"node-1\" is not an IP address"},
		{[]string{"extra"}, "unexpected arguments"},
	} {
		var out strings.Builder
		t.Setenv("POD_NAMESPACE", "")
		if code := run(tc.args, &out); code != 2 || !strings.Contains(out.String(), tc.want) {
			t.Errorf("run(%v) = %d, %q; want exit 2 mentioning %q", tc.args, code, out.String(), tc.want)
		}
	}
}

// impersonatingKubeconfig writes a kubeconfig with the admin credentials of
// the test API server that acts as user (impersonation), so the operator
// runs with exactly the chart's RBAC.
func impersonatingKubeconfig(t *testing.T, user string) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(apiServer.KubeconfigPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, ai := range cfg.AuthInfos {
		ai.Impersonate = user
	}
	path := filepath.Join(t.TempDir(), "impersonating.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// applyRBAC creates the chart's ServiceAccount and RBAC objects.
func applyRBAC(t *testing.T, c client.Client, r rendered) {
	t.Helper()
	ctx := context.Background()
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: testNamespace}}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	for _, o := range r.objects {
		switch o.(type) {
		case *corev1.ServiceAccount, *rbacv1.ClusterRole, *rbacv1.ClusterRoleBinding, *rbacv1.Role, *rbacv1.RoleBinding:
			o = o.DeepCopyObject().(client.Object)
			o.SetResourceVersion("")
			if err := c.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
				t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
			}
		}
	}
	for _, crd := range r.crds {
		crd = crd.DeepCopy()
		if err := c.Create(ctx, crd); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("creating CRD %s: %v", crd.Name, err)
		}
	}
}

// TestChartRBACOnAPIServer applies the chart's RBAC to a real API server
// and asks its authorizer (SubjectAccessReview) whether the operator's
// ServiceAccount may do what the engine does. The table is the engine's
// use of the host API; TestOperatorUnderChartRBAC proves it by running it.
func TestChartRBACOnAPIServer(t *testing.T) {
	c := adminClient(t)
	applyRBAC(t, c, mustRender(t, nil))
	user := "system:serviceaccount:" + testNamespace + ":" + testFullname
	all := []string{"get", "list", "watch", "create", "update", "patch", "delete"}
	read := []string{"get", "list", "watch"}
	type want struct {
		group, resource, sub string
		verbs                []string
		namespace, name      string
		allowed              bool
	}
	checks := []want{
		{group: "tenancy.vclusterkit.io", resource: "tenants", verbs: []string{"get", "list", "watch", "update", "patch", "delete"}, allowed: true},
		{group: "tenancy.vclusterkit.io", resource: "tenants", sub: "status", verbs: []string{"update", "patch"}, allowed: true},
		{group: "tenancy.vclusterkit.io", resource: "tenants", sub: "finalizers", verbs: []string{"update"}, allowed: true},
		{group: "tenancy.vclusterkit.io", resource: "spaces", sub: "status", verbs: []string{"update", "patch"}, allowed: true},
		{group: "vcluster.vclusterkit.io", resource: "virtualclusters", verbs: []string{"get", "list", "watch", "update", "patch"}, allowed: true},
		{group: "vcluster.vclusterkit.io", resource: "virtualclusters", sub: "status", verbs: []string{"update", "patch"}, allowed: true},
		{resource: "namespaces", verbs: all, allowed: true},
		{resource: "rolebindings", group: "rbac.authorization.k8s.io", verbs: all, namespace: "team-a", allowed: true},
		{resource: "clusterroles", group: "rbac.authorization.k8s.io", verbs: []string{"bind"}, name: "edit", allowed: true},
		{resource: "resourcequotas", verbs: all, namespace: "team-a", allowed: true},
		{resource: "limitranges", verbs: all, namespace: "team-a", allowed: true},
		{resource: "networkpolicies", group: "networking.k8s.io", verbs: all, namespace: "team-a", allowed: true},
		{resource: "secrets", verbs: all, namespace: "team-a", allowed: true},
		{resource: "pods", verbs: append(all, "deletecollection"), namespace: "team-a", allowed: true},
		{resource: "services", verbs: all, namespace: "team-a", allowed: true},
		{resource: "configmaps", verbs: all, namespace: "team-a", allowed: true},
		{resource: "persistentvolumeclaims", verbs: all, namespace: "team-a", allowed: true},
		{resource: "serviceaccounts", verbs: all, namespace: "team-a", allowed: true},
		{resource: "endpointslices", group: "discovery.k8s.io", verbs: all, namespace: "team-a", allowed: true},
		{resource: "ingresses", group: "networking.k8s.io", verbs: all, namespace: "team-a", allowed: true},
		{resource: "poddisruptionbudgets", group: "policy", verbs: all, namespace: "team-a", allowed: true},
		{resource: "events", verbs: []string{"create", "patch", "list", "watch"}, namespace: "team-a", allowed: true},
		{resource: "events", group: "events.k8s.io", verbs: []string{"create", "patch"}, namespace: "team-a", allowed: true},
		{resource: "nodes", verbs: read, allowed: true},
		{resource: "statefulsets", group: "apps", verbs: all, namespace: "team-a", allowed: true},
		{resource: "validatingwebhookconfigurations", group: "admissionregistration.k8s.io", verbs: all, allowed: true},
		{resource: "validatingadmissionpolicies", group: "admissionregistration.k8s.io", verbs: all, allowed: true},
		{resource: "validatingadmissionpolicybindings", group: "admissionregistration.k8s.io", verbs: all, allowed: true},
		{resource: "selfsubjectreviews", group: "authentication.k8s.io", verbs: []string{"create"}, allowed: true},
		{resource: "leases", group: "coordination.k8s.io", verbs: all, namespace: testNamespace, allowed: true},
		{resource: "customresourcedefinitions", group: "apiextensions.k8s.io", verbs: read, allowed: true},
		// Least privilege: what the engine never needs.
		{resource: "nodes", verbs: []string{"update", "delete"}, allowed: false},
		{resource: "clusterroles", group: "rbac.authorization.k8s.io", verbs: []string{"create", "update"}, allowed: false},
		{resource: "clusterroles", group: "rbac.authorization.k8s.io", verbs: []string{"bind"}, name: "cluster-admin", allowed: false},
		{resource: "clusterrolebindings", group: "rbac.authorization.k8s.io", verbs: []string{"create"}, allowed: false},
		{resource: "leases", group: "coordination.k8s.io", verbs: []string{"create", "update"}, namespace: "kube-system", allowed: false},
		{resource: "customresourcedefinitions", group: "apiextensions.k8s.io", verbs: []string{"create", "update", "delete"}, allowed: false},
		{resource: "mutatingwebhookconfigurations", group: "admissionregistration.k8s.io", verbs: []string{"create"}, allowed: false},
		{resource: "persistentvolumes", verbs: []string{"create"}, allowed: false},
	}
	ctx := context.Background()
	for _, w := range checks {
		for _, verb := range w.verbs {
			sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
				User: user, Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + testNamespace, "system:authenticated"},
				ResourceAttributes: &authorizationv1.ResourceAttributes{Group: w.group, Resource: w.resource, Subresource: w.sub,
					Verb: verb, Namespace: w.namespace, Name: w.name},
			}}
			if err := c.Create(ctx, sar); err != nil {
				t.Fatal(err)
			}
			if sar.Status.Allowed != w.allowed {
				t.Errorf("%s %s.%s/%s ns=%q name=%q: allowed=%v, want %v (%s)", verb, w.resource, w.group, w.sub, w.namespace, w.name,
					sar.Status.Allowed, w.allowed, sar.Status.Reason)
			}
		}
	}
}

// TestOperatorUnderChartRBAC runs the binary with the chart's container
// args, as the chart's ServiceAccount (impersonated) with only the chart's
// RBAC, against a real API server: a tenant with a member, a space and a
// virtual cluster (helm provisioner) are reconciled, the leader labels its
// own pod, and no request is forbidden.
func TestOperatorUnderChartRBAC(t *testing.T) {
	apiServer.LogsOnFailure(t)
	ctx := context.Background()
	c := adminClient(t)
	r := mustRender(t, nil)
	applyRBAC(t, c, r)
	sa := "system:serviceaccount:" + testNamespace + ":" + testFullname
	// The pod the operator runs as (never started: no nodes, no kubelet).
	no := false
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "operator-0", Namespace: testNamespace},
		Spec: corev1.PodSpec{ServiceAccountName: testFullname, AutomountServiceAccountToken: &no,
			Containers: []corev1.Container{{Name: "operator", Image: "registry.invalid/operator"}}}}
	if err := c.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	// The chart's own args, with loopback addresses for this machine.
	var args []string
	for _, a := range r.deployment(t).Spec.Template.Spec.Containers[0].Args {
		switch {
		case strings.HasPrefix(a, "--metrics-bind-address"), strings.HasPrefix(a, "--health-probe-bind-address"):
		case strings.HasPrefix(a, "--webhook-bind-address"):
			args = append(args, "--webhook-bind-address="+freeAddr(t))
		default:
			args = append(args, a)
		}
	}
	args = append(args, "--kubeconfig="+impersonatingKubeconfig(t, sa))
	o := startOperator(t, []string{"POD_NAME=operator-0", "POD_NAMESPACE=" + testNamespace}, args...)
	o.waitReady(t)
	eventually(t, 30*time.Second, "the leader label on the operator pod", func(ctx context.Context) (bool, string) {
		err := c.Get(ctx, client.ObjectKeyFromObject(pod), pod)
		return err == nil && pod.Labels[LabelLeader] == "true", fmt.Sprint(pod.Labels, err)
	})

	tn := &tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "rbac-team"}, Spec: tenancy.TenantSpec{
		Members: []tenancy.Member{{Kind: tenancy.MemberUser, Name: "alice", Role: tenancy.RoleEdit}},
		Quota:   corev1.ResourceList{corev1.ResourcePods: resource.MustParse("5")},
		Policy:  tenancy.Policy{NetworkIsolation: tenancy.IsolationTenant, PodSecurity: tenancy.PodSecurityRestricted},
	}}
	if err := c.Create(ctx, tn); err != nil {
		t.Fatal(err)
	}
	sp := &tenancy.Space{ObjectMeta: metav1.ObjectMeta{Name: "rbac-team-dev"}, Spec: tenancy.SpaceSpec{Tenant: "rbac-team"}}
	if err := c.Create(ctx, sp); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "the space's namespace, RoleBinding, ResourceQuota and NetworkPolicies", func(ctx context.Context) (bool, string) {
		ns := &corev1.Namespace{}
		if err := c.Get(ctx, client.ObjectKey{Name: "rbac-team-dev"}, ns); err != nil {
			return false, err.Error()
		}
		var rbs rbacv1.RoleBindingList
		var rqs corev1.ResourceQuotaList
		var lrs corev1.LimitRangeList
		for _, l := range []client.ObjectList{&rbs, &rqs, &lrs} {
			if err := c.List(ctx, l, client.InNamespace("rbac-team-dev")); err != nil {
				return false, err.Error()
			}
		}
		ok := ns.Labels[tenancy.LabelTenant] == "rbac-team" && len(rbs.Items) == 1 && len(rqs.Items) == 1
		return ok, fmt.Sprintf("labels %v, %d rolebindings, %d quotas", ns.Labels, len(rbs.Items), len(rqs.Items))
	})

	vc := &vcluster.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: "dev", Namespace: "rbac-team-dev"},
		Spec: vcluster.VirtualClusterSpec{Tenant: "rbac-team", Provisioner: "helm", HostNamespace: "rbac-team-vc-dev"}}
	if err := c.Create(ctx, vc); err != nil {
		t.Fatal(err)
	}
	// No controllers run on this API server, so the StatefulSet never gets a
	// pod: what is checked is that the operator may install the release.
	eventually(t, 90*time.Second, "the helm release's StatefulSet in the host namespace", func(ctx context.Context) (bool, string) {
		sts := &appsv1.StatefulSet{}
		err := c.Get(ctx, client.ObjectKey{Namespace: "rbac-team-vc-dev", Name: "vcluster-dev"}, sts)
		got := &vcluster.VirtualCluster{}
		_ = c.Get(ctx, client.ObjectKeyFromObject(vc), got)
		return err == nil, fmt.Sprintf("%v; vc phase %s conditions %+v", err, got.Status.Phase, got.Status.Conditions)
	})
	o.stop(t)
	if err := c.Get(ctx, client.ObjectKeyFromObject(pod), pod); err != nil || pod.Labels[LabelLeader] != "" {
		t.Errorf("leader label left on the pod after shutdown: %v %v", pod.Labels, err)
	}
	var forbidden []string
	for _, l := range o.log() {
		if strings.Contains(strings.ToLower(l), "forbidden") {
			forbidden = append(forbidden, l)
		}
	}
	if len(forbidden) > 0 {
		t.Errorf("the chart's RBAC is not enough; forbidden requests:\n%s", strings.Join(forbidden, "\n"))
	}
}

// TestTwoReplicasOneLeader runs two replicas against one Lease, as the
// chart does: exactly one pod carries the leader label (so the webhook
// Service has one endpoint); when the leader stops, the other takes over
// the Lease and the label.
func TestTwoReplicasOneLeader(t *testing.T) {
	apiServer.LogsOnFailure(t)
	ctx := context.Background()
	c := adminClient(t)
	const ns = "ha"
	// As with the chart, the CRDs are there before the replicas start.
	if err := tenancy.InstallCRDs(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := vcluster.InstallCRDs(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "operator", Namespace: ns}}); err != nil {
		t.Fatal(err)
	}
	no := false
	ops := map[string]*operator{}
	for _, name := range []string{"op-a", "op-b"} {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: corev1.PodSpec{ServiceAccountName: "operator", AutomountServiceAccountToken: &no,
				Containers: []corev1.Container{{Name: "operator", Image: "registry.invalid/operator"}}}}
		if err := c.Create(ctx, pod); err != nil {
			t.Fatal(err)
		}
		ops[name] = startOperator(t, []string{"POD_NAME=" + name, "POD_NAMESPACE=" + ns},
			"--kubeconfig="+apiServer.KubeconfigPath, "--leader-elect", "--leader-election-id=ha-test", "--skip-crd-install",
			"--disable-quota-webhook", "--provisioners=local", "--local-state-dir="+t.TempDir())
	}
	leaders := func(ctx context.Context) ([]string, error) {
		var pods corev1.PodList
		if err := c.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{LabelLeader: "true"}); err != nil {
			return nil, err
		}
		var out []string
		for _, p := range pods.Items {
			out = append(out, p.Name)
		}
		return out, nil
	}
	var leader string
	eventually(t, 60*time.Second, "one labelled leader", func(ctx context.Context) (bool, string) {
		l, err := leaders(ctx)
		if len(l) == 1 {
			leader = l[0]
		}
		return err == nil && len(l) == 1, fmt.Sprint(l, err)
	})
	// It stays one: the other replica never labels itself while waiting.
	time.Sleep(3 * time.Second)
	if l, err := leaders(ctx); err != nil || len(l) != 1 || l[0] != leader {
		t.Fatalf("leaders after a while: %v %v", l, err)
	}
	other := "op-a"
	if leader == "op-a" {
		other = "op-b"
	}
	ops[leader].stop(t)
	// The Lease is not released on shutdown; the other replica takes over
	// after its 15-second lease duration.
	eventually(t, 60*time.Second, "the other replica to become the labelled leader", func(ctx context.Context) (bool, string) {
		l, err := leaders(ctx)
		return err == nil && len(l) == 1 && l[0] == other, fmt.Sprint(l, err)
	})
	ops[other].stop(t)
	if l, _ := leaders(ctx); len(l) != 0 {
		t.Errorf("leader labels left after both stopped: %v", l)
	}
}
