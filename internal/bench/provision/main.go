// Command provision measures the local provisioner: it starts N virtual
// clusters on kine/SQLite and reports their median time-to-ready, and in the
// same run the median start time of a bare kube-apiserver on kine/SQLite
// started by hand (same binaries, same kind of store, no PKI of ours, no
// controller manager). Runs are interleaved (bare i, then virtual cluster i)
// so both see the same background load. It then lets the virtual clusters
// idle and reports the memory of each (PSS and RssAnon of store +
// kube-apiserver + kube-controller-manager; for memory after a proper idle
// time, per process kind and marginal per cluster, use
// internal/bench/memory). It also reports, for information, how long
// until the controller manager's controllers run (the aggregated view role
// is filled). The last line is the ratio
// median(virtual cluster ready) / median(bare API server ready), where a
// virtual cluster is ready when Provision returns: its API server answers
// /readyz and its controller manager /healthz.
//
//	go run ./internal/bench/provision [-n 5] [-idle 15s]
package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/internal/bench/benchkit"
	"github.com/vclusterkit/vclusterkit/internal/binaries"
	"github.com/vclusterkit/vclusterkit/vcluster"
	"github.com/vclusterkit/vclusterkit/vcluster/kubeconfig"
	"github.com/vclusterkit/vclusterkit/vcluster/local"
)

func main() {
	n := flag.Int("n", 5, "number of virtual clusters (and bare API servers)")
	idle := flag.Duration("idle", 15*time.Second, "how long the virtual clusters idle before RSS is read")
	flag.Parse()
	ctrl.SetLogger(logr.Discard())
	if err := run(*n, *idle); err != nil {
		fmt.Fprintln(os.Stderr, "provision:", err)
		os.Exit(1)
	}
}

func run(n int, idle time.Duration) error {
	if n < 1 {
		return fmt.Errorf("-n must be at least 1")
	}
	bins, err := binaries.Paths(binaries.Kine, binaries.KubeAPIServer, binaries.KubeControllerManager)
	if err != nil {
		return err
	}
	root, err := os.MkdirTemp("", "vclusterkit-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	p, err := local.New(local.Options{Dir: filepath.Join(root, "vclusters")})
	if err != nil {
		return err
	}
	defer p.Shutdown(context.Background())
	ctx := context.Background()

	var vcTimes, bareTimes, ctrlTimes []time.Duration
	var vcs []*vcluster.VirtualCluster
	defer func() {
		for _, vc := range vcs {
			_ = p.Deprovision(ctx, vc)
		}
	}()
	for i := range n {
		bd, err := bare(bins, filepath.Join(root, fmt.Sprintf("bare-%d", i)))
		if err != nil {
			return fmt.Errorf("bare API server %d: %w", i, err)
		}
		bareTimes = append(bareTimes, bd)

		vc := &vcluster.VirtualCluster{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bench-%d", i), Namespace: "bench"},
			Spec:       vcluster.VirtualClusterSpec{Tenant: "bench"},
		}
		start := time.Now()
		res, err := p.Provision(ctx, vcluster.Request{Cluster: vc})
		d := time.Since(start)
		if err != nil {
			return fmt.Errorf("virtual cluster %d: %w", i, err)
		}
		if !res.Ready {
			return fmt.Errorf("virtual cluster %d not ready: %+v", i, res)
		}
		vcs = append(vcs, vc)
		vcTimes = append(vcTimes, d)
		cd, err := controllersReady(ctx, p, vc)
		if err != nil {
			return fmt.Errorf("virtual cluster %d: %w", i, err)
		}
		ctrlTimes = append(ctrlTimes, d+cd)
		fmt.Printf("run %d: bare kube-apiserver on kine %6.2fs   virtual cluster (local, sqlite) ready %6.2fs, controllers running %6.2fs\n",
			i, bd.Seconds(), d.Seconds(), (d + cd).Seconds())
	}

	time.Sleep(idle)
	var psss []int64
	for _, vc := range vcs {
		pss, anon, procs := memOf(p.StateDir(vc))
		psss = append(psss, pss)
		fmt.Printf("idle %s: PSS %d MiB, RssAnon %d MiB (PSS/RssAnon: %s)\n", vc.Name, pss/1024, anon/1024, procs)
	}
	sort.Slice(psss, func(i, j int) bool { return psss[i] < psss[j] })
	fmt.Printf("median idle PSS per virtual cluster after %s: %d MiB (min %d, max %d; internal/bench/memory measures it properly)\n",
		idle, psss[len(psss)/2]/1024, psss[0]/1024, psss[len(psss)-1]/1024)
	mv, mb := median(vcTimes), median(bareTimes)
	fmt.Printf("median until kube-controller-manager has aggregated the edit/view roles: %.2fs (ratio to bare %.2f)\n",
		median(ctrlTimes).Seconds(), median(ctrlTimes).Seconds()/mb.Seconds())
	fmt.Printf("median time-to-ready: virtual cluster %.2fs, bare kube-apiserver on kine %.2fs (N=%d)\n", mv.Seconds(), mb.Seconds(), n)
	fmt.Printf("ratio virtual/bare: %.2f\n", mv.Seconds()/mb.Seconds())
	return nil
}

// controllersReady measures, after Provision returned, how long until the
// controller manager has aggregated the view ClusterRole: its controllers
// run.
func controllersReady(ctx context.Context, p *local.Provisioner, vc *vcluster.VirtualCluster) (time.Duration, error) {
	start := time.Now()
	kc, err := p.Kubeconfig(ctx, vc)
	if err != nil {
		return 0, err
	}
	cfg, err := kubeconfig.RESTConfig(kc)
	if err != nil {
		return 0, err
	}
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		return 0, err
	}
	for {
		var cr rbacv1.ClusterRole
		if err := c.Get(ctx, client.ObjectKey{Name: "view"}, &cr); err == nil && len(cr.Rules) > 0 {
			return time.Since(start), nil
		}
		if time.Since(start) > 2*time.Minute {
			return 0, fmt.Errorf("view ClusterRole not aggregated after 2 minutes")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// bare starts kine on a fresh SQLite file and kube-apiserver on it by hand,
// and returns the time from starting kine until /readyz answers 200.
func bare(bins map[string]string, dir string) (time.Duration, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, err
	}
	saKey, saPub, err := saKeys()
	if err != nil {
		return 0, err
	}
	keyFile, pubFile := filepath.Join(dir, "sa.key"), filepath.Join(dir, "sa.pub")
	if err := os.WriteFile(keyFile, saKey, 0o600); err != nil {
		return 0, err
	}
	if err := os.WriteFile(pubFile, saPub, 0o600); err != nil {
		return 0, err
	}
	kinePort, apiPort, err := freePort(), freePort(), error(nil)
	if kinePort == 0 || apiPort == 0 {
		return 0, fmt.Errorf("no free port")
	}
	logf, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	start := time.Now()
	kine := command(bins[binaries.Kine], logf,
		"--endpoint=sqlite://"+filepath.Join(dir, "state.db")+"?_journal=WAL&cache=shared",
		fmt.Sprintf("--listen-address=127.0.0.1:%d", kinePort), "--metrics-bind-address=0")
	if err := kine.Start(); err != nil {
		return 0, err
	}
	defer benchkit.Stop(kine)
	deadline := time.Now().Add(2 * time.Minute)
	for !dial(fmt.Sprintf("127.0.0.1:%d", kinePort)) {
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("kine not listening")
		}
		time.Sleep(50 * time.Millisecond)
	}
	api := command(bins[binaries.KubeAPIServer], logf,
		"--advertise-address=127.0.0.1", "--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(apiPort),
		fmt.Sprintf("--etcd-servers=http://127.0.0.1:%d", kinePort), "--endpoint-reconciler-type=none",
		"--cert-dir="+filepath.Join(dir, "certs"),
		"--service-account-key-file="+pubFile, "--service-account-signing-key-file="+keyFile,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-cluster-ip-range=10.96.0.0/12", "--authorization-mode=RBAC")
	if err := api.Start(); err != nil {
		return 0, err
	}
	defer benchkit.Stop(api)
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // local benchmark
	for {
		resp, err := c.Get(fmt.Sprintf("https://127.0.0.1:%d/readyz", apiPort))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(start), nil
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logf.Name())
			return 0, fmt.Errorf("kube-apiserver not ready: %s", b[max(0, len(b)-2000):])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func command(bin string, log *os.File, args ...string) *exec.Cmd {
	c := exec.Command(bin, args...)
	c.Stdout, c.Stderr = log, log
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	return c
}

func dial(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func saKeys() ([]byte, []byte, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	priv, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: priv}), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), nil
}

// memOf sums PSS (/proc/PID/smaps_rollup: shared pages such as the
// binaries' code split among the processes that map them) and RssAnon
// (/proc/PID/status), in KiB, of every process whose command line mentions
// dir. VmRSS would count the shared binaries once per cluster.
func memOf(dir string) (pss, anon int64, procs string) {
	var names []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmd, []byte(dir+"/")) {
			continue
		}
		p, a := field(filepath.Join("/proc", e.Name(), "smaps_rollup"), "Pss:"), field(filepath.Join("/proc", e.Name(), "status"), "RssAnon:")
		pss, anon = pss+p, anon+a
		exe := filepath.Base(string(bytes.SplitN(cmd, []byte{0}, 2)[0]))
		names = append(names, fmt.Sprintf("%s %d/%d MiB", exe, p/1024, a/1024))
	}
	return pss, anon, strings.Join(names, ", ")
}

// field returns the number after key in file, 0 when missing.
func field(file, key string) int64 {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == key {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}
