package networkpolicies_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/netpol"
	"github.com/vclusterkit/vclusterkit/sync/internal/synctest"
	"github.com/vclusterkit/vclusterkit/sync/resources/networkpolicies"
	"github.com/vclusterkit/vclusterkit/sync/syncer"
	"github.com/vclusterkit/vclusterkit/sync/translate"
)

var virtualEnv, hostEnv *testenv.APIServer

func TestMain(m *testing.M) { testenv.Main(m, testenv.APIServerOptions{}, &virtualEnv, &hostEnv) }

func newSyncer(t *testing.T) *networkpolicies.Syncer {
	t.Helper()
	s, err := networkpolicies.New(networkpolicies.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func hostPolicy(t *testing.T, e *synctest.Env, name, ns string, cond func(*networkingv1.NetworkPolicy) bool) *networkingv1.NetworkPolicy {
	t.Helper()
	var h networkingv1.NetworkPolicy
	synctest.Eventually(t, "host policy "+name, func(ctx context.Context) (bool, error) {
		err := e.Host.Get(ctx, e.HostKey(name, ns), &h)
		if err != nil {
			return false, client.IgnoreNotFound(err)
		}
		return cond == nil || cond(&h), nil
	})
	return &h
}

// Create, update (policy and namespace labels) and delete reach the host.
func TestRoundTrip(t *testing.T) {
	e := synctest.New(t, virtualEnv, hostEnv, syncer.HostOptions{})
	web, db := e.Namespace("web"), e.Namespace("db")
	e.Start(newSyncer(t))
	ctx := context.Background()
	http := intstr.FromString("http")
	v := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: web, Labels: map[string]string{"app.kubernetes.io/managed-by": "vclusterkit", "team": "web"}},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "front"}}}},
				Ports: []networkingv1.NetworkPolicyPort{{Port: &http}},
			}},
		}}
	if err := e.Virtual.Create(ctx, v); err != nil {
		t.Fatal(err)
	}
	want := func(spec networkingv1.NetworkPolicySpec) func(*networkingv1.NetworkPolicy) bool {
		return func(h *networkingv1.NetworkPolicy) bool { return cmp.Diff(spec, h.Spec) == "" }
	}
	tr := e.Tr()
	sel := func(ns string, l map[string]string, x ...metav1.LabelSelectorRequirement) *metav1.LabelSelector {
		m := map[string]string{translate.LabelVirtualCluster: e.Name}
		if ns != "" {
			m[translate.LabelNamespace] = ns
		}
		for k, val := range l {
			m[k] = val
		}
		return &metav1.LabelSelector{MatchLabels: m, MatchExpressions: x}
	}
	nothing := &metav1.LabelSelector{MatchLabels: map[string]string{translate.LabelVirtualCluster: e.Name},
		MatchExpressions: []metav1.LabelSelectorRequirement{{Key: translate.LabelVirtualCluster, Operator: metav1.LabelSelectorOpDoesNotExist}}}
	spec := func(from *metav1.LabelSelector) networkingv1.NetworkPolicySpec {
		return networkingv1.NetworkPolicySpec{
			PodSelector: *sel(web, map[string]string{"app": "api"}),
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress:     []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: from}}, Ports: []networkingv1.NetworkPolicyPort{{Port: &http, Protocol: ptr(corev1.ProtocolTCP)}}}},
		}
	}
	// No namespace is labelled tier=front yet: the peer matches nothing.
	h := hostPolicy(t, e, "api", web, want(spec(nothing)))
	if h.Namespace != tr.HostNamespace() || h.Labels[translate.LabelVirtualCluster] != e.Name || h.Labels["team"] != "web" {
		t.Errorf("host metadata: %s/%s labels %v", h.Namespace, h.Name, h.Labels)
	}
	if got := h.Labels["app.kubernetes.io/managed-by"]; got == netpol.ManagedByValue {
		t.Errorf("host copy claims %s=%s: netpol/reconcile would delete it", netpol.LabelManagedBy, got)
	}
	// Labelling a namespace translates the policy again.
	var ns corev1.Namespace
	if err := e.Virtual.Get(ctx, client.ObjectKey{Name: db}, &ns); err != nil {
		t.Fatal(err)
	}
	ns.Labels = map[string]string{"tier": "front"}
	if err := e.Virtual.Update(ctx, &ns); err != nil {
		t.Fatal(err)
	}
	hostPolicy(t, e, "api", web, want(spec(sel(db, nil))))
	// An update of the policy reaches the host.
	synctest.Eventually(t, "update virtual", func(ctx context.Context) (bool, error) {
		if err := e.Virtual.Get(ctx, client.ObjectKeyFromObject(v), v); err != nil {
			return false, err
		}
		v.Spec.Ingress[0].From[0].NamespaceSelector = &metav1.LabelSelector{}
		err := e.Virtual.Update(ctx, v)
		return err == nil, client.IgnoreNotFound(ignoreConflict(err))
	})
	hostPolicy(t, e, "api", web, want(spec(sel("", nil, metav1.LabelSelectorRequirement{Key: translate.LabelNamespace, Operator: metav1.LabelSelectorOpExists}))))
	// The condition says Synced.
	synctest.Eventually(t, "condition Synced", func(ctx context.Context) (bool, error) {
		var got networkingv1.NetworkPolicy
		if err := e.Virtual.Get(ctx, client.ObjectKeyFromObject(v), &got); err != nil {
			return false, err
		}
		c, ok := networkpolicies.Condition(&got)
		return ok && c.Status == metav1.ConditionTrue && c.Reason == networkpolicies.ReasonSynced && c.ObservedGeneration == got.Generation, nil
	})
	if err := e.Virtual.Delete(ctx, v); err != nil {
		t.Fatal(err)
	}
	synctest.Eventually(t, "host copy deleted", func(ctx context.Context) (bool, error) {
		err := e.Host.Get(ctx, e.HostKey("api", web), &networkingv1.NetworkPolicy{})
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	})
}

func ignoreConflict(err error) error {
	if apierrors.IsConflict(err) {
		return nil
	}
	return err
}

func ptr[T any](v T) *T { return &v }

// A key that cannot be escaped is refused with an event and a condition;
// a narrowed ipBlock gets a Warning event and a condition naming the
// ranges.
func TestRefusedAndNarrowed(t *testing.T) {
	e := synctest.New(t, virtualEnv, hostEnv, syncer.HostOptions{})
	ns := e.Namespace("app")
	e.Start(newSyncer(t))
	ctx := context.Background()
	// A valid key whose escaped form (".tenant" more) passes 253 characters.
	long := strings.Join([]string{strings.Repeat("a", 60), strings.Repeat("a", 60), strings.Repeat("a", 60), strings.Repeat("b", 52), "vclusterkit.io"}, ".") + "/x"
	bad := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "bad", Namespace: ns},
		Spec: networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{long: "v"}}}}
	wide := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "wide", Namespace: ns},
		Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0"}}}}}}}
	for _, p := range []*networkingv1.NetworkPolicy{bad, wide} {
		if err := e.Virtual.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	ev := e.WaitEvent(ns, "bad", syncer.ReasonRefused, networkpolicies.ReasonInvalid)
	if !strings.Contains(ev.Message, "spec.podSelector") {
		t.Errorf("refusal does not name the field: %s", ev.Message)
	}
	waitCondition(t, e, ns, "bad", metav1.ConditionFalse, networkpolicies.ReasonInvalid)
	if err := e.Host.Get(ctx, e.HostKey("bad", ns), &networkingv1.NetworkPolicy{}); !apierrors.IsNotFound(err) {
		t.Errorf("refused policy on the host: %v", err)
	}
	e.WaitEvent(ns, "wide", networkpolicies.ReasonIPBlockNarrowed, "10.0.0.0/8")
	c := waitCondition(t, e, ns, "wide", metav1.ConditionTrue, networkpolicies.ReasonIPBlockNarrowed)
	if !strings.Contains(c.Message, "192.168.0.0/16") {
		t.Errorf("condition message %q does not name the host ranges", c.Message)
	}
	h := hostPolicy(t, e, "wide", ns, nil)
	if got := h.Spec.Egress[0].To[0].IPBlock.Except; !cmp.Equal(got, networkpolicies.DefaultHostCIDRs()[:6]) {
		t.Errorf("host except = %v, want the IPv4 DefaultHostCIDRs", got)
	}
}

func waitCondition(t *testing.T, e *synctest.Env, ns, name string, status metav1.ConditionStatus, reason string) metav1.Condition {
	t.Helper()
	var c metav1.Condition
	synctest.Eventually(t, fmt.Sprintf("condition %s %s on %s", status, reason, name), func(ctx context.Context) (bool, error) {
		var got networkingv1.NetworkPolicy
		if err := e.Virtual.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &got); err != nil {
			return false, err
		}
		var ok bool
		c, ok = networkpolicies.Condition(&got)
		return ok && c.Status == status && c.Reason == reason, nil
	})
	return c
}

// Hostile policies, synced for real, never produce a host policy that
// selects or opens another virtual cluster's pods (in the same host
// namespace and in another), nor opens the host: checked with the
// evaluator on the host objects.
func TestHostileInputsStayInside(t *testing.T) {
	e := synctest.New(t, virtualEnv, hostEnv, syncer.HostOptions{})
	shop, tools := e.Namespace("shop"), e.Namespace("tools")
	e.Start(newSyncer(t))
	ctx := context.Background()
	// A second namespace on the host for a virtual cluster elsewhere.
	otherNS := e.HostNS + "-other"
	if err := e.Host.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: otherNS}}); err != nil {
		t.Fatal(err)
	}
	same, _ := translate.New("victim", e.HostNS)
	other, _ := translate.New("victim", otherNS)
	type hp struct {
		tr     *translate.Translator
		vns    string
		name   string
		labels map[string]string
		ip     string
		ours   bool
	}
	pods := []hp{
		{tr: e.Tr(), vns: shop, name: "web", labels: map[string]string{"app": "web"}, ip: "10.244.0.10", ours: true},
		{tr: e.Tr(), vns: tools, name: "probe", labels: map[string]string{"app": "probe"}, ip: "10.244.0.11", ours: true},
		{tr: same, vns: shop, name: "db", labels: map[string]string{"app": "db", "role": "trusted"}, ip: "10.244.0.20"},
		{tr: other, vns: shop, name: "db", labels: map[string]string{"app": "db", "role": "trusted"}, ip: "10.244.0.30"},
	}
	var hostPods []corev1.Pod
	for _, p := range pods {
		l, err := p.tr.HostLabels(p.vns, p.labels)
		if err != nil {
			t.Fatal(err)
		}
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: p.tr.HostName(p.name, p.vns), Namespace: p.tr.HostNamespace(), Labels: l},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
		if err := e.Host.Create(ctx, pod); err != nil {
			t.Fatal(err)
		}
		pod.Status.PodIP, pod.Status.PodIPs = p.ip, []corev1.PodIP{{IP: p.ip}}
		if err := e.Host.Status().Update(ctx, pod); err != nil {
			t.Fatal(err)
		}
		hostPods = append(hostPods, *pod)
	}
	vc := translate.LabelVirtualCluster
	both := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
	hostile := map[string]networkingv1.NetworkPolicySpec{
		"allow-all": {PolicyTypes: both, Ingress: []networkingv1.NetworkPolicyIngressRule{{}}, Egress: []networkingv1.NetworkPolicyEgressRule{{}}},
		"ipblock-all": {PolicyTypes: both, Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0"}}}}},
			Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0"}}}}}},
		"ipblock-pods": {PolicyTypes: both, Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.244.0.0/16"}}}}}},
		"any-namespace": {PolicyTypes: both, Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}}}},
			Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}, PodSelector: &metav1.LabelSelector{}}}}}},
		"forged": {PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{vc: "victim"}}, PolicyTypes: both,
			Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{vc: "victim", "role": "trusted"}}}}}},
			Egress:  []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}, PodSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: vc, Operator: metav1.LabelSelectorOpIn, Values: []string{"victim", e.Name}}}}}}}}},
	}
	// The victims isolate their pods except to and from role=trusted
	// pods of their own, written on the host as their syncer would.
	var victimPolicies []networkingv1.NetworkPolicy
	for _, tr := range []*translate.Translator{same, other} {
		out, err := networkpolicies.ToHost(networkpolicies.Input{Translator: tr, HostCIDRs: mustCIDRs(t), Policy: &networkingv1.NetworkPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: "trusted", Namespace: shop},
			Spec: networkingv1.NetworkPolicySpec{PolicyTypes: both,
				Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"role": "trusted"}}}}}},
				Egress:  []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"role": "trusted"}}}}}}}}})
		if err != nil {
			t.Fatal(err)
		}
		p := out.Policy
		p.Name, p.Namespace = tr.HostName("trusted", shop), tr.HostNamespace()
		if err := e.Host.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		victimPolicies = append(victimPolicies, *p)
	}
	var nss []corev1.Namespace
	for _, n := range []string{e.HostNS, otherNS} {
		var ns corev1.Namespace
		if err := e.Host.Get(ctx, client.ObjectKey{Name: n}, &ns); err != nil {
			t.Fatal(err)
		}
		nss = append(nss, ns)
	}
	for name, spec := range hostile {
		t.Run(name, func(t *testing.T) {
			for _, ns := range []string{shop, tools} {
				if err := e.Virtual.Create(ctx, &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: spec}); err != nil {
					t.Fatal(err)
				}
			}
			var copies []networkingv1.NetworkPolicy
			for _, ns := range []string{shop, tools} {
				h := hostPolicy(t, e, name, ns, nil)
				copies = append(copies, *h)
			}
			// The hostile copies alone select none of the victims' pods.
			ev, err := netpol.NewEvaluator(copies, nss, hostPods)
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range pods {
				if p.ours {
					continue
				}
				for j, peer := range pods {
					if !peer.ours {
						continue
					}
					v, err := ev.Check(endpoint(hostPods[i]), endpoint(hostPods[j]), 80, corev1.ProtocolTCP)
					if err != nil {
						t.Fatal(err)
					}
					if v.Egress.Isolated {
						t.Errorf("%s selects the victim pod %s/%s for egress: %s", name, hostPods[i].Namespace, hostPods[i].Name, v.Explain())
					}
					if v, _ = ev.Check(endpoint(hostPods[j]), endpoint(hostPods[i]), 80, corev1.ProtocolTCP); v.Ingress.Isolated {
						t.Errorf("%s selects the victim pod %s/%s for ingress: %s", name, hostPods[i].Namespace, hostPods[i].Name, v.Explain())
					}
				}
			}
			// With the victims' policies, no pod of ours reaches or is
			// reached by a victim pod, and the host's node address
			// neither reaches nor is reached by ours.
			ev, err = netpol.NewEvaluator(append(append([]networkingv1.NetworkPolicy(nil), copies...), victimPolicies...), nss, hostPods)
			if err != nil {
				t.Fatal(err)
			}
			node := netpol.ExternalEndpoint("10.233.0.1")
			for i, p := range pods {
				for j, q := range pods {
					if p.ours == q.ours {
						continue
					}
					v, err := ev.Check(endpoint(hostPods[i]), endpoint(hostPods[j]), 80, corev1.ProtocolTCP)
					if err != nil {
						t.Fatal(err)
					}
					if v.Allowed {
						t.Errorf("%s: %s → %s allowed:\n%s", name, hostPods[i].Name, hostPods[j].Name, v.Explain())
					}
				}
				if !p.ours || name == "forged" {
					continue // forged selects none of ours: nothing isolated, nothing opened
				}
				for _, c := range [][2]netpol.Endpoint{{node, endpoint(hostPods[i])}, {endpoint(hostPods[i]), node}} {
					v, err := ev.Check(c[0], c[1], 80, corev1.ProtocolTCP)
					if err != nil {
						t.Fatal(err)
					}
					if v.Allowed {
						t.Errorf("%s: %s → %s allowed:\n%s", name, c[0], c[1], v.Explain())
					}
				}
			}
			for _, ns := range []string{shop, tools} {
				if err := e.Virtual.Delete(ctx, &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}); err != nil {
					t.Fatal(err)
				}
			}
			for _, ns := range []string{shop, tools} {
				synctest.Eventually(t, "host copy of "+name+" deleted", func(ctx context.Context) (bool, error) {
					err := e.Host.Get(ctx, e.HostKey(name, ns), &networkingv1.NetworkPolicy{})
					return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
				})
			}
		})
	}
}

func endpoint(p corev1.Pod) netpol.Endpoint { return netpol.PodEndpoint(p.Namespace, p.Name) }

func mustCIDRs(t *testing.T) []netip.Prefix {
	t.Helper()
	c, err := networkpolicies.ParseHostCIDRs(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
