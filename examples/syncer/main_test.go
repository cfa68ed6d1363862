package main

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/sync/translate"
)

var virtualEnv, hostEnv *testenv.APIServer

func TestMain(m *testing.M) {
	testenv.Main(m, testenv.APIServerOptions{CRDs: []*apiextensionsv1.CustomResourceDefinition{CRD()}}, &virtualEnv, &hostEnv)
}

func eventually(t *testing.T, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, what, func(ctx context.Context) (bool, string) {
		ok, err := cond(ctx)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return ok, "not yet"
	})
}

func TestBackupSync(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	scheme, err := Scheme()
	if err != nil {
		t.Fatal(err)
	}
	vc, err := client.New(virtualEnv.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	hc, err := client.New(hostEnv.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	if err := hc.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}); err != nil {
		t.Fatal(err)
	}
	if err := vc.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- Run(ctx, virtualEnv.Config, hostEnv.Config, "dev", "team-a") }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	tr, err := translate.New("dev", "team-a")
	if err != nil {
		t.Fatal(err)
	}

	b := &Backup{ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "shop"}, Spec: BackupSpec{
		Schedule: "0 3 * * *", CredentialsSecret: "s3",
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
	}}
	if err := vc.Create(ctx, b); err != nil {
		t.Fatal(err)
	}
	hb := &Backup{}
	eventually(t, "host Backup", func(ctx context.Context) (bool, error) {
		err := hc.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: tr.HostName("nightly", "shop")}, hb)
		return err == nil, client.IgnoreNotFound(err)
	})
	if hb.Spec.CredentialsSecret != tr.HostName("s3", "shop") {
		t.Errorf("credentials secret %q not translated", hb.Spec.CredentialsSecret)
	}
	sel, err := metav1.LabelSelectorAsSelector(hb.Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	own, _ := tr.HostLabels("shop", map[string]string{"app": "db"})
	other, _ := tr.HostLabels("blog", map[string]string{"app": "db"})
	if !sel.Matches(labels.Set(own)) || sel.Matches(labels.Set(other)) {
		t.Errorf("host selector %v is not scoped to the tenant's namespace", sel)
	}

	// The operator on the host reports; the tenant sees it.
	hb.Status = BackupStatus{Phase: "Succeeded", LastRun: "2026-11-29T03:00:00Z"}
	if err := hc.Status().Update(ctx, hb); err != nil {
		t.Fatal(err)
	}
	eventually(t, "status back in the virtual cluster", func(ctx context.Context) (bool, error) {
		err := vc.Get(ctx, client.ObjectKeyFromObject(b), b)
		return err == nil && b.Status.Phase == "Succeeded", err
	})

	// An invalid Backup is refused with an event and never reaches the host.
	bad := &Backup{ObjectMeta: metav1.ObjectMeta{Name: "broken", Namespace: "shop"}}
	if err := vc.Create(ctx, bad); err != nil {
		t.Fatal(err)
	}
	eventually(t, "refusal event", func(ctx context.Context) (bool, error) {
		var l corev1.EventList
		if err := vc.List(ctx, &l, client.InNamespace("shop")); err != nil {
			return false, err
		}
		for _, e := range l.Items {
			if e.InvolvedObject.Name == "broken" && e.Reason == "SyncRefused" {
				return true, nil
			}
		}
		return false, nil
	})
	if err := hc.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: tr.HostName("broken", "shop")}, &Backup{}); !apierrors.IsNotFound(err) {
		t.Errorf("refused Backup on the host: %v", err)
	}

	// Deleting it in the virtual cluster deletes the host copy.
	if err := vc.Delete(ctx, b); err != nil {
		t.Fatal(err)
	}
	eventually(t, "host Backup deleted", func(ctx context.Context) (bool, error) {
		err := hc.Get(ctx, client.ObjectKeyFromObject(hb), &Backup{})
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	})
}
