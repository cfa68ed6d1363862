package helm

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/vclusterkit/vclusterkit/internal/testenv"
)

// host is a whole host cluster on KWOK fake nodes: pods are scheduled and
// marked Running and Ready, but no container runs.
var host *testenv.Host

func TestMain(m *testing.M) {
	ctrl.SetLogger(logr.Discard())
	h, err := testenv.StartHost(context.Background(), testenv.HostOptions{Nodes: 1})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the KWOK host:", err)
		os.Exit(1)
	}
	host = h
	code := m.Run()
	if err := h.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping the KWOK host:", err)
	}
	os.Exit(code)
}

// hostVolume creates a static PersistentVolume without a class, which the
// store's claim (no class, no default StorageClass on the host) binds to.
func hostVolume(t *testing.T, p *Provisioner, name string) {
	t.Helper()
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp/" + name}},
		},
	}
	if err := p.host.Create(context.Background(), pv); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.host.Delete(context.Background(), pv) })
}

func hostNamespace(t *testing.T, p *Provisioner, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"tenancy.vclusterkit.io/tenant": "acme"}}}
	if err := p.host.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
}
