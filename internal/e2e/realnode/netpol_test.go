package realnode

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/internal/images"
	"github.com/vclusterkit/vclusterkit/netpol"
)

// NetworkPolicies written inside the virtual cluster are enforced on the
// real node although the tenant's network isolation is on: a deny-all
// ingress for the server refuses its neighbours in the same virtual
// namespace and in another one (the host's tenant isolation, which allows
// the whole tenant, leaves pods the tenant's policies select to those
// policies), and a rule allowing role=friend lets a relabelled client in
// again. At every step real TCP connections and the NetworkPolicy
// evaluator, run on the host's policies, agree.
func TestNetworkPoliciesInsideVirtualClusterUnderIsolation(t *testing.T) {
	t.Parallel()
	const ns, other = "np", "np-other"
	httpd := []string{"sh", "-c", "mkdir -p /tmp/www && echo np-server > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www"}
	busy := func(name, namespace string, labels map[string]string, cmd []string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels}, Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: ptr.To[int64](0),
			Containers:                    []corev1.Container{{Name: "main", Image: images.Busybox, ImagePullPolicy: corev1.PullIfNotPresent, Command: cmd}},
		}}
	}
	mustCreate(t,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: other}},
		busy("server", ns, map[string]string{"app": "server"}, httpd),
		busy("client", ns, map[string]string{"app": "client"}, []string{"sleep", "3600"}),
		busy("stranger", other, map[string]string{"app": "stranger"}, []string{"sleep", "3600"}),
	)
	for _, p := range [][2]string{{ns, "server"}, {ns, "client"}, {other, "stranger"}} {
		waitRunning(t, p[0], p[1])
	}
	ctx := context.Background()
	var server corev1.Pod
	if err := bed.virtual.Get(ctx, client.ObjectKey{Namespace: ns, Name: "server"}, &server); err != nil {
		t.Fatal(err)
	}
	connect := func(fromNS, from string) bool {
		cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		out, err := hostExec(cctx, fromNS, from, "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 "+server.Status.PodIP+" 8080")
		return err == nil && strings.Contains(out, "np-server")
	}
	// check waits (30 s) for the enforcer to apply the last change, then
	// asks the evaluator about the same connection on the host's policies.
	check := func(step string, fromNS, from string, want bool) {
		t.Helper()
		got := !want
		_ = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
			got = connect(fromNS, from)
			return got == want, nil
		})
		if got != want {
			t.Errorf("%s: %s/%s → server: real TCP connected=%v, want %v", step, fromNS, from, got, want)
		}
		ev, err := hostEvaluator(ctx)
		if err != nil {
			t.Fatal(err)
		}
		v, err := ev.Check(netpol.PodEndpoint(hostNS, hostPodName(from, fromNS)), netpol.PodEndpoint(hostNS, hostPodName("server", ns)), 8080, corev1.ProtocolTCP)
		if err != nil {
			t.Fatal(err)
		}
		if v.Allowed != want {
			t.Errorf("%s: evaluator says %s/%s → server allowed=%v, want %v: %s", step, fromNS, from, v.Allowed, want, v.Explain())
		}
	}
	check("no policy", ns, "client", true)
	check("no policy", other, "stranger", true)

	ingress := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	mustCreate(t, &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "server-deny-all", Namespace: ns},
		Spec: networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "server"}}, PolicyTypes: ingress}})
	check("deny-all for server", ns, "client", false)
	check("deny-all for server", other, "stranger", false)

	mustCreate(t, &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "server-from-friends", Namespace: ns},
		Spec: networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "server"}}, PolicyTypes: ingress,
			Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{
				{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"role": "friend"}}}}}}}})
	var c corev1.Pod
	if err := bed.virtual.Get(ctx, client.ObjectKey{Namespace: ns, Name: "client"}, &c); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(c.DeepCopy())
	c.Labels["role"] = "friend"
	if err := bed.virtual.Patch(ctx, &c, patch); err != nil {
		t.Fatal(err)
	}
	check("allow role=friend, client relabelled", ns, "client", true)
	check("allow role=friend", other, "stranger", false)

	// Policies deleted: the isolation's tenant scope applies again.
	for _, name := range []string{"server-deny-all", "server-from-friends"} {
		if err := bed.virtual.Delete(ctx, &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	check("policies deleted", other, "stranger", true)
}

// hostEvaluator evaluates the host's NetworkPolicies over its pods and
// namespaces now.
func hostEvaluator(ctx context.Context) (*netpol.Evaluator, error) {
	var pols networkingv1.NetworkPolicyList
	var nss corev1.NamespaceList
	var pods corev1.PodList
	for _, l := range []client.ObjectList{&pols, &nss, &pods} {
		if err := bed.hostClient.List(ctx, l); err != nil {
			return nil, fmt.Errorf("listing host %T: %w", l, err)
		}
	}
	return netpol.NewEvaluator(pols.Items, nss.Items, pods.Items)
}
