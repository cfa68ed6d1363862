package serviceaccounts_test

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/sync/internal/synctest"
	"github.com/vclusterkit/vclusterkit/sync/resources/pods"
	"github.com/vclusterkit/vclusterkit/sync/resources/serviceaccounts"
	"github.com/vclusterkit/vclusterkit/sync/syncer"
)

var virtualEnv, hostEnv *testenv.APIServer

func TestMain(m *testing.M) { testenv.Main(m, testenv.APIServerOptions{}, &virtualEnv, &hostEnv) }

func TestServiceAccountsAndPodsUseThem(t *testing.T) {
	e := synctest.New(t, virtualEnv, hostEnv, syncer.HostOptions{})
	ns := e.Namespace("app")
	ps, err := pods.New(pods.Options{HostServiceAccounts: true})
	if err != nil {
		t.Fatal(err)
	}
	e.Start(serviceaccounts.New(), ps)
	ctx := context.Background()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "builder", Namespace: ns, Annotations: map[string]string{"iam.example.com/role": "builder"}},
		ImagePullSecrets: []corev1.LocalObjectReference{{Name: "pull"}}}
	if err := e.Virtual.Create(ctx, sa); err != nil {
		t.Fatal(err)
	}
	var h corev1.ServiceAccount
	synctest.Eventually(t, "host service account", func(ctx context.Context) (bool, error) {
		err := e.Host.Get(ctx, e.HostKey("builder", ns), &h)
		return err == nil, client.IgnoreNotFound(err)
	})
	if h.Annotations["iam.example.com/role"] != "builder" || h.AutomountServiceAccountToken == nil || *h.AutomountServiceAccountToken {
		t.Errorf("host service account: annotations %v automount %v", h.Annotations, h.AutomountServiceAccountToken)
	}
	if len(h.ImagePullSecrets) != 1 || h.ImagePullSecrets[0].Name != e.Tr().HostName("pull", ns) {
		t.Errorf("image pull secrets %v", h.ImagePullSecrets)
	}
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "build", Namespace: ns}, Spec: corev1.PodSpec{ServiceAccountName: "builder", Containers: []corev1.Container{{Name: "c", Image: "x"}}}}
	if err := e.Virtual.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	var hp corev1.Pod
	synctest.Eventually(t, "host pod", func(ctx context.Context) (bool, error) {
		err := e.Host.Get(ctx, e.HostKey("build", ns), &hp)
		return err == nil, client.IgnoreNotFound(err)
	})
	if hp.Spec.ServiceAccountName != h.Name {
		t.Errorf("host pod runs as %q, want %q", hp.Spec.ServiceAccountName, h.Name)
	}
}
