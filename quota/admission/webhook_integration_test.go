package admission_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/quota"
	"github.com/vclusterkit/vclusterkit/quota/admission"
	"github.com/vclusterkit/vclusterkit/tenancy"
)

func rl(kv ...string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := 0; i+1 < len(kv); i += 2 {
		out[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return out
}

// env is one webhook served from the test process, installed into the real API server.
type env struct {
	ledger *quota.Ledger
	cs     *kubernetes.Clientset
	c      client.Client
	lr     map[string]*tenancy.LimitRangeDefaults
	// testLabel scopes the test's webhook to its namespaces.
	testLabel string
}

func setup(t *testing.T, nodes []quota.Node, lr map[string]*tenancy.LimitRangeDefaults) *env {
	t.Helper()
	return setupCounted(t, nodes, lr, nil)
}

// setupCounted is setup with a webhook and tracker that also count the creates of the
// counted resources (through a metadata informer each, as the engine does).
func setupCounted(t *testing.T, nodes []quota.Node, lr map[string]*tenancy.LimitRangeDefaults, counted []schema.GroupVersionResource) *env {
	t.Helper()
	t.Cleanup(func() { host.LogsOnFailure(t) })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cfg := rest.CopyConfig(host.Config)
	cfg.QPS, cfg.Burst = 1000, 1000
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{ledger: quota.NewLedger(quota.LedgerOptions{}), cs: cs, c: c, lr: lr}
	if err := e.ledger.SetNodes(nodes); err != nil {
		t.Fatal(err)
	}
	name := unique("quota")
	labels := admission.LabelResolver{Reader: c, Defaults: func(tenant string) *tenancy.LimitRangeDefaults { return lr[tenant] }}
	// The informer sees every namespace of the shared API server; only this test's
	// namespaces are charged to this test's ledger.
	resolver := admission.ResolverFunc(func(ctx context.Context, namespace string) (admission.Namespace, error) {
		var ns corev1.Namespace
		if err := c.Get(ctx, client.ObjectKey{Name: namespace}, &ns); err != nil {
			return admission.Namespace{}, err
		}
		if ns.Labels["test"] != name {
			return admission.Namespace{}, nil
		}
		return labels.Resolve(ctx, namespace)
	})
	certs, err := admission.GenerateCerts(admission.CertOptions{Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	var grs []schema.GroupResource
	for _, gvr := range counted {
		grs = append(grs, gvr.GroupResource())
	}
	isCounted := func(gr schema.GroupResource) bool { return slices.Contains(grs, gr) }
	srv, err := admission.Serve(ctx, &admission.Webhook{Ledger: e.ledger, Resolver: resolver, Counted: isCounted}, admission.ServerOptions{Certs: certs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })

	// Each test scopes its webhook to its own namespaces with a label of its own.
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"test": name}}
	if _, err := admission.Install(ctx, c, admission.InstallOptions{Name: name, URL: srv.URL, CABundle: certs.CAPEM, NamespaceSelector: sel, Counted: grs}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Delete(context.Background(), name, metav1.DeleteOptions{})
	})

	// One ObjectTracker follows pods, claims and Services (it runs pods through Tracker).
	tracker := &admission.ObjectTracker{Ledger: e.ledger, Resolver: resolver}
	factory := informers.NewSharedInformerFactory(cs, 0)
	for _, inf := range []cache.SharedIndexInformer{factory.Core().V1().Pods().Informer(),
		factory.Core().V1().PersistentVolumeClaims().Informer(), factory.Core().V1().Services().Informer()} {
		if _, err := inf.AddEventHandler(tracker.EventHandler(ctx)); err != nil {
			t.Fatal(err)
		}
	}
	mc, err := metadata.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mfactory := metadatainformer.NewSharedInformerFactory(mc, 0)
	for _, gvr := range counted {
		if _, err := mfactory.ForResource(gvr).Informer().AddEventHandler(tracker.CountedEventHandler(ctx, gvr.GroupResource())); err != nil {
			t.Fatal(err)
		}
	}
	factory.Start(ctx.Done())
	mfactory.Start(ctx.Done())
	t.Cleanup(func() {
		cancel() // informers stop only once the context ends
		factory.Shutdown()
		mfactory.Shutdown()
	})

	// A probe namespace charged to a node that admits nothing tells when the API server
	// has picked up the webhook configuration.
	e.testLabel = name
	probeNS := e.namespace(t, "probe", "probe")
	if err := e.ledger.SetNodes(append(nodes, quota.Node{Name: "probe", Hard: rl("count/pods", "0")})); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := cs.CoreV1().Pods(probeNS).Create(ctx, pod("probe", nil), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err != nil && strings.Contains(err.Error(), "quota exceeded"), nil
	})
	if err != nil {
		t.Fatalf("webhook never became active: %v", err)
	}
	return e
}

// unique makes names unique when the tests run more than once (-count) against the same
// API server.
func unique(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, seq.Add(1), runID)
}

var (
	seq   atomic.Int64
	runID = time.Now().UnixNano() % 1_000_000
)

// namespace creates a namespace of this test charged to tenant and returns its name.
func (e *env) namespace(t *testing.T, name, tenant string) string {
	t.Helper()
	name = unique(name)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"test": e.testLabel, tenancy.LabelTenant: tenant}}}
	if _, err := e.cs.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return name
}

func pod(name string, requests corev1.ResourceList) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10",
			Resources: corev1.ResourceRequirements{Requests: requests}}}},
	}
}

// waitUsage waits until the ledger's committed subtree usage of node for resource equals
// want and nothing is reserved any more (every admitted pod was seen by the tracker).
func (e *env) waitUsage(t *testing.T, node string, res corev1.ResourceName, want string) {
	t.Helper()
	var last quota.Usage
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		u, err := e.ledger.Usage(node)
		if err != nil {
			return false, err
		}
		last = u
		got := u.Subtree[res]
		w := resource.MustParse(want)
		return got.Cmp(w) == 0 && len(u.Reserved) == 0, nil
	})
	if err != nil {
		t.Fatalf("%s %s: want used %s, last usage %+v: %v", node, res, want, last, err)
	}
}

// The acceptance test: 100 concurrent pod creates across four namespaces of one tenant
// whose subtree admits 50 pods. Exactly 50 are admitted by the real API server.
func TestConcurrentCreatesAdmitExactlyTheLimit(t *testing.T) {
	e := setup(t, []quota.Node{
		{Name: "org", Hard: rl("count/pods", "50")},
		{Name: "team-a", Parent: "org"},
		{Name: "team-b", Parent: "org", Hard: rl("count/pods", "40")},
		{Name: "team-b-dev", Parent: "team-b"},
	}, nil)
	namespaces := map[string]string{"conc-org": "org", "conc-a": "team-a", "conc-b": "team-b", "conc-b-dev": "team-b-dev"}
	var names []string
	for ns, tenant := range namespaces {
		names = append(names, e.namespace(t, ns, tenant))
	}
	var admitted, denied atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 100 {
		wg.Go(func() {
			<-start
			ns := names[i%4]
			_, err := e.cs.CoreV1().Pods(ns).Create(context.Background(), pod(fmt.Sprintf("p-%03d", i), rl("cpu", "10m")), metav1.CreateOptions{})
			switch {
			case err == nil:
				admitted.Add(1)
			case apierrors.IsForbidden(err) && strings.Contains(err.Error(), "quota exceeded"):
				denied.Add(1)
			default:
				t.Errorf("create %s/p-%03d: %v", ns, i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if admitted.Load() != 50 || denied.Load() != 50 {
		t.Fatalf("admitted %d, denied %d; want exactly 50 and 50", admitted.Load(), denied.Load())
	}
	total := 0
	for _, ns := range names {
		pods, err := e.cs.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		total += len(pods.Items)
	}
	if total != 50 {
		t.Fatalf("%d pods exist, want 50", total)
	}
	e.waitUsage(t, "org", "count/pods", "50")
	if u, _ := e.ledger.Usage("team-b"); u.Subtree.Name("count/pods", resource.DecimalSI).Value() > 40 {
		t.Errorf("team-b over its own limit: %v", u.Subtree)
	}
}

// Attack: deleting a bound object to free quota twice. The delete event arrives, the
// delete is repeated, the event is replayed: the pod's charge is freed once, so the limit
// still holds afterwards.
func TestDeleteTwiceFreesOnce(t *testing.T) {
	e := setup(t, []quota.Node{{Name: "del", Hard: rl("count/pods", "2")}}, nil)
	ns := e.namespace(t, "del-ns", "del")
	ctx := context.Background()
	pods := e.cs.CoreV1().Pods(ns)
	var created []*corev1.Pod
	for _, n := range []string{"a", "b"} {
		p, err := pods.Create(ctx, pod(n, nil), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		created = append(created, p)
	}
	if _, err := pods.Create(ctx, pod("c", nil), metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("third pod: want forbidden, got %v", err)
	}
	e.waitUsage(t, "del", "count/pods", "2")

	if err := pods.Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := pods.Delete(ctx, "a", metav1.DeleteOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("second delete: %v", err)
	}
	e.waitUsage(t, "del", "count/pods", "1")
	// Replay the delete event (a relist, a duplicate watch event).
	tracker := &admission.Tracker{Ledger: e.ledger}
	if tracker.Forget(created[0]) {
		t.Fatal("a replayed delete freed quota again")
	}
	// Re-create "a" under the same name: a new object, charged anew; the limit holds.
	if _, err := pods.Create(ctx, pod("a", nil), metav1.CreateOptions{}); err != nil {
		t.Fatalf("re-create after delete: %v", err)
	}
	if _, err := pods.Create(ctx, pod("d", nil), metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("over the limit after delete+recreate: want forbidden, got %v", err)
	}
	e.waitUsage(t, "del", "count/pods", "2")
}

// Bad input: pods with no resource requests. The rendered LimitRange makes the API
// server apply its defaults before the webhook sees the pod, so each pod is charged the
// default request and the tenant's cpu limit admits two of them, not unlimited.
func TestLimitRangeDefaultsApply(t *testing.T) {
	defaults := &tenancy.LimitRangeDefaults{DefaultRequest: rl("cpu", "100m"), Default: rl("cpu", "200m")}
	e := setup(t, []quota.Node{{Name: "lr", Hard: rl("requests.cpu", "250m")}}, map[string]*tenancy.LimitRangeDefaults{"lr": defaults})
	ns := e.namespace(t, "lr-ns", "lr")
	ctx := context.Background()
	if err := e.c.Create(ctx, quota.RenderLimitRange(ns, "lr", defaults)); err != nil {
		t.Fatal(err)
	}
	pods := e.cs.CoreV1().Pods(ns)
	for i, want := range []bool{true, true, false} {
		p, err := pods.Create(ctx, pod(fmt.Sprint("p", i), nil), metav1.CreateOptions{})
		if got := err == nil; got != want {
			t.Fatalf("pod %d: admitted=%v, want %v (%v)", i, got, want, err)
		}
		if err == nil && p.Spec.Containers[0].Resources.Requests.Cpu().String() != "100m" {
			t.Errorf("LimitRanger did not default the request: %v", p.Spec.Containers[0].Resources)
		}
		if err != nil && !strings.Contains(err.Error(), "requests.cpu: requested 100m, used") {
			t.Errorf("denial does not name the defaulted request: %v", err)
		}
	}
	e.waitUsage(t, "lr", "requests.cpu", "200m")
}

// Fail closed: when the webhook cannot be reached, pods are refused, not admitted
// unchecked.
func TestFailClosed(t *testing.T) {
	ctx := context.Background()
	cfg := rest.CopyConfig(host.Config)
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	certs, err := admission.GenerateCerts(admission.CertOptions{Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	deadName := unique("quota-dead")
	// A server started and closed at once leaves a port nothing listens on.
	dead, err := admission.Serve(ctx, &admission.Webhook{}, admission.ServerOptions{Certs: certs})
	if err != nil {
		t.Fatal(err)
	}
	_ = dead.Close()
	if _, err := admission.Install(ctx, c, admission.InstallOptions{Name: deadName, URL: dead.URL, CABundle: certs.CAPEM,
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"test": deadName}}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Delete(ctx, deadName, metav1.DeleteOptions{})
	})
	deadNS := unique("dead-ns")
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: deadNS,
		Labels: map[string]string{"test": deadName, tenancy.LabelTenant: "x"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := cs.CoreV1().Pods(deadNS).Create(ctx, pod("p", nil), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err != nil, nil
	})
	if err != nil {
		t.Fatal("pods were admitted while the quota webhook was unreachable")
	}
	_, err = cs.CoreV1().Pods(deadNS).Create(ctx, pod("p", nil), metav1.CreateOptions{})
	if err == nil || !strings.Contains(err.Error(), "failed calling webhook") {
		t.Fatalf("want a webhook call failure, got %v", err)
	}
	// Install is idempotent: a second call updates the same object.
	if _, err := admission.Install(ctx, c, admission.InstallOptions{Name: deadName, URL: dead.URL, CABundle: certs.CAPEM}); err != nil {
		t.Fatal(err)
	}
	_, err = admission.Install(ctx, c, admission.InstallOptions{Name: "x"})
	if err == nil {
		t.Fatal("install without URL and CA accepted")
	}
}

// The rendered per-namespace objects are valid for the real API server.
func TestRenderedObjectsAccepted(t *testing.T) {
	ctx := context.Background()
	c, err := client.New(host.Config, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	renderNS := unique("render-ns")
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: renderNS}}); err != nil {
		t.Fatal(err)
	}
	l := quota.NewLedger(quota.LedgerOptions{})
	if err := l.SetNodes([]quota.Node{
		{Name: "acme", Hard: rl("cpu", "10", "memory", "20Gi", "count/pods", "100", "services.loadbalancers", "2", "requests.storage", "1Ti")},
		{Name: "web", Parent: "acme", Hard: rl("cpu", "4")},
	}); err != nil {
		t.Fatal(err)
	}
	limits, err := l.EffectiveLimits("web")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, quota.RenderResourceQuota(renderNS, "web", limits)); err != nil {
		t.Fatal(err)
	}
	lr := quota.RenderLimitRange(renderNS, "web", &tenancy.LimitRangeDefaults{
		Default: rl("cpu", "500m", "memory", "512Mi"), DefaultRequest: rl("cpu", "100m", "memory", "128Mi"),
		Max: rl("cpu", "2", "memory", "4Gi"), Min: rl("cpu", "10m")})
	if err := c.Create(ctx, lr); err != nil {
		t.Fatal(err)
	}
	var got corev1.ResourceQuota
	if err := c.Get(ctx, client.ObjectKey{Namespace: renderNS, Name: quota.ObjectName}, &got); err != nil {
		t.Fatal(err)
	}
	if got.Spec.Hard.Cpu().String() != "4" {
		t.Errorf("rendered quota cpu %s, want the tighter child limit 4", got.Spec.Hard.Cpu())
	}
}
