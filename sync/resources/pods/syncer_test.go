package pods_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	psapi "k8s.io/pod-security-admission/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/sync/internal/synctest"
	"github.com/vclusterkit/vclusterkit/sync/resources/pods"
	"github.com/vclusterkit/vclusterkit/sync/resources/services"
	"github.com/vclusterkit/vclusterkit/sync/syncer"
	"github.com/vclusterkit/vclusterkit/sync/translate"
)

var virtualEnv, hostEnv *testenv.APIServer

func TestMain(m *testing.M) { testenv.Main(m, testenv.APIServerOptions{}, &virtualEnv, &hostEnv) }

func newSyncer(t *testing.T, opts pods.Options) *pods.Syncer {
	t.Helper()
	s, err := pods.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func pod(name, ns string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": name}}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1"}},
	}}
}

func withToken(p *corev1.Pod) *corev1.Pod {
	// envtest runs without the ServiceAccount admission plugin, which
	// would default this.
	p.Spec.ServiceAccountName = "default"
	exp := int64(3600)
	p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "api", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
		{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: &exp}},
	}}}})
	return p
}

func hostPod(t *testing.T, e *synctest.Env, name, ns string) *corev1.Pod {
	t.Helper()
	var h corev1.Pod
	synctest.Eventually(t, "host pod "+ns+"/"+name, func(ctx context.Context) (bool, error) {
		err := e.Host.Get(ctx, e.HostKey(name, ns), &h)
		return err == nil, client.IgnoreNotFound(err)
	})
	return &h
}

func TestPodRoundTrip(t *testing.T) {
	e := synctest.New(t, virtualEnv, hostEnv, syncer.HostOptions{})
	ns := e.Namespace("app")
	e.Start(newSyncer(t, pods.Options{APIServerHost: "10.96.0.1", APIServerPort: 443}))
	ctx := context.Background()

	v := withToken(pod("web", ns))
	if err := e.Virtual.Create(ctx, v); err != nil {
		t.Fatal(err)
	}
	h := hostPod(t, e, "web", ns)
	if h.Labels[translate.LabelVirtualCluster] != e.Name || h.Labels["app"] != "web" || h.Annotations[translate.AnnotationUID] != string(v.UID) {
		t.Errorf("host metadata: labels %v annotations %v", h.Labels, h.Annotations)
	}
	if h.Spec.AutomountServiceAccountToken == nil || *h.Spec.AutomountServiceAccountToken {
		t.Error("host token automounted")
	}

	// The token: in a host Secret owned by the host pod, valid on the
	// virtual API server for the pod's service account, and nowhere in
	// host metadata.
	var sec corev1.Secret
	synctest.Eventually(t, "token secret", func(ctx context.Context) (bool, error) {
		err := e.Host.Get(ctx, client.ObjectKey{Namespace: e.HostNS, Name: e.Tr().HostCompanionName("web", ns, pods.TokenSuffix)}, &sec)
		return err == nil, client.IgnoreNotFound(err)
	})
	token := string(sec.Data["token-0"])
	if token == "" {
		t.Fatalf("token secret has no token-0: %v", sec.Data)
	}
	if len(sec.OwnerReferences) != 1 || sec.OwnerReferences[0].UID != h.UID {
		t.Errorf("token secret owners %v, want the host pod %s", sec.OwnerReferences, h.UID)
	}
	review := &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token}}
	if err := e.Virtual.Create(ctx, review); err != nil {
		t.Fatal(err)
	}
	if !review.Status.Authenticated || review.Status.User.Username != "system:serviceaccount:"+ns+":default" {
		t.Errorf("token review on the virtual API: %+v", review.Status)
	}
	for _, obj := range []client.Object{h, &sec} {
		meta, _ := json.Marshal(map[string]any{"labels": obj.GetLabels(), "annotations": obj.GetAnnotations()})
		if strings.Contains(string(meta), token) || strings.Contains(string(meta), token[len(token)-20:]) {
			t.Errorf("token found in host metadata of %s", obj.GetName())
		}
	}

	// The host schedules and runs the pod: node, IP and status flow back.
	if err := e.Host.SubResource("binding").Create(ctx, h, &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Name: h.Name, Namespace: h.Namespace},
		Target:     corev1.ObjectReference{Kind: "Node", Name: "node-1"},
	}); err != nil {
		t.Fatal(err)
	}
	// as a kubelet does, retry on conflicts with other writers.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := e.Host.Get(ctx, client.ObjectKeyFromObject(h), h); err != nil {
			return err
		}
		h.Status.Phase = corev1.PodRunning
		h.Status.PodIP, h.Status.PodIPs = "10.244.1.7", []corev1.PodIP{{IP: "10.244.1.7"}}
		h.Status.HostIP = "192.168.0.1"
		return e.Host.Status().Update(ctx, h)
	}); err != nil {
		t.Fatal(err)
	}
	synctest.Eventually(t, "status and node back in the virtual cluster", func(ctx context.Context) (bool, error) {
		err := e.Virtual.Get(ctx, client.ObjectKeyFromObject(v), v)
		return err == nil && v.Spec.NodeName == "node-1" && v.Status.PodIP == "10.244.1.7" && v.Status.Phase == corev1.PodRunning, err
	})

	// A change of the host pod's status alone is carried back without
	// translating again (a status-only reconcile, no host write), and the
	// engine's own status writes to the virtual pod are not reconciled
	// again (echoes skipped on the virtual side).
	writes := map[string]string{"vcluster": e.Name, "kind": "pods", "direction": syncer.DirectionToHost}
	hostWrites := synctest.Counter(t, e.Reg, syncer.MetricObjectsSynced, writes)
	statusOnly := synctest.Counter(t, e.Reg, syncer.MetricStatusOnly, map[string]string{"vcluster": e.Name, "kind": "pods"})
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := e.Host.Get(ctx, client.ObjectKeyFromObject(h), h); err != nil {
			return err
		}
		h.Status.Conditions = append(h.Status.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue})
		return e.Host.Status().Update(ctx, h)
	}); err != nil {
		t.Fatal(err)
	}
	synctest.Eventually(t, "Ready back in the virtual cluster", func(ctx context.Context) (bool, error) {
		err := e.Virtual.Get(ctx, client.ObjectKeyFromObject(v), v)
		return err == nil && podReady(v), err
	})
	if got := synctest.Counter(t, e.Reg, syncer.MetricStatusOnly, map[string]string{"vcluster": e.Name, "kind": "pods"}); got <= statusOnly {
		t.Errorf("%s = %v after a host status change, want more than %v", syncer.MetricStatusOnly, got, statusOnly)
	}
	if got := synctest.Counter(t, e.Reg, syncer.MetricObjectsSynced, writes); got != hostWrites {
		t.Errorf("host writes went from %v to %v for a change of host status", hostWrites, got)
	}
	// An echo is recognised only when the write's answer reaches the
	// engine before its watch event does (it cannot know the
	// resourceVersion sooner); the other way round, the event costs one
	// reconcile that finds nothing to do. So a few more status changes,
	// and at least one of their echoes must be skipped (one write lost
	// that race in about 1 run in 4 here).
	for i := range 5 {
		msg := fmt.Sprintf("tick %d", i)
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			if err := e.Host.Get(ctx, client.ObjectKeyFromObject(h), h); err != nil {
				return err
			}
			h.Status.Message = msg
			return e.Host.Status().Update(ctx, h)
		}); err != nil {
			t.Fatal(err)
		}
		synctest.Eventually(t, "status message "+msg+" back in the virtual cluster", func(ctx context.Context) (bool, error) {
			err := e.Virtual.Get(ctx, client.ObjectKeyFromObject(v), v)
			return err == nil && v.Status.Message == msg, err
		})
	}
	synctest.Eventually(t, "a status write's echo skipped", func(ctx context.Context) (bool, error) {
		return synctest.Counter(t, e.Reg, syncer.MetricEchoes, map[string]string{"vcluster": e.Name, "kind": "pods", "side": "virtual"}) >= 1, nil
	})

	// Deleting the running virtual pod deletes the host pod gracefully;
	// when the host kubelet (here: the test) confirms, the virtual pod goes.
	if err := e.Virtual.Delete(ctx, v); err != nil {
		t.Fatal(err)
	}
	synctest.Eventually(t, "host pod terminating", func(ctx context.Context) (bool, error) {
		err := e.Host.Get(ctx, client.ObjectKeyFromObject(h), h)
		return err == nil && h.DeletionTimestamp != nil, err
	})
	if err := e.Host.Delete(ctx, h, client.GracePeriodSeconds(0)); err != nil {
		t.Fatal(err)
	}
	synctest.Eventually(t, "virtual pod gone", func(ctx context.Context) (bool, error) {
		err := e.Virtual.Get(ctx, client.ObjectKeyFromObject(v), v)
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	})
}

// A scheduled pod deleted on the host (eviction) is deleted in the virtual
// cluster; an unscheduled one is created again.
func TestPodDeletedOnHost(t *testing.T) {
	e := synctest.New(t, virtualEnv, hostEnv, syncer.HostOptions{})
	ns := e.Namespace("app")
	e.Start(newSyncer(t, pods.Options{}))
	ctx := context.Background()
	for _, name := range []string{"running", "pending"} {
		if err := e.Virtual.Create(ctx, pod(name, ns)); err != nil {
			t.Fatal(err)
		}
	}
	run := hostPod(t, e, "running", ns)
	if err := e.Host.SubResource("binding").Create(ctx, run, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: run.Name, Namespace: run.Namespace}, Target: corev1.ObjectReference{Kind: "Node", Name: "node-1"}}); err != nil {
		t.Fatal(err)
	}
	v := &corev1.Pod{}
	synctest.Eventually(t, "virtual pod bound", func(ctx context.Context) (bool, error) {
		err := e.Virtual.Get(ctx, client.ObjectKey{Namespace: ns, Name: "running"}, v)
		return err == nil && v.Spec.NodeName == "node-1" && len(v.Status.Conditions) > 0, err
	})
	pend := hostPod(t, e, "pending", ns)
	for _, h := range []*corev1.Pod{run, pend} {
		if err := e.Host.Delete(ctx, h, client.GracePeriodSeconds(0)); err != nil {
			t.Fatal(err)
		}
	}
	synctest.Eventually(t, "evicted pod deleted in the virtual cluster", func(ctx context.Context) (bool, error) {
		err := e.Virtual.Get(ctx, client.ObjectKey{Namespace: ns, Name: "running"}, v)
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	})
	synctest.Eventually(t, "pending pod recreated on the host", func(ctx context.Context) (bool, error) {
		var h corev1.Pod
		err := e.Host.Get(ctx, e.HostKey("pending", ns), &h)
		return err == nil && h.UID != pend.UID, client.IgnoreNotFound(err)
	})
}

// Hostile pods under baseline and restricted are refused with an event and
// a Pending condition and never reach the host.
func TestPodSecurityRefusals(t *testing.T) {
	priv := true
	cases := []struct {
		name   string
		level  psapi.Level
		mutate func(*corev1.Pod)
		detail string
	}{
		{"privileged", psapi.LevelBaseline, func(p *corev1.Pod) {
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: &priv}
		}, "privileged"},
		{"hostpath", psapi.LevelBaseline, func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "root", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}}
		}, "hostPath"},
		{"hostnetwork", psapi.LevelBaseline, func(p *corev1.Pod) { p.Spec.HostNetwork = true }, "host namespaces"},
		{"hostpid", psapi.LevelBaseline, func(p *corev1.Pod) { p.Spec.HostPID = true }, "host namespaces"},
		{"privileged-restricted", psapi.LevelRestricted, func(p *corev1.Pod) {
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: &priv}
		}, "privileged"},
		{"root-restricted", psapi.LevelRestricted, func(*corev1.Pod) {}, "runAsNonRoot"},
	}
	for _, level := range []psapi.Level{psapi.LevelBaseline, psapi.LevelRestricted} {
		t.Run(string(level), func(t *testing.T) {
			e := synctest.New(t, virtualEnv, hostEnv, syncer.HostOptions{})
			ns := e.Namespace("sec")
			e.Start(newSyncer(t, pods.Options{PodSecurity: level}))
			ctx := context.Background()
			for _, c := range cases {
				if c.level != level {
					continue
				}
				p := pod(c.name, ns)
				c.mutate(p)
				if err := e.Virtual.Create(ctx, p); err != nil {
					t.Fatal(err)
				}
				e.WaitEvent(ns, c.name, syncer.ReasonRefused, c.detail)
				synctest.Eventually(t, c.name+" pending with reason", func(ctx context.Context) (bool, error) {
					err := e.Virtual.Get(ctx, client.ObjectKeyFromObject(p), p)
					for _, cond := range p.Status.Conditions {
						if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse && cond.Reason == pods.ReasonPodSecurity && strings.Contains(cond.Message, c.detail) {
							return p.Status.Phase == corev1.PodPending, err
						}
					}
					return false, err
				})
			}
			// A compliant pod proves the engine is running and caught up.
			ok := pod("fine", ns)
			if level == psapi.LevelRestricted {
				f, tr := false, true
				ok.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsNonRoot: &tr, SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
				ok.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{AllowPrivilegeEscalation: &f, Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}
			}
			if err := e.Virtual.Create(ctx, ok); err != nil {
				t.Fatal(err)
			}
			hostPod(t, e, "fine", ns)
			var l corev1.PodList
			e.HostObjects(ctx, &l)
			if len(l.Items) != 1 {
				names := []string{}
				for _, p := range l.Items {
					names = append(names, p.Name)
				}
				t.Fatalf("host pods %v, want only the compliant one", names)
			}
		})
	}
}

// A pod that names another namespace's Secret (even by its host name) only
// ever gets a Secret of its own namespace on the host.
func TestPodCannotReachOtherNamespace(t *testing.T) {
	e := synctest.New(t, virtualEnv, hostEnv, syncer.HostOptions{})
	a, b := e.Namespace("a"), e.Namespace("b")
	e.Start(newSyncer(t, pods.Options{}))
	ctx := context.Background()
	victim := e.Tr().HostName("db", b)
	p := pod("thief", a)
	// Optional: a required Secret that is not on the host holds the host
	// pod back (TestHostPodWaitsForWhatItMounts); the translation is what
	// is checked here.
	p.Spec.Volumes = []corev1.Volume{
		{Name: "s1", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "db", Optional: new(true)}}},
		{Name: "s2", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: victim, Optional: new(true)}}},
	}
	if err := e.Virtual.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	h := hostPod(t, e, "thief", a)
	for i, vol := range h.Spec.Volumes[:2] {
		if vol.Secret.SecretName == victim {
			t.Errorf("volume %d reaches %s's secret %s", i, b, victim)
		}
		if want := e.Tr().HostName(p.Spec.Volumes[i].Secret.SecretName, a); vol.Secret.SecretName != want {
			t.Errorf("volume %d secret %q, want %q", i, vol.Secret.SecretName, want)
		}
	}
}

// Names at the limits: a 253-character pod name syncs to a valid host name.
func TestPodNameAtLimit(t *testing.T) {
	e := synctest.New(t, virtualEnv, hostEnv, syncer.HostOptions{})
	ns := e.Namespace("long")
	e.Start(newSyncer(t, pods.Options{}))
	a := strings.Repeat("a", 63)
	name := a + "." + a + "." + a + "." + strings.Repeat("b", 61)
	p := pod(name, ns)
	p.Labels = nil
	if err := e.Virtual.Create(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	h := hostPod(t, e, name, ns)
	if len(h.Name) > 63 || h.Annotations[translate.AnnotationName] != name {
		t.Errorf("host pod %q (%d chars), origin %q", h.Name, len(h.Name), h.Annotations[translate.AnnotationName])
	}
	if h.Spec.Hostname != a {
		t.Errorf("hostname %q, want %q", h.Spec.Hostname, a)
	}
}

// Labels, annotations and images of a running pod follow the virtual pod,
// including removals; a hand edit of the host pod's labels is put back.
func TestPodUpdatesFollowVirtual(t *testing.T) {
	e := synctest.New(t, virtualEnv, hostEnv, syncer.HostOptions{})
	ns := e.Namespace("app")
	e.Start(newSyncer(t, pods.Options{}))
	ctx := context.Background()
	v := pod("web", ns)
	v.Labels["tier"] = "front"
	if err := e.Virtual.Create(ctx, v); err != nil {
		t.Fatal(err)
	}
	hostPod(t, e, "web", ns)
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := e.Virtual.Get(ctx, client.ObjectKeyFromObject(v), v); err != nil {
			return err
		}
		delete(v.Labels, "tier")
		v.Labels["version"] = "2"
		v.Spec.Containers[0].Image = "registry.example/app:2"
		return e.Virtual.Update(ctx, v)
	}); err != nil {
		t.Fatal(err)
	}
	synctest.Eventually(t, "host pod follows", func(ctx context.Context) (bool, error) {
		var h corev1.Pod
		err := e.Host.Get(ctx, e.HostKey("web", ns), &h)
		_, tier := h.Labels["tier"]
		return err == nil && !tier && h.Labels["version"] == "2" && h.Spec.Containers[0].Image == "registry.example/app:2", err
	})
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var h corev1.Pod
		if err := e.Host.Get(ctx, e.HostKey("web", ns), &h); err != nil {
			return err
		}
		h.Labels["version"] = "hacked"
		return e.Host.Update(ctx, &h)
	}); err != nil {
		t.Fatal(err)
	}
	synctest.Eventually(t, "hand-edited label put back", func(ctx context.Context) (bool, error) {
		var h corev1.Pod
		err := e.Host.Get(ctx, e.HostKey("web", ns), &h)
		return err == nil && h.Labels["version"] == "2", err
	})
}

// Without an explicit DNS server the pods resolve through the host copy of
// the virtual cluster's kube-system/kube-dns Service, and are held back
// until that copy has its IP (a pod's DNS cannot change once it runs); a
// virtual pod replaced under the same name gets a new host pod, whose
// token Secret follows it.
func TestPodDNSAndReplacement(t *testing.T) {
	e := synctest.New(t, virtualEnv, hostEnv, syncer.HostOptions{})
	ns := e.Namespace("app")
	ctx := context.Background()
	if err := e.Virtual.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kube-system"}}); client.IgnoreAlreadyExists(err) != nil {
		t.Fatal(err)
	}
	dns := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "kube-dns", Namespace: "kube-system"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 53, Protocol: corev1.ProtocolUDP}}}}
	if err := e.Virtual.Create(ctx, dns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	// The virtual API server is shared by this package's tests: a DNS
	// Service left behind would hold every later test's pods back.
	t.Cleanup(func() { _ = e.Virtual.Delete(context.Background(), dns) })
	// Only the pods syncer: the DNS Service never reaches the host, so the
	// pod must wait rather than start with the virtual-only IP.
	stopPods := e.Start(newSyncer(t, pods.Options{}))
	v := withToken(pod("web", ns))
	if err := e.Virtual.Create(ctx, v); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // several reconciles (a wait is 250 ms)
	var early corev1.Pod
	if err := e.Host.Get(ctx, e.HostKey("web", ns), &early); !apierrors.IsNotFound(err) {
		t.Fatalf("host pod created before the DNS Service was on the host (err %v, DNS %+v)", err, early.Spec.DNSConfig)
	}
	stopPods()
	e.Start(newSyncer(t, pods.Options{}), &services.Syncer{})
	var hostDNS corev1.Service
	synctest.Eventually(t, "DNS Service on the host with an IP", func(ctx context.Context) (bool, error) {
		err := e.Host.Get(ctx, e.HostKey("kube-dns", "kube-system"), &hostDNS)
		return err == nil && hostDNS.Spec.ClusterIP != "", client.IgnoreNotFound(err)
	})
	h := hostPod(t, e, "web", ns)
	if h.Spec.DNSPolicy != corev1.DNSNone || h.Spec.DNSConfig == nil || h.Spec.DNSConfig.Nameservers[0] != hostDNS.Spec.ClusterIP {
		t.Fatalf("host pod DNS %s %+v, want the host copy of kube-dns %s", h.Spec.DNSPolicy, h.Spec.DNSConfig, hostDNS.Spec.ClusterIP)
	}
	if got, want := h.Spec.DNSConfig.Searches, []string{ns + ".svc.cluster.local", "svc.cluster.local", "cluster.local"}; !slices.Equal(got, want) {
		t.Errorf("host pod DNS searches %v, want %v (as kubelet writes them for the virtual namespace)", got, want)
	}
	secKey := client.ObjectKey{Namespace: e.HostNS, Name: e.Tr().HostCompanionName("web", ns, pods.TokenSuffix)}
	synctest.Eventually(t, "token secret owned by the host pod", func(ctx context.Context) (bool, error) {
		var s corev1.Secret
		err := e.Host.Get(ctx, secKey, &s)
		return err == nil && len(s.OwnerReferences) == 1 && s.OwnerReferences[0].UID == h.UID, client.IgnoreNotFound(err)
	})

	// replace the virtual pod (same name, new uid)
	if err := e.Virtual.Delete(ctx, v, client.GracePeriodSeconds(0)); err != nil {
		t.Fatal(err)
	}
	v2 := withToken(pod("web", ns))
	v2.Spec.Containers[0].Image = "registry.example/app:2"
	if err := e.Virtual.Create(ctx, v2); err != nil {
		t.Fatal(err)
	}
	var h2 corev1.Pod
	synctest.Eventually(t, "new host pod for the new virtual pod", func(ctx context.Context) (bool, error) {
		err := e.Host.Get(ctx, e.HostKey("web", ns), &h2)
		return err == nil && h2.UID != h.UID && h2.Annotations[translate.AnnotationUID] == string(v2.UID), client.IgnoreNotFound(err)
	})
	if h2.Spec.Containers[0].Image != "registry.example/app:2" {
		t.Errorf("host pod image %q", h2.Spec.Containers[0].Image)
	}
	synctest.Eventually(t, "token secret follows the new host pod", func(ctx context.Context) (bool, error) {
		var s corev1.Secret
		err := e.Host.Get(ctx, secKey, &s)
		return err == nil && len(s.OwnerReferences) == 1 && s.OwnerReferences[0].UID == h2.UID && s.Annotations[translate.AnnotationUID] == string(v2.UID), client.IgnoreNotFound(err)
	})
}

// Pods naming a runtime or priority class the tenant's policy does not
// allow are refused with the field and the allowed list; allowed ones and
// pods naming none reach the host.
func TestPodClassRefusals(t *testing.T) {
	ctx := context.Background()
	e := synctest.New(t, virtualEnv, hostEnv, syncer.HostOptions{})
	ns := e.Namespace("classes")
	// Both API servers' own admission wants the classes to exist.
	for _, c := range []client.Client{e.Virtual, e.Host} {
		for _, name := range []string{"classes-gvisor", "classes-kata"} {
			rc := &nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Handler: "h" + name[len("classes-"):]}
			if err := c.Create(ctx, rc); err != nil && !apierrors.IsAlreadyExists(err) {
				t.Fatal(err)
			}
		}
		for name, value := range map[string]int32{"classes-low": 100, "classes-high": 1000000} {
			pc := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Value: value}
			if err := c.Create(ctx, pc); err != nil && !apierrors.IsAlreadyExists(err) {
				t.Fatal(err)
			}
		}
	}
	e.Start(newSyncer(t, pods.Options{
		AllowedRuntimeClasses:  []string{"classes-gvisor"},
		AllowedPriorityClasses: []string{"classes-low"},
	}))
	refused := []struct {
		name   string
		mutate func(*corev1.Pod)
		detail string
	}{
		{"runtime", func(p *corev1.Pod) { p.Spec.RuntimeClassName = ptrTo("classes-kata") },
			`spec.runtimeClassName: "classes-kata" is not allowed (allowed: [classes-gvisor])`},
		{"priority", func(p *corev1.Pod) { p.Spec.PriorityClassName = "classes-high" },
			`spec.priorityClassName: "classes-high" is not allowed (allowed: [classes-low])`},
	}
	for _, c := range refused {
		p := pod(c.name, ns)
		c.mutate(p)
		if err := e.Virtual.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		e.WaitEvent(ns, c.name, syncer.ReasonRefused, c.detail)
		synctest.Eventually(t, c.name+" pending with reason", func(ctx context.Context) (bool, error) {
			err := e.Virtual.Get(ctx, client.ObjectKeyFromObject(p), p)
			for _, cond := range p.Status.Conditions {
				if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse && cond.Reason == pods.ReasonClassNotAllowed && cond.Message == c.detail {
					return p.Status.Phase == corev1.PodPending, err
				}
			}
			return false, err
		})
	}
	allowed := pod("allowed", ns)
	allowed.Spec.RuntimeClassName = ptrTo("classes-gvisor")
	allowed.Spec.PriorityClassName = "classes-low"
	plain := pod("plain", ns)
	for _, p := range []*corev1.Pod{allowed, plain} {
		if err := e.Virtual.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if h := hostPod(t, e, "allowed", ns); h.Spec.RuntimeClassName == nil || *h.Spec.RuntimeClassName != "classes-gvisor" || h.Spec.PriorityClassName != "classes-low" {
		t.Errorf("host pod classes: runtime %v priority %q", h.Spec.RuntimeClassName, h.Spec.PriorityClassName)
	}
	hostPod(t, e, "plain", ns)
	var l corev1.PodList
	e.HostObjects(ctx, &l)
	if len(l.Items) != 2 {
		var names []string
		for _, p := range l.Items {
			names = append(names, p.Name)
		}
		t.Fatalf("host pods %v, want only the two allowed ones", names)
	}
}

func TestCheckClasses(t *testing.T) {
	both := pod("x", "ns")
	both.Spec.RuntimeClassName = ptrTo("kata")
	both.Spec.PriorityClassName = "high"
	for _, c := range []struct {
		name              string
		p                 *corev1.Pod
		runtime, priority []string
		want              string
	}{
		{"no lists", both, nil, nil, ""},
		{"both listed", both, []string{"gvisor", "kata"}, []string{"high"}, ""},
		{"none named", pod("y", "ns"), []string{"gvisor"}, []string{"low"}, ""},
		{"both refused", both, []string{"gvisor"}, []string{"low", "mid"},
			`spec.runtimeClassName: "kata" is not allowed (allowed: [gvisor]); spec.priorityClassName: "high" is not allowed (allowed: [low mid])`},
		{"system class, no list", withPriority("system-node-critical"), nil, nil,
			`spec.priorityClassName: "system-node-critical" is not allowed (system priority classes only when the tenant's policy lists them)`},
		{"system class, not listed", withPriority("system-cluster-critical"), nil, []string{"low"},
			`spec.priorityClassName: "system-cluster-critical" is not allowed (allowed: [low])`},
		{"system class, listed", withPriority("system-cluster-critical"), nil, []string{"system-cluster-critical"}, ""},
		{"other class, no list", withPriority("batch-low"), nil, nil, ""},
	} {
		err := pods.CheckClasses(c.p, c.runtime, c.priority)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

func withPriority(class string) *corev1.Pod {
	p := pod("x", "ns")
	p.Spec.PriorityClassName = class
	return p
}

// A tenant cannot raise its pods' priority on the host: the system classes
// are refused unless the policy lists them, and the priority of a class
// that is allowed is the host's own value for it, whatever the virtual
// cluster's class of that name says (spec.priority is never copied).
func TestPodPriority(t *testing.T) {
	ctx := context.Background()
	// The tenant defines "forged-prio" in its virtual cluster with a huge
	// value; on the host it is a low class.
	for c, value := range map[client.Client]int32{virtualClient(t): 1000000000, hostClient(t): 10} {
		pc := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "forged-prio"}, Value: value}
		if err := c.Create(ctx, pc); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	hostPriority := func(t *testing.T, h *corev1.Pod, class string, want int32) {
		t.Helper()
		if h.Spec.PriorityClassName != class || h.Spec.Priority == nil || *h.Spec.Priority != want {
			t.Errorf("host pod %s: class %q priority %v, want %q with the host's %d", h.Name, h.Spec.PriorityClassName, deref(h.Spec.Priority), class, want)
		}
	}

	t.Run("no list", func(t *testing.T) {
		e := synctest.New(t, virtualEnv, hostEnv, syncer.HostOptions{})
		ns := e.Namespace("prio")
		e.Start(newSyncer(t, pods.Options{}))
		for _, class := range []string{"system-node-critical", "system-cluster-critical"} {
			p := pod(class, ns)
			p.Spec.PriorityClassName = class
			if err := e.Virtual.Create(ctx, p); err != nil {
				t.Fatal(err)
			}
			if p.Spec.Priority == nil || *p.Spec.Priority < 2000000000 {
				t.Fatalf("virtual %s pod has priority %v: is the virtual Priority admission on?", class, deref(p.Spec.Priority))
			}
			e.WaitEvent(ns, class, syncer.ReasonRefused, `spec.priorityClassName: "`+class+`" is not allowed`)
			synctest.Eventually(t, class+" pending with reason", func(ctx context.Context) (bool, error) {
				err := e.Virtual.Get(ctx, client.ObjectKeyFromObject(p), p)
				for _, cond := range p.Status.Conditions {
					if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse && cond.Reason == pods.ReasonClassNotAllowed {
						return p.Status.Phase == corev1.PodPending, err
					}
				}
				return false, err
			})
		}
		forged := pod("forged", ns)
		forged.Spec.PriorityClassName = "forged-prio"
		if err := e.Virtual.Create(ctx, forged); err != nil {
			t.Fatal(err)
		}
		hostPriority(t, hostPod(t, e, "forged", ns), "forged-prio", 10)
		var l corev1.PodList
		e.HostObjects(ctx, &l)
		for _, h := range l.Items {
			if strings.HasPrefix(h.Spec.PriorityClassName, "system-") || deref(h.Spec.Priority) > 10 {
				t.Errorf("host pod %s runs with class %q priority %d", h.Name, h.Spec.PriorityClassName, deref(h.Spec.Priority))
			}
		}
	})

	t.Run("listed", func(t *testing.T) {
		e := synctest.New(t, virtualEnv, hostEnv, syncer.HostOptions{})
		ns := e.Namespace("prio")
		e.Start(newSyncer(t, pods.Options{AllowedPriorityClasses: []string{"system-cluster-critical", "forged-prio"}}))
		for class, want := range map[string]int32{"system-cluster-critical": 2000000000, "forged-prio": 10} {
			p := pod(class, ns)
			p.Spec.PriorityClassName = class
			if err := e.Virtual.Create(ctx, p); err != nil {
				t.Fatal(err)
			}
			hostPriority(t, hostPod(t, e, class, ns), class, want)
		}
	})
}

func virtualClient(t *testing.T) client.Client {
	t.Helper()
	c, err := client.New(virtualEnv.Config, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func hostClient(t *testing.T) client.Client {
	t.Helper()
	c, err := client.New(hostEnv.Config, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func deref(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

func ptrTo[T any](v T) *T { return &v }

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// A pod may list a variable, a port, a pull secret or a host alias's IP
// twice: the API server takes it with a warning, and the kubelet reads it
// as one (the last value of a variable; a port with the name either entry
// gives it; a pull secret once; the names of both aliases). The host pod
// holds each key once, so server-side apply, which refuses a list with a
// key twice, can keep it up to date (before, every update of such a host
// pod failed, and it never followed the virtual one again).
func TestPodWithListEntriesTwice(t *testing.T) {
	e := synctest.New(t, virtualEnv, hostEnv, syncer.HostOptions{})
	ns := e.Namespace("app")
	e.Start(newSyncer(t, pods.Options{}))
	ctx := context.Background()
	v := pod("web", ns)
	v.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "MODE", Value: "first"}, {Name: "OTHER", Value: "x"}, {Name: "MODE", Value: "last"}}
	v.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80}, {Name: "http", ContainerPort: 80, Protocol: corev1.ProtocolTCP}, {ContainerPort: 80, Protocol: corev1.ProtocolUDP}}
	v.Spec.HostAliases = []corev1.HostAlias{{IP: "192.0.2.10", Hostnames: []string{"a.example"}}, {IP: "192.0.2.10", Hostnames: []string{"b.example"}}}
	v.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "reg"}, {Name: "other"}, {Name: "reg"}}
	if err := e.Virtual.Create(ctx, v); err != nil {
		t.Fatal(err)
	}
	h := hostPod(t, e, "web", ns)
	var modes []string
	for _, env := range h.Spec.Containers[0].Env {
		if env.Name == "MODE" {
			modes = append(modes, env.Value)
		}
	}
	if len(modes) != 1 || modes[0] != "last" {
		t.Errorf("host pod's MODE values: %q, want just the last one, \"last\"", modes)
	}
	if got := fmt.Sprint(h.Spec.Containers[0].Ports); got != fmt.Sprint([]corev1.ContainerPort{{Name: "http", ContainerPort: 80, Protocol: corev1.ProtocolTCP}, {ContainerPort: 80, Protocol: corev1.ProtocolUDP}}) {
		t.Errorf("host pod's ports: %s, want 80/TCP named http and 80/UDP", got)
	}
	var aliases []string
	for _, a := range h.Spec.HostAliases {
		if a.IP == "192.0.2.10" {
			aliases = append(aliases, strings.Join(a.Hostnames, ","))
		}
	}
	if strings.Join(aliases, " ") != "a.example,b.example" {
		t.Errorf("host pod's aliases of 192.0.2.10: %q, want one entry a.example,b.example", aliases)
	}
	if n := len(h.Spec.ImagePullSecrets); n != 2 {
		t.Errorf("host pod's pull secrets: %v, want reg and other once each", h.Spec.ImagePullSecrets)
	}
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := e.Virtual.Get(ctx, client.ObjectKeyFromObject(v), v); err != nil {
			return err
		}
		v.Labels["version"] = "2"
		return e.Virtual.Update(ctx, v)
	}); err != nil {
		t.Fatal(err)
	}
	synctest.Eventually(t, "host pod follows a label change", func(ctx context.Context) (bool, error) {
		var h corev1.Pod
		err := e.Host.Get(ctx, e.HostKey("web", ns), &h)
		return err == nil && h.Labels["version"] == "2", err
	})
}
