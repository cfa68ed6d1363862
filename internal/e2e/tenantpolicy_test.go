package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	vclusterkit "github.com/vclusterkit/vclusterkit"
	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/sync/resources/pods"
	"github.com/vclusterkit/vclusterkit/sync/translate"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
	"github.com/vclusterkit/vclusterkit/vcluster/kubeconfig"
	"github.com/vclusterkit/vclusterkit/vcluster/local"
)

// resyncOff is far longer than any wait in these tests: only an event can
// make them pass, never the periodic resync.
const resyncOff = 5 * time.Minute

// startInProcessEngine runs an Engine in the test process with resyncOff
// until the test ends.
func startInProcessEngine(t *testing.T, cfg *envconf.Config) {
	t.Helper()
	eng, err := vclusterkit.New(cfg.Client().RESTConfig(), vclusterkit.Options{
		Local: local.Options{Dir: t.TempDir()}, ResyncPeriod: resyncOff, Registerer: prometheus.NewRegistry(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("engine stopped with: %v", err)
		}
	})
}

// runningVirtualCluster creates a VirtualCluster of tenant in namespace ns
// (created here) and returns an admin client of it once it runs.
func runningVirtualCluster(t *testing.T, c client.Client, ns, name, tenant string) client.Client {
	t.Helper()
	ctx := context.Background()
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	vc := &vcluster.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: vcluster.VirtualClusterSpec{Tenant: tenant, HostNamespace: ns + "-" + name}}
	if err := c.Create(ctx, vc); err != nil {
		t.Fatal(err)
	}
	got := &vcluster.VirtualCluster{}
	poll(t, 3*time.Minute, "virtual cluster "+name+" to run", func(ctx context.Context) (bool, string) {
		if err := c.Get(ctx, client.ObjectKeyFromObject(vc), got); err != nil {
			return false, err.Error()
		}
		return got.Status.Phase == vcluster.PhaseRunning && meta.IsStatusConditionTrue(got.Status.Conditions, "SyncerReady"),
			fmt.Sprintf("phase %s conditions %+v", got.Status.Phase, got.Status.Conditions)
	})
	kc, err := kubeconfig.FromSecret(ctx, c, vcluster.SecretRef{Namespace: ns, Name: got.Status.KubeconfigSecret.Name})
	if err != nil {
		t.Fatal(err)
	}
	vcfg, err := kubeconfig.RESTConfig(kc)
	if err != nil {
		t.Fatal(err)
	}
	vcl, err := client.New(vcfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return vcl
}

func virtualPod(name string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.invalid/c:1"}}}}
}

// refusedWith reports whether a virtual pod carries the syncer's refusal
// with reason.
func refusedWith(p *corev1.Pod, reason string) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == reason {
			return true
		}
	}
	return false
}

// TestTenantPolicyChangeReachesRunningSyncer (issue 12, item 7c): a
// tenant's policy tightened while its virtual cluster runs is enforced on
// the next virtual pod within seconds — by the running syncer, which only
// the tenant watch can tell, since the resync is 5 minutes away. The
// VirtualCluster itself does not change. A tighter priority-class list and
// a node selector are what no host admission catches.
func TestTenantPolicyChangeReachesRunningSyncer(t *testing.T) {
	f := features.New("policy change").
		Assess("a tightened policy reaches the running syncer within seconds", func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			testenv.HostFrom(ctx).LogsOnFailure(t)
			c := newClient(t, cfg)
			startInProcessEngine(t, cfg)
			poll(t, time.Minute, "the engine to install its CRDs", func(ctx context.Context) (bool, string) {
				err := c.List(ctx, &vcluster.VirtualClusterList{})
				return err == nil, fmt.Sprint(err)
			})
			// The policy is set on the parent: a change to an ancestor
			// reaches the virtual clusters of the whole subtree.
			parent := &tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "policy-org"}}
			child := &tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "policy-team"}, Spec: tenancy.TenantSpec{Parent: "policy-org"}}
			for _, tn := range []*tenancy.Tenant{parent, child} {
				if err := c.Create(ctx, tn); err != nil {
					t.Fatal(err)
				}
			}
			vcl := runningVirtualCluster(t, c, "policy-ns", "lab", "policy-team")
			tr, err := translate.New("lab", "policy-ns-lab")
			if err != nil {
				t.Fatal(err)
			}
			hostPod := func(ctx context.Context, name string) (*corev1.Pod, error) {
				hp := &corev1.Pod{}
				return hp, c.Get(ctx, client.ObjectKey{Namespace: "policy-ns-lab", Name: tr.HostName(name, "default")}, hp)
			}
			if err := vcl.Create(ctx, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "tenant-high"}, Value: 1000}); err != nil {
				t.Fatal(err)
			}
			// Before: a pod reaches the host with no node selector.
			if err := vcl.Create(ctx, virtualPod("before")); err != nil {
				t.Fatal(err)
			}
			poll(t, time.Minute, "the first pod on the host", func(ctx context.Context) (bool, string) {
				_, err := hostPod(ctx, "before")
				return err == nil, fmt.Sprint(err)
			})

			if err := c.Get(ctx, client.ObjectKeyFromObject(parent), parent); err != nil {
				t.Fatal(err)
			}
			parent.Spec.Policy.NodeSelector = map[string]string{"pool": "tenant-a"}
			parent.Spec.Policy.AllowedPriorityClasses = []string{"tenant-low"}
			if err := c.Update(ctx, parent); err != nil {
				t.Fatal(err)
			}
			changed := time.Now()
			// The policy reaches the syncer within seconds (at most 30 s,
			// against a 5-minute resync): the running pod is told it no
			// longer matches (it keeps running) ...
			poll(t, 30*time.Second, "the running pod to be told of the new policy", func(context.Context) (bool, string) {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				vp := &corev1.Pod{}
				if err := vcl.Get(ctx, client.ObjectKey{Namespace: "default", Name: "before"}, vp); err != nil {
					return false, err.Error()
				}
				for _, cd := range vp.Status.Conditions {
					if cd.Type == pods.ConditionPolicyViolation && cd.Status == corev1.ConditionTrue && strings.Contains(cd.Message, "pool=tenant-a") {
						return true, ""
					}
				}
				return false, fmt.Sprintf("conditions %+v", vp.Status.Conditions)
			})
			// ... a new pod is created on the host with the tenant's node
			// selector ...
			if err := vcl.Create(ctx, virtualPod("after")); err != nil {
				t.Fatal(err)
			}
			poll(t, 30*time.Second, "the new pod on the host with the tenant's node selector", func(context.Context) (bool, string) {
				// Not the poll's context: its deadline would hide the
				// last state in the failure message.
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				hp, err := hostPod(ctx, "after")
				if err != nil {
					vp := &corev1.Pod{}
					_ = vcl.Get(ctx, client.ObjectKey{Namespace: "default", Name: "after"}, vp)
					vc := &vcluster.VirtualCluster{}
					_ = c.Get(ctx, client.ObjectKey{Namespace: "policy-ns", Name: "lab"}, vc)
					return false, fmt.Sprintf("host pod: %v; virtual pod conditions %+v; virtual cluster conditions %+v", err, vp.Status.Conditions, vc.Status.Conditions)
				}
				if hp.Spec.NodeSelector["pool"] != "tenant-a" {
					// Created before the policy arrived: the syncer
					// creates a pod not scheduled yet again.
					return false, fmt.Sprintf("node selector %v", hp.Spec.NodeSelector)
				}
				return true, ""
			})
			// ... and a pod of a priority class the policy no longer allows
			// is refused and never reaches the host.
			greedy := virtualPod("greedy")
			greedy.Spec.PriorityClassName = "tenant-high"
			if err := vcl.Create(ctx, greedy); err != nil {
				t.Fatal(err)
			}
			poll(t, 30*time.Second, "the pod of a class no longer allowed to be refused", func(ctx context.Context) (bool, string) {
				vp := &corev1.Pod{}
				if err := vcl.Get(ctx, client.ObjectKeyFromObject(greedy), vp); err != nil {
					return false, err.Error()
				}
				return refusedWith(vp, "ClassNotAllowed"), fmt.Sprintf("conditions %+v", vp.Status.Conditions)
			})
			if _, err := hostPod(ctx, "greedy"); !apierrors.IsNotFound(err) {
				t.Errorf("the pod of a class no longer allowed reached the host (get: %v)", err)
			}
			t.Logf("the tightened policy was enforced %s after the tenant changed", time.Since(changed).Round(time.Second))

			// Nothing is left behind.
			if err := c.Delete(ctx, &vcluster.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Namespace: "policy-ns", Name: "lab"}}); err != nil {
				t.Fatal(err)
			}
			poll(t, 2*time.Minute, "the virtual cluster to be deleted", func(ctx context.Context) (bool, string) {
				err := c.Get(ctx, client.ObjectKey{Namespace: "policy-ns", Name: "lab"}, &vcluster.VirtualCluster{})
				return apierrors.IsNotFound(err), fmt.Sprint(err)
			})
			for _, tn := range []*tenancy.Tenant{child, parent} {
				if err := c.Delete(ctx, tn); client.IgnoreNotFound(err) != nil {
					t.Fatal(err)
				}
			}
			return ctx
		}).Feature()
	testEnv.Test(t, f)
}

// TestCascadeDeleteAfterRefusedCreatesFinishes (issue 12, item 7d; hostile
// case 14): a tenant with a virtual cluster floods it past its subtree pod
// quota and with pods its pod security refuses, has Services synced, and
// then its org is deleted with cascade. The deletion finishes: every
// charge of objects that no longer exist is released, and no charge of a
// create that never happened holds it back.
func TestCascadeDeleteAfterRefusedCreatesFinishes(t *testing.T) {
	f := features.New("cascade delete").
		Assess("deleting the org finishes after a flood of refused creates", func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			testenv.HostFrom(ctx).LogsOnFailure(t)
			c := newClient(t, cfg)
			startInProcessEngine(t, cfg)
			poll(t, time.Minute, "the engine to install its CRDs", func(ctx context.Context) (bool, string) {
				err := c.List(ctx, &vcluster.VirtualClusterList{})
				return err == nil, fmt.Sprint(err)
			})
			org := &tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "shop-org"},
				Spec: tenancy.TenantSpec{Quota: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("4")}}}
			shop := &tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "web-shop"}, Spec: tenancy.TenantSpec{Parent: "shop-org"}}
			for _, tn := range []*tenancy.Tenant{org, shop} {
				if err := c.Create(ctx, tn); err != nil {
					t.Fatal(err)
				}
			}
			vcl := runningVirtualCluster(t, c, "shop-ns", "shop", "web-shop")
			// The virtual cluster's own DNS pod (vcluster/dns) takes one
			// pod of the quota first, like any pod of the tenant's.
			poll(t, time.Minute, "the virtual cluster's DNS pod on the host", func(ctx context.Context) (bool, string) {
				var hostPods corev1.PodList
				if err := c.List(ctx, &hostPods, client.InNamespace("shop-ns-shop")); err != nil {
					return false, err.Error()
				}
				return len(hostPods.Items) == 1, fmt.Sprintf("%d host pods", len(hostPods.Items))
			})
			// The flood: twice the pod quota left, pods the tenant's pod
			// security refuses, and Services.
			for i := range 6 {
				if err := vcl.Create(ctx, virtualPod(fmt.Sprintf("flood-%d", i))); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 3 {
				p := virtualPod(fmt.Sprintf("privileged-%d", i))
				p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: ptr.To(true)}
				p.Spec.HostNetwork = true
				if err := vcl.Create(ctx, p); err != nil {
					t.Fatal(err)
				}
				svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("svc-%d", i), Namespace: "default"},
					Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
				if err := vcl.Create(ctx, svc); err != nil {
					t.Fatal(err)
				}
			}
			poll(t, time.Minute, "the flood to be charged and refused", func(ctx context.Context) (bool, string) {
				var pods corev1.PodList
				if err := vcl.List(ctx, &pods, client.InNamespace("default")); err != nil {
					return false, err.Error()
				}
				quotaRefused, psRefused := 0, 0
				for i := range pods.Items {
					switch {
					case refusedWith(&pods.Items[i], "QuotaExceeded"):
						quotaRefused++
					case strings.HasPrefix(pods.Items[i].Name, "privileged-") && refusedWith(&pods.Items[i], "PodSecurity"):
						psRefused++
					}
				}
				var hostPods corev1.PodList
				if err := c.List(ctx, &hostPods, client.InNamespace("shop-ns-shop")); err != nil {
					return false, err.Error()
				}
				return quotaRefused == 3 && psRefused == 3 && len(hostPods.Items) == 4,
					fmt.Sprintf("%d refused by quota, %d by pod security, %d host pods", quotaRefused, psRefused, len(hostPods.Items))
			})

			patch := client.MergeFrom(org.DeepCopy())
			org.Annotations = map[string]string{tenancy.AnnotationCascade: "true"}
			if err := c.Patch(ctx, org, patch); err != nil {
				t.Fatal(err)
			}
			if err := c.Delete(ctx, org); err != nil {
				t.Fatal(err)
			}
			// Far below the quickstart's 3 minutes, and nothing waits on
			// the 5-minute resync.
			poll(t, 2*time.Minute, "the org and its subtree to be deleted", func(ctx context.Context) (bool, string) {
				var left []string
				for _, tn := range []*tenancy.Tenant{org, shop} {
					got := &tenancy.Tenant{}
					err := c.Get(ctx, client.ObjectKeyFromObject(tn), got)
					if apierrors.IsNotFound(err) {
						continue
					}
					if err != nil {
						return false, err.Error()
					}
					left = append(left, fmt.Sprintf("%s (own usage %v, conditions %+v)", tn.Name, got.Status.OwnUsage, got.Status.Conditions))
				}
				err := c.Get(ctx, client.ObjectKey{Namespace: "shop-ns", Name: "shop"}, &vcluster.VirtualCluster{})
				if !apierrors.IsNotFound(err) {
					left = append(left, fmt.Sprintf("virtualcluster shop-ns/shop (%v)", err))
				}
				return len(left) == 0, strings.Join(left, "; ")
			})
			return ctx
		}).Feature()
	testEnv.Test(t, f)
}
