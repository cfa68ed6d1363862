package hostsmoke

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/vclusterkit/vclusterkit/internal/testenv"
)

// TestDeploymentOnFakeNodes proves the host is a whole cluster: the
// deployment controller makes a ReplicaSet and pods, the scheduler binds
// them to KWOK nodes, KWOK marks them Running, the Deployment becomes
// Available, and deleting it lets the garbage collector remove the pods.
func TestDeploymentOnFakeNodes(t *testing.T) {
	const ns, name = "smoke", "web"
	replicas := int32(3)
	labels := map[string]string{"app": name}

	f := features.New("deployment on fake nodes").
		Assess("becomes Available with pods Running on KWOK nodes", func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			testenv.HostFrom(ctx).LogsOnFailure(t)
			cs := kubernetes.NewForConfigOrDie(cfg.Client().RESTConfig())
			if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			fake := map[string]bool{}
			for _, n := range nodes.Items {
				if n.Annotations["kwok.x-k8s.io/node"] == "fake" {
					fake[n.Name] = true
				}
			}
			if len(fake) != 2 {
				t.Fatalf("want 2 KWOK fake nodes, got nodes %v", nodes.Items)
			}
			d := &appsv1.Deployment{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
				Spec: appsv1.DeploymentSpec{
					Replicas: &replicas,
					Selector: &metav1.LabelSelector{MatchLabels: labels},
					Template: corev1.PodTemplateSpec{
						ObjectMeta: metav1.ObjectMeta{Labels: labels},
						Spec: corev1.PodSpec{
							Containers: []corev1.Container{{Name: "web", Image: "registry.invalid/web:1"}},
							// KWOK's fake nodes carry this taint so real
							// workloads never land on them by accident.
							Tolerations: []corev1.Toleration{{Key: "kwok.x-k8s.io/node", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
						},
					},
				},
			}
			if _, err := cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
				got, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					return false, err
				}
				for _, c := range got.Status.Conditions {
					if c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionTrue && got.Status.AvailableReplicas == replicas {
						return true, nil
					}
				}
				return false, nil
			})
			if err != nil {
				t.Fatalf("deployment never became Available with %d replicas: %v", replicas, err)
			}
			pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
			if err != nil {
				t.Fatal(err)
			}
			if len(pods.Items) != int(replicas) {
				t.Fatalf("want %d pods, got %d", replicas, len(pods.Items))
			}
			for _, p := range pods.Items {
				if p.Status.Phase != corev1.PodRunning || !fake[p.Spec.NodeName] {
					t.Errorf("pod %s: phase %s on node %q, want Running on a KWOK node", p.Name, p.Status.Phase, p.Spec.NodeName)
				}
			}
			return ctx
		}).
		Assess("deleting it garbage-collects its pods", func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			testenv.HostFrom(ctx).LogsOnFailure(t)
			cs := kubernetes.NewForConfigOrDie(cfg.Client().RESTConfig())
			// Background propagation: the API server deletes the Deployment at
			// once and only the garbage collector can remove the rest.
			bg := metav1.DeletePropagationBackground
			if err := cs.AppsV1().Deployments(ns).Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil {
				t.Fatal(err)
			}
			var left []string
			err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
				left = nil
				rs, err := cs.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
				if err != nil {
					return false, err
				}
				for _, r := range rs.Items {
					left = append(left, "replicaset/"+r.Name)
				}
				pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
				if err != nil {
					return false, err
				}
				for _, p := range pods.Items {
					left = append(left, "pod/"+p.Name)
				}
				return len(left) == 0, nil
			})
			if err != nil {
				t.Fatalf("garbage collection left %s: %v", strings.Join(left, ", "), fmt.Sprint(err))
			}
			return ctx
		}).Feature()
	testEnv.Test(t, f)
}
