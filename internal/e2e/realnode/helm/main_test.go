// Package helm is the real-node end-to-end test of the Helm provisioner:
// the Engine installs a virtual cluster's control plane as a Helm release
// whose pods run on the real node from the locally built images, with the
// tenant's network isolation on, and a workload runs inside it. It is a
// package of its own (beside the local provisioner's, in the parent) so
// that each has one TestMain and one Engine.
package helm

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	vclusterkit "github.com/vclusterkit/vclusterkit"
	"github.com/vclusterkit/vclusterkit/internal/binaries"
	"github.com/vclusterkit/vclusterkit/internal/e2e/e2ekit"
	"github.com/vclusterkit/vclusterkit/internal/images"
	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
	"github.com/vclusterkit/vclusterkit/vcluster/dns"
	"github.com/vclusterkit/vclusterkit/vcluster/helm"
	"github.com/vclusterkit/vclusterkit/vcluster/kubeconfig"
)

// The one virtual cluster the test uses: made by the Engine with the helm
// provisioner in host namespace hostNS.
const (
	platformNS = "platform"
	vcName     = "hn"
	hostNS     = "vc-hn"
	tenantName = "hn"
	release    = helm.ReleasePrefix + vcName
	pvName     = "helm-e2e-store"
)

// bed is what TestMain starts once for the package.
var bed struct {
	host                *testenv.Host
	hostClient, virtual client.Client
	virtualKubeconfig   string
	kubectl             string
	engineLog           string
	storeDir            string
	scheme              *runtime.Scheme
}

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helm realnode e2e:", err)
		code = 1
	}
	os.Exit(code)
}

func run(m *testing.M) (code int, err error) {
	ctx := context.Background()
	kubectl, err := binaries.Path(binaries.Kubectl)
	if err != nil {
		return 0, err
	}
	bed.kubectl = kubectl
	work, err := os.MkdirTemp("", "vclusterkit-e2e-helm-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(work)
	bed.engineLog = filepath.Join(work, "engine.log")

	// The real node is one per machine: wait for another test's to stop.
	h, err := testenv.StartHost(ctx, testenv.HostOptions{RealNode: true, StartTimeout: 20 * time.Minute})
	if err != nil {
		return 0, err
	}
	bed.host = h
	defer func() {
		if serr := h.Stop(); serr != nil && err == nil {
			err = serr
		}
	}()
	// The control plane's images (kube-apiserver, kube-controller-manager,
	// kine) and kubectl for the in-cluster API test.
	cp, err := images.ControlPlaneImages()
	if err != nil {
		return 0, err
	}
	if err := h.ImportImages(ctx, cp...); err != nil {
		return 0, err
	}

	bed.scheme = runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, tenancy.AddToScheme, vcluster.AddToScheme} {
		if err := add(bed.scheme); err != nil {
			return 0, err
		}
	}
	if bed.hostClient, err = client.New(h.Config, client.Options{Scheme: bed.scheme}); err != nil {
		return 0, err
	}
	// The store's claim binds to a directory of the machine: a static
	// volume without a class (the host has no provisioner). kine runs as
	// 65532, which hostPath ownership does not follow.
	bed.storeDir = filepath.Join(work, "store")
	if err := os.MkdirAll(bed.storeDir, 0o777); err != nil {
		return 0, err
	}
	if err := os.Chmod(bed.storeDir, 0o777); err != nil {
		return 0, err
	}
	if err := bed.hostClient.Create(ctx, &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: pvName},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: bed.storeDir}},
		},
	}); err != nil {
		return 0, fmt.Errorf("store volume: %w", err)
	}

	logFile, err := os.Create(bed.engineLog)
	if err != nil {
		return 0, err
	}
	defer logFile.Close()
	defer func() {
		// Before the work directory goes.
		if code == 0 && err == nil {
			return
		}
		if b, rerr := os.ReadFile(bed.engineLog); rerr == nil {
			lines := strings.Split(string(b), "\n")
			fmt.Fprintln(os.Stderr, "--- engine log (tail) ---\n"+strings.Join(lines[max(0, len(lines)-120):], "\n"))
		}
	}()
	logger := funcr.New(func(prefix, args string) { fmt.Fprintln(logFile, time.Now().Format(time.TimeOnly), prefix, args) }, funcr.Options{})
	ctrl.SetLogger(logger)
	klog.SetLogger(logger)
	hp, err := helm.New(helm.Options{
		Config: h.Config,
		// The locally built images, imported into the node: nothing may be
		// pulled.
		Images: helm.Images{APIServer: images.KubeAPIServer, ControllerManager: images.KubeControllerManager, Kine: images.Kine},
		Values: map[string]any{"images": map[string]any{"pullPolicy": string(corev1.PullNever)}},
		// The control-plane pod reaches the engine's kubelet API on the
		// node's IP, where the engine (on this machine) listens.
		KubeletAddress: net.ParseIP(testenv.NodeIP),
		Timeout:        3 * time.Minute,
	})
	if err != nil {
		return 0, err
	}
	reg := vcluster.NewRegistry()
	if err := reg.Register(helm.Name, hp); err != nil {
		return 0, err
	}
	eng, err := vclusterkit.New(h.Config, vclusterkit.Options{Provisioners: reg, ResyncPeriod: 3 * time.Second, Logger: logger,
		// Each virtual cluster's DNS from the locally built CoreDNS image.
		DNS: dns.Options{Image: images.CoreDNS, ImagePullPolicy: corev1.PullNever}})
	if err != nil {
		return 0, err
	}
	ectx, estop := context.WithCancel(ctx)
	engineDone := make(chan error, 1)
	go func() { engineDone <- eng.Start(ectx) }()
	defer func() {
		estop()
		<-engineDone
	}()

	if err := bed.hostClient.Create(ctx, &tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: tenantName},
		// Tenant network isolation on: the workload still reaches its API
		// server (a pod of the namespace) and the API server the engine's
		// kubelet API on the node.
		Spec: tenancy.TenantSpec{Policy: tenancy.Policy{PodSecurity: tenancy.PodSecurityBaseline, NetworkIsolation: tenancy.IsolationTenant}}}); err != nil {
		return 0, fmt.Errorf("tenant: %w", err)
	}
	if err := bed.hostClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: platformNS}}); err != nil {
		return 0, err
	}
	vc := &vcluster.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: vcName, Namespace: platformNS},
		Spec: vcluster.VirtualClusterSpec{Tenant: tenantName, HostNamespace: hostNS, Provisioner: helm.Name}}
	if err := bed.hostClient.Create(ctx, vc); err != nil {
		return 0, fmt.Errorf("virtual cluster: %w", err)
	}
	start := time.Now()
	if err := waitPhase(ctx, vcluster.PhaseRunning, 5*time.Minute); err != nil {
		return 0, err
	}
	fmt.Fprintf(os.Stderr, "helm virtual cluster Running %.1fs after its creation\n", time.Since(start).Seconds())
	kc, err := kubeconfig.FromSecret(ctx, bed.hostClient, vcluster.SecretRef{Name: vcName + "-kubeconfig", Namespace: platformNS})
	if err != nil {
		return 0, err
	}
	bed.virtualKubeconfig = filepath.Join(work, "virtual.kubeconfig")
	if err := os.WriteFile(bed.virtualKubeconfig, kc, 0o600); err != nil {
		return 0, err
	}
	cfg, err := kubeconfig.RESTConfig(kc)
	if err != nil {
		return 0, err
	}
	if bed.virtual, err = client.New(cfg, client.Options{Scheme: bed.scheme}); err != nil {
		return 0, err
	}
	defer func() {
		_ = bed.hostClient.Delete(context.Background(), &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: pvName}})
	}()
	return m.Run(), nil
}

// waitPhase waits until the virtual cluster is in phase.
func waitPhase(ctx context.Context, phase vcluster.Phase, timeout time.Duration) error {
	vc := &vcluster.VirtualCluster{}
	err := wait.PollUntilContextTimeout(ctx, 300*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		if err := bed.hostClient.Get(ctx, client.ObjectKey{Namespace: platformNS, Name: vcName}, vc); err != nil {
			return false, err
		}
		return vc.Status.Phase == phase, nil
	})
	if err != nil {
		out, _ := exec.Command(bed.kubectl, "--kubeconfig", bed.host.KubeconfigPath, "-n", hostNS, "describe", "pod", release+"-0").CombinedOutput()
		logs, _ := exec.Command(bed.kubectl, "--kubeconfig", bed.host.KubeconfigPath, "-n", hostNS, "logs", release+"-0", "--all-containers", "--tail=30").CombinedOutput()
		return fmt.Errorf("virtual cluster %s never %s (phase %q, conditions %+v): %w\ncontrol-plane pod:\n%s\nlogs:\n%s", vcName, phase, vc.Status.Phase, vc.Status.Conditions, err, out, logs)
	}
	return nil
}

// hostPodName is the host name of a virtual pod (short names only).
func hostPodName(name, ns string) string { return cluster().HostPodName(name, ns) }

// hostExec runs a shell command in the host copy of virtual pod ns/name.
func hostExec(ctx context.Context, ns, name, script string) (string, error) {
	return cluster().HostExec(ctx, ns, name, script)
}

// vkubectl runs kubectl with the virtual cluster's kubeconfig, as a tenant
// does.
func vkubectl(ctx context.Context, ns string, args ...string) (string, error) {
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(cctx, bed.kubectl, append([]string{"--kubeconfig", bed.virtualKubeconfig, "-n", ns}, args...)...).CombinedOutput()
	return string(out), err
}

// waitRunning waits until the virtual pod ns/name is Running and Ready.
func waitRunning(t *testing.T, ns, name string) {
	t.Helper()
	if err := cluster().WaitReady(context.Background(), ns, name, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
}

// cluster is the virtual cluster under test, for e2ekit's helpers.
func cluster() e2ekit.Cluster {
	return e2ekit.Cluster{Virtual: bed.virtual, Kubectl: bed.kubectl, HostKubeconfig: bed.host.KubeconfigPath,
		// The API server may be waking up.
		Name: vcName, HostNamespace: hostNS, TolerateGetErrors: true}
}

func mustCreate(t *testing.T, objs ...client.Object) {
	t.Helper()
	if err := e2ekit.Create(context.Background(), bed.virtual, objs...); err != nil {
		t.Fatalf("in the virtual cluster: %v", err)
	}
}
