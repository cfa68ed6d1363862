package quota

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

// Bad input: a pod with no resource requests must be charged the LimitRange defaults,
// or it would be free and the quota meaningless.
func TestPodUsageAppliesLimitRangeDefaults(t *testing.T) {
	defaults := &tenancy.LimitRangeDefaults{
		Default:        rl("cpu", "500m", "memory", "256Mi"),
		DefaultRequest: rl("cpu", "100m", "memory", "128Mi"),
	}
	always := corev1.ContainerRestartPolicyAlways
	tests := []struct {
		name     string
		pod      corev1.Pod
		defaults *tenancy.LimitRangeDefaults
		want     corev1.ResourceList
	}{
		{
			name:     "no requests at all: defaults apply",
			pod:      corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}}}},
			defaults: defaults,
			want: rl("pods", "1", "count/pods", "1", "requests.cpu", "100m", "cpu", "100m", "requests.memory", "128Mi", "memory", "128Mi",
				"limits.cpu", "500m", "limits.memory", "256Mi"),
		},
		{
			name:     "no requests and no defaults: only the count",
			pod:      corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}}}},
			defaults: nil,
			want:     rl("pods", "1", "count/pods", "1"),
		},
		{
			name: "limit only: request defaults to the limit, not to DefaultRequest",
			pod: corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a",
				Resources: corev1.ResourceRequirements{Limits: rl("cpu", "2")}}}}},
			defaults: defaults,
			want: rl("pods", "1", "count/pods", "1", "requests.cpu", "2", "cpu", "2", "requests.memory", "128Mi", "memory", "128Mi",
				"limits.cpu", "2", "limits.memory", "256Mi"),
		},
		{
			name: "init containers: max with the sum, sidecars add, overhead adds",
			pod: corev1.Pod{Spec: corev1.PodSpec{
				InitContainers: []corev1.Container{
					{Name: "init", Resources: corev1.ResourceRequirements{Requests: rl("cpu", "3")}},
					{Name: "sidecar", RestartPolicy: &always, Resources: corev1.ResourceRequirements{Requests: rl("cpu", "500m")}},
				},
				Containers: []corev1.Container{
					{Name: "a", Resources: corev1.ResourceRequirements{Requests: rl("cpu", "1")}},
					{Name: "b", Resources: corev1.ResourceRequirements{Requests: rl("cpu", "1")}},
				},
				Overhead: rl("cpu", "250m"),
			}},
			// Overhead adds to a limit only where the pod has one (as upstream).
			want: rl("pods", "1", "count/pods", "1", "requests.cpu", "3250m", "cpu", "3250m"),
		},
		{
			name: "overhead adds to set limits",
			pod: corev1.Pod{Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "a", Resources: corev1.ResourceRequirements{Limits: rl("cpu", "1")}}},
				Overhead:   rl("cpu", "250m"),
			}},
			want: rl("pods", "1", "count/pods", "1", "requests.cpu", "1250m", "cpu", "1250m", "limits.cpu", "1250m"),
		},
		{
			// An attack: tiny container requests under a large pod-level request. The
			// pod reserves the pod-level amount on its node, so that is what it costs.
			name: "pod-level resources replace the containers' cpu and memory",
			pod: corev1.Pod{Spec: corev1.PodSpec{
				Resources: &corev1.ResourceRequirements{Limits: rl("cpu", "8", "memory", "8Gi")},
				Containers: []corev1.Container{
					{Name: "a", Resources: corev1.ResourceRequirements{Requests: rl("cpu", "1m", "memory", "1Mi")}},
					{Name: "b"},
				},
			}},
			defaults: defaults,
			want: rl("pods", "1", "count/pods", "1", "requests.cpu", "8", "cpu", "8", "limits.cpu", "8",
				"requests.memory", "8Gi", "memory", "8Gi", "limits.memory", "8Gi"),
		},
		{
			// In-place resize: a shrink asked for (spec 1) but not yet applied by the
			// kubelet (allocated and actuated 2) still costs what the kubelet holds, as
			// upstream computes it: the larger of the spec, allocated and actuated pod
			// totals (3, 4, 4).
			name: "resize: a shrink costs the old size until the kubelet applies it",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: []corev1.Container{
					{Name: "shrinks", Resources: corev1.ResourceRequirements{Requests: rl("cpu", "1")}},
					{Name: "steady", Resources: corev1.ResourceRequirements{Requests: rl("cpu", "2")}},
				}},
				Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
					{Name: "shrinks", AllocatedResources: rl("cpu", "2"), Resources: &corev1.ResourceRequirements{Requests: rl("cpu", "2")}},
					{Name: "steady", AllocatedResources: rl("cpu", "2"), Resources: &corev1.ResourceRequirements{Requests: rl("cpu", "2")}},
				}},
			},
			want: rl("pods", "1", "count/pods", "1", "requests.cpu", "4", "cpu", "4"),
		},
		{
			name: "resize: a grow costs the new size as soon as it is asked for",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: []corev1.Container{
					{Name: "grows", Resources: corev1.ResourceRequirements{Requests: rl("cpu", "3")}},
				}},
				Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
					{Name: "grows", AllocatedResources: rl("cpu", "1"), Resources: &corev1.ResourceRequirements{Requests: rl("cpu", "1")}},
				}},
			},
			want: rl("pods", "1", "count/pods", "1", "requests.cpu", "3", "cpu", "3"),
		},
		{
			name: "terminal pods are free",
			pod: corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}}},
				Status: corev1.PodStatus{Phase: corev1.PodSucceeded}},
			defaults: defaults,
			want:     rl(),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmpRL(t, "usage", tc.want, PodUsage(&tc.pod, tc.defaults))
		})
	}
}

func TestRender(t *testing.T) {
	rq := RenderResourceQuota("acme-prod", "acme", rl("cpu", "10", "count/pods", "5"))
	if rq.Name != ObjectName || rq.Namespace != "acme-prod" || rq.Labels[tenancy.LabelTenant] != "acme" || rq.Labels[LabelManagedBy] != ManagedByValue {
		t.Errorf("resource quota meta: %+v", rq.ObjectMeta)
	}
	cmpRL(t, "hard", rl("cpu", "10", "count/pods", "5"), rq.Spec.Hard)
	if RenderResourceQuota("x", "t", nil) != nil {
		t.Error("empty limits rendered a quota")
	}
	lr := RenderLimitRange("acme-prod", "acme", &tenancy.LimitRangeDefaults{DefaultRequest: rl("cpu", "100m"), Max: rl("cpu", "2")})
	want := corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer, DefaultRequest: rl("cpu", "100m"), Max: rl("cpu", "2")}}}
	if diff := cmp.Diff(want.Limits[0].Type, lr.Spec.Limits[0].Type); diff != "" {
		t.Error(diff)
	}
	cmpRL(t, "defaultRequest", want.Limits[0].DefaultRequest, lr.Spec.Limits[0].DefaultRequest)
	cmpRL(t, "max", want.Limits[0].Max, lr.Spec.Limits[0].Max)
	if RenderLimitRange("x", "t", &tenancy.LimitRangeDefaults{}) != nil {
		t.Error("empty defaults rendered a LimitRange")
	}

	tenants := []tenancy.Tenant{
		{ObjectMeta: metav1.ObjectMeta{Name: "acme"}, Spec: tenancy.TenantSpec{Quota: rl("cpu", "10"), LimitRange: &tenancy.LimitRangeDefaults{DefaultRequest: rl("cpu", "50m")}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: tenancy.TenantSpec{Parent: "acme", Quota: rl("cpu", "4")}},
	}
	spaces := []tenancy.Space{
		{ObjectMeta: metav1.ObjectMeta{Name: "web-site"}, Spec: tenancy.SpaceSpec{Tenant: "web", Quota: rl("cpu", "1")}},
		{ObjectMeta: metav1.ObjectMeta{Name: "web-blog"}, Spec: tenancy.SpaceSpec{Tenant: "web"}},
	}
	nodes := Nodes(tenants, spaces)
	if err := ValidateTree(nodes); err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 3 || nodes[2].Name != "space:web-site" || nodes[2].Parent != "web" {
		t.Errorf("nodes: %+v", nodes)
	}
	if NodeFor(&spaces[0]) != "space:web-site" || NodeFor(&spaces[1]) != "web" {
		t.Error("NodeFor")
	}
	if d := EffectiveLimitRange(tenants, "web"); d == nil || d.DefaultRequest.Cpu().String() != "50m" {
		t.Errorf("inherited limit range: %+v", d)
	}
}

func TestCollector(t *testing.T) {
	l := testLedger(t, LedgerOptions{})
	ctx := context.Background()
	if err := l.Admit(ctx, "a", SpaceNode("web-site"), rl("cpu", "1500m")); err != nil {
		t.Fatal(err)
	}
	if err := l.Commit("a"); err != nil {
		t.Fatal(err)
	}
	if err := l.Admit(ctx, "b", "web", rl("cpu", "1")); err != nil {
		t.Fatal(err)
	}
	_ = l.Admit(ctx, "c", "web", rl("cpu", "9"))
	want := `
# HELP vclusterkit_quota_admission_decisions_total Quota admission decisions by result.
# TYPE vclusterkit_quota_admission_decisions_total counter
vclusterkit_quota_admission_decisions_total{result="admitted"} 2
vclusterkit_quota_admission_decisions_total{result="denied"} 1
# HELP vclusterkit_quota_used Committed usage of a tenant: scope=own for objects charged to it directly, scope=subtree for its whole subtree.
# TYPE vclusterkit_quota_used gauge
vclusterkit_quota_used{resource="cpu",scope="own",tenant="space:web-site"} 1.5
vclusterkit_quota_used{resource="cpu",scope="subtree",tenant="acme"} 1.5
vclusterkit_quota_used{resource="cpu",scope="subtree",tenant="space:web-site"} 1.5
vclusterkit_quota_used{resource="cpu",scope="subtree",tenant="web"} 1.5
# HELP vclusterkit_quota_reserved Admitted but not yet committed usage of a tenant's subtree.
# TYPE vclusterkit_quota_reserved gauge
vclusterkit_quota_reserved{resource="cpu",tenant="acme"} 1
vclusterkit_quota_reserved{resource="cpu",tenant="web"} 1
`
	if err := testutil.CollectAndCompare(NewCollector(l), strings.NewReader(want),
		"vclusterkit_quota_admission_decisions_total", "vclusterkit_quota_used", "vclusterkit_quota_reserved"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(NewCollector(l), "vclusterkit_quota_hard"); n != 4 {
		t.Errorf("hard series: %d", n)
	}
}

// benchTree builds 10,000 tenants eight levels deep (1, 4, 16, ... 4096, then 4539 leaves),
// every tenant limiting cpu, memory and count/pods.
func benchTree(b *testing.B, total int) (*Ledger, []string) {
	l := NewLedger(LedgerOptions{})
	var nodes []Node
	var level []string
	var leaves []string
	nodes = append(nodes, Node{Name: "t0", Hard: rl("cpu", "1000000", "memory", "1000Ti", "count/pods", "100000000")})
	level = []string{"t0"}
	for depth := 1; len(nodes) < total; depth++ {
		var next []string
		for i := 0; len(nodes) < total && i < len(level)*4; i++ {
			name := fmt.Sprintf("t%d", len(nodes))
			nodes = append(nodes, Node{Name: name, Parent: level[i/4], Hard: rl("cpu", "1000000", "memory", "1000Ti", "count/pods", "100000000")})
			next = append(next, name)
		}
		level = next
		leaves = next
		if depth > 7 {
			b.Fatalf("tree deeper than 8 levels")
		}
	}
	if err := l.SetNodes(nodes); err != nil {
		b.Fatal(err)
	}
	return l, leaves
}

// BenchmarkAdmit measures one admission decision (Admit) followed by the Release that
// keeps the ledger in a steady state, on a leaf of a tree eight levels deep. Run with
// -cpu 1 for the one-core figure.
func BenchmarkAdmit(b *testing.B) {
	for _, total := range []int{100, 10000} {
		b.Run(fmt.Sprintf("tenants=%d", total), func(b *testing.B) {
			l, leaves := benchTree(b, total)
			req := rl("cpu", "250m", "memory", "64Mi", "count/pods", "1")
			uids := make([]types.UID, 4096)
			for i := range uids {
				uids[i] = types.UID(fmt.Sprintf("uid-%d", i))
			}
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				uid := uids[i%len(uids)]
				if err := l.Admit(ctx, uid, leaves[i%len(leaves)], req); err != nil {
					b.Fatal(err)
				}
				l.Release(uid)
				i++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
		})
	}
}
