// Command sync benchmarks the sync engine against a bare client on the same
// host API server, in one run on one machine:
//
//	go run ./internal/bench/sync [-n 2000] [-workers 16] [-tokens]
//
// It starts two real API servers (virtual and host), then
//
//  1. bare: creates N pods, already translated, directly in a host
//     namespace with a client limited like the engine's host client
//     (syncer.DefaultHostQPS/DefaultHostBurst) from -workers goroutines;
//  2. syncer: runs the engine (pods syncer, default options and rate
//     limits) in a child process, creates N pods in the virtual cluster as
//     fast as an unthrottled client can, and waits until all exist on the
//     host, timing each pod from its virtual create to its host copy
//     appearing in a host watch.
//
// It prints both throughputs, the p50/p99 virtual-create→host-exists
// latency, the peak RSS of the syncer process, and as its last line the
// throughput ratio syncer/bare.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/sync/resources/pods"
	"github.com/vclusterkit/vclusterkit/sync/syncer"
	"github.com/vclusterkit/vclusterkit/sync/translate"
)

const (
	vclusterName = "bench"
	hostNS       = "tenant"
	bareNS       = "bare"
	virtualNS    = "load"
)

func main() {
	n := flag.Int("n", 2000, "pods to create")
	workers := flag.Int("workers", 16, "concurrent creators (bare client and virtual load)")
	tokens := flag.Bool("tokens", false, "give pods a projected service account token (adds a TokenRequest and a Secret per pod)")
	role := flag.String("role", "", "internal: 'syncer' runs only the engine")
	virtualKC := flag.String("virtual", "", "internal: virtual kubeconfig")
	hostKC := flag.String("host", "", "internal: host kubeconfig")
	flag.Parse()
	var err error
	if *role == "syncer" {
		err = runSyncer(*virtualKC, *hostKC)
	} else {
		err = run(*n, *workers, *tokens)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench sync:", err)
		os.Exit(1)
	}
}

// runSyncer is the child process: the engine with default options.
func runSyncer(virtualKC, hostKC string) error {
	setLogger()
	vcfg, err := clientcmd.BuildConfigFromFlags("", virtualKC)
	if err != nil {
		return err
	}
	hcfg, err := clientcmd.BuildConfigFromFlags("", hostKC)
	if err != nil {
		return err
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	h, err := syncer.NewHost(hcfg, syncer.HostOptions{Namespaces: []string{hostNS}})
	if err != nil {
		return err
	}
	ps, err := pods.New(pods.Options{})
	if err != nil {
		return err
	}
	eng, err := syncer.New(h, vcfg, syncer.Options{Name: vclusterName, HostNamespace: hostNS, Syncers: []syncer.Syncer{ps}})
	if err != nil {
		return err
	}
	go func() { _ = h.Start(ctx) }()
	return eng.Start(ctx)
}

func pod(name, ns string, tokens bool) *corev1.Pod {
	no := !tokens
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": "load"}}, Spec: corev1.PodSpec{
		AutomountServiceAccountToken: &no,
		Containers:                   []corev1.Container{{Name: "app", Image: "registry.example/app:1"}},
	}}
	if tokens {
		p.Spec.ServiceAccountName = "default"
		p.Spec.Volumes = []corev1.Volume{{Name: "api", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}},
		}}}}}
	}
	return p
}

func run(n, workers int, tokens bool) error {
	ctx := context.Background()
	setLogger()
	var virtual, host *testenv.APIServer
	var wg sync.WaitGroup
	var verr, herr error
	wg.Add(2)
	go func() { defer wg.Done(); virtual, verr = testenv.StartAPIServer(testenv.APIServerOptions{}) }()
	go func() { defer wg.Done(); host, herr = testenv.StartAPIServer(testenv.APIServerOptions{}) }()
	wg.Wait()
	defer func() { _ = virtual.Stop(); _ = host.Stop() }()
	if verr != nil {
		return verr
	}
	if herr != nil {
		return herr
	}
	unlimited := func(c *rest.Config) *kubernetes.Clientset {
		c = rest.CopyConfig(c)
		c.QPS, c.Burst = -1, -1
		return kubernetes.NewForConfigOrDie(c)
	}
	hostAdmin, virtualAdmin := unlimited(host.Config), unlimited(virtual.Config)
	for _, ns := range []string{hostNS, bareNS} {
		if _, err := hostAdmin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	if _, err := virtualAdmin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: virtualNS}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	if _, err := virtualAdmin.CoreV1().ServiceAccounts(virtualNS).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	fmt.Printf("pods: %d, workers: %d, tokens: %v, engine defaults: host %v QPS / %d burst, virtual %v QPS / %d burst, %d workers per kind\n",
		n, workers, tokens, syncer.DefaultHostQPS, syncer.DefaultHostBurst, syncer.DefaultVirtualQPS, syncer.DefaultVirtualBurst, syncer.DefaultWorkers)

	// 1. bare client: the same translated pods, straight to the host.
	tr, err := translate.New(vclusterName, bareNS)
	if err != nil {
		return err
	}
	in := pods.TranslateInput{Translator: tr}
	bareCfg := rest.CopyConfig(host.Config)
	bareCfg.QPS, bareCfg.Burst = syncer.DefaultHostQPS, syncer.DefaultHostBurst
	bare := kubernetes.NewForConfigOrDie(bareCfg)
	translated := make([]*corev1.Pod, n)
	for i := range n {
		v := pod(fmt.Sprintf("pod-%05d", i), virtualNS, tokens)
		v.UID = "bench"
		h, err := pods.ToHostPod(in, v)
		if err != nil {
			return err
		}
		meta, err := tr.HostMeta("Pod", v)
		if err != nil {
			return err
		}
		for k, val := range h.Annotations {
			meta.Annotations[k] = val
		}
		h.ObjectMeta = meta
		translated[i] = h
	}
	start := time.Now()
	if err := parallel(n, workers, func(i int) error {
		_, err := bare.CoreV1().Pods(bareNS).Create(ctx, translated[i], metav1.CreateOptions{})
		return err
	}); err != nil {
		return fmt.Errorf("bare create: %w", err)
	}
	bareDur := time.Since(start)
	bareTput := float64(n) / bareDur.Seconds()
	fmt.Printf("bare client:  %d pods in %v: %.1f pods/s\n", n, bareDur.Round(time.Millisecond), bareTput)

	// 2. the engine, in its own process.
	self, err := os.Executable()
	if err != nil {
		return err
	}
	child := exec.Command(self, "-role=syncer", "-virtual="+virtual.KubeconfigPath, "-host="+host.KubeconfigPath)
	child.Stdout, child.Stderr = os.Stderr, os.Stderr
	if err := child.Start(); err != nil {
		return err
	}
	defer func() { _ = child.Process.Signal(os.Interrupt); _ = child.Wait() }()

	// Watch the host namespace for the copies.
	w, err := hostAdmin.CoreV1().Pods(hostNS).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	defer w.Stop()
	created := make([]atomic.Int64, n) // unix nanos of the virtual create
	seen := make([]int64, n)
	got := 0
	all := make(chan struct{})
	go func() {
		for ev := range w.ResultChan() {
			if ev.Type != watch.Added {
				continue
			}
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			name := p.Annotations[translate.AnnotationName]
			i, err := strconv.Atoi(strings.TrimPrefix(name, "pod-"))
			if err != nil || i < 0 || i >= n || seen[i] != 0 {
				continue
			}
			seen[i] = time.Now().UnixNano()
			got++
			if got == n {
				close(all)
				return
			}
		}
	}()
	// Let the engine start and sync its (empty) caches first, so its
	// startup is not counted; a probe pod tells when it is ready.
	probe := pod("probe", virtualNS, false)
	if _, err := virtualAdmin.CoreV1().Pods(virtualNS).Create(ctx, probe, metav1.CreateOptions{}); err != nil {
		return err
	}
	hostProbe := mustTr(vclusterName, hostNS).HostName("probe", virtualNS)
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if _, err := hostAdmin.CoreV1().Pods(hostNS).Get(ctx, hostProbe, metav1.GetOptions{}); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the engine did not sync a probe pod within 2 minutes")
		}
	}

	start = time.Now()
	if err := parallel(n, workers, func(i int) error {
		t := time.Now().UnixNano()
		created[i].Store(t)
		_, err := virtualAdmin.CoreV1().Pods(virtualNS).Create(ctx, pod(fmt.Sprintf("pod-%05d", i), virtualNS, tokens), metav1.CreateOptions{})
		return err
	}); err != nil {
		return fmt.Errorf("virtual create: %w", err)
	}
	createDur := time.Since(start)
	select {
	case <-all:
	case <-time.After(10 * time.Minute):
		return fmt.Errorf("only %d of %d pods reached the host within 10 minutes", got, n)
	}
	syncDur := time.Since(start)
	syncTput := float64(n) / syncDur.Seconds()
	lat := make([]time.Duration, n)
	for i := range n {
		lat[i] = time.Duration(seen[i] - created[i].Load())
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	rss, err := peakRSS(child.Process.Pid)
	if err != nil {
		return err
	}
	fmt.Printf("syncer:       %d pods in %v: %.1f pods/s\n", n, syncDur.Round(time.Millisecond), syncTput)
	fmt.Printf("(the load generator's %d virtual creates took %v)\n", n, createDur.Round(time.Millisecond))
	fmt.Printf("latency virtual create -> host exists: p50 %v, p99 %v, max %v\n", lat[n/2].Round(time.Millisecond), lat[n*99/100].Round(time.Millisecond), lat[n-1].Round(time.Millisecond))
	fmt.Printf("syncer peak RSS: %.1f MiB\n", float64(rss)/1024)
	fmt.Printf("ratio syncer/bare: %.2f\n", syncTput/bareTput)
	return nil
}

func mustTr(vc, ns string) *translate.Translator {
	tr, err := translate.New(vc, ns)
	if err != nil {
		panic(err)
	}
	return tr
}

func parallel(n, workers int, f func(i int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// peakRSS returns VmHWM of a process in KiB.
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				return strconv.ParseInt(f[1], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}

// setLogger logs errors only (to stderr); the engine's info logs would
// drown the results.
func setLogger() {
	ctrl.SetLogger(logr.New(errorSink{}))
	// controller-runtime's controllers also log through klog.
	klog.SetLogger(logr.New(errorSink{}))
}

type errorSink struct{}

func (errorSink) Init(logr.RuntimeInfo)            {}
func (errorSink) Enabled(int) bool                 { return false }
func (errorSink) Info(int, string, ...any)         {}
func (s errorSink) WithValues(...any) logr.LogSink { return s }
func (s errorSink) WithName(string) logr.LogSink   { return s }
func (errorSink) Error(err error, msg string, kv ...any) {
	fmt.Fprintln(os.Stderr, "error:", msg, err, kv)
}
