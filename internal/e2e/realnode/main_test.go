package realnode

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
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
	"github.com/vclusterkit/vclusterkit/vcluster/kubeconfig"
	"github.com/vclusterkit/vclusterkit/vcluster/local"
)

// The one virtual cluster every test uses: made by the Engine with the
// local provisioner listening on the node's IP, in host namespace hostNS.
const (
	platformNS = "platform"
	vcName     = "rn"
	hostNS     = "vc-rn"
	tenantName = "rn"
)

// bed is what TestMain starts once for the package.
var bed struct {
	host *testenv.Host
	// hostClient is the host's admin; virtual is the virtual cluster's
	// admin client, from the kubeconfig the Engine wrote (as a tenant
	// gets it).
	hostClient, virtual client.Client
	virtualKubeconfig   string
	kubectl             string
	engineLog           string
}

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "realnode e2e:", err)
		if bed.engineLog != "" {
			if b, rerr := os.ReadFile(bed.engineLog); rerr == nil {
				lines := strings.Split(string(b), "\n")
				fmt.Fprintln(os.Stderr, "--- engine log (tail) ---\n"+strings.Join(lines[max(0, len(lines)-60):], "\n"))
			}
		}
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
	work, err := os.MkdirTemp("", "vclusterkit-e2e-realnode-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(work)

	h, err := testenv.StartHost(ctx, testenv.HostOptions{RealNode: true})
	if err != nil {
		return 0, err
	}
	bed.host = h
	defer func() {
		if serr := h.Stop(); serr != nil && err == nil {
			err = serr
		}
	}()
	cp, err := images.ControlPlaneImages()
	if err != nil {
		return 0, err
	}
	for _, img := range cp {
		if img.Ref == images.Kubectl {
			if err := h.ImportImages(ctx, img); err != nil {
				return 0, err
			}
		}
	}

	bed.engineLog = filepath.Join(work, "engine.log")
	logFile, err := os.Create(bed.engineLog)
	if err != nil {
		return 0, err
	}
	defer logFile.Close()
	logger := funcr.New(func(prefix, args string) { fmt.Fprintln(logFile, time.Now().Format(time.TimeOnly), prefix, args) }, funcr.Options{})
	ctrl.SetLogger(logger)
	klog.SetLogger(logger)
	eng, err := vclusterkit.New(h.Config, vclusterkit.Options{
		// Pods reach their virtual API server on the node's IP.
		Local: local.Options{Dir: filepath.Join(work, "vclusters"), Address: testenv.NodeIP},
		// Each virtual cluster's DNS from the locally built CoreDNS image.
		DNS:          dns.Options{Image: images.CoreDNS, ImagePullPolicy: corev1.PullNever},
		ResyncPeriod: 3 * time.Second,
		Logger:       logger,
	})
	if err != nil {
		return 0, err
	}
	ectx, estop := context.WithCancel(ctx)
	engineDone := make(chan error, 1)
	go func() { engineDone <- eng.Start(ectx) }()
	defer func() {
		estop()
		<-engineDone
		// Start has shut the local control planes down (the engine stops
		// vcluster.Shutdowner provisioners when it returns).
	}()

	sch := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, tenancy.AddToScheme, vcluster.AddToScheme} {
		if err := add(sch); err != nil {
			return 0, err
		}
	}
	if bed.hostClient, err = client.New(h.Config, client.Options{Scheme: sch}); err != nil {
		return 0, err
	}
	if err := bed.hostClient.Create(ctx, &tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: tenantName},
		// Tenant network isolation on, as a platform would run it: pods must
		// still reach their own virtual API server on the node's IP.
		Spec: tenancy.TenantSpec{Policy: tenancy.Policy{PodSecurity: tenancy.PodSecurityBaseline, NetworkIsolation: tenancy.IsolationTenant}}}); err != nil {
		return 0, fmt.Errorf("tenant: %w", err)
	}
	if err := bed.hostClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: platformNS}}); err != nil {
		return 0, err
	}
	vc := &vcluster.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: vcName, Namespace: platformNS},
		Spec: vcluster.VirtualClusterSpec{Tenant: tenantName, HostNamespace: hostNS}}
	if err := bed.hostClient.Create(ctx, vc); err != nil {
		return 0, fmt.Errorf("virtual cluster: %w", err)
	}
	if err := wait.PollUntilContextTimeout(ctx, 300*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		if err := bed.hostClient.Get(ctx, client.ObjectKeyFromObject(vc), vc); err != nil {
			return false, err
		}
		return vc.Status.Phase == vcluster.PhaseRunning, nil
	}); err != nil {
		return 0, fmt.Errorf("virtual cluster %s never Running (phase %q, conditions %+v): %w", vcName, vc.Status.Phase, vc.Status.Conditions, err)
	}
	if !strings.Contains(vc.Status.Endpoint, testenv.NodeIP) {
		return 0, fmt.Errorf("virtual cluster endpoint %s is not on the node's IP %s", vc.Status.Endpoint, testenv.NodeIP)
	}
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
	if bed.virtual, err = client.New(cfg, client.Options{Scheme: sch}); err != nil {
		return 0, err
	}
	return m.Run(), nil
}

// hostExec runs a shell command in the host copy of virtual pod ns/name
// (the same container a tenant's kubectl exec reaches) and returns its
// combined output.
func hostExec(ctx context.Context, ns, name, script string) (string, error) {
	return cluster().HostExec(ctx, ns, name, script)
}

// hostPodName is the host name of a virtual pod (short names only).
func hostPodName(name, ns string) string { return cluster().HostPodName(name, ns) }

// waitRunning waits until the virtual pod ns/name is Running and Ready.
func waitRunning(t *testing.T, ns, name string) {
	t.Helper()
	if err := cluster().WaitReady(context.Background(), ns, name, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
}

// cluster is the virtual cluster under test, for e2ekit's helpers.
func cluster() e2ekit.Cluster {
	return e2ekit.Cluster{Virtual: bed.virtual, Kubectl: bed.kubectl, HostKubeconfig: bed.host.KubeconfigPath,
		Name: vcName, HostNamespace: hostNS, TolerateGetErrors: false}
}

func mustCreate(t *testing.T, objs ...client.Object) {
	t.Helper()
	if err := e2ekit.Create(context.Background(), bed.virtual, objs...); err != nil {
		t.Fatalf("in the virtual cluster: %v", err)
	}
}
