package virtualcluster

import (
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
