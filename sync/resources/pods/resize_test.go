package pods_test

import (
	"context"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/sync/internal/synctest"
	"github.com/vclusterkit/vclusterkit/sync/resources/pods"
	"github.com/vclusterkit/vclusterkit/sync/syncer"
)

func cpu(v string) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(v)},
		Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(v)}}
}

// An in-place resize of a virtual pod is carried to the host pod through
// the host's pods/resize, where quota admission judges it: within the
// host namespace's quota it is applied; past it the host refuses, the host
// pod keeps its size, and the virtual pod says why (an event and a
// PodResizePending condition with reason ResizeRefused).
func TestPodResizeFollowsVirtual(t *testing.T) {
	e := synctest.New(t, virtualEnv, hostEnv, syncer.HostOptions{})
	ns := e.Namespace("app")
	e.Start(newSyncer(t, pods.Options{}))
	ctx := context.Background()
	v := pod("web", ns)
	v.Spec.Containers[0].Resources = cpu("100m")
	if err := e.Virtual.Create(ctx, v); err != nil {
		t.Fatal(err)
	}
	h := hostPod(t, e, "web", ns)

	// The host namespace's quota: 500m of cpu, 100m of it used by the pod.
	// (No kube-controller-manager runs here: the status is written by hand,
	// as its quota controller would.)
	rq := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "q", Namespace: h.Namespace},
		Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourceRequestsCPU: resource.MustParse("500m")}}}
	if err := e.Host.Create(ctx, rq); err != nil {
		t.Fatal(err)
	}
	rq.Status = corev1.ResourceQuotaStatus{Hard: rq.Spec.Hard, Used: corev1.ResourceList{corev1.ResourceRequestsCPU: resource.MustParse("100m")}}
	if err := e.Host.Status().Update(ctx, rq); err != nil {
		t.Fatal(err)
	}

	resize := func(to string) {
		t.Helper()
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			var cur corev1.Pod
			if err := e.Virtual.Get(ctx, client.ObjectKeyFromObject(v), &cur); err != nil {
				return err
			}
			cur.Spec.Containers[0].Resources = cpu(to)
			return e.Virtual.SubResource("resize").Update(ctx, &cur)
		}); err != nil {
			t.Fatalf("resizing the virtual pod to %s: %v", to, err)
		}
	}
	hostCPU := func(ctx context.Context) (string, error) {
		var hp corev1.Pod
		if err := e.Host.Get(ctx, e.HostKey("web", ns), &hp); err != nil {
			return "", err
		}
		q := hp.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU]
		return q.String(), nil
	}

	resize("300m")
	synctest.Eventually(t, "the host pod resized to 300m", func(ctx context.Context) (bool, error) {
		got, err := hostCPU(ctx)
		return got == "300m", err
	})

	resize("2")
	ev := e.WaitEvent(ns, "web", pods.ReasonResizeRefused, "exceeded quota")
	if !strings.Contains(ev.Message, "requests.cpu") {
		t.Errorf("refusal event does not name the resource: %q", ev.Message)
	}
	synctest.Eventually(t, "the virtual pod's PodResizePending condition", func(ctx context.Context) (bool, error) {
		var cur corev1.Pod
		if err := e.Virtual.Get(ctx, client.ObjectKeyFromObject(v), &cur); err != nil {
			return false, err
		}
		for _, c := range cur.Status.Conditions {
			if c.Type == corev1.PodResizePending && c.Reason == pods.ReasonResizeRefused && strings.Contains(c.Message, "exceeded quota") {
				return true, nil
			}
		}
		return false, nil
	})
	if got, err := hostCPU(ctx); err != nil || got != "300m" {
		t.Fatalf("the refused resize changed the host pod: %s %v", got, err)
	}

	// Back within the quota: applied, and the condition goes.
	resize("400m")
	synctest.Eventually(t, "the host pod resized to 400m and the condition cleared", func(ctx context.Context) (bool, error) {
		got, err := hostCPU(ctx)
		if err != nil || got != "400m" {
			return false, err
		}
		var cur corev1.Pod
		if err := e.Virtual.Get(ctx, client.ObjectKeyFromObject(v), &cur); err != nil {
			return false, err
		}
		for _, c := range cur.Status.Conditions {
			if c.Type == corev1.PodResizePending && c.Reason == pods.ReasonResizeRefused {
				return false, nil
			}
		}
		return true, nil
	})
}

// A host LimitRange gives host pods the resources their virtual pods leave
// out. That is not a resize: the virtual pod keeps its own QoS class and
// gets the host's status (a BestEffort pod shows Running although its host
// copy is Burstable), and no resize is tried, however often the pod is
// synced (this host refuses them, so a try would show). A resize of what the
// virtual pod does name still reaches the host, and keeps the host's
// defaults for the rest.
func TestPodWithHostLimitRangeDefaults(t *testing.T) {
	e := synctest.New(t, virtualEnv, hostEnv, syncer.HostOptions{})
	ns := e.Namespace("defaults")
	ctx := context.Background()
	q := resource.MustParse
	lr := &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: "defaults", Namespace: e.HostNS}, Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
		Type:           corev1.LimitTypeContainer,
		Default:        corev1.ResourceList{corev1.ResourceCPU: q("500m"), corev1.ResourceMemory: q("256Mi")},
		DefaultRequest: corev1.ResourceList{corev1.ResourceCPU: q("100m"), corev1.ResourceMemory: q("128Mi")},
	}}}}
	if err := e.Host.Create(ctx, lr); err != nil {
		t.Fatal(err)
	}
	// Both sides check the node of a pod that is resized.
	for _, c := range []client.Client{e.Virtual, e.Host} {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}}
		if err := c.Create(ctx, node); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			if err := c.Get(ctx, client.ObjectKeyFromObject(node), node); err != nil {
				return err
			}
			node.Status.Capacity = corev1.ResourceList{corev1.ResourceCPU: q("8"), corev1.ResourceMemory: q("16Gi"), corev1.ResourcePods: q("110")}
			node.Status.Allocatable = node.Status.Capacity
			return c.Status().Update(ctx, node)
		}); err != nil {
			t.Fatal(err)
		}
	}
	// This host refuses every in-place resize of the pods labelled
	// resize=never (as a quota webhook refused them where the defect was
	// seen): the pods whose virtual resources never change, so that any
	// resize the syncer tries shows as a ResizeRefused event.
	refuse := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: e.Name + "-no-resize"},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Update},
					Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods/resize"}},
				},
			}}},
			Validations: []admissionregistrationv1.Validation{{
				Expression: `!has(object.metadata.labels) || !('resize' in object.metadata.labels) || object.metadata.labels['resize'] != 'never'`,
				Message:    "this host refuses resizes of pods labelled resize=never",
			}},
		},
	}
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: refuse.Name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        refuse.Name,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
			MatchResources: &admissionregistrationv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{corev1.LabelMetadataName: e.HostNS},
			}},
		},
	}
	for _, obj := range []client.Object{refuse, binding} {
		if err := e.Host.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.Host.Delete(context.Background(), obj) })
	}
	e.Start(newSyncer(t, pods.Options{}))

	none := pod("none", ns)
	none.Labels["resize"] = "never"
	limitsOnly := pod("limits-only", ns)
	limitsOnly.Labels["resize"] = "never"
	limitsOnly.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: q("200m")}
	requestsOnly := pod("requests-only", ns)
	requestsOnly.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: q("50m")}
	want := map[string]struct{ virtual, host corev1.PodQOSClass }{
		"none":          {corev1.PodQOSBestEffort, corev1.PodQOSBurstable},
		"limits-only":   {corev1.PodQOSBurstable, corev1.PodQOSBurstable},
		"requests-only": {corev1.PodQOSBurstable, corev1.PodQOSBurstable},
	}
	all := []*corev1.Pod{none, limitsOnly, requestsOnly}
	for _, p := range all {
		if err := e.Virtual.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	hosts := map[string]*corev1.Pod{}
	for _, p := range all {
		h := hostPod(t, e, p.Name, ns)
		if h.Status.QOSClass != want[p.Name].host || p.Status.QOSClass != want[p.Name].virtual {
			t.Fatalf("%s: QoS virtual %s host %s, want %+v (is the LimitRange applied?)", p.Name, p.Status.QOSClass, h.Status.QOSClass, want[p.Name])
		}
		// The host schedules and runs it.
		if err := e.Host.SubResource("binding").Create(ctx, h, &corev1.Binding{
			ObjectMeta: metav1.ObjectMeta{Name: h.Name, Namespace: h.Namespace},
			Target:     corev1.ObjectReference{Kind: "Node", Name: "node-1"},
		}); err != nil {
			t.Fatal(err)
		}
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			if err := e.Host.Get(ctx, client.ObjectKeyFromObject(h), h); err != nil {
				return err
			}
			h.Status.Phase = corev1.PodRunning
			h.Status.PodIP, h.Status.PodIPs = "10.244.1.9", []corev1.PodIP{{IP: "10.244.1.9"}}
			h.Status.Conditions = append(h.Status.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()})
			return e.Host.Status().Update(ctx, h)
		}); err != nil {
			t.Fatal(err)
		}
		hosts[p.Name] = h
	}
	generations := map[string]int64{}
	for name, h := range hosts {
		generations[name] = h.Generation
	}
	for _, p := range all {
		synctest.Eventually(t, p.Name+" Running in the virtual cluster", func(ctx context.Context) (bool, error) {
			err := e.Virtual.Get(ctx, client.ObjectKeyFromObject(p), p)
			return err == nil && p.Status.Phase == corev1.PodRunning && p.Status.PodIP == "10.244.1.9" && p.Spec.NodeName == "node-1", err
		})
		if p.Status.QOSClass != want[p.Name].virtual {
			t.Errorf("%s: virtual QoS class %s, want its own %s", p.Name, p.Status.QOSClass, want[p.Name].virtual)
		}
	}

	// Several syncs later (every status write of the host is one), nothing
	// was resized or refused and no sync failed.
	for range 3 {
		for _, p := range all {
			if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
				h := hosts[p.Name]
				if err := e.Host.Get(ctx, client.ObjectKeyFromObject(h), h); err != nil {
					return err
				}
				h.Status.Message = "poke " + time.Now().Format(time.RFC3339Nano)
				return e.Host.Status().Update(ctx, h)
			}); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(time.Second)
	}
	for _, p := range all {
		synctest.Eventually(t, p.Name+" status message back", func(ctx context.Context) (bool, error) {
			err := e.Virtual.Get(ctx, client.ObjectKeyFromObject(p), p)
			return err == nil && p.Status.Message == hosts[p.Name].Status.Message, err
		})
		if evs := e.Events(ctx, ns, p.Name, pods.ReasonResizeRefused); len(evs) > 0 {
			t.Errorf("%s: %d ResizeRefused events, first: %s", p.Name, len(evs), evs[0].Message)
		}
		var h corev1.Pod
		if err := e.Host.Get(ctx, e.HostKey(p.Name, ns), &h); err != nil {
			t.Fatal(err)
		}
		if h.Generation != generations[p.Name] {
			t.Errorf("%s: host pod generation %d, was %d: its spec changed (resized?) while only its status did", p.Name, h.Generation, generations[p.Name])
		}
	}
	if n := syncErrors(t, e, "pods"); n != 0 {
		t.Errorf("%v pod sync errors", n)
	}

	// What the virtual pod names can be resized; the host's defaults for
	// the rest stay.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var cur corev1.Pod
		if err := e.Virtual.Get(ctx, client.ObjectKeyFromObject(requestsOnly), &cur); err != nil {
			return err
		}
		cur.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU] = q("80m")
		return e.Virtual.SubResource("resize").Update(ctx, &cur)
	}); err != nil {
		t.Fatal(err)
	}
	synctest.Eventually(t, "requests-only resized on the host, defaults kept", func(ctx context.Context) (bool, error) {
		var h corev1.Pod
		if err := e.Host.Get(ctx, e.HostKey("requests-only", ns), &h); err != nil {
			return false, err
		}
		r := h.Spec.Containers[0].Resources
		return r.Requests.Cpu().String() == "80m" && r.Limits.Cpu().String() == "500m" && r.Limits.Memory().String() == "256Mi", nil
	})
}

// syncErrors is the syncer error count of kind in e's metrics.
func syncErrors(t *testing.T, e *synctest.Env, kind string) float64 {
	t.Helper()
	mfs, err := e.Reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() != syncer.MetricErrors {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "kind" && l.GetValue() == kind {
					total += m.GetCounter().GetValue()
				}
			}
		}
	}
	return total
}
