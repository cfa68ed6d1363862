// Command podintensive measures what a tenant pays in pod-ready latency for
// being virtual, on vcluster's kube-burner "pod-intensive" shape of
// workload: N namespaces × M one-replica Deployments, each mounting its own
// ConfigMap and its own Secret, created at a paced request rate, then a
// churn of 10 % of the Deployments (deleted with their ConfigMap and
// Secret, gone, and created again, as one kube-burner churn cycle does to
// its objects).
//
//	go run ./internal/bench/podintensive [-namespaces 10] [-deployments 100] [-qps 100] [-churn 10] [-real]
//
// The same workload runs twice in one process on one host: first directly
// on the host, then inside a virtual cluster made by the real Engine
// (vclusterkit.New, local provisioner, default syncers, service account
// tokens mounted as a tenant's pods get them by default). The virtual
// cluster is Running before the direct side starts, so both sides see the
// same machine: host control plane, the virtual control plane and the
// engine all running; the direct side's namespaces are deleted, and gone,
// before the virtual side starts.
//
// Pod-ready latency is measured on the client: from the start of the
// Deployment's create call to the moment a pod informer (list+watch, on
// the host for the direct side, on the virtual API server for the virtual
// side) sees a pod of that Deployment Ready and not terminating. No
// condition timestamps are read: the virtual pod's conditions are copied
// from the host and would hide the write-back delay, and they have
// one-second resolution.
//
// Load: the ConfigMap, Secret and Deployment creates (3 requests per
// Deployment; deletes in the churn phase likewise) are issued on an
// open-loop schedule at -qps requests per second, each in its own
// goroutine, so a slow answer does not lower the offered rate. kube-burner
// counts QPS the same way (API requests, not Deployments). The load
// clients have no client-side rate limiter (QPS negative). The Engine runs
// with its defaults, its own client limits included: those are part of
// what is measured, and the wait they caused is printed (client-go's
// rate-limiter latency metric, summed per API server, for the whole
// process; the load clients contribute nothing to it).
//
// Hosts: KWOK by default (testenv.StartHost, enough fake nodes of 110 pods
// each for one side's pods; pods are marked
// Running and Ready by KWOK, so the numbers are control-plane and syncer
// latency), or the real-node host with -real (kubelet, containerd, runc;
// busybox from internal/images with imagePullPolicy Never). The real node
// cannot run 1,000 pods on a 2-core machine: use a small size there, for
// example -real -namespaces 2 -deployments 20 (40 pods a side, 4 churned).
// Only one real node runs on a machine at a time (StartHost takes a file
// lock).
//
// Output: p50/p90/p99/max of pod-ready latency per side and phase (create,
// churn), the achieved request rates, the rate-limiter wait, and as the
// last line the ratio of p99 pod-ready latency of the create phase,
// virtual / direct.
//
// Measured on a 2-core machine (7 December 2026, commit 8cd8a74, host
// limits lifted), create-phase p99 create → Ready:
//
//	KWOK, 10 × 40 (400 pods a side)  direct 1.37 s  virtual 17.1 s  ratio 12.56 (churn 7.43)
//	real node, 2 × 20 (40 a side)    direct 8.60 s  virtual 10.9 s  ratio 1.27 (churn 1.88)
//
// On KWOK the virtual side's time was spent after the virtual pod exists
// (p50 12.4 s of 15.8 s), and the Engine's virtual-API clients waited
// 2 min 54 s in client-go's rate limiter over 2,779 requests: the syncer's
// virtual client limit held it. With one budget per side at 200 QPS
// (commit 868976c) the same run waited 24 ms over 2,786 requests, and
//
//	KWOK, 10 × 40                    direct 1.03 s  virtual 11.5 s  ratio 11.26 (churn 5.15)
//
// with the virtual time split between create → pod exists (the virtual
// cluster's own controller-manager: p50 3.0 s, p99 11.0 s; direct 0.77 s,
// 0.96 s) and pod exists → Ready (the syncer and the host: p50 6.2 s;
// direct 49 ms), two control planes and the syncer sharing two saturated
// cores. The full size, same commit, every pod Ready on both sides:
//
//	KWOK, 10 × 100 (1,000 a side)    direct 2.19 s  virtual 35.3 s  ratio 16.12 (churn 7.58)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr/funcr"
	dto "github.com/prometheus/client_model/go"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	vclusterkit "github.com/vclusterkit/vclusterkit"
	"github.com/vclusterkit/vclusterkit/internal/bench/benchkit"
	"github.com/vclusterkit/vclusterkit/internal/images"
	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
	"github.com/vclusterkit/vclusterkit/vcluster/dns"
	"github.com/vclusterkit/vclusterkit/vcluster/kubeconfig"
	"github.com/vclusterkit/vclusterkit/vcluster/local"
)

const (
	platformNS = "platform"
	vcName     = "podintensive"
	tenantName = "podintensive"
	vcHostNS   = "vc-podintensive"

	labelApp   = "app"
	appValue   = "pod-intensive"
	labelDep   = "pod-intensive/deployment"
	labelRound = "pod-intensive/round"
)

type config struct {
	namespaces, deployments int
	qps                     float64
	churnPercent            int
	real                    bool
	hostLimits              string
	phaseTimeout            time.Duration
}

func main() {
	var c config
	flag.IntVar(&c.namespaces, "namespaces", 10, "namespaces per side")
	flag.IntVar(&c.deployments, "deployments", 100, "one-replica Deployments per namespace (each with its own ConfigMap and Secret)")
	flag.Float64Var(&c.qps, "qps", 100, "offered API requests per second for creates and deletes (3 per Deployment)")
	flag.IntVar(&c.churnPercent, "churn", 10, "percent of each namespace's Deployments deleted and created again after the create phase (0: no churn)")
	flag.BoolVar(&c.real, "real", false, "run on the real-node host (kubelet, containerd) instead of KWOK")
	flag.StringVar(&c.hostLimits, "host-limits", "lifted", "client limits of the host's kube-controller-manager and kube-scheduler: lifted (5000 QPS, as kwokctl --disable-qps-limits) or default (client-go's 20 QPS for the controller-manager, as testenv starts them)")
	flag.DurationVar(&c.phaseTimeout, "phase-timeout", 8*time.Minute, "how long a phase waits for its pods to be Ready")
	flag.Parse()
	if c.hostLimits != "lifted" && c.hostLimits != "default" {
		fmt.Fprintln(os.Stderr, "podintensive: -host-limits is lifted or default")
		os.Exit(2)
	}
	if c.namespaces < 1 || c.deployments < 1 || c.qps <= 0 || c.churnPercent < 0 || c.churnPercent > 100 {
		fmt.Fprintln(os.Stderr, "podintensive: -namespaces and -deployments must be ≥ 1, -qps > 0, -churn within 0..100")
		os.Exit(2)
	}
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "podintensive:", err)
		os.Exit(1)
	}
}

func run(c config) (err error) {
	// SIGINT or SIGTERM ends the run through its defers: the virtual
	// cluster, the engine and the host are stopped and removed.
	sctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(sctx, 40*time.Minute)
	defer cancel()
	work, err := os.MkdirTemp("", "vclusterkit-podintensive-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	logPath := filepath.Join(work, "engine.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	logger := funcr.New(func(prefix, args string) { fmt.Fprintln(logFile, time.Now().Format(time.TimeOnly), prefix, args) }, funcr.Options{})
	ctrl.SetLogger(logger)
	klog.SetLogger(logger)
	// Every client-go limiter wait in this process (the Engine's clients)
	// is recorded; the load clients below have none.
	ctrlmetrics.RegisterRESTClientMetrics(ctrlmetrics.MetricRateLimiterLatency)

	hostKind := ""
	if c.real {
		hostKind = "real node (kubelet, containerd, runc)"
	}
	t0 := time.Now()
	hopts := testenv.HostOptions{RealNode: c.real}
	if !c.real {
		// A KWOK node holds 110 pods: enough nodes for one side's pods
		// (the sides do not overlap) and the virtual cluster's own.
		hopts.Nodes = c.namespaces*c.deployments/100 + 2
		hostKind = fmt.Sprintf("KWOK (%d fake nodes of 110 pods)", hopts.Nodes)
	}
	h, err := testenv.StartHost(ctx, hopts)
	if err != nil {
		return fmt.Errorf("starting the host: %w", err)
	}
	defer func() {
		if serr := h.Stop(); serr != nil && err == nil {
			err = serr
		}
	}()
	fmt.Printf("host: %s, up in %s\n", hostKind, time.Since(t0).Round(100*time.Millisecond))
	if c.hostLimits == "lifted" {
		if err := liftHostLimits(ctx, h); err != nil {
			return err
		}
		fmt.Printf("host kube-controller-manager and kube-scheduler restarted with --kube-api-qps=5000 --kube-api-burst=10000 (-host-limits lifted)\n")
	} else {
		fmt.Printf("host kube-controller-manager and kube-scheduler at testenv's settings (-host-limits default: client-go's 20 QPS / 30 burst for the controller-manager)\n")
	}

	lopts := local.Options{Dir: filepath.Join(work, "vclusters")}
	if c.real {
		// Pods on the real node reach their virtual API server on the
		// node's IP.
		lopts.Address = testenv.NodeIP
	}
	eng, err := vclusterkit.New(h.Config, vclusterkit.Options{
		Local:  lopts,
		DNS:    dns.Options{Image: images.CoreDNS, ImagePullPolicy: corev1.PullNever},
		Logger: logger,
	})
	if err != nil {
		return err
	}
	ectx, estop := context.WithCancel(ctx)
	engineDone := make(chan error, 1)
	go func() { engineDone <- eng.Start(ectx) }()
	defer func() {
		estop()
		if eerr := <-engineDone; eerr != nil && !errors.Is(eerr, context.Canceled) && err == nil {
			err = fmt.Errorf("engine: %w", eerr)
		}
	}()

	t0 = time.Now()
	virtualCfg, err := virtualCluster(ctx, h.Config)
	if err != nil {
		return fmt.Errorf("%w (engine log: %s)", err, tail(logPath, 30))
	}
	fmt.Printf("virtual cluster %s Running in %s (Engine defaults: local provisioner, default syncers, tokens on)\n", vcName, time.Since(t0).Round(100*time.Millisecond))

	unlimited := func(cfg *rest.Config) (*kubernetes.Clientset, error) {
		cfg = rest.CopyConfig(cfg)
		cfg.QPS, cfg.Burst = -1, 0 // no client-side limiter at all
		return kubernetes.NewForConfig(cfg)
	}
	hostCS, err := unlimited(h.Config)
	if err != nil {
		return err
	}
	virtualCS, err := unlimited(virtualCfg)
	if err != nil {
		return err
	}
	churned := churnCount(c.deployments, c.churnPercent)
	fmt.Printf("workload: %d namespaces × %d one-replica Deployments = %d pods a side, each Deployment with its own ConfigMap and Secret mounted;\n"+
		"  %.0f requests/s offered (3 per Deployment, open loop), then churn: %d per namespace (%d %%) deleted, gone, created again\n"+
		"load clients: client-go rate limiter off (QPS -1); latency = Deployment create call → pod Ready in a client-side informer\n",
		c.namespaces, c.deployments, c.namespaces*c.deployments, c.qps, churned, c.churnPercent)

	hostAPI, virtualAPI := hostOf(h.Config.Host), hostOf(virtualCfg.Host)
	hostDir := filepath.Dir(h.KubeconfigPath)
	var res [2]result
	for i, s := range []struct {
		name string
		cs   *kubernetes.Clientset
	}{{"direct", hostCS}, {"virtual", virtualCS}} {
		before := limiterWait()
		hostBefore, _ := hostLimiters(h.Config, hostDir)
		r, err := runSide(ctx, c, s.name, s.cs, c.real)
		if err != nil {
			return fmt.Errorf("%s: %w (engine log: %s)", s.name, err, tail(logPath, 30))
		}
		res[i] = r
		after := limiterWait()
		r.print(s.name)
		fmt.Printf("%-8s client-go limiter wait in this process: host API %s over %d requests, virtual API %s over %d requests\n",
			s.name, after[hostAPI].sum-before[hostAPI].sum, after[hostAPI].n-before[hostAPI].n,
			after[virtualAPI].sum-before[virtualAPI].sum, after[virtualAPI].n-before[virtualAPI].n)
		hostAfter, herrs := hostLimiters(h.Config, hostDir)
		for _, comp := range components {
			if err := herrs[comp]; err != nil {
				fmt.Printf("%-8s host %s limiter wait: unknown (%v)\n", s.name, comp, err)
				continue
			}
			fmt.Printf("%-8s host %s limiter wait: %s over %d requests\n", s.name, comp,
				hostAfter[comp].sum-hostBefore[comp].sum, hostAfter[comp].n-hostBefore[comp].n)
		}
		if s.name == "direct" {
			// The virtual side gets the host as the direct side found it.
			t := time.Now()
			if err := deleteNamespaces(ctx, hostCS, c.namespaces); err != nil {
				return err
			}
			fmt.Printf("direct   namespaces deleted and gone in %s\n", time.Since(t).Round(100*time.Millisecond))
		}
	}
	if len(res[0].churn.ready) > 0 && len(res[1].churn.ready) > 0 {
		fmt.Printf("p99 pod-ready, churn phase, virtual / direct: %.2f\n",
			float64(testenv.Percentile(res[1].churn.ready, 99))/float64(testenv.Percentile(res[0].churn.ready, 99)))
	}
	if len(res[0].create.ready) == 0 || len(res[1].create.ready) == 0 {
		return errors.New("a side had no Ready pod: no ratio")
	}
	fmt.Printf("p99 pod-ready, create phase, virtual / direct: %.2f\n",
		float64(testenv.Percentile(res[1].create.ready, 99))/float64(testenv.Percentile(res[0].create.ready, 99)))
	return nil
}

// virtualCluster creates the tenant and the virtual cluster through the
// Engine, waits for it to be Running and returns its admin configuration,
// from the kubeconfig Secret the Engine wrote.
func virtualCluster(ctx context.Context, hostCfg *rest.Config) (*rest.Config, error) {
	sch := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, tenancy.AddToScheme, vcluster.AddToScheme} {
		if err := add(sch); err != nil {
			return nil, err
		}
	}
	hc, err := client.New(hostCfg, client.Options{Scheme: sch})
	if err != nil {
		return nil, err
	}
	// The Engine installs its CRDs when it starts: retry until they exist.
	tn := &tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: tenantName}}
	if err := wait.PollUntilContextTimeout(ctx, 300*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		err := hc.Create(ctx, tn)
		return err == nil || apierrors.IsAlreadyExists(err), nil
	}); err != nil {
		return nil, fmt.Errorf("tenant: %w", err)
	}
	if err := hc.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: platformNS}}); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, err
	}
	vc := &vcluster.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: vcName, Namespace: platformNS},
		Spec: vcluster.VirtualClusterSpec{Tenant: tenantName, HostNamespace: vcHostNS}}
	if err := hc.Create(ctx, vc); err != nil {
		return nil, fmt.Errorf("virtual cluster: %w", err)
	}
	if err := wait.PollUntilContextTimeout(ctx, 300*time.Millisecond, 4*time.Minute, true, func(ctx context.Context) (bool, error) {
		if err := hc.Get(ctx, client.ObjectKeyFromObject(vc), vc); err != nil {
			return false, err
		}
		return vc.Status.Phase == vcluster.PhaseRunning, nil
	}); err != nil {
		return nil, fmt.Errorf("virtual cluster %s never Running (phase %q, conditions %+v): %w", vcName, vc.Status.Phase, vc.Status.Conditions, err)
	}
	kc, err := kubeconfig.FromSecret(ctx, hc, vcluster.SecretRef{Name: vcName + "-kubeconfig", Namespace: platformNS})
	if err != nil {
		return nil, err
	}
	return kubeconfig.RESTConfig(kc)
}

// key names one Deployment of one round (0: create phase, 1: churn).
type key struct {
	ns, dep string
	round   int
}

// tracker records, per Deployment and round, when its create call started
// and when the informer first saw one of its pods Ready.
type tracker struct {
	mu      sync.Mutex
	created map[key]time.Time
	// exists is when the informer first saw a pod of the Deployment: the
	// end of the controller-manager's part (Deployment → ReplicaSet → Pod).
	exists map[key]time.Time
	ready  map[key]time.Time
}

func (t *tracker) observe(obj any) {
	p, ok := obj.(*corev1.Pod)
	if !ok || p.DeletionTimestamp != nil {
		return
	}
	round, err := strconv.Atoi(p.Labels[labelRound])
	if err != nil {
		return
	}
	k := key{p.Namespace, p.Labels[labelDep], round}
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, seen := t.exists[k]; !seen {
		t.exists[k] = now
	}
	if _, seen := t.ready[k]; !seen && benchkit.PodReady(p) {
		t.ready[k] = now
	}
}

// latencies of one phase: create call → pod Ready, and its two parts,
// create call → pod exists and pod exists → Ready.
type latencies struct {
	ready, exists, toReady []time.Duration
	missing                []key
}

// wait waits until every key is Ready or the timeout passes, and returns
// the latencies of those that are and the keys that are not.
func (t *tracker) wait(ctx context.Context, keys []key, timeout time.Duration) latencies {
	deadline := time.Now().Add(timeout)
	for {
		var l latencies
		t.mu.Lock()
		for _, k := range keys {
			if r, ok := t.ready[k]; ok {
				l.ready = append(l.ready, r.Sub(t.created[k]))
				l.exists = append(l.exists, t.exists[k].Sub(t.created[k]))
				l.toReady = append(l.toReady, r.Sub(t.exists[k]))
			} else {
				l.missing = append(l.missing, k)
			}
		}
		t.mu.Unlock()
		if len(l.missing) == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			return l
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type result struct {
	create, churn                    latencies
	churned                          bool
	createRate, deleteRate, reRate   float64
	createIssued, churnIssued        time.Duration
	createSpan, churnSpan, goneAfter time.Duration
}

func (r result) print(side string) {
	line := func(phase string, l latencies, rate float64, issued, span time.Duration) {
		if len(l.ready) == 0 {
			fmt.Printf("%-8s %-6s no pod Ready (%d missing)\n", side, phase, len(l.missing))
			return
		}
		fmt.Printf("%-8s %-6s %4d pods, create → Ready:  p50 %7s  p90 %7s  p99 %7s  max %7s   (requests issued at %.1f/s over %s; last pod Ready %s after the first create)\n",
			side, phase, len(l.ready), ms(testenv.Percentile(l.ready, 50)), ms(testenv.Percentile(l.ready, 90)), ms(testenv.Percentile(l.ready, 99)), ms(slices.Max(l.ready)),
			rate, issued.Round(100*time.Millisecond), span.Round(100*time.Millisecond))
		for _, part := range []struct {
			name string
			d    []time.Duration
		}{{"create → pod exists:", l.exists}, {"pod exists → Ready:", l.toReady}} {
			fmt.Printf("%-8s %-6s       %-21s p50 %7s  p90 %7s  p99 %7s  max %7s\n", side, phase, part.name,
				ms(testenv.Percentile(part.d, 50)), ms(testenv.Percentile(part.d, 90)), ms(testenv.Percentile(part.d, 99)), ms(slices.Max(part.d)))
		}
		if len(l.missing) > 0 {
			fmt.Printf("%-8s %-6s %d Deployments never had a Ready pod within the phase timeout, e.g. %s/%s\n", side, phase, len(l.missing), l.missing[0].ns, l.missing[0].dep)
		}
	}
	line("create", r.create, r.createRate, r.createIssued, r.createSpan)
	if r.churned {
		fmt.Printf("%-8s churn  deletes issued at %.1f/s; deleted pods gone %s after the first delete\n", side, r.deleteRate, r.goneAfter.Round(100*time.Millisecond))
		line("churn", r.churn, r.reRate, r.churnIssued, r.churnSpan)
	}
}

func ms(d time.Duration) string { return d.Round(time.Millisecond).String() }

func nsName(i int) string  { return fmt.Sprintf("pod-intensive-%d", i) }
func depName(j int) string { return fmt.Sprintf("app-%03d", j) }

func churnCount(deployments, percent int) int {
	if percent == 0 {
		return 0
	}
	return max(1, int(math.Round(float64(deployments)*float64(percent)/100)))
}

// runSide runs the create phase and the churn phase on one API server.
func runSide(ctx context.Context, c config, side string, cs kubernetes.Interface, real bool) (result, error) {
	var r result
	// Namespaces and their default ServiceAccount first, untimed: a pod
	// cannot be created before its ServiceAccount exists.
	for i := range c.namespaces {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: nsName(i)}}, metav1.CreateOptions{}); err != nil {
			return r, err
		}
	}
	for i := range c.namespaces {
		if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			_, err := cs.CoreV1().ServiceAccounts(nsName(i)).Get(ctx, "default", metav1.GetOptions{})
			return err == nil, nil
		}); err != nil {
			return r, fmt.Errorf("no default ServiceAccount in %s: %w", nsName(i), err)
		}
	}

	tr := &tracker{created: map[key]time.Time{}, exists: map[key]time.Time{}, ready: map[key]time.Time{}}
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.LabelSelector = labelApp + "=" + appValue
	}))
	inf := factory.Core().V1().Pods().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    tr.observe,
		UpdateFunc: func(_, obj any) { tr.observe(obj) },
	}); err != nil {
		return r, err
	}
	ictx, istop := context.WithCancel(ctx)
	defer istop()
	factory.Start(ictx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return r, errors.New("pod informer never synced")
	}

	// Create phase.
	var keys []key
	for j := range c.deployments {
		for i := range c.namespaces {
			keys = append(keys, key{nsName(i), depName(j), 0})
		}
	}
	start := time.Now()
	issued, err := paced(ctx, c.qps, createRequests(cs, tr, keys, real))
	if err != nil {
		return r, fmt.Errorf("create phase: %w", err)
	}
	r.createIssued = issued
	r.createRate = float64(3*len(keys)) / issued.Seconds()
	r.create = tr.wait(ctx, keys, c.phaseTimeout)
	r.createSpan = time.Since(start)
	fmt.Printf("%-8s create phase done in %s\n", side, r.createSpan.Round(100*time.Millisecond))

	n := churnCount(c.deployments, c.churnPercent)
	if n == 0 {
		return r, nil
	}
	// Churn: every (deployments/n)-th Deployment of each namespace, spread
	// over the whole set as kube-burner picks at random.
	var old, again []key
	step := c.deployments / n
	for j := 0; j < c.deployments && len(old) < n*c.namespaces; j += step {
		for i := range c.namespaces {
			old = append(old, key{nsName(i), depName(j), 0})
			again = append(again, key{nsName(i), depName(j), 1})
		}
	}
	start = time.Now()
	var dels []func(context.Context) error
	for _, k := range old {
		dels = append(dels,
			func(ctx context.Context) error {
				return ignoreNotFound(cs.AppsV1().Deployments(k.ns).Delete(ctx, k.dep, metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)}))
			},
			func(ctx context.Context) error {
				return ignoreNotFound(cs.CoreV1().ConfigMaps(k.ns).Delete(ctx, k.dep, metav1.DeleteOptions{}))
			},
			func(ctx context.Context) error {
				return ignoreNotFound(cs.CoreV1().Secrets(k.ns).Delete(ctx, k.dep, metav1.DeleteOptions{}))
			},
		)
	}
	issued, err = paced(ctx, c.qps, dels)
	if err != nil {
		return r, fmt.Errorf("churn deletes: %w", err)
	}
	r.deleteRate = float64(len(dels)) / issued.Seconds()
	// kube-burner waits for the churned objects to be gone before it
	// creates them again; so does this, from the informer's cache.
	gone := map[key]bool{}
	for _, k := range old {
		gone[k] = true
	}
	if err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, c.phaseTimeout, true, func(context.Context) (bool, error) {
		for _, obj := range inf.GetStore().List() {
			p := obj.(*corev1.Pod)
			if gone[key{p.Namespace, p.Labels[labelDep], 0}] && p.Labels[labelRound] == "0" {
				return false, nil
			}
		}
		return true, nil
	}); err != nil {
		return r, fmt.Errorf("churned pods never went away: %w", err)
	}
	r.goneAfter = time.Since(start)
	start = time.Now()
	issued, err = paced(ctx, c.qps, createRequests(cs, tr, again, real))
	if err != nil {
		return r, fmt.Errorf("churn creates: %w", err)
	}
	r.churnIssued = issued
	r.reRate = float64(3*len(again)) / issued.Seconds()
	r.churn = tr.wait(ctx, again, c.phaseTimeout)
	r.churned = true
	r.churnSpan = time.Since(start)
	return r, nil
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// createRequests returns, per Deployment in order, the creates of its
// ConfigMap, its Secret and itself; the Deployment's create records its
// start time in tr.
func createRequests(cs kubernetes.Interface, tr *tracker, keys []key, real bool) []func(context.Context) error {
	out := make([]func(context.Context) error, 0, 3*len(keys))
	for _, k := range keys {
		out = append(out,
			func(ctx context.Context) error {
				_, err := cs.CoreV1().ConfigMaps(k.ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: k.dep},
					Data: map[string]string{"app.conf": "name=" + k.dep + "\nround=" + strconv.Itoa(k.round) + "\n"}}, metav1.CreateOptions{})
				return err
			},
			func(ctx context.Context) error {
				_, err := cs.CoreV1().Secrets(k.ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: k.dep},
					StringData: map[string]string{"password": "pw-" + k.dep}}, metav1.CreateOptions{})
				return err
			},
			func(ctx context.Context) error {
				d := deployment(k, real)
				tr.mu.Lock()
				tr.created[k] = time.Now()
				tr.mu.Unlock()
				_, err := cs.AppsV1().Deployments(k.ns).Create(ctx, d, metav1.CreateOptions{})
				return err
			},
		)
	}
	return out
}

// deployment is one pod-intensive Deployment: one replica of a container
// that sleeps, its own ConfigMap and Secret mounted, the default
// ServiceAccount's token mounted as Kubernetes does by default.
func deployment(k key, real bool) *appsv1.Deployment {
	labels := map[string]string{labelApp: appValue, labelDep: k.dep, labelRound: strconv.Itoa(k.round)}
	c := corev1.Container{
		Name:  "app",
		Image: "registry.example/pod-intensive:1", // KWOK runs nothing
		VolumeMounts: []corev1.VolumeMount{
			{Name: "config", MountPath: "/etc/app"},
			{Name: "secret", MountPath: "/etc/secret", ReadOnly: true},
		},
	}
	if real {
		c.Image, c.ImagePullPolicy, c.Command = images.Busybox, corev1.PullNever, []string{"sleep", "3600"}
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: k.dep, Namespace: k.ns, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{labelApp: appValue, labelDep: k.dep}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					// sleep as PID 1 ignores SIGTERM: without this a churned
					// pod would hold its name for the default 30 s.
					TerminationGracePeriodSeconds: ptr.To[int64](0),
					Containers:                    []corev1.Container{c},
					Volumes: []corev1.Volume{
						{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: k.dep}}}},
						{Name: "secret", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: k.dep}}},
					},
					Tolerations: []corev1.Toleration{{Key: "kwok.x-k8s.io/node", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
				},
			},
		},
	}
}

// paced runs reqs on an open-loop schedule of qps per second, each in its
// own goroutine, and returns how long issuing them took (the schedule's
// length when the machine keeps up) once all have answered. The first
// error is returned.
func paced(ctx context.Context, qps float64, reqs []func(context.Context) error) (time.Duration, error) {
	interval := time.Duration(float64(time.Second) / qps)
	start := time.Now()
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	var issued time.Duration
	for i, req := range reqs {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			select {
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-time.After(d):
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := req(ctx); err != nil {
				once.Do(func() { first = err })
			}
		}()
	}
	issued = time.Since(start) + interval
	wg.Wait()
	return issued, first
}

// deleteNamespaces deletes the side's namespaces and waits until they are
// gone, pods and all.
func deleteNamespaces(ctx context.Context, cs kubernetes.Interface, n int) error {
	for i := range n {
		if err := cs.CoreV1().Namespaces().Delete(ctx, nsName(i), metav1.DeleteOptions{}); ignoreNotFound(err) != nil {
			return err
		}
	}
	return wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 10*time.Minute, true, func(ctx context.Context) (bool, error) {
		for i := range n {
			if _, err := cs.CoreV1().Namespaces().Get(ctx, nsName(i), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				return false, nil
			}
		}
		return true, nil
	})
}

type waitSum struct {
	sum time.Duration
	n   uint64
}

// limiterWait sums client-go's rate-limiter latency metric of this process
// per API server (host:port).
func limiterWait() map[string]waitSum {
	out := map[string]waitSum{}
	mfs, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		return out
	}
	for _, mf := range mfs {
		if mf.GetName() != "rest_client_rate_limiter_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			h := labelValue(m, "host")
			w := out[h]
			w.sum += time.Duration(m.GetHistogram().GetSampleSum() * float64(time.Second))
			w.n += m.GetHistogram().GetSampleCount()
			out[h] = w
		}
	}
	return out
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func hostOf(server string) string {
	s := strings.TrimPrefix(strings.TrimPrefix(server, "https://"), "http://")
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	return s
}

// tail returns the last n lines of a file, for errors.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return path
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return path + ":\n" + strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// components are the host's control-plane processes whose client limiter
// can hold the direct side (the controller-manager builds ReplicaSets and
// pods for it) and both sides (the scheduler binds every pod).
var components = []string{"kube-controller-manager", "kube-scheduler"}

// componentLimiter reads client-go's rate-limiter wait from the /metrics of
// one of the host's control-plane processes: the one whose command line
// names dir (the host's working directory), on its --secure-port, with the
// host's admin client certificate.
func componentLimiter(hostCfg *rest.Config, dir, component string) (waitSum, error) {
	var w waitSum
	port := ""
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range procs {
		b, err := os.ReadFile(f)
		if err != nil || len(b) == 0 {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if filepath.Base(args[0]) != component || !slices.ContainsFunc(args, func(a string) bool { return strings.Contains(a, dir) }) {
			continue
		}
		for _, a := range args {
			if p, ok := strings.CutPrefix(a, "--secure-port="); ok && p != "0" {
				port = p
			}
		}
	}
	if port == "" {
		return w, fmt.Errorf("no %s with a secure port under %s", component, dir)
	}
	cfg := rest.AnonymousClientConfig(hostCfg)
	cfg.TLSClientConfig = rest.TLSClientConfig{Insecure: true, CertData: hostCfg.CertData, KeyData: hostCfg.KeyData,
		CertFile: hostCfg.CertFile, KeyFile: hostCfg.KeyFile}
	cfg.BearerToken = hostCfg.BearerToken
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return w, err
	}
	hc.Timeout = 10 * time.Second
	resp, err := hc.Get("https://127.0.0.1:" + port + "/metrics")
	if err != nil {
		return w, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return w, err
	}
	if resp.StatusCode != http.StatusOK {
		return w, fmt.Errorf("%s /metrics: %s", component, resp.Status)
	}
	for _, line := range strings.Split(string(body), "\n") {
		name, _, _ := strings.Cut(line, "{")
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		switch name {
		case "rest_client_rate_limiter_duration_seconds_sum":
			w.sum += time.Duration(v * float64(time.Second))
		case "rest_client_rate_limiter_duration_seconds_count":
			w.n += uint64(v)
		}
	}
	return w, nil
}

// hostLimiters reads componentLimiter for every component; a component
// that cannot be read is left out, with the reason.
func hostLimiters(hostCfg *rest.Config, dir string) (map[string]waitSum, map[string]error) {
	out, errs := map[string]waitSum{}, map[string]error{}
	for _, c := range components {
		w, err := componentLimiter(hostCfg, dir, c)
		if err != nil {
			errs[c] = err
			continue
		}
		out[c] = w
	}
	return out, errs
}

// liftHostLimits restarts the host's kube-controller-manager and
// kube-scheduler with the client limits kwokctl's --disable-qps-limits
// gives them (5000 QPS, burst 10000): testenv starts them with client-go's
// defaults (20 QPS, burst 30 for the controller-manager), which hold the
// direct side's Deployments while the virtual cluster's own
// controller-manager runs at 200/400. Each is found by its pid file (where
// kwokctl's delete and testenv's sweep look for it), stopped by that pid,
// started again with the same arguments, directory and log plus the two
// flags and --leader-elect=false (the last of a repeated flag wins; the
// old process is gone, so nothing else could lead), and its new pid written back,
// so the host's Stop ends the new process as it would have the old one.
func liftHostLimits(ctx context.Context, h *testenv.Host) error {
	dir := filepath.Dir(h.KubeconfigPath)
	for _, comp := range components {
		var pidPath string
		for _, p := range []string{filepath.Join(dir, "pids", comp+".pid"), filepath.Join(dir, "clusters", h.Name, "pids", comp+".pid")} {
			if _, err := os.Stat(p); err == nil {
				pidPath = p
			}
		}
		if pidPath == "" {
			return fmt.Errorf("no pid file of %s under %s", comp, dir)
		}
		b, err := os.ReadFile(pidPath)
		if err != nil {
			return err
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			return fmt.Errorf("%s: %w", pidPath, err)
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			return fmt.Errorf("%s (pid %d): %w", comp, pid, err)
		}
		args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		if filepath.Base(args[0]) != comp {
			return fmt.Errorf("pid %d in %s is %s, not %s", pid, pidPath, args[0], comp)
		}
		cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
		if err != nil {
			return err
		}
		logPath := filepath.Join(filepath.Dir(filepath.Dir(pidPath)), "logs", comp+".log")
		if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
			return fmt.Errorf("stopping %s (pid %d): %w", comp, pid, err)
		}
		if err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
			// Gone, or a zombie its parent has not reaped yet.
			st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			return err != nil || strings.Contains(string(st), ") Z "), nil
		}); err != nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		cmd := exec.Command(args[0], append(args[1:], "--kube-api-qps=5000", "--kube-api-burst=10000", "--leader-elect=false")...)
		cmd.Dir, cmd.Stdout, cmd.Stderr = cwd, logf, logf
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		err = cmd.Start()
		logf.Close()
		if err != nil {
			return fmt.Errorf("restarting %s: %w", comp, err)
		}
		go func() { _ = cmd.Wait() }()
		if err := os.WriteFile(pidPath, []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
			return err
		}
		if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
			_, err := componentLimiter(h.Config, dir, comp)
			return err == nil, nil
		}); err != nil {
			return fmt.Errorf("%s restarted with lifted limits never served /metrics: %w", comp, err)
		}
	}
	return nil
}
