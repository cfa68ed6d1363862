// Command syncmem measures the sync engine's memory per additional virtual
// cluster in one process: N sync engines (the built-in syncers, defaults)
// share one syncer.Host, as in vclusterkit's Engine, for N = 1, 2, 4, 8, 16
// and 32, each syncing a virtual cluster of 100 pods (with 10 Services and
// 10 ConfigMaps the pods mount) into its own host namespace.
//
//	go run ./internal/bench/syncmem [-max 32] [-pods 100]
//
// To keep 32 virtual clusters within one machine, the engines read the
// same virtual API server: what each one holds (its caches of the virtual
// objects and of its host copies, its queues, clients and controllers) is
// what it would hold for a virtual cluster of its own. The host is a bare
// API server (no scheduler: host pods stay Pending, so nothing is written
// back to the shared virtual objects). After each step it waits until every
// host namespace has its copies, lets the process settle for 10 seconds,
// runs the garbage collector twice, and reads the Go heap in use and the
// process's RssAnon. The last line is the slope of RssAnon over N (least
// squares): the memory one more virtual cluster costs.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/vclusterkit/vclusterkit/internal/bench/benchkit"
	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/sync/resources/builtin"
	"github.com/vclusterkit/vclusterkit/sync/syncer"
)

const virtualNS = "load"

func main() {
	most := flag.Int("max", 32, "the largest number of virtual clusters")
	npods := flag.Int("pods", 100, "pods per virtual cluster")
	flag.Parse()
	ctrl.SetLogger(logr.Discard())
	klog.SetLogger(logr.Discard())
	if err := run(*most, *npods); err != nil {
		fmt.Fprintln(os.Stderr, "syncmem:", err)
		os.Exit(1)
	}
}

func run(most, npods int) error {
	ctx := context.Background()
	host, err := testenv.StartAPIServer(testenv.APIServerOptions{})
	if err != nil {
		return err
	}
	defer func() { _ = host.Stop() }()
	virtual, err := testenv.StartAPIServer(testenv.APIServerOptions{})
	if err != nil {
		return err
	}
	defer func() { _ = virtual.Stop() }()
	h, v := benchkit.Unlimited(host.Config), benchkit.Unlimited(virtual.Config)
	if _, err := v.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: virtualNS}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	if _, err := v.CoreV1().ServiceAccounts(virtualNS).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	for i := range 10 {
		name := fmt.Sprintf("app-%d", i)
		if _, err := v.CoreV1().ConfigMaps(virtualNS).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"config.yaml": strings.Repeat("x: y\n", 20)}}, metav1.CreateOptions{}); err != nil {
			return err
		}
		if _, err := v.CoreV1().Services(virtualNS).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": name},
			Ports:    []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}},
		}}, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	for i := range npods {
		app := fmt.Sprintf("app-%d", i%10)
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pod-%04d", i), Labels: map[string]string{"app": app}}, Spec: corev1.PodSpec{
			AutomountServiceAccountToken: ptr.To(false),
			Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1",
				VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/etc/app"}}}},
			Volumes: []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: app}}}}},
		}}
		if _, err := v.CoreV1().Pods(virtualNS).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			return err
		}
	}

	sh, err := syncer.NewHost(host.Config, syncer.HostOptions{Unfiltered: builtin.HostOptions()})
	if err != nil {
		return err
	}
	go func() { _ = sh.Start(ctx) }()
	fmt.Printf("%d pods, 10 Services, 10 ConfigMaps per virtual cluster; built-in syncers, defaults\n", npods)
	fmt.Printf("%4s %12s %12s %18s\n", "N", "heap MiB", "RssAnon MiB", "RssAnon/N step")
	var ns, rss []float64
	started := 0
	var prev float64
	for n := 1; n <= most; n *= 2 {
		for ; started < n; started++ {
			hostNS := fmt.Sprintf("vc-%02d", started)
			if _, err := h.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: hostNS}}, metav1.CreateOptions{}); err != nil {
				return err
			}
			if _, err := h.CoreV1().ServiceAccounts(hostNS).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
				return err
			}
			syncers, err := builtin.Syncers(builtin.Options{})
			if err != nil {
				return err
			}
			eng, err := syncer.New(sh, virtual.Config, syncer.Options{Name: fmt.Sprintf("vc%02d", started), HostNamespace: hostNS, Syncers: syncers})
			if err != nil {
				return err
			}
			go func() { _ = eng.Start(ctx) }()
		}
		deadline := time.Now().Add(5 * time.Minute)
		for i := range n {
			hostNS := fmt.Sprintf("vc-%02d", i)
			for {
				l, err := h.CoreV1().Pods(hostNS).List(ctx, metav1.ListOptions{})
				if err == nil && len(l.Items) == npods {
					break
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("N=%d: the pods of %s did not all reach the host within 5 minutes", n, hostNS)
				}
				time.Sleep(200 * time.Millisecond)
			}
		}
		time.Sleep(10 * time.Second)
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		anon, err := rssAnon()
		if err != nil {
			return err
		}
		step := ""
		if len(ns) > 0 {
			step = fmt.Sprintf("%.1f", (anon-prev)/float64(n-int(ns[len(ns)-1])))
		}
		prev = anon
		ns, rss = append(ns, float64(n)), append(rss, anon)
		fmt.Printf("%4d %12.1f %12.1f %18s\n", n, float64(ms.HeapInuse)/(1<<20), anon, step)
	}
	fmt.Printf("syncer memory per additional virtual cluster (RssAnon slope, least squares): %.1f MiB\n", slope(ns, rss))
	return nil
}

func slope(x, y []float64) float64 {
	var sx, sy, sxx, sxy float64
	for i := range x {
		sx += x[i]
		sy += y[i]
		sxx += x[i] * x[i]
		sxy += x[i] * y[i]
	}
	n := float64(len(x))
	return (n*sxy - sx*sy) / (n*sxx - sx*sx)
}

// rssAnon is this process's RssAnon in MiB.
func rssAnon() (float64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "RssAnon:" {
			kb, err := strconv.ParseFloat(f[1], 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("no RssAnon in /proc/self/status")
}
