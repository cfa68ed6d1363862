package vcluster

import (
	"context"
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

func TestResolveDSN(t *testing.T) {
	sch := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(sch)
	c := fake.NewClientBuilder().WithScheme(sch).WithObjects(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "team-a"},
		Data: map[string][]byte{
			"dsn":   []byte("postgres://kine:pw@db:5432/kine"),
			"bad":   []byte("mysql://db/kine"),
			"empty": {},
		},
	}).Build()
	ctx := context.Background()
	pg := func(name, key string) *VirtualCluster {
		vc := validVC()
		vc.Spec.BackingStore = BackingStore{Type: BackingStorePostgres, DSNSecretRef: &SecretKeyRef{Name: name, Key: key}}
		return vc
	}
	if dsn, err := ResolveDSN(ctx, c, pg("db", "dsn")); err != nil || dsn != "postgres://kine:pw@db:5432/kine" {
		t.Errorf("good DSN: %q, %v", dsn, err)
	}
	for name, vc := range map[string]*VirtualCluster{
		"missing secret": pg("nope", "dsn"),
		"missing key":    pg("db", "nope"),
		"empty value":    pg("db", "empty"),
		"wrong scheme":   pg("db", "bad"),
		"no ref":         pg("", ""),
	} {
		if name == "no ref" {
			vc.Spec.BackingStore.DSNSecretRef = nil
		}
		if _, err := ResolveDSN(ctx, c, vc); !errors.Is(err, ErrInvalidDSN) {
			t.Errorf("%s: err = %v, want ErrInvalidDSN", name, err)
		}
	}
	if dsn, err := ResolveDSN(ctx, c, validVC()); err != nil || dsn != "" {
		t.Errorf("sqlite: %q, %v", dsn, err)
	}
}

func TestCheckClaim(t *testing.T) {
	sch := runtime.NewScheme()
	_ = AddToScheme(sch)
	first := validVC()
	first.Spec.HostNamespace = "shared"
	first.CreationTimestamp = metav1.NewTime(time.Unix(100, 0))
	second := first.DeepCopy()
	second.Namespace = "team-b"
	second.CreationTimestamp = metav1.NewTime(time.Unix(200, 0))
	other := first.DeepCopy()
	other.Namespace, other.Name = "team-c", "prod"
	c := fake.NewClientBuilder().WithScheme(sch).WithObjects(first, second, other).Build()
	ctx := context.Background()
	if err := CheckClaim(ctx, c, first); err != nil {
		t.Errorf("older claimant refused: %v", err)
	}
	if err := CheckClaim(ctx, c, second); !errors.Is(err, ErrConflict) {
		t.Errorf("second claimant: %v, want ErrConflict", err)
	}
	if err := CheckClaim(ctx, c, other); err != nil {
		t.Errorf("different name refused: %v", err)
	}
}

func TestCRDs(t *testing.T) {
	crds, err := CRDs()
	if err != nil {
		t.Fatal(err)
	}
	if len(crds) != 1 || crds[0].Name != "virtualclusters.vcluster.vclusterkit.io" || crds[0].Spec.Versions[0].Name != GroupVersion.Version {
		t.Fatalf("unexpected CRDs: %d %+v", len(crds), crds)
	}
}

func TestApplyHealth(t *testing.T) {
	vc := validVC()
	ApplyHealth(vc, Health{Components: []ComponentHealth{{Name: "kine", Running: true}, {Name: "kube-apiserver", Message: "exit status 1"}}})
	if vc.Status.Phase != PhaseFailed {
		t.Errorf("phase %s", vc.Status.Phase)
	}
	c := vc.Status.Conditions[0]
	if c.Type != ConditionControlPlaneReady || c.Status != metav1.ConditionFalse || c.Reason != ReasonComponentDown || c.Message != "not running: kube-apiserver: exit status 1" {
		t.Errorf("condition %+v", c)
	}
	if !ApplyHealth(vc, Health{Ready: true}) || vc.Status.Phase != PhaseRunning {
		t.Errorf("ready: %s", vc.Status.Phase)
	}
	if ApplyHealth(vc, Health{Ready: true}) {
		t.Error("no change reported as change")
	}
	ApplyHealth(vc, Health{Sleeping: true})
	if vc.Status.Phase != PhaseSleeping {
		t.Errorf("sleeping: %s", vc.Status.Phase)
	}
}
