package persistentvolumeclaims_test

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/sync/internal/synctest"
	pvcs "github.com/vclusterkit/vclusterkit/sync/resources/persistentvolumeclaims"
	"github.com/vclusterkit/vclusterkit/sync/syncer"
)

var virtualEnv, hostEnv *testenv.APIServer

func TestMain(m *testing.M) { testenv.Main(m, testenv.APIServerOptions{}, &virtualEnv, &hostEnv) }

func claim(name, ns string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: corev1.PersistentVolumeClaimSpec{
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
	}}
}

func TestClaimRoundTrip(t *testing.T) {
	e := synctest.New(t, virtualEnv, hostEnv, syncer.HostOptions{})
	ns := e.Namespace("app")
	e.Start(pvcs.New(pvcs.Options{}))
	ctx := context.Background()
	v := claim("data", ns)
	if err := e.Virtual.Create(ctx, v); err != nil {
		t.Fatal(err)
	}
	var h corev1.PersistentVolumeClaim
	synctest.Eventually(t, "host claim", func(ctx context.Context) (bool, error) {
		err := e.Host.Get(ctx, e.HostKey("data", ns), &h)
		return err == nil, client.IgnoreNotFound(err)
	})
	// the host binds it: status flows back.
	h.Status.Phase = corev1.ClaimBound
	h.Status.Capacity = corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}
	h.Status.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}
	if err := e.Host.Status().Update(ctx, &h); err != nil {
		t.Fatal(err)
	}
	synctest.Eventually(t, "bound in the virtual cluster", func(ctx context.Context) (bool, error) {
		err := e.Virtual.Get(ctx, client.ObjectKeyFromObject(v), v)
		return err == nil && v.Status.Phase == corev1.ClaimBound, err
	})
	if err := e.Virtual.Delete(ctx, v); err != nil {
		t.Fatal(err)
	}
	synctest.Eventually(t, "host claim deleted", func(ctx context.Context) (bool, error) {
		err := e.Host.Get(ctx, e.HostKey("data", ns), &h)
		return apierrors.IsNotFound(err) || (err == nil && h.DeletionTimestamp != nil), client.IgnoreNotFound(err)
	})
}

func TestClaimCannotPickHostVolumes(t *testing.T) {
	e := synctest.New(t, virtualEnv, hostEnv, syncer.HostOptions{})
	ns := e.Namespace("app")
	e.Start(pvcs.New(pvcs.Options{AllowedStorageClasses: []string{"standard"}}))
	ctx := context.Background()
	named := claim("named", ns)
	named.Spec.VolumeName = "other-tenants-pv"
	sel := claim("selector", ns)
	sel.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"tenant": "other"}}
	class := claim("class", ns)
	gold := "gold"
	class.Spec.StorageClassName = &gold
	for _, c := range []struct {
		pvc  *corev1.PersistentVolumeClaim
		want string
	}{{named, "spec.volumeName"}, {sel, "spec.selector"}, {class, "spec.storageClassName"}} {
		if err := e.Virtual.Create(ctx, c.pvc); err != nil {
			t.Fatal(err)
		}
		e.WaitEvent(ns, c.pvc.Name, syncer.ReasonRefused, c.want)
		if err := e.Host.Get(ctx, e.HostKey(c.pvc.Name, ns), &corev1.PersistentVolumeClaim{}); !apierrors.IsNotFound(err) {
			t.Errorf("refused claim %s on the host: %v", c.pvc.Name, err)
		}
	}
}

// A change of the tenant's allowed storage classes reaches the running
// syncer: a claim refused before is synced once its class is allowed; a
// claim already on the host is kept (its volume holds data) and warned
// about.
func TestClaimPolicyChange(t *testing.T) {
	e := synctest.New(t, virtualEnv, hostEnv, syncer.HostOptions{})
	ns := e.Namespace("policy")
	eng, _ := e.StartEngine(pvcs.New(pvcs.Options{AllowedStorageClasses: []string{"fast"}}))
	ctx := context.Background()
	fast, slow := claim("fast", ns), claim("slow", ns)
	fastClass, slowClass := "fast", "slow"
	fast.Spec.StorageClassName, slow.Spec.StorageClassName = &fastClass, &slowClass
	for _, c := range []*corev1.PersistentVolumeClaim{fast, slow} {
		if err := e.Virtual.Create(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	e.WaitEvent(ns, "slow", syncer.ReasonRefused, "spec.storageClassName")
	var h corev1.PersistentVolumeClaim
	synctest.Eventually(t, "fast claim on the host", func(ctx context.Context) (bool, error) {
		err := e.Host.Get(ctx, e.HostKey("fast", ns), &h)
		return err == nil, client.IgnoreNotFound(err)
	})

	if err := eng.SetPolicy(ctx, syncer.Policy{AllowedStorageClasses: []string{"slow"}}); err != nil {
		t.Fatal(err)
	}
	synctest.Eventually(t, "slow claim on the host", func(ctx context.Context) (bool, error) {
		err := e.Host.Get(ctx, e.HostKey("slow", ns), &corev1.PersistentVolumeClaim{})
		return err == nil, client.IgnoreNotFound(err)
	})
	e.WaitEvent(ns, "fast", pvcs.ReasonPolicyViolation, `storage class "fast" is no longer allowed`)
	var kept corev1.PersistentVolumeClaim
	if err := e.Host.Get(ctx, e.HostKey("fast", ns), &kept); err != nil || kept.UID != h.UID || kept.DeletionTimestamp != nil {
		t.Fatalf("fast claim not kept on the host: %v", err)
	}
}
