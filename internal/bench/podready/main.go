// Command podready measures pod create→Running latency on the real-node
// host against a KWOK host in the same run: N pods (default 30) are created
// at once, and each one's latency runs from the start of its create call to
// the moment a client-side watch sees it Running with its Ready condition
// (no server timestamps, which have one-second resolution). Neither side is
// held by a client rate limiter: the client's QPS is negative, which turns
// client-go's limiter off altogether.
//
//	go run ./internal/bench/podready [-pods 30]
//
// The last line is the ratio of p99 latencies, real / KWOK.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/vclusterkit/vclusterkit/internal/images"
	"github.com/vclusterkit/vclusterkit/internal/testenv"
)

func main() {
	n := flag.Int("pods", 30, "pods created at once")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	var p99 [2]time.Duration
	for i, real := range []bool{true, false} {
		name := map[bool]string{true: "real node", false: "KWOK"}[real]
		lat, startup, err := measure(ctx, real, *n)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
			os.Exit(1)
		}
		p99[i] = testenv.Percentile(lat, 99)
		fmt.Printf("%-9s host start %6s   %d pods create→Running: p50 %6s  p90 %6s  p99 %6s  max %6s\n",
			name, startup.Round(10*time.Millisecond), *n, testenv.Percentile(lat, 50).Round(time.Millisecond), testenv.Percentile(lat, 90).Round(time.Millisecond),
			p99[i].Round(time.Millisecond), slices.Max(lat).Round(time.Millisecond))
	}
	fmt.Printf("p99 create→Running, real node / KWOK: %.2f\n", float64(p99[0])/float64(p99[1]))
}

func measure(ctx context.Context, real bool, n int) ([]time.Duration, time.Duration, error) {
	t0 := time.Now()
	h, err := testenv.StartHost(ctx, testenv.HostOptions{RealNode: real})
	if err != nil {
		return nil, 0, err
	}
	defer h.Stop()
	startup := time.Since(t0)
	cfg := rest.CopyConfig(h.Config)
	cfg.QPS, cfg.Burst = -1, 0 // no client-side limiter
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, 0, err
	}
	const ns = "podready"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return nil, 0, err
	}
	for {
		if _, err := cs.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{}); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	w, err := cs.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, 0, err
	}
	defer w.Stop()
	var mu sync.Mutex
	created := map[string]time.Time{}
	spec := corev1.PodSpec{
		TerminationGracePeriodSeconds: ptr.To[int64](0),
		Containers:                    []corev1.Container{{Name: "main", Image: images.Busybox, ImagePullPolicy: corev1.PullNever, Command: []string{"sleep", "3600"}}},
		Tolerations:                   []corev1.Toleration{{Key: "kwok.x-k8s.io/node", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("p%03d", i)
			mu.Lock()
			created[name] = time.Now()
			mu.Unlock()
			_, err := cs.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}, metav1.CreateOptions{})
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return nil, 0, err
	}
	running := map[string]time.Duration{}
	for len(running) < n {
		select {
		case <-ctx.Done():
			return nil, 0, fmt.Errorf("%d of %d pods Running: %w", len(running), n, ctx.Err())
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil, 0, fmt.Errorf("watch closed with %d of %d pods Running", len(running), n)
			}
			p, isPod := ev.Object.(*corev1.Pod)
			if !isPod || ev.Type == watch.Deleted || p.Status.Phase != corev1.PodRunning {
				continue
			}
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
					if _, seen := running[p.Name]; !seen {
						mu.Lock()
						running[p.Name] = time.Since(created[p.Name])
						mu.Unlock()
					}
				}
			}
		}
	}
	out := make([]time.Duration, 0, n)
	for _, d := range running {
		out = append(out, d)
	}
	return out, startup, nil
}
