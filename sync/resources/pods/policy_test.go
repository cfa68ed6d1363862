package pods_test

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	psapi "k8s.io/pod-security-admission/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/sync/internal/synctest"
	"github.com/vclusterkit/vclusterkit/sync/resources/pods"
	"github.com/vclusterkit/vclusterkit/sync/syncer"
	"github.com/vclusterkit/vclusterkit/sync/translate"
)

// restricted makes p pass the restricted Pod Security Standard.
func restricted(p *corev1.Pod) *corev1.Pod {
	f, tr := false, true
	p.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsNonRoot: &tr, SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
	p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{AllowPrivilegeEscalation: &f, Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}
	return p
}

// A tenant's policy changes while its virtual cluster runs: the running
// syncer follows within seconds, without a restart. A pod refused under the
// old policy and allowed by the new one reaches the host; pods not
// scheduled yet are held to the new policy (refused, or created again with
// the new node selector); a running pod keeps running and says that the
// policy no longer allows it (event and PolicyViolation condition).
func TestPodPolicyChange(t *testing.T) {
	ctx := context.Background()
	for _, c := range []client.Client{virtualClient(t), hostClient(t)} {
		rc := &nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: "policy-kata"}, Handler: "kata"}
		if err := c.Create(ctx, rc); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	e := synctest.New(t, virtualEnv, hostEnv, syncer.HostOptions{})
	ns := e.Namespace("policy")
	eng, _ := e.StartEngine(newSyncer(t, pods.Options{AllowedRuntimeClasses: []string{"policy-gvisor"}}))

	kata := pod("kata", ns)
	kata.Spec.RuntimeClassName = ptrTo("policy-kata")
	running, pending, compliant := pod("running", ns), pod("pending", ns), restricted(pod("compliant", ns))
	for _, p := range []*corev1.Pod{kata, running, pending, compliant} {
		if err := e.Virtual.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	e.WaitEvent(ns, "kata", syncer.ReasonRefused, `spec.runtimeClassName: "policy-kata" is not allowed`)
	run := hostPod(t, e, "running", ns)
	if err := e.Host.SubResource("binding").Create(ctx, run, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: run.Name, Namespace: run.Namespace}, Target: corev1.ObjectReference{Kind: "Node", Name: "node-1"}}); err != nil {
		t.Fatal(err)
	}
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := e.Host.Get(ctx, client.ObjectKeyFromObject(run), run); err != nil {
			return err
		}
		run.Status.Phase = corev1.PodRunning
		return e.Host.Status().Update(ctx, run)
	}); err != nil {
		t.Fatal(err)
	}
	synctest.Eventually(t, "running pod Running in the virtual cluster", func(ctx context.Context) (bool, error) {
		err := e.Virtual.Get(ctx, client.ObjectKeyFromObject(running), running)
		return err == nil && running.Status.Phase == corev1.PodRunning, err
	})
	pend, comp := hostPod(t, e, "pending", ns), hostPod(t, e, "compliant", ns)

	// The tenant's policy tightens pod security and the node selector and
	// allows kata instead of gvisor.
	bad := syncer.Policy{PodSecurity: "strict"}
	if err := eng.SetPolicy(ctx, bad); err == nil || !strings.Contains(err.Error(), "Policy.PodSecurity") {
		t.Fatalf("SetPolicy with a bad level: %v, want an error naming Policy.PodSecurity", err)
	}
	if err := eng.SetPolicy(ctx, syncer.Policy{
		PodSecurity:           psapi.LevelRestricted,
		NodeSelector:          map[string]string{"pool": "tenant-a"},
		AllowedRuntimeClasses: []string{"policy-kata"},
	}); err != nil {
		t.Fatal(err)
	}

	// kata is allowed now (and needs to pass restricted too, so it is
	// refused for that instead): the new policy is checked as a whole.
	e.WaitEvent(ns, "kata", syncer.ReasonRefused, `violates PodSecurity "restricted"`)
	// pending (not scheduled) violates restricted: refused, host copy gone.
	synctest.Eventually(t, "pending refused under restricted", func(ctx context.Context) (bool, error) {
		err := e.Host.Get(ctx, e.HostKey("pending", ns), &corev1.Pod{})
		if err == nil || !apierrors.IsNotFound(err) {
			return false, client.IgnoreNotFound(err)
		}
		if err := e.Virtual.Get(ctx, client.ObjectKeyFromObject(pending), pending); err != nil {
			return false, err
		}
		for _, c := range pending.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == pods.ReasonPodSecurity {
				return true, nil
			}
		}
		return false, nil
	})
	// compliant (not scheduled) is created again with the node selector.
	synctest.Eventually(t, "compliant recreated with the new node selector", func(ctx context.Context) (bool, error) {
		var h corev1.Pod
		err := e.Host.Get(ctx, e.HostKey("compliant", ns), &h)
		return err == nil && h.UID != comp.UID && h.Spec.NodeSelector["pool"] == "tenant-a", client.IgnoreNotFound(err)
	})
	// running keeps running, and says why the policy would refuse it now.
	ev := e.WaitEvent(ns, "running", pods.ReasonPolicyViolation, "no longer allows")
	for _, want := range []string{`PodSecurity "restricted"`, "pool=tenant-a"} {
		if !strings.Contains(ev.Message, want) {
			t.Errorf("PolicyViolation event %q does not mention %s", ev.Message, want)
		}
	}
	synctest.Eventually(t, "running pod's PolicyViolation condition", func(ctx context.Context) (bool, error) {
		if err := e.Virtual.Get(ctx, client.ObjectKeyFromObject(running), running); err != nil {
			return false, err
		}
		for _, c := range running.Status.Conditions {
			if c.Type == pods.ConditionPolicyViolation && c.Status == corev1.ConditionTrue && c.Reason == pods.ReasonPolicyViolation {
				return running.Status.Phase == corev1.PodRunning, nil
			}
		}
		return false, nil
	})
	var h corev1.Pod
	if err := e.Host.Get(ctx, e.HostKey("running", ns), &h); err != nil || h.UID != run.UID || h.DeletionTimestamp != nil {
		t.Fatalf("running host pod was replaced or deleted: %v (uid %s, was %s)", err, h.UID, run.UID)
	}
	if pend.UID == "" {
		t.Fatal("pending had no host pod before the change")
	}

	// A restricted kata pod is what the new policy allows.
	kata2 := restricted(pod("kata2", ns))
	kata2.Spec.RuntimeClassName = ptrTo("policy-kata")
	if err := e.Virtual.Create(ctx, kata2); err != nil {
		t.Fatal(err)
	}
	if h := hostPod(t, e, "kata2", ns); h.Spec.NodeSelector["pool"] != "tenant-a" || h.Annotations[translate.AnnotationUID] != string(kata2.UID) {
		t.Errorf("kata2 on the host: node selector %v", h.Spec.NodeSelector)
	}

	// Loosened again: the running pod's condition goes, the refused pods
	// come (the compliant one is left as it is: a stricter node selector
	// than needed is not a violation).
	if err := eng.SetPolicy(ctx, syncer.Policy{}); err != nil {
		t.Fatal(err)
	}
	synctest.Eventually(t, "running pod's condition cleared", func(ctx context.Context) (bool, error) {
		if err := e.Virtual.Get(ctx, client.ObjectKeyFromObject(running), running); err != nil {
			return false, err
		}
		for _, c := range running.Status.Conditions {
			if c.Type == pods.ConditionPolicyViolation {
				return false, nil
			}
		}
		return true, nil
	})
	for _, name := range []string{"pending", "kata"} {
		hostPod(t, e, name, ns)
	}
}
