// Command sync benchmarks the sync engine against a bare client on the same
// host, under a paced offered load, in one run on one machine:
//
//	go run ./internal/bench/sync [-rates 25,50,100,200] [-duration 8s] [-limits lifted|default] [-tokens]
//
// It starts a KWOK host cluster (scheduler and fake kubelets: pods go
// Running), or with -real the real-node host (containers run), and a
// virtual API server, and runs the pods syncer in a child process. For each offered rate, in turn:
//
//  1. bare: the same pods, already translated, are created directly in a
//     host namespace at that rate; each pod is timed from the start of its
//     create call to a host watch seeing it Running and Ready;
//  2. syncer: the pods are created in the virtual cluster at that rate;
//     each is timed at three points, all seen by client-side watches:
//     its host copy appears, the host copy is Running and Ready, and the
//     virtual pod is Running and Ready (status carried back).
//
// Between levels every pod is deleted and the next level waits for an
// empty host. Per level it prints p50/p90/p99 of each stage, whether the
// level was sustainable (every pod done within 30 s of the end of the
// load, the last quarter's median latency at most twice the first
// quarter's plus 500 ms: the queue stayed flat, and p99 within -slo,
// 1 s by default: a level both sides run behind a standing queue is
// not one either can sustain), the syncer's CPU
// milliseconds and API requests by verb per pod on each side (counted in
// its process by a wrapping transport), and the time its requests waited
// for the client-side rate limiters (one per side: syncer.HostOptions.QPS,
// syncer.Options.QPS).
//
// -limits lifted (the default) turns every client-side limiter off, on
// both sides, so neither is held by an artificial cap, and the output
// shows zero limiter wait; -limits default runs the engine with its
// shipped limits (and the bare client with the engine's host limits) and
// shows what they cost.
//
// The last two lines are the ratios: sustainable throughput (the highest
// sustainable offered rate, syncer / bare), and p99 create→Running at the
// level closest to 100 pods/s (syncer: virtual create → virtual Running;
// bare: create → Running).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"slices"
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
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	watchtools "k8s.io/client-go/tools/watch"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/vclusterkit/vclusterkit/internal/bench/benchkit"
	"github.com/vclusterkit/vclusterkit/internal/images"
	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/sync/resources/pods"
	"github.com/vclusterkit/vclusterkit/sync/syncer"
	"github.com/vclusterkit/vclusterkit/sync/translate"
)

// realNode: the host's node is real (-real).
var realNode bool

// slo is the p99 create→Running a sustainable level keeps (-slo).
var slo time.Duration

const (
	vclusterName = "bench"
	hostNS       = "tenant"
	bareNS       = "bare"
	virtualNS    = "load"
)

func main() {
	rates := flag.String("rates", "25,50,100,200", "offered loads in pods per second, one level each")
	duration := flag.Duration("duration", 8*time.Second, "how long each level offers its load")
	limits := flag.String("limits", "lifted", "client-side rate limits: lifted (off on both sides) or default (the engine's shipped limits)")
	tokens := flag.Bool("tokens", false, "give pods a projected service account token (a TokenRequest and a host Secret per pod)")
	flag.DurationVar(&slo, "slo", time.Second, "a level is sustainable when its p99 create->Running stays within this (and its queue stays flat)")
	flag.BoolVar(&realNode, "real", false, "run on the real-node host (real containers: busybox sleeping); use low rates, e.g. -rates 2,5 -duration 10s (a node takes 110 pods)")
	role := flag.String("role", "", "internal: 'syncer' runs only the engine")
	virtualKC := flag.String("virtual", "", "internal: virtual kubeconfig")
	hostKC := flag.String("host", "", "internal: host kubeconfig")
	flag.Parse()
	var err error
	switch {
	case *limits != "lifted" && *limits != "default":
		err = fmt.Errorf("-limits: want lifted or default, got %q", *limits)
	case *role == "syncer":
		err = runSyncer(*virtualKC, *hostKC, *limits == "lifted")
	default:
		var levels []int
		for _, f := range strings.Split(*rates, ",") {
			r, perr := strconv.Atoi(strings.TrimSpace(f))
			if perr != nil || r <= 0 {
				err = fmt.Errorf("-rates: %q is not a positive number", f)
				break
			}
			levels = append(levels, r)
		}
		if err == nil {
			err = run(levels, *duration, *limits == "lifted", *tokens)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench sync:", err)
		os.Exit(1)
	}
}

// stats is what the syncer process reports about itself.
type stats struct {
	Requests    map[string]map[string]int64 `json:"requests"` // side → verb → count
	HostWait    time.Duration               `json:"hostWait"`
	VirtualWait time.Duration               `json:"virtualWait"`
}

// counting counts requests by verb, for every transport it wraps.
type counting struct {
	mu sync.Mutex
	n  map[string]int64
}

type countingRT struct {
	c  *counting
	rt http.RoundTripper
}

func (t countingRT) RoundTrip(r *http.Request) (*http.Response, error) {
	t.c.count(r)
	return t.rt.RoundTrip(r)
}

func (c *counting) count(r *http.Request) {
	verb := strings.ToLower(r.Method)
	switch {
	case r.Method == http.MethodGet && r.URL.Query().Get("watch") == "true":
		verb = "watch"
	case r.Method == http.MethodGet:
		verb = "get/list"
	case r.Method == http.MethodPost:
		verb = "create"
	case r.Method == http.MethodPut:
		verb = "update"
	}
	c.mu.Lock()
	c.n[verb]++
	c.mu.Unlock()
}

func (c *counting) snapshot() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int64{}
	for k, v := range c.n {
		out[k] = v
	}
	return out
}

// runSyncer is the child process: the engine with default options but
// for the rate limits, and an endpoint on loopback for its stats (its
// address is the first line on stdout).
func runSyncer(virtualKC, hostKC string, lifted bool) error {
	setLogger()
	vcfg, err := clientcmd.BuildConfigFromFlags("", virtualKC)
	if err != nil {
		return err
	}
	hcfg, err := clientcmd.BuildConfigFromFlags("", hostKC)
	if err != nil {
		return err
	}
	count := map[string]*counting{"host": {n: map[string]int64{}}, "virtual": {n: map[string]int64{}}}
	for side, cfg := range map[string]*rest.Config{"host": hcfg, "virtual": vcfg} {
		c := count[side]
		cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return countingRT{c: c, rt: rt} }
		cfg.QPS, cfg.Burst = 0, 0
	}
	hopts, vopts := syncer.HostOptions{Namespaces: []string{hostNS}}, syncer.Options{Name: vclusterName, HostNamespace: hostNS}
	if lifted {
		hopts.QPS, vopts.QPS = -1, -1
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	h, err := syncer.NewHost(hcfg, hopts)
	if err != nil {
		return err
	}
	ps, err := pods.New(pods.Options{})
	if err != nil {
		return err
	}
	vopts.Syncers = []syncer.Syncer{ps}
	eng, err := syncer.New(h, vcfg, vopts)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr().String())
	go func() {
		_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_ = json.NewEncoder(w).Encode(stats{
				Requests:    map[string]map[string]int64{"host": count["host"].snapshot(), "virtual": count["virtual"].snapshot()},
				HostWait:    h.RateLimiterWait(),
				VirtualWait: eng.RateLimiterWait(),
			})
		}))
	}()
	go func() { _ = h.Start(ctx) }()
	return eng.Start(ctx)
}

func pod(name, ns string, tokens bool) *corev1.Pod {
	no := !tokens
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": "load"}}, Spec: corev1.PodSpec{
		AutomountServiceAccountToken:  &no,
		TerminationGracePeriodSeconds: ptr.To[int64](0),
		Containers:                    []corev1.Container{{Name: "app", Image: "registry.example/app:1"}},
		// KWOK's fake nodes carry this taint.
		Tolerations: []corev1.Toleration{{Key: "kwok.x-k8s.io/node", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
	}}
	if realNode {
		p.Spec.Containers[0].Image = images.Busybox
		p.Spec.Containers[0].ImagePullPolicy = corev1.PullNever
		p.Spec.Containers[0].Command = []string{"sleep", "3600"}
	}
	if tokens {
		p.Spec.ServiceAccountName = "default"
		p.Spec.Volumes = []corev1.Volume{{Name: "api", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}},
		}}}}}
	}
	return p
}

// stamps are the moments one pod passed each stage (unix nanos; 0: not yet).
type stamps struct{ create, hostSeen, hostRunning, virtualRunning atomic.Int64 }

// level is one offered rate on one side.
type level struct {
	rate  int
	pods  []stamps
	names map[string]int
	// lag is how far the pacer fell behind its schedule at worst: a large
	// lag means the load generator, not the system, set the pace.
	lag time.Duration
}

func newLevel(rate int, d time.Duration) *level {
	n := int(float64(rate) * d.Seconds())
	l := &level{rate: rate, pods: make([]stamps, n), names: map[string]int{}}
	for i := range n {
		l.names[l.name(i)] = i
	}
	return l
}

func (l *level) name(i int) string { return fmt.Sprintf("r%d-%05d", l.rate, i) }

// index maps a pod (host copy or virtual) to its index in the level.
func (l *level) index(p *corev1.Pod) (int, bool) {
	name := p.Name
	if v := p.Annotations[translate.AnnotationName]; v != "" {
		name = v
	}
	i, ok := l.names[name]
	return i, ok
}

// pace calls create(i) for every pod of the level at the offered rate,
// each in its own goroutine, and waits for the calls.
func (l *level) pace(create func(i int) error) error {
	var wg sync.WaitGroup
	errs := make(chan error, len(l.pods))
	start := time.Now()
	for i := range l.pods {
		at := start.Add(time.Duration(float64(i) / float64(l.rate) * float64(time.Second)))
		if d := time.Until(at); d > 0 {
			time.Sleep(d)
		} else if -d > l.lag {
			l.lag = -d
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.pods[i].create.Store(time.Now().UnixNano())
			if err := create(i); err != nil {
				errs <- fmt.Errorf("%s: %w", l.name(i), err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// follow records, from a pod watch, when each pod of cur is first seen
// (seen may be nil) and first Running and Ready.
func follow(ctx context.Context, cs *kubernetes.Clientset, ns string, cur *atomic.Pointer[level], seen, running func(*stamps) *atomic.Int64) error {
	// A watch the API server closes (a slow watcher, under full load) is
	// resumed from the last version seen: no event is missed.
	list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	w, err := watchtools.NewRetryWatcherWithContext(ctx, list.ResourceVersion, &cache.ListWatch{
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return cs.CoreV1().Pods(ns).Watch(ctx, o)
		},
	})
	if err != nil {
		return err
	}
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			if ev.Type == watch.Error {
				fmt.Fprintf(os.Stderr, "watch of %s: %v\n", ns, ev.Object)
				continue
			}
			p, ok := ev.Object.(*corev1.Pod)
			l := cur.Load()
			if !ok || l == nil || ev.Type == watch.Deleted {
				continue
			}
			i, ok := l.index(p)
			if !ok {
				continue
			}
			now := time.Now().UnixNano()
			if seen != nil {
				seen(&l.pods[i]).CompareAndSwap(0, now)
			}
			if benchkit.PodReady(p) {
				running(&l.pods[i]).CompareAndSwap(0, now)
			}
		}
	}()
	return nil
}

// result summarises a level on one side.
type result struct {
	rate        int
	done, n     int
	stages      map[string][]time.Duration
	endToEnd    []time.Duration // in create order
	sustainable bool
	why         string
	lag         time.Duration
}

func summarise(l *level, final func(*stamps) *atomic.Int64, stages map[string][2]func(*stamps) *atomic.Int64) result {
	r := result{rate: l.rate, n: len(l.pods), stages: map[string][]time.Duration{}, lag: l.lag}
	for i := range l.pods {
		s := &l.pods[i]
		for name, st := range stages {
			if a, b := st[0](s).Load(), st[1](s).Load(); a != 0 && b != 0 {
				r.stages[name] = append(r.stages[name], time.Duration(b-a))
			}
		}
		if f := final(s).Load(); f != 0 {
			r.done++
			r.endToEnd = append(r.endToEnd, time.Duration(f-s.create.Load()))
		}
	}
	q := len(r.endToEnd) / 4
	switch {
	case r.done < r.n:
		r.why = fmt.Sprintf("%d of %d pods not Running within 30 s of the end of the load", r.n-r.done, r.n)
	case q == 0:
		r.sustainable = true
	default:
		first, last := median(r.endToEnd[:q]), median(r.endToEnd[len(r.endToEnd)-q:])
		p99 := testenv.Percentile(r.endToEnd, 99)
		switch {
		case last > 2*first+500*time.Millisecond:
			r.why = fmt.Sprintf("the queue grew: median %v in the first quarter, %v in the last", first.Round(time.Millisecond), last.Round(time.Millisecond))
		case p99 > slo:
			r.why = fmt.Sprintf("p99 %v is above the %v objective", p99.Round(time.Millisecond), slo)
		default:
			r.sustainable = true
		}
	}
	return r
}

func median(d []time.Duration) time.Duration {
	return testenv.Percentile(slices.Clone(d), 50)
}

func pcts(d []time.Duration) string {
	if len(d) == 0 {
		return "n/a"
	}
	return fmt.Sprintf("p50 %v p90 %v p99 %v", testenv.Percentile(slices.Clone(d), 50).Round(time.Millisecond),
		testenv.Percentile(slices.Clone(d), 90).Round(time.Millisecond), testenv.Percentile(slices.Clone(d), 99).Round(time.Millisecond))
}

func run(rates []int, duration time.Duration, lifted, tokens bool) error {
	ctx := context.Background()
	setLogger()
	// A KWOK node takes 110 pods; room for the largest level, twice over
	// (the copies of a level may still be leaving when the next starts).
	most := 0
	for _, r := range rates {
		most = max(most, int(float64(r)*duration.Seconds()))
	}
	hopts := testenv.HostOptions{Nodes: 2*most/110 + 1}
	if realNode {
		if most > 100 {
			return fmt.Errorf("-real: the largest level has %d pods; a real node takes 110 (lower -rates or -duration)", most)
		}
		hopts = testenv.HostOptions{RealNode: true}
	}
	host, err := testenv.StartHost(ctx, hopts)
	if err != nil {
		return err
	}
	defer func() { _ = host.Stop() }()
	virtual, err := testenv.StartAPIServer(testenv.APIServerOptions{})
	if err != nil {
		return err
	}
	defer func() { _ = virtual.Stop() }()
	hostAdmin, virtualAdmin := benchkit.Unlimited(host.Config), benchkit.Unlimited(virtual.Config)
	for _, ns := range []string{hostNS, bareNS} {
		if _, err := hostAdmin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			return err
		}
		if err := waitSA(ctx, hostAdmin, ns); err != nil {
			return err
		}
	}
	if _, err := virtualAdmin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: virtualNS}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	if _, err := virtualAdmin.CoreV1().ServiceAccounts(virtualNS).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	bareClient := hostAdmin
	limitsDesc := "lifted on both sides (no client-side limiter anywhere)"
	if !lifted {
		c := rest.CopyConfig(host.Config)
		c.QPS, c.Burst = syncer.DefaultHostQPS, syncer.DefaultHostBurst
		bareClient = kubernetes.NewForConfigOrDie(c)
		limitsDesc = fmt.Sprintf("the engine's defaults: host %v QPS / %d burst (the bare client too), virtual %v QPS / %d burst",
			syncer.DefaultHostQPS, syncer.DefaultHostBurst, syncer.DefaultVirtualQPS, syncer.DefaultVirtualBurst)
	}
	fmt.Printf("levels %v pods/s for %v each, tokens %v, real node %v, client limits: %s\n", rates, duration, tokens, realNode, limitsDesc)

	// The engine, in its own process.
	self, err := os.Executable()
	if err != nil {
		return err
	}
	child := exec.Command(self, "-role=syncer", "-limits="+map[bool]string{true: "lifted", false: "default"}[lifted],
		"-virtual="+virtual.KubeconfigPath, "-host="+host.KubeconfigPath)
	child.Stderr = os.Stderr
	out, err := child.StdoutPipe()
	if err != nil {
		return err
	}
	if err := child.Start(); err != nil {
		return err
	}
	defer func() { _ = child.Process.Signal(os.Interrupt); _ = child.Wait() }()
	addr, err := firstLine(out)
	if err != nil {
		return fmt.Errorf("syncer process: %w", err)
	}
	go func() { _, _ = io.Copy(os.Stderr, out) }()

	// Watches for every stage, on both sides.
	var bareCur, syncCur atomic.Pointer[level]
	hostSeen := func(s *stamps) *atomic.Int64 { return &s.hostSeen }
	hostRunning := func(s *stamps) *atomic.Int64 { return &s.hostRunning }
	virtualRunning := func(s *stamps) *atomic.Int64 { return &s.virtualRunning }
	wctx, stopWatches := context.WithCancel(ctx)
	defer stopWatches()
	if err := follow(wctx, hostAdmin, bareNS, &bareCur, nil, hostRunning); err != nil {
		return err
	}
	if err := follow(wctx, hostAdmin, hostNS, &syncCur, hostSeen, hostRunning); err != nil {
		return err
	}
	if err := follow(wctx, virtualAdmin, virtualNS, &syncCur, nil, virtualRunning); err != nil {
		return err
	}

	// A probe pod tells when the engine has started and synced its caches.
	if _, err := virtualAdmin.CoreV1().Pods(virtualNS).Create(ctx, pod("probe", virtualNS, false), metav1.CreateOptions{}); err != nil {
		return err
	}
	if err := until(ctx, 2*time.Minute, "the engine to sync a probe pod", func() bool {
		p, err := virtualAdmin.CoreV1().Pods(virtualNS).Get(ctx, "probe", metav1.GetOptions{})
		return err == nil && benchkit.PodReady(p)
	}); err != nil {
		return err
	}
	if err := virtualAdmin.CoreV1().Pods(virtualNS).Delete(ctx, "probe", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
		return err
	}

	translated := func(l *level) []*corev1.Pod {
		tr := mustTr(vclusterName, bareNS)
		in := pods.TranslateInput{Translator: tr}
		out := make([]*corev1.Pod, len(l.pods))
		for i := range out {
			v := pod(l.name(i), virtualNS, false)
			v.UID = "bench"
			h, err := pods.ToHostPod(in, v)
			if err != nil {
				panic(err)
			}
			meta, _ := tr.HostMeta("Pod", v)
			for k, val := range h.Annotations {
				meta.Annotations[k] = val
			}
			h.ObjectMeta = meta
			out[i] = h
		}
		return out
	}

	var bareResults, syncResults []result
	for _, rate := range rates {
		// 1. bare
		bl := newLevel(rate, duration)
		hp := translated(bl)
		bareCur.Store(bl)
		if err := bl.pace(func(i int) error {
			_, err := bareClient.CoreV1().Pods(bareNS).Create(ctx, hp[i], metav1.CreateOptions{})
			return err
		}); err != nil {
			return fmt.Errorf("bare create: %w", err)
		}
		waitDone(bl, hostRunning)
		br := summarise(bl, hostRunning, map[string][2]func(*stamps) *atomic.Int64{})
		bareResults = append(bareResults, br)
		if err := clean(ctx, hostAdmin, bareNS); err != nil {
			return err
		}

		// 2. syncer
		before, err := childStats(addr)
		if err != nil {
			return err
		}
		cpu0, err := cpuTime(child.Process.Pid)
		if err != nil {
			return err
		}
		sl := newLevel(rate, duration)
		syncCur.Store(sl)
		if err := sl.pace(func(i int) error {
			_, err := virtualAdmin.CoreV1().Pods(virtualNS).Create(ctx, pod(sl.name(i), virtualNS, tokens), metav1.CreateOptions{})
			return err
		}); err != nil {
			return fmt.Errorf("virtual create: %w", err)
		}
		waitDone(sl, virtualRunning)
		cpu1, err := cpuTime(child.Process.Pid)
		if err != nil {
			return err
		}
		after, err := childStats(addr)
		if err != nil {
			return err
		}
		create := func(s *stamps) *atomic.Int64 { return &s.create }
		sr := summarise(sl, virtualRunning, map[string][2]func(*stamps) *atomic.Int64{
			"1 virtual create -> host created":  {create, hostSeen},
			"2 host created -> host Running":    {hostSeen, hostRunning},
			"3 host Running -> virtual Running": {hostRunning, virtualRunning},
		})
		syncResults = append(syncResults, sr)
		if os.Getenv("BENCH_DEBUG") != "" {
			for i := 0; i < len(sl.pods); i += len(sl.pods) / 10 {
				s := &sl.pods[i]
				c := s.create.Load()
				fmt.Printf("    debug %s: host seen +%v, host Running +%v, virtual Running +%v\n", sl.name(i),
					time.Duration(s.hostSeen.Load()-c).Round(time.Millisecond), time.Duration(s.hostRunning.Load()-c).Round(time.Millisecond), time.Duration(s.virtualRunning.Load()-c).Round(time.Millisecond))
			}
		}

		fmt.Printf("\n== %d pods/s offered for %v (%d pods)\n", rate, duration, len(bl.pods))
		report("bare   create -> Running", br)
		report("syncer virtual create -> virtual Running", sr)
		for _, name := range slices.Sorted(func(yield func(string) bool) {
			for k := range sr.stages {
				if !yield(k) {
					return
				}
			}
		}) {
			fmt.Printf("    stage %-36s %s\n", name, pcts(sr.stages[name]))
		}
		n := float64(len(sl.pods))
		fmt.Printf("    syncer CPU: %.2f ms per pod\n", float64(cpu1-cpu0)/float64(time.Millisecond)/n)
		for _, side := range []string{"host", "virtual"} {
			var parts []string
			for _, verb := range []string{"create", "get/list", "update", "patch", "delete", "watch"} {
				if d := after.Requests[side][verb] - before.Requests[side][verb]; d > 0 {
					parts = append(parts, fmt.Sprintf("%s %.2f", verb, float64(d)/n))
				}
			}
			fmt.Printf("    syncer requests per pod, %s: %s\n", side, strings.Join(parts, ", "))
		}
		fmt.Printf("    syncer rate-limiter wait: host %v, virtual %v\n", (after.HostWait - before.HostWait).Round(time.Millisecond), (after.VirtualWait - before.VirtualWait).Round(time.Millisecond))
		if err := clean(ctx, virtualAdmin, virtualNS); err != nil {
			return err
		}
		if err := until(ctx, 2*time.Minute, "the host copies to go", func() bool {
			l, err := hostAdmin.CoreV1().Pods(hostNS).List(ctx, metav1.ListOptions{})
			return err == nil && len(l.Items) == 0
		}); err != nil {
			return err
		}
	}

	best := func(rs []result) (int, bool) {
		top, capped := 0, false
		for i, r := range rs {
			if r.sustainable {
				top = r.rate
				capped = i == len(rs)-1
			}
		}
		return top, capped
	}
	bTop, bCapped := best(bareResults)
	sTop, _ := best(syncResults)
	fmt.Printf("\nsustainable: bare %d pods/s, syncer %d pods/s", bTop, sTop)
	if bCapped {
		fmt.Printf(" (the bare side kept up with the highest level offered: its capacity is at least that)")
	}
	fmt.Println()
	at := 0
	for i, r := range rates {
		if abs(r-100) < abs(rates[at]-100) {
			at = i
		}
	}
	bp99 := testenv.Percentile(slices.Clone(bareResults[at].endToEnd), 99)
	sp99 := testenv.Percentile(slices.Clone(syncResults[at].endToEnd), 99)
	if bTop > 0 {
		fmt.Printf("ratio sustainable throughput syncer/bare: %.2f\n", float64(sTop)/float64(bTop))
	} else {
		fmt.Println("ratio sustainable throughput syncer/bare: n/a (the bare side sustained no level)")
	}
	fmt.Printf("ratio p99 create->Running at %d pods/s syncer/bare: %.2f (%v / %v)\n", rates[at], float64(sp99)/float64(bp99), sp99.Round(time.Millisecond), bp99.Round(time.Millisecond))
	return nil
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func report(what string, r result) {
	state := "sustainable"
	if !r.sustainable {
		state = "NOT sustainable: " + r.why
	}
	fmt.Printf("  %-42s %s (%d/%d done; pacer lag %v) %s\n", what, pcts(r.endToEnd), r.done, r.n, r.lag.Round(time.Millisecond), state)
}

// waitDone waits until every pod of l reached final, or 30 s passed since
// the last create.
func waitDone(l *level, final func(*stamps) *atomic.Int64) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		done := 0
		for i := range l.pods {
			if final(&l.pods[i]).Load() != 0 {
				done++
			}
		}
		if done == len(l.pods) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// clean deletes every pod of ns at once and waits until none is left.
func clean(ctx context.Context, cs *kubernetes.Clientset, ns string) error {
	if err := cs.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}, metav1.ListOptions{}); err != nil {
		return err
	}
	return until(ctx, 2*time.Minute, "the pods of "+ns+" to go", func() bool {
		l, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		return err == nil && len(l.Items) == 0
	})
}

func until(ctx context.Context, timeout time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v waiting for %s", timeout, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

func waitSA(ctx context.Context, cs *kubernetes.Clientset, ns string) error {
	return until(ctx, time.Minute, "the default service account of "+ns, func() bool {
		_, err := cs.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil
	})
}

func firstLine(r io.Reader) (string, error) {
	var b []byte
	one := make([]byte, 1)
	for {
		if _, err := r.Read(one); err != nil {
			return "", err
		}
		if one[0] == '\n' {
			return string(b), nil
		}
		b = append(b, one[0])
	}
}

func childStats(addr string) (stats, error) {
	var s stats
	resp, err := http.Get((&url.URL{Scheme: "http", Host: addr, Path: "/"}).String())
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

// cpuTime is the user+system CPU time a process has used.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command (which may hold spaces) in parentheses.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q stime %q", pid, f[11], f[12])
	}
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticks, nil
}

func mustTr(vc, ns string) *translate.Translator {
	tr, err := translate.New(vc, ns)
	if err != nil {
		panic(err)
	}
	return tr
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
