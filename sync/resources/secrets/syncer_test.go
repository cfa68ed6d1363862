package secrets_test

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/sync/internal/synctest"
	"github.com/vclusterkit/vclusterkit/sync/resources/secrets"
	"github.com/vclusterkit/vclusterkit/sync/syncer"
)

var virtualEnv, hostEnv *testenv.APIServer

func TestMain(m *testing.M) { testenv.Main(m, testenv.APIServerOptions{}, &virtualEnv, &hostEnv) }

func TestReferencedSecretsSync(t *testing.T) {
	e := synctest.New(t, virtualEnv, hostEnv, syncer.HostOptions{})
	ns, other := e.Namespace("app"), e.Namespace("other")
	e.Start(secrets.New(secrets.Options{}))
	ctx := context.Background()
	mk := func(name, ns string, typ corev1.SecretType, data map[string][]byte) {
		if err := e.Virtual.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Type: typ, Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	mk("pull", ns, corev1.SecretTypeDockerConfigJson, map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":{}}`)})
	mk("db", ns, corev1.SecretTypeOpaque, map[string][]byte{"password": []byte("s3cr3t")})
	mk("db", other, corev1.SecretTypeOpaque, map[string][]byte{"password": []byte("other-tenant-namespace")})
	mk("unused", ns, corev1.SecretTypeOpaque, map[string][]byte{"a": []byte("b")})
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}, Spec: corev1.PodSpec{
		ImagePullSecrets: []corev1.LocalObjectReference{{Name: "pull"}},
		Containers: []corev1.Container{{Name: "c", Image: "x", Env: []corev1.EnvVar{{Name: "P", ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "password"}}}}}},
	}}
	if err := e.Virtual.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"pull", "db"} {
		synctest.Eventually(t, "referenced secret "+n, func(ctx context.Context) (bool, error) {
			err := e.Host.Get(ctx, e.HostKey(n, ns), &corev1.Secret{})
			return err == nil, client.IgnoreNotFound(err)
		})
	}
	var db corev1.Secret
	if err := e.Host.Get(ctx, e.HostKey("db", ns), &db); err != nil {
		t.Fatal(err)
	}
	if string(db.Data["password"]) != "s3cr3t" {
		t.Errorf("host copy has %q, want the pod's own namespace's secret", db.Data["password"])
	}
	for _, k := range []struct{ name, ns string }{{"unused", ns}, {"db", other}} {
		if err := e.Host.Get(ctx, e.HostKey(k.name, k.ns), &corev1.Secret{}); !apierrors.IsNotFound(err) {
			t.Errorf("unreferenced secret %s/%s on the host: %v", k.ns, k.name, err)
		}
	}
}

func TestServiceAccountTokenSecretBecomesOpaque(t *testing.T) {
	e := synctest.New(t, virtualEnv, hostEnv, syncer.HostOptions{})
	ns := e.Namespace("app")
	e.Start(secrets.New(secrets.Options{All: true}))
	ctx := context.Background()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "sa-token", Namespace: ns, Annotations: map[string]string{corev1.ServiceAccountNameKey: "default"}},
		Type: corev1.SecretTypeServiceAccountToken}
	if err := e.Virtual.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	var h corev1.Secret
	synctest.Eventually(t, "synced", func(ctx context.Context) (bool, error) {
		err := e.Host.Get(ctx, e.HostKey("sa-token", ns), &h)
		return err == nil, client.IgnoreNotFound(err)
	})
	if h.Type != corev1.SecretTypeOpaque {
		t.Errorf("host type %q, want Opaque", h.Type)
	}
}
