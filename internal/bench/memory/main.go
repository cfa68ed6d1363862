// Command memory measures what an idle virtual cluster of the local
// provisioner costs in memory, per process kind, and what each sizing knob
// of local.Options saves.
//
// For each N of -n (ascending) it starts, for each configuration of
// -configs, virtual clusters until that configuration has N, lets them all
// idle for -idle, then reads for every control-plane process its PSS
// (/proc/PID/smaps_rollup: private pages plus its share of pages shared
// with other processes, such as the binaries' code) and its RssAnon
// (/proc/PID/status: anonymous resident memory, the part no other process
// shares). It reports the mean per cluster by process kind (store,
// kube-apiserver, kube-controller-manager) and, when -n has two or more
// values, the marginal cost of a cluster:
// (total(N_max) − total(N_min)) / (N_max − N_min). Configurations given
// together run side by side, so PSS of shared code pages is split among
// all of them; compare PSS across configurations of one run, and RssAnon
// across runs.
//
// The last line is the marginal PSS per cluster of the last configuration
// divided by that of the first (for example defaults / baseline).
//
//	go run ./internal/bench/memory [-configs baseline,defaults] [-n 1,4,8] [-idle 2m]
//
// Configurations (-list prints them): baseline is the provisioner as it
// was before the sizing knobs (every default API group and admission
// plugin, Go's GOGC); each other one changes one knob of baseline, except
// defaults (the zero local.Options) and those whose name starts with
// "defaults+".
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/vclusterkit/vclusterkit/internal/bench/benchkit"
	"github.com/vclusterkit/vclusterkit/internal/binaries"
	"github.com/vclusterkit/vclusterkit/vcluster"
	"github.com/vclusterkit/vclusterkit/vcluster/local"
)

// baselineControllers is DefaultControllers as it was before the sizing
// knobs, so baseline stays comparable when the default changes.
var baselineControllers = []string{
	"serviceaccount-token-controller", "serviceaccount-controller", "root-ca-certificate-publisher-controller",
	"legacy-serviceaccount-token-cleaner-controller", "namespace-controller", "garbage-collector-controller",
	"resourcequota-controller", "clusterrole-aggregation-controller",
	"deployment-controller", "replicaset-controller", "replicationcontroller-controller", "statefulset-controller",
	"daemonset-controller", "job-controller", "cronjob-controller", "ttl-after-finished-controller",
	"disruption-controller", "pod-garbage-collector-controller",
	"endpoints-controller", "endpointslice-controller", "endpointslice-mirroring-controller", "service-cidr-controller",
	"persistentvolumeclaim-protection-controller",
	"certificatesigningrequest-signing-controller", "certificatesigningrequest-approving-controller",
	"certificatesigningrequest-cleaner-controller",
}

// config is one way of running the virtual clusters.
type config struct {
	about      string
	opts       func(o *local.Options)
	sharedKine bool
}

func baseline(o *local.Options) {
	o.RuntimeConfig, o.DisableAdmissionPlugins, o.GOGC = []string{}, []string{}, -1
	o.Controllers = baselineControllers
}

func on(base func(*local.Options), f func(*local.Options)) func(*local.Options) {
	return func(o *local.Options) { base(o); f(o) }
}

func defaults(*local.Options) {}

func gomemlimit(o *local.Options) {
	o.ComponentEnv = map[string][]string{"kube-apiserver": {"GOMEMLIMIT=110MiB"}, "kube-controller-manager": {"GOMEMLIMIT=24MiB"}, "kine": {"GOMEMLIMIT=16MiB"}}
}

var minControllers = []string{"serviceaccount-token-controller", "serviceaccount-controller", "root-ca-certificate-publisher-controller",
	"namespace-controller", "garbage-collector-controller", "clusterrole-aggregation-controller",
	"deployment-controller", "replicaset-controller", "endpoints-controller", "endpointslice-controller",
	"certificatesigningrequest-signing-controller", "certificatesigningrequest-approving-controller"}

var configs = map[string]config{
	"baseline": {about: "every default API group and admission plugin, GOGC unset, the old controller list", opts: baseline},
	"apigroups": {about: "baseline + RuntimeConfig = local.DefaultRuntimeConfig()", opts: on(baseline, func(o *local.Options) {
		o.RuntimeConfig = local.DefaultRuntimeConfig()
	})},
	"apigroups-more": {about: "baseline + also no flowcontrol (APF off), autoscaling, node.k8s.io (RuntimeClass plugin off)", opts: on(baseline, func(o *local.Options) {
		o.RuntimeConfig = append(local.DefaultRuntimeConfig(), "flowcontrol.apiserver.k8s.io/v1=false",
			"autoscaling/v1=false", "autoscaling/v2=false", "node.k8s.io/v1=false")
		o.DisableAdmissionPlugins = []string{"RuntimeClass"}
		o.APIServerArgs = []string{"--enable-priority-and-fairness=false"}
	})},
	"admission": {about: "baseline + DisableAdmissionPlugins = local.DefaultDisabledAdmissionPlugins()", opts: on(baseline, func(o *local.Options) {
		o.DisableAdmissionPlugins = local.DefaultDisabledAdmissionPlugins()
	})},
	"admission-policies": {about: "baseline + also ValidatingAdmissionPolicy, MutatingAdmissionPolicy off", opts: on(baseline, func(o *local.Options) {
		o.DisableAdmissionPlugins = append(local.DefaultDisabledAdmissionPlugins(), "ValidatingAdmissionPolicy", "MutatingAdmissionPolicy")
	})},
	"watchcache-off": {about: "baseline + DisableWatchCache", opts: on(baseline, func(o *local.Options) {
		o.DisableWatchCache = true
	})},
	"watchcache-events": {about: "baseline + no watch cache for events (core and events.k8s.io)", opts: on(baseline, func(o *local.Options) {
		o.WatchCacheSizes = []string{"events#0", "events.events.k8s.io#0"}
	})},
	"gogc50":     {about: "baseline + GOGC=50", opts: on(baseline, func(o *local.Options) { o.GOGC = 50 })},
	"gogc25":     {about: "baseline + GOGC=25", opts: on(baseline, func(o *local.Options) { o.GOGC = 25 })},
	"gomemlimit": {about: "baseline + GOMEMLIMIT kube-apiserver 110MiB, kube-controller-manager 24MiB, kine 16MiB", opts: on(baseline, gomemlimit)},
	"controllers": {about: "baseline + Controllers = local.DefaultControllers()", opts: on(baseline, func(o *local.Options) {
		o.Controllers = local.DefaultControllers()
	})},
	"controllers-min": {about: "baseline + only token, service account, root CA, namespace, GC, endpoints/slices, deployment, replicaset, CSR, RBAC aggregation", opts: on(baseline, func(o *local.Options) {
		o.Controllers = minControllers
	})},
	"shared-kine":     {about: "baseline, one kine (SQLite) for all clusters of the configuration, a key prefix each", opts: baseline, sharedKine: true},
	"defaults":        {about: "the zero local.Options", opts: defaults},
	"defaults+gogc25": {about: "defaults + GOGC=25", opts: func(o *local.Options) { o.GOGC = 25 }},
	"lean": {about: "defaults + GOGC=25, one shared kine, no flowcontrol (APF off)/autoscaling/node.k8s.io, controllers-min: every knob at once", sharedKine: true,
		opts: func(o *local.Options) {
			o.GOGC = 25
			o.RuntimeConfig = append(local.DefaultRuntimeConfig(), "flowcontrol.apiserver.k8s.io/v1=false",
				"autoscaling/v1=false", "autoscaling/v2=false", "node.k8s.io/v1=false")
			o.DisableAdmissionPlugins = append(local.DefaultDisabledAdmissionPlugins(), "RuntimeClass")
			o.APIServerArgs = []string{"--enable-priority-and-fairness=false"}
			o.Controllers = minControllers
		}},
	"defaults+gomemlimit":      {about: "defaults + GOMEMLIMIT as gomemlimit", opts: gomemlimit},
	"defaults+watchcache-off":  {about: "defaults + DisableWatchCache", opts: func(o *local.Options) { o.DisableWatchCache = true }},
	"defaults+controllers-min": {about: "defaults + Controllers as controllers-min", opts: func(o *local.Options) { o.Controllers = minControllers }},
	"defaults+shared-kine":     {about: "defaults, one kine for all clusters of the configuration", opts: defaults, sharedKine: true},
}

func main() {
	names := flag.String("configs", "baseline,defaults", "comma-separated configurations, run side by side")
	ns := flag.String("n", "1,4,8", "comma-separated numbers of virtual clusters per configuration")
	idle := flag.Duration("idle", 2*time.Minute, "idle time after the last start before memory is read")
	list := flag.Bool("list", false, "list the configurations and exit")
	flag.Parse()
	ctrl.SetLogger(logr.Discard())
	if *list {
		keys := make([]string, 0, len(configs))
		for k := range configs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Printf("%-22s %s\n", k, configs[k].about)
		}
		return
	}
	if err := run(strings.Split(*names, ","), *ns, *idle); err != nil {
		fmt.Fprintln(os.Stderr, "memory:", err)
		os.Exit(1)
	}
}

// sample is the memory of one process kind summed over a configuration's
// clusters, in KiB.
type sample struct{ pss, anon int64 }

type runner struct {
	name    string
	cfg     config
	p       *local.Provisioner
	vcs     []*vcluster.VirtualCluster
	kine    *exec.Cmd
	kineDSN string
	// byN[n][kind] is the memory at n clusters.
	byN map[int]map[string]sample
}

func run(names []string, nsFlag string, idle time.Duration) error {
	var ns []int
	for _, f := range strings.Split(nsFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("-n: %q is not a positive number", f)
		}
		ns = append(ns, n)
	}
	slices.Sort(ns)
	root, err := os.MkdirTemp("", "vclusterkit-memory-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	ctx := context.Background()
	var rs []*runner
	defer func() {
		for _, r := range rs {
			for _, vc := range r.vcs {
				_ = r.p.Deprovision(ctx, vc)
			}
			r.p.Shutdown(ctx)
			if r.kine != nil {
				benchkit.Stop(r.kine)
			}
		}
	}()
	for _, name := range names {
		cfg, ok := configs[name]
		if !ok {
			return fmt.Errorf("unknown configuration %q (-list lists them)", name)
		}
		o := local.Options{Dir: filepath.Join(root, name)}
		cfg.opts(&o)
		p, err := local.New(o)
		if err != nil {
			return err
		}
		r := &runner{name: name, cfg: cfg, p: p, byN: map[int]map[string]sample{}}
		rs = append(rs, r)
		if cfg.sharedKine {
			if err := r.startKine(filepath.Join(root, name+"-kine")); err != nil {
				return err
			}
		}
		fmt.Printf("config %s: %s\n", name, cfg.about)
	}
	for _, n := range ns {
		for _, r := range rs {
			for len(r.vcs) < n {
				start := time.Now()
				if err := r.add(ctx); err != nil {
					return fmt.Errorf("%s: virtual cluster %d: %w", r.name, len(r.vcs), err)
				}
				fmt.Printf("%s: virtual cluster %d ready in %.1fs\n", r.name, len(r.vcs), time.Since(start).Seconds())
			}
		}
		fmt.Printf("idling %s with N=%d per configuration\n", idle, n)
		time.Sleep(idle)
		for _, r := range rs {
			r.byN[n] = r.measure()
			fmt.Println(r.line(n))
		}
	}
	fmt.Println()
	fmt.Println(table(rs, ns))
	if len(rs) >= 2 && len(ns) >= 2 {
		a, b := rs[0].marginal(ns, "total"), rs[len(rs)-1].marginal(ns, "total")
		fmt.Printf("marginal PSS per virtual cluster %s/%s: %.2f\n", rs[len(rs)-1].name, rs[0].name, float64(b.pss)/float64(a.pss))
	} else if len(ns) >= 2 {
		m := rs[0].marginal(ns, "total")
		fmt.Printf("marginal PSS per virtual cluster (%s): %.1f MiB\n", rs[0].name, mib(m.pss))
	}
	return nil
}

func (r *runner) startKine(dir string) error {
	bin, err := binaries.Path(binaries.Kine)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := l.Addr().String()
	l.Close()
	logf, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		return err
	}
	c := exec.Command(bin, "--endpoint=sqlite://"+filepath.Join(dir, "state.db")+"?_journal=WAL&cache=shared",
		"--listen-address="+addr, "--metrics-bind-address=0")
	c.Stdout, c.Stderr = logf, logf
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// The same GOGC as the provisioner's own components.
	o := local.Options{}
	r.cfg.opts(&o)
	switch {
	case o.GOGC == 0:
		c.Env = append(os.Environ(), "GOGC="+strconv.Itoa(local.DefaultGOGC))
	case o.GOGC > 0:
		c.Env = append(os.Environ(), "GOGC="+strconv.Itoa(o.GOGC))
	}
	if err := c.Start(); err != nil {
		return err
	}
	r.kine, r.kineDSN = c, "http://"+addr
	for range 200 {
		if cn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			cn.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("shared kine not listening on %s", addr)
}

func (r *runner) add(ctx context.Context) error {
	vc := &vcluster.VirtualCluster{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("mem-%d", len(r.vcs)), Namespace: "bench"},
		Spec:       vcluster.VirtualClusterSpec{Tenant: "bench"},
	}
	req := vcluster.Request{Cluster: vc}
	if r.cfg.sharedKine {
		vc.Spec.BackingStore.Type = vcluster.BackingStoreEtcd
		req.BackingStoreDSN = r.kineDSN
	}
	res, err := r.p.Provision(ctx, req)
	if err != nil {
		return err
	}
	if !res.Ready {
		return fmt.Errorf("not ready: %+v", res)
	}
	r.vcs = append(r.vcs, vc)
	return nil
}

// kinds in report order; "store" is kine or etcd.
var kinds = []string{"store", "kube-apiserver", "kube-controller-manager", "total"}

// measure sums PSS and RssAnon by process kind over the runner's clusters
// (and its shared kine).
func (r *runner) measure() map[string]sample {
	out := map[string]sample{}
	add := func(kind string, pid int) {
		s, err := readMem(pid)
		if err != nil {
			return
		}
		for _, k := range []string{kind, "total"} {
			t := out[k]
			t.pss += s.pss
			t.anon += s.anon
			out[k] = t
		}
	}
	if r.kine != nil {
		add("store", r.kine.Process.Pid)
	}
	dirs := make([][]byte, 0, len(r.vcs))
	for _, vc := range r.vcs {
		dirs = append(dirs, []byte(r.p.StateDir(vc)+"/"))
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !slices.ContainsFunc(dirs, func(d []byte) bool { return bytes.Contains(cmd, d) }) {
			continue
		}
		switch exe := filepath.Base(string(bytes.SplitN(cmd, []byte{0}, 2)[0])); exe {
		case "kine", "etcd":
			add("store", pid)
		case "kube-apiserver", "kube-controller-manager":
			add(exe, pid)
		}
	}
	return out
}

// readMem reads Pss (smaps_rollup) and RssAnon (status) of pid, in KiB.
func readMem(pid int) (sample, error) {
	var s sample
	field := func(file, key string) (int64, error) {
		f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), file))
		if err != nil {
			return 0, err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if fs := strings.Fields(sc.Text()); len(fs) >= 2 && fs[0] == key+":" {
				return strconv.ParseInt(fs[1], 10, 64)
			}
		}
		return 0, fmt.Errorf("%s: no %s", file, key)
	}
	var err error
	if s.pss, err = field("smaps_rollup", "Pss"); err != nil {
		return s, err
	}
	s.anon, err = field("status", "RssAnon")
	return s, err
}

func mib(kb int64) float64 { return float64(kb) / 1024 }

func (r *runner) line(n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s N=%d per cluster (PSS / RssAnon MiB):", r.name, n)
	for _, k := range kinds {
		s := r.byN[n][k]
		fmt.Fprintf(&b, "  %s %.1f / %.1f", k, mib(s.pss)/float64(n), mib(s.anon)/float64(n))
	}
	return b.String()
}

// marginal is (total(N_max) − total(N_min)) / (N_max − N_min) of kind.
func (r *runner) marginal(ns []int, kind string) sample {
	lo, hi := ns[0], ns[len(ns)-1]
	a, b := r.byN[lo][kind], r.byN[hi][kind]
	d := int64(hi - lo)
	return sample{pss: (b.pss - a.pss) / d, anon: (b.anon - a.anon) / d}
}

// table is the markdown summary: per configuration, PSS and RssAnon per
// cluster at each N, per kind at the largest N, and the marginal cost.
func table(rs []*runner, ns []int) string {
	var b strings.Builder
	b.WriteString("| config |")
	for _, n := range ns {
		fmt.Fprintf(&b, " N=%d PSS / anon |", n)
	}
	hi := ns[len(ns)-1]
	fmt.Fprintf(&b, " store / apiserver / kcm PSS at N=%d |", hi)
	if len(ns) >= 2 {
		fmt.Fprintf(&b, " marginal %d→%d PSS / anon |", ns[0], hi)
	}
	b.WriteString("\n|---|")
	for range ns {
		b.WriteString("---|")
	}
	b.WriteString("---|")
	if len(ns) >= 2 {
		b.WriteString("---|")
	}
	for _, r := range rs {
		fmt.Fprintf(&b, "\n| %s |", r.name)
		for _, n := range ns {
			s := r.byN[n]["total"]
			fmt.Fprintf(&b, " %.0f / %.0f |", mib(s.pss)/float64(n), mib(s.anon)/float64(n))
		}
		fmt.Fprintf(&b, " %.0f / %.0f / %.0f |", mib(r.byN[hi]["store"].pss)/float64(hi),
			mib(r.byN[hi]["kube-apiserver"].pss)/float64(hi), mib(r.byN[hi]["kube-controller-manager"].pss)/float64(hi))
		if len(ns) >= 2 {
			m := r.marginal(ns, "total")
			fmt.Fprintf(&b, " %.0f / %.0f |", mib(m.pss), mib(m.anon))
		}
	}
	return b.String()
}
