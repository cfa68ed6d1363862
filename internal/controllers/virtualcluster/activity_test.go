package virtualcluster

import (
	"github.com/vclusterkit/vclusterkit/sync/translate"
	"github.com/vclusterkit/vclusterkit/vcluster/dns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"testing"
	"time"
)

func TestSumFlowSchemasCountsOnlyUserTraffic(t *testing.T) {
	body := []byte(`# HELP apiserver_flowcontrol_dispatched_requests_total [BETA] Number of requests executed by API Priority and Fairness subsystem.
# TYPE apiserver_flowcontrol_dispatched_requests_total counter
apiserver_flowcontrol_dispatched_requests_total{flow_schema="exempt",priority_level="exempt"} 1000
apiserver_flowcontrol_dispatched_requests_total{flow_schema="global-default",priority_level="global-default"} 7
apiserver_flowcontrol_dispatched_requests_total{flow_schema="kube-controller-manager",priority_level="workload-high"} 500
apiserver_flowcontrol_dispatched_requests_total{flow_schema="service-accounts",priority_level="workload-low"} 3
apiserver_flowcontrol_dispatched_requests_total{flow_schema="system-leader-election",priority_level="leader-election"} 90
apiserver_request_total{code="200",component="apiserver",flow_schema="global-default"} 99
`)
	if got := sumFlowSchemas(body); got != 10 {
		t.Fatalf("sumFlowSchemas = %v, want 10 (global-default 7 + service-accounts 3; exempt and system schemas excluded)", got)
	}
}

func TestActivityTrackerIdleTime(t *testing.T) {
	now := time.Unix(1000, 0)
	a := newActivityTracker()
	a.now = func() time.Time { return now }
	if idle := a.observe("ns/vc", 5); idle != 0 {
		t.Fatalf("first observation idle = %s, want 0", idle)
	}
	now = now.Add(3 * time.Second)
	if idle := a.observe("ns/vc", 5); idle != 3*time.Second {
		t.Fatalf("unchanged counter idle = %s, want 3s", idle)
	}
	now = now.Add(time.Second)
	if idle := a.observe("ns/vc", 6); idle != 0 {
		t.Fatalf("a new request must reset the clock, idle = %s", idle)
	}
	now = now.Add(2 * time.Second)
	a.touch("ns/vc")
	now = now.Add(time.Second)
	if idle := a.observe("ns/vc", 6); idle != time.Second {
		t.Fatalf("after touch idle = %s, want 1s", idle)
	}
}

// The virtual cluster's own DNS pod always runs: it must not keep the
// cluster awake, while a tenant's pod (even one labelled like the DNS
// outside kube-system) does.
func TestDNSPodIsNotActivity(t *testing.T) {
	tr, err := translate.New("vc", "host-ns")
	if err != nil {
		t.Fatal(err)
	}
	hostPod := func(ns string, labels map[string]string) *corev1.Pod {
		meta, err := tr.HostMeta("Pod", &metav1.ObjectMeta{Name: "p", Namespace: ns, Labels: labels})
		if err != nil {
			t.Fatal(err)
		}
		return &corev1.Pod{ObjectMeta: meta}
	}
	for _, tc := range []struct {
		what string
		pod  *corev1.Pod
		want bool
	}{
		{"the DNS pod", hostPod(dns.Namespace, map[string]string{"k8s-app": "kube-dns", "pod-template-hash": "abc"}), true},
		{"another kube-system pod", hostPod(dns.Namespace, map[string]string{"k8s-app": "metrics"}), false},
		{"a tenant pod labelled like the DNS", hostPod("default", map[string]string{"k8s-app": "kube-dns"}), false},
		{"an unlabelled pod", hostPod("default", nil), false},
	} {
		if got := isDNSPod(tc.pod); got != tc.want {
			t.Errorf("%s: isDNSPod = %v, want %v", tc.what, got, tc.want)
		}
	}
}
