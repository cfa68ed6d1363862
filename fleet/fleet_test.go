package fleet_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/fleet"
	"github.com/vclusterkit/vclusterkit/fleet/agent"
	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
)

const wait = 90 * time.Second

func logsOnFailure(t *testing.T) {
	t.Cleanup(func() {
		hostA.LogsOnFailure(t)
		hostB.LogsOnFailure(t)
		mgmt.LogsOnFailure(t)
	})
}

// condition waits until obj (re-read from c) has condition typ with status
// (and reason, when not empty), and returns its message.
func condition(t *testing.T, c client.Client, obj client.Object, conds func() []metav1.Condition, typ string, status metav1.ConditionStatus, reason string) string {
	t.Helper()
	var msg string
	testenv.Eventually(t, wait, fmt.Sprintf("%T %s condition %s=%s %s", obj, obj.GetName(), typ, status, reason), func(ctx context.Context) (bool, string) {
		if err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return false, err.Error()
		}
		cond := meta.FindStatusCondition(conds(), typ)
		if cond == nil {
			return false, "no condition yet"
		}
		msg = cond.Message
		return cond.Status == status && (reason == "" || cond.Reason == reason), fmt.Sprintf("%s %s: %s", cond.Status, cond.Reason, cond.Message)
	})
	return msg
}

func clusterReady(t *testing.T, name string, status metav1.ConditionStatus, reason string) *fleet.Cluster {
	t.Helper()
	c := &fleet.Cluster{ObjectMeta: metav1.ObjectMeta{Name: name}}
	condition(t, mc, c, func() []metav1.Condition { return c.Status.Conditions }, fleet.ConditionReady, status, reason)
	return c
}

func create(t *testing.T, c client.Client, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := c.Create(context.Background(), o); err != nil {
			t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
		}
	}
}

func tenant(name, parent string, q corev1.ResourceList, allowed ...string) *tenancy.Tenant {
	return &tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: tenancy.TenantSpec{Parent: parent, Quota: q, Policy: tenancy.Policy{AllowedClusters: allowed}}}
}

func namespace(name, tenant string) *corev1.Namespace {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if tenant != "" {
		ns.Labels = map[string]string{tenancy.LabelTenant: tenant}
	}
	return ns
}

func pod(ns, name string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.invalid/app"}}}}
}

// A cluster registered by a credential the platform holds: the management
// side reaches it through the kubeconfig Secret and reports its nodes,
// capacity and version; a Cluster whose Secret is missing says so naming
// the field; a Credential cluster without a Secret is refused.
func TestRegisterByCredential(t *testing.T) {
	logsOnFailure(t)
	c := clusterReady(t, alpha, metav1.ConditionTrue, "Reachable")
	if c.Status.Nodes != 1 || c.Status.KubernetesVersion == "" || c.Status.LastHeartbeatTime == nil {
		t.Errorf("alpha status: nodes %d, version %q, heartbeat %v", c.Status.Nodes, c.Status.KubernetesVersion, c.Status.LastHeartbeatTime)
	}
	if cpu := c.Status.Capacity[corev1.ResourceCPU]; cpu.Sign() <= 0 {
		t.Errorf("alpha capacity %v: want its node's cpu", c.Status.Capacity)
	}

	missing := &fleet.Cluster{ObjectMeta: metav1.ObjectMeta{Name: "gamma"},
		Spec: fleet.ClusterSpec{Connection: fleet.ConnectionCredential,
			KubeconfigSecret: &fleet.SecretKeyRef{Namespace: fleet.DefaultLedgerNamespace, Name: "nope"}}}
	create(t, mc, missing)
	t.Cleanup(func() { _ = mc.Delete(context.Background(), missing) })
	msg := condition(t, mc, missing, func() []metav1.Condition { return missing.Status.Conditions }, fleet.ConditionReady, metav1.ConditionFalse, "CredentialInvalid")
	if !strings.Contains(msg, "spec.kubeconfigSecret") || !strings.Contains(msg, "nope") {
		t.Errorf("message %q does not name spec.kubeconfigSecret and the Secret", msg)
	}

	err := mc.Create(context.Background(), &fleet.Cluster{ObjectMeta: metav1.ObjectMeta{Name: "delta"},
		Spec: fleet.ClusterSpec{Connection: fleet.ConnectionCredential}})
	if err == nil || !strings.Contains(err.Error(), "spec.kubeconfigSecret is required") {
		t.Errorf("a Credential cluster without a Secret: %v", err)
	}
}

// A cluster registered by its agent, which connects out: the agent
// creates the Cluster with its labels and reports heartbeats; it refuses
// to take over a cluster registered by credential, and bad options are
// refused naming the field.
func TestRegisterByAgent(t *testing.T) {
	logsOnFailure(t)
	c := clusterReady(t, beta, metav1.ConditionTrue, "Reachable")
	if c.Spec.Connection != fleet.ConnectionAgent || c.Spec.KubeconfigSecret != nil {
		t.Errorf("beta spec %+v: want an Agent cluster without a credential", c.Spec)
	}
	if c.Labels["region"] != "us" || c.Status.Nodes != 2 {
		t.Errorf("beta: labels %v, nodes %d; want region=us, 2 nodes", c.Labels, c.Status.Nodes)
	}

	a, err := agent.New(agent.Options{Cluster: alpha, Management: mgmt.Config, Host: hostA.Config, Interval: agentInterval})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := a.Start(ctx); err == nil || !strings.Contains(err.Error(), "spec.connection") {
		t.Errorf("an agent for a Credential cluster: %v, want an error naming spec.connection", err)
	}
	if _, err := agent.New(agent.Options{Management: mgmt.Config, Host: hostA.Config}); err == nil || !strings.Contains(err.Error(), "Options.Cluster") {
		t.Errorf("no cluster name: %v", err)
	}
}

// Claims are bound by labels and by free capacity, within the tenant
// policy's allowed clusters, and say why; one that nothing fits says so
// naming each cluster. Virtual clusters and spaces are placed through a
// claim, a named cluster or the default rule, and copied to their cluster.
func TestPlacement(t *testing.T) {
	logsOnFailure(t)
	ctx := context.Background()
	a := clusterReady(t, alpha, metav1.ConditionTrue, "")
	b := clusterReady(t, beta, metav1.ConditionTrue, "")
	create(t, mc, tenant("placer", "", nil), tenant("fenced", "", nil, alpha), namespace("placer-ns", ""))

	aCPU := a.Status.Capacity[corev1.ResourceCPU]
	bCPU := b.Status.Capacity[corev1.ResourceCPU]
	if bCPU.Cmp(aCPU) <= 0 {
		t.Fatalf("beta's cpu %s should exceed alpha's %s (two nodes against one)", bCPU.String(), aCPU.String())
	}
	big := *resource.NewMilliQuantity(aCPU.MilliValue()*3/2, resource.DecimalSI) // more than alpha has
	huge := *resource.NewMilliQuantity(bCPU.MilliValue()*10, resource.DecimalSI)
	claim := func(name, tenant string, sel map[string]string, res corev1.ResourceList) *fleet.ClusterClaim {
		c := &fleet.ClusterClaim{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: fleet.ClusterClaimSpec{Tenant: tenant, Resources: res}}
		if sel != nil {
			c.Spec.Selector = &metav1.LabelSelector{MatchLabels: sel}
		}
		return c
	}
	byLabel := claim("eu-room", "placer", map[string]string{"region": "eu"}, nil)
	byCapacity := claim("big-room", "placer", nil, corev1.ResourceList{corev1.ResourceCPU: big})
	tooBig := claim("huge-room", "placer", nil, corev1.ResourceList{corev1.ResourceCPU: huge})
	fenced := claim("fenced-room", "fenced", map[string]string{"region": "us"}, nil)
	create(t, mc, byLabel, byCapacity, tooBig, fenced)

	bound := func(c *fleet.ClusterClaim, status metav1.ConditionStatus, reason string) string {
		return condition(t, mc, c, func() []metav1.Condition { return c.Status.Conditions }, fleet.ConditionBound, status, reason)
	}
	if msg := bound(byLabel, metav1.ConditionTrue, "Placed"); byLabel.Status.Cluster != alpha {
		t.Errorf("eu-room bound to %q (%s), want alpha", byLabel.Status.Cluster, msg)
	}
	if msg := bound(byCapacity, metav1.ConditionTrue, "Placed"); byCapacity.Status.Cluster != beta || !strings.Contains(msg, "alpha: cpu: requested") {
		t.Errorf("big-room bound to %q (%s), want beta with alpha's lack of cpu explained", byCapacity.Status.Cluster, msg)
	}
	msg := bound(tooBig, metav1.ConditionFalse, fleet.ReasonUnplaceable)
	if tooBig.Status.Cluster != "" || !strings.Contains(msg, "no cluster fits") || !strings.Contains(msg, "alpha: cpu") || !strings.Contains(msg, "beta: cpu") {
		t.Errorf("huge-room: cluster %q, message %q; want unbound, each cluster's lack of cpu named", tooBig.Status.Cluster, msg)
	}
	msg = bound(fenced, metav1.ConditionFalse, fleet.ReasonUnplaceable)
	if !strings.Contains(msg, "beta: not in tenant fenced's allowedClusters") {
		t.Errorf("fenced-room: %q; want beta refused by the tenant's allowedClusters", msg)
	}
	// beta's status counts the bound claim.
	testenv.Eventually(t, wait, "beta's allocated cpu", func(ctx context.Context) (bool, string) {
		if err := mc.Get(ctx, client.ObjectKey{Name: beta}, b); err != nil {
			return false, err.Error()
		}
		got := b.Status.Allocated[corev1.ResourceCPU]
		return got.Cmp(big) == 0, got.String()
	})

	// A virtual cluster through a claim, a space by name, a space by the
	// default rule, and one the tenant's policy forbids.
	vc := &vcluster.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Namespace: "placer-ns", Name: "web"},
		Spec: vcluster.VirtualClusterSpec{Tenant: "placer", Placement: &vcluster.Placement{Claim: "big-room"}}}
	named := &tenancy.Space{ObjectMeta: metav1.ObjectMeta{Name: "placer-eu"},
		Spec: tenancy.SpaceSpec{Tenant: "placer", Placement: &tenancy.Placement{Cluster: alpha}}}
	dflt := &tenancy.Space{ObjectMeta: metav1.ObjectMeta{Name: "placer-any"}, Spec: tenancy.SpaceSpec{Tenant: "placer"}}
	forbidden := &tenancy.Space{ObjectMeta: metav1.ObjectMeta{Name: "fenced-us"},
		Spec: tenancy.SpaceSpec{Tenant: "fenced", Placement: &tenancy.Placement{Cluster: beta}}}
	create(t, mc, vc, named, dflt, forbidden)

	msg = condition(t, mc, vc, func() []metav1.Condition { return vc.Status.Conditions }, fleet.ConditionPlaced, metav1.ConditionTrue, "Placed")
	if vc.Annotations[fleet.AnnotationCluster] != beta || !strings.Contains(msg, "claim big-room is bound to beta") {
		t.Errorf("web: annotation %q, message %q; want beta through big-room", vc.Annotations[fleet.AnnotationCluster], msg)
	}
	condition(t, mc, vc, func() []metav1.Condition { return vc.Status.Conditions }, fleet.ConditionClusterReachable, metav1.ConditionTrue, "")
	condition(t, mc, named, func() []metav1.Condition { return named.Status.Conditions }, fleet.ConditionPlaced, metav1.ConditionTrue, "Placed")
	if named.Annotations[fleet.AnnotationCluster] != alpha {
		t.Errorf("placer-eu placed on %q, want alpha", named.Annotations[fleet.AnnotationCluster])
	}
	msg = condition(t, mc, dflt, func() []metav1.Condition { return dflt.Status.Conditions }, fleet.ConditionPlaced, metav1.ConditionTrue, "Placed")
	if dflt.Annotations[fleet.AnnotationCluster] == "" || !strings.Contains(msg, "default placement") {
		t.Errorf("placer-any: annotation %q, message %q; want the default rule", dflt.Annotations[fleet.AnnotationCluster], msg)
	}
	msg = condition(t, mc, forbidden, func() []metav1.Condition { return forbidden.Status.Conditions }, fleet.ConditionPlaced, metav1.ConditionFalse, "ClusterNotAllowed")
	if !strings.Contains(msg, "spec.placement.cluster") {
		t.Errorf("fenced-us: %q does not name spec.placement.cluster", msg)
	}

	// Each is copied to its own cluster, with the tree; nothing to the other.
	for _, w := range []struct {
		c   client.Client
		obj client.Object
	}{
		{bc, &vcluster.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Namespace: "placer-ns", Name: "web"}}},
		{ac, &tenancy.Space{ObjectMeta: metav1.ObjectMeta{Name: "placer-eu"}}},
		{bc, &tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "placer"}}},
		{ac, &tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "placer"}}},
	} {
		testenv.Eventually(t, wait, fmt.Sprintf("%T %s copied", w.obj, w.obj.GetName()), func(ctx context.Context) (bool, string) {
			if err := w.c.Get(ctx, client.ObjectKeyFromObject(w.obj), w.obj); err != nil {
				return false, err.Error()
			}
			return w.obj.GetLabels()[fleet.LabelMirrored] != "", "no mirror label"
		})
	}
	if err := ac.Get(ctx, client.ObjectKey{Namespace: "placer-ns", Name: "web"}, &vcluster.VirtualCluster{}); !apierrors.IsNotFound(err) {
		t.Errorf("web on alpha: %v, want NotFound", err)
	}

	// Bad input, refused naming the field.
	both := &tenancy.Space{ObjectMeta: metav1.ObjectMeta{Name: "both"},
		Spec: tenancy.SpaceSpec{Tenant: "placer", Placement: &tenancy.Placement{Cluster: alpha, Claim: "eu-room"}}}
	if err := mc.Create(ctx, both); err == nil || !strings.Contains(err.Error(), "set cluster or claim, not both") {
		t.Errorf("a space with a cluster and a claim: %v", err)
	}
}

// One subtree quota across two clusters: 100 concurrent pod creates, half
// on each cluster, against the tenant's limit of 50 pods: exactly 50 are
// admitted, and the usage rolls up across both clusters in the one ledger.
func TestQuotaAcrossClusters(t *testing.T) {
	logsOnFailure(t)
	ctx := context.Background()
	clusterReady(t, alpha, metav1.ConditionTrue, "")
	clusterReady(t, beta, metav1.ConditionTrue, "")
	create(t, mc, tenant("qorg", "", corev1.ResourceList{corev1.ResourcePods: resource.MustParse("50")}),
		tenant("qa", "qorg", nil), tenant("qb", "qorg", nil))
	create(t, ac, namespace("q-a", "qa"))
	create(t, bc, namespace("q-b", "qb"))
	clientset := func(cfg *rest.Config) *kubernetes.Clientset {
		cfg = rest.CopyConfig(cfg)
		cfg.QPS, cfg.Burst = 1000, 1000
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return cs
	}
	hosts := []struct {
		cs *kubernetes.Clientset
		ns string
	}{{clientset(hostA.Config), "q-a"}, {clientset(hostB.Config), "q-b"}}

	// Both clusters' webhooks know the tree (a probe pod is admitted), and
	// the probes' charges are gone again before the race.
	for _, h := range hosts {
		testenv.Eventually(t, wait, "the quota webhook on "+h.ns, func(ctx context.Context) (bool, string) {
			_, err := h.cs.CoreV1().Pods(h.ns).Create(ctx, pod(h.ns, "probe"), metav1.CreateOptions{})
			return err == nil, fmt.Sprint(err)
		})
		if err := h.cs.CoreV1().Pods(h.ns).Delete(ctx, "probe", metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Eventually(t, wait, "the probes released", func(ctx context.Context) (bool, string) {
		u, err := fleet.Usage(ctx, mc, "", "", "qorg")
		if err != nil {
			return false, err.Error()
		}
		used, res := u.Subtree[corev1.ResourcePods], u.Reserved[corev1.ResourcePods]
		return used.IsZero() && res.IsZero(), fmt.Sprintf("used %s reserved %s", used.String(), res.String())
	})
	webhookInstalled := func(cs *kubernetes.Clientset) bool {
		_, err := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, "vclusterkit-fleet-quota", metav1.GetOptions{})
		return err == nil
	}
	if !webhookInstalled(hosts[0].cs) || !webhookInstalled(hosts[1].cs) {
		t.Fatal("the fleet quota webhook is not installed on both clusters")
	}

	var admitted atomic.Int64
	var wg sync.WaitGroup
	for i := range 100 {
		h := hosts[i%2]
		wg.Go(func() {
			_, err := h.cs.CoreV1().Pods(h.ns).Create(ctx, pod(h.ns, fmt.Sprintf("p-%d", i)), metav1.CreateOptions{})
			switch {
			case err == nil:
				admitted.Add(1)
			case !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "quota exceeded"):
				t.Errorf("pod %d: %v, want admitted or refused for quota", i, err)
			}
		})
	}
	wg.Wait()
	if admitted.Load() != 50 {
		t.Fatalf("admitted %d of 100 pods across two clusters against a limit of 50, want exactly 50", admitted.Load())
	}
	var perCluster []int
	for _, h := range hosts {
		pods, err := h.cs.CoreV1().Pods(h.ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		perCluster = append(perCluster, len(pods.Items))
	}
	if perCluster[0]+perCluster[1] != 50 {
		t.Errorf("pods on the clusters: %v, want 50 in all", perCluster)
	}
	t.Logf("admitted per cluster: alpha %d, beta %d", perCluster[0], perCluster[1])
	// Usage rolls up across clusters: the tenant's subtree holds all 50,
	// each child what its cluster runs, once the pods are committed.
	testenv.Eventually(t, wait, "usage rolled up", func(ctx context.Context) (bool, string) {
		var got []string
		ok := true
		for _, w := range []struct {
			tenant string
			want   int
		}{{"qorg", 50}, {"qa", perCluster[0]}, {"qb", perCluster[1]}} {
			u, err := fleet.Usage(ctx, mc, "", "", w.tenant)
			if err != nil {
				return false, err.Error()
			}
			used := u.Subtree[corev1.ResourcePods]
			ok = ok && used.Value() == int64(w.want)
			got = append(got, fmt.Sprintf("%s %s/%d", w.tenant, used.String(), w.want))
		}
		return ok, strings.Join(got, ", ")
	})
}

// A cluster lost and returned: while both links are cut, both Clusters and
// what is placed on them show Unreachable, nothing is deleted on either
// side, and new pods on a cut-off cluster are refused (its quota webhook
// cannot reach the ledger: fail closed); once the links return, changes
// made meanwhile reach the clusters and pods are admitted again.
func TestClusterLostAndReturned(t *testing.T) {
	logsOnFailure(t)
	ctx := context.Background()
	clusterReady(t, alpha, metav1.ConditionTrue, "")
	clusterReady(t, beta, metav1.ConditionTrue, "")
	create(t, mc, tenant("lost", "", nil), namespace("lost-ns", ""))
	vcB := &vcluster.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Namespace: "lost-ns", Name: "on-beta"},
		Spec: vcluster.VirtualClusterSpec{Tenant: "lost", Placement: &vcluster.Placement{Cluster: beta}}}
	vcA := &vcluster.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Namespace: "lost-ns", Name: "on-alpha"},
		Spec: vcluster.VirtualClusterSpec{Tenant: "lost", Placement: &vcluster.Placement{Cluster: alpha}}}
	spB := &tenancy.Space{ObjectMeta: metav1.ObjectMeta{Name: "lost-space"},
		Spec: tenancy.SpaceSpec{Tenant: "lost", Placement: &tenancy.Placement{Cluster: beta}}}
	create(t, mc, vcB, vcA, spB)
	copies := []struct {
		c   client.Client
		obj client.Object
	}{
		{bc, &vcluster.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Namespace: "lost-ns", Name: "on-beta"}}},
		{bc, &tenancy.Space{ObjectMeta: metav1.ObjectMeta{Name: "lost-space"}}},
		{ac, &vcluster.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Namespace: "lost-ns", Name: "on-alpha"}}},
	}
	for _, w := range copies {
		testenv.Eventually(t, wait, fmt.Sprintf("%s copied", w.obj.GetName()), func(ctx context.Context) (bool, string) {
			err := w.c.Get(ctx, client.ObjectKeyFromObject(w.obj), w.obj)
			return err == nil, fmt.Sprint(err)
		})
	}
	create(t, bc, namespace("lost-work", "lost"))
	testenv.Eventually(t, wait, "a pod admitted on beta", func(ctx context.Context) (bool, string) {
		err := bc.Create(ctx, pod("lost-work", "before"))
		return err == nil || apierrors.IsAlreadyExists(err), fmt.Sprint(err)
	})

	linkA.Cut()
	linkM.Cut()
	restored := false
	restore := func() {
		if !restored {
			linkA.Restore()
			linkM.Restore()
			restored = true
		}
	}
	t.Cleanup(restore)

	a := clusterReady(t, alpha, metav1.ConditionFalse, fleet.ReasonUnreachable)
	b := clusterReady(t, beta, metav1.ConditionFalse, fleet.ReasonUnreachable)
	t.Logf("alpha: %s", meta.FindStatusCondition(a.Status.Conditions, fleet.ConditionReady).Message)
	t.Logf("beta: %s", meta.FindStatusCondition(b.Status.Conditions, fleet.ConditionReady).Message)
	for _, vc := range []*vcluster.VirtualCluster{vcA, vcB} {
		condition(t, mc, vc, func() []metav1.Condition { return vc.Status.Conditions }, fleet.ConditionClusterReachable, metav1.ConditionFalse, fleet.ReasonUnreachable)
	}
	// Admission on the cut-off cluster fails closed.
	err := bc.Create(ctx, pod("lost-work", "during"))
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "fail closed") {
		t.Errorf("a pod created on beta while cut off: %v, want it refused, failing closed", err)
	} else {
		t.Logf("refused while cut off: %v", err)
	}
	// A change made on the management side meanwhile.
	patch := client.MergeFrom(vcB.DeepCopy())
	vcB.Labels = map[string]string{"changed": "during-partition"}
	if err := mc.Patch(ctx, vcB, patch); err != nil {
		t.Fatal(err)
	}
	// Nothing is deleted anywhere.
	for _, w := range copies {
		if err := w.c.Get(ctx, client.ObjectKeyFromObject(w.obj), w.obj); err != nil {
			t.Errorf("%s during the partition: %v", w.obj.GetName(), err)
		}
	}
	if err := bc.Get(ctx, client.ObjectKey{Namespace: "lost-work", Name: "before"}, &corev1.Pod{}); err != nil {
		t.Errorf("the running pod during the partition: %v", err)
	}
	for _, o := range []client.Object{vcA, vcB, spB} {
		if err := mc.Get(ctx, client.ObjectKeyFromObject(o), o); err != nil {
			t.Errorf("%s on the management side during the partition: %v", o.GetName(), err)
		}
	}

	restore()
	clusterReady(t, alpha, metav1.ConditionTrue, "Reachable")
	clusterReady(t, beta, metav1.ConditionTrue, "Reachable")
	for _, vc := range []*vcluster.VirtualCluster{vcA, vcB} {
		condition(t, mc, vc, func() []metav1.Condition { return vc.Status.Conditions }, fleet.ConditionClusterReachable, metav1.ConditionTrue, "")
	}
	testenv.Eventually(t, wait, "the change made during the partition on beta", func(ctx context.Context) (bool, string) {
		got := &vcluster.VirtualCluster{}
		if err := bc.Get(ctx, client.ObjectKeyFromObject(vcB), got); err != nil {
			return false, err.Error()
		}
		return got.Labels["changed"] == "during-partition", fmt.Sprint(got.Labels)
	})
	testenv.Eventually(t, wait, "a pod admitted on beta again", func(ctx context.Context) (bool, string) {
		err := bc.Create(ctx, pod("lost-work", "after"))
		return err == nil || apierrors.IsAlreadyExists(err), fmt.Sprint(err)
	})
	// Deleting on the management side (not losing a cluster) is what
	// removes a copy.
	if err := mc.Delete(ctx, vcB); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, wait, "on-beta removed from beta", func(ctx context.Context) (bool, string) {
		err := bc.Get(ctx, client.ObjectKeyFromObject(vcB), &vcluster.VirtualCluster{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	if err := bc.Get(ctx, client.ObjectKey{Name: "lost-space"}, &tenancy.Space{}); err != nil {
		t.Errorf("lost-space on beta: %v", err)
	}
}
