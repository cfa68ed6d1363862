package virtualcluster

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/sync/translate"
	"github.com/vclusterkit/vclusterkit/vcluster"
	"github.com/vclusterkit/vclusterkit/vcluster/dns"
	"github.com/vclusterkit/vclusterkit/vcluster/kubeconfig"
)

// activityFlowSchemas are the API Priority and Fairness flow schemas whose
// requests count as a tenant's activity: requests of users and service
// accounts, not those of the control plane's own components (their flow
// schemas are the system ones) nor the engine's (it is system:masters,
// exempt).
var activityFlowSchemas = map[string]bool{"global-default": true, "catch-all": true, "service-accounts": true}

// activityTracker remembers, per virtual cluster, the request counter last
// seen and when it last moved.
type activityTracker struct {
	mu   sync.Mutex
	seen map[string]activityMark
	now  func() time.Time
}

type activityMark struct {
	count   float64
	changed time.Time
}

func newActivityTracker() *activityTracker {
	return &activityTracker{seen: map[string]activityMark{}, now: time.Now}
}

// observe records count for key and returns how long it has not moved.
// A first observation counts as activity: after a restart of the engine a
// virtual cluster gets a full period before it may sleep.
func (a *activityTracker) observe(key string, count float64) time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	m, ok := a.seen[key]
	if !ok || count != m.count {
		a.seen[key] = activityMark{count: count, changed: now}
		return 0
	}
	return now.Sub(m.changed)
}

// touch records activity for key now.
func (a *activityTracker) touch(key string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := a.seen[key]
	m.changed = a.now()
	a.seen[key] = m
}

func (a *activityTracker) forget(key string) {
	a.mu.Lock()
	delete(a.seen, key)
	a.mu.Unlock()
}

// userRequests reads the virtual API server's metrics and sums the requests
// dispatched for activityFlowSchemas.
func userRequests(ctx context.Context, cfg *rest.Config) (float64, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return 0, err
	}
	body, err := dc.RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return 0, fmt.Errorf("reading /metrics: %w", err)
	}
	return sumFlowSchemas(body), nil
}

// sumFlowSchemas parses Prometheus text exposition for
// apiserver_flowcontrol_dispatched_requests_total.
func sumFlowSchemas(body []byte) float64 {
	const metric = "apiserver_flowcontrol_dispatched_requests_total{"
	var total float64
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, metric) {
			continue
		}
		labels, value, ok := strings.Cut(line[len(metric):], "} ")
		if !ok {
			continue
		}
		schema := ""
		for _, kv := range strings.Split(labels, ",") {
			if k, v, ok := strings.Cut(kv, "="); ok && k == "flow_schema" {
				schema = strings.Trim(v, `"`)
			}
		}
		if !activityFlowSchemas[schema] {
			continue
		}
		if f, err := strconv.ParseFloat(strings.Fields(value)[0], 64); err == nil {
			total += f
		}
	}
	return total
}

// checkActivity puts a virtual cluster with Spec.Sleep.AfterInactivity to
// sleep when neither its API server served a user request nor any of its
// pods ran on the host for that long.
func (r *Reconciler) checkActivity(ctx context.Context, vc *vcluster.VirtualCluster) error {
	key := syncKey(vc)
	if vc.Spec.Sleep == nil || vc.Spec.Sleep.AfterInactivity == nil || vc.Spec.Sleep.AfterInactivity.Duration <= 0 {
		r.activity.forget(key)
		return nil
	}
	p, err := r.provisioner(vc)
	if err != nil {
		return err
	}
	kc, err := p.Kubeconfig(ctx, vc)
	if err != nil {
		return err
	}
	cfg, err := kubeconfig.RESTConfig(kc)
	if err != nil {
		return err
	}
	count, err := userRequests(ctx, cfg)
	if err != nil {
		return err
	}
	var pods corev1.PodList
	if err := r.Client.List(ctx, &pods, client.InNamespace(vc.EffectiveHostNamespace()), client.MatchingLabels{vcluster.LabelVirtualCluster: vc.Name}); err != nil {
		return err
	}
	idle := r.activity.observe(key, count)
	for _, p := range pods.Items {
		if isDNSPod(&p) {
			continue // the engine's own workload, always running
		}
		if p.Status.Phase == corev1.PodRunning || p.Status.Phase == corev1.PodPending {
			r.activity.touch(key) // a workload is activity
			return nil
		}
	}
	if idle < vc.Spec.Sleep.AfterInactivity.Duration {
		return nil
	}
	patch := client.MergeFrom(vc.DeepCopy())
	if vc.Annotations == nil {
		vc.Annotations = map[string]string{}
	}
	vc.Annotations[vcluster.AnnotationAsleepSince] = time.Now().UTC().Format(time.RFC3339)
	r.activity.forget(key)
	return r.Client.Patch(ctx, vc, patch)
}

// isDNSPod reports whether host pod p runs the virtual cluster's own DNS
// (vcluster/dns), which runs as long as the cluster does and so is not a
// tenant's activity. A tenant who labels a workload of its kube-system like
// it only lets its own cluster sleep.
func isDNSPod(p *corev1.Pod) bool {
	if p.Annotations[translate.AnnotationNamespace] != dns.Namespace {
		return false
	}
	labels := translate.VirtualLabels(p.Labels)
	for k, v := range dns.Labels {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// shouldSleep: paused by spec, or asleep for inactivity until woken.
func shouldSleep(vc *vcluster.VirtualCluster) bool {
	if vc.Spec.Sleep != nil && vc.Spec.Sleep.Paused {
		return true
	}
	_, asleep := vc.Annotations[vcluster.AnnotationAsleepSince]
	return asleep
}
