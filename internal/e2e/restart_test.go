package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
	"github.com/vclusterkit/vclusterkit/vcluster/kubeconfig"
)

// engineProc is an engine running in a child process.
type engineProc struct {
	cmd *exec.Cmd
	out *bytes.Buffer
}

func startEngine(t *testing.T, kubeconfigPath, stateDir string) *engineProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envEngineKubeconfig+"="+kubeconfigPath, envEngineStateDir+"="+stateDir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// Its own process group, so a SIGKILL reaches only it: its control
	// planes must then die with it (the local provisioner's children have
	// the parent-death signal).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e := &engineProc{cmd: cmd, out: &out}
	t.Cleanup(func() {
		if e.cmd.ProcessState == nil {
			_ = e.cmd.Process.Kill()
			_ = e.cmd.Wait()
		}
		if t.Failed() {
			t.Logf("engine output (tail):\n%s", tailString(out.String(), 60))
		}
	})
	return e
}

func (e *engineProc) kill(t *testing.T) {
	t.Helper()
	if err := e.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = e.cmd.Wait()
}

func tailString(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// procsFor lists kine, kube-apiserver and kube-controller-manager
// processes whose arguments mention dir.
func procsFor(dir string) []string {
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		bin := filepath.Base(args[0])
		if bin != "kine" && bin != "kube-apiserver" && bin != "kube-controller-manager" {
			continue
		}
		if strings.Contains(string(b), dir) {
			out = append(out, bin+"/"+e.Name())
		}
	}
	return out
}

// poll is testenv.Eventually.
var poll = testenv.Eventually

func newClient(t *testing.T, cfg *envconf.Config) client.Client {
	t.Helper()
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, tenancy.AddToScheme, vcluster.AddToScheme} {
		if err := add(s); err != nil {
			t.Fatal(err)
		}
	}
	rc := *cfg.Client().RESTConfig()
	rc.QPS, rc.Burst = 50, 100
	c, err := client.New(&rc, client.Options{Scheme: s})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestEngineKilledMidProvisioningAndMidTeardown kills the engine process
// while a virtual cluster is being provisioned and again while it is torn
// down; each time a new engine converges: one control plane, no object
// lost, and in the end nothing orphaned.
func TestEngineKilledMidProvisioningAndMidTeardown(t *testing.T) {
	outer := t // engines live across the feature's steps: clean up with the test
	stateDir := t.TempDir()
	const ns, name, hostNS = "platform", "crashy", "crashy-host"
	dir := filepath.Join(stateDir, hostNS, name)
	var engine *engineProc

	f := features.New("engine restarts").
		Assess("killed while provisioning, a new engine converges to one running control plane", func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			h := testenv.HostFrom(ctx)
			h.LogsOnFailure(t)
			c := newClient(t, cfg)
			engine = startEngine(outer, h.KubeconfigPath, stateDir)
			// The engine installs the CRDs; wait for them before creating.
			poll(t, time.Minute, "the engine to install its CRDs", func(ctx context.Context) (bool, string) {
				err := c.List(ctx, &vcluster.VirtualClusterList{})
				return err == nil, fmt.Sprint(err)
			})
			if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
				t.Fatal(err)
			}
			if err := c.Create(ctx, &tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "crash-tenant"}}); err != nil {
				t.Fatal(err)
			}
			vc := &vcluster.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
				Spec: vcluster.VirtualClusterSpec{Tenant: "crash-tenant", HostNamespace: hostNS}}
			if err := c.Create(ctx, vc); err != nil {
				t.Fatal(err)
			}
			// Kill the engine as soon as the control plane's processes exist,
			// before the virtual cluster is Running.
			poll(t, 2*time.Minute, "provisioning to start", func(ctx context.Context) (bool, string) {
				p := procsFor(dir)
				return len(p) > 0, fmt.Sprintf("processes %v", p)
			})
			engine.kill(t)
			got := &vcluster.VirtualCluster{}
			if err := c.Get(ctx, client.ObjectKeyFromObject(vc), got); err != nil {
				t.Fatal(err)
			}
			t.Logf("killed the engine in phase %q", got.Status.Phase)
			if got.Status.Phase == vcluster.PhaseRunning {
				t.Fatalf("the engine finished provisioning before it was killed; the test did not test a crash mid-provisioning")
			}
			poll(t, 15*time.Second, "the dead engine's control-plane processes to die with it", func(ctx context.Context) (bool, string) {
				p := procsFor(dir)
				return len(p) == 0, fmt.Sprintf("orphans %v", p)
			})

			engine = startEngine(outer, h.KubeconfigPath, stateDir)
			poll(t, 3*time.Minute, "the new engine to bring the virtual cluster to Running", func(ctx context.Context) (bool, string) {
				if err := c.Get(ctx, client.ObjectKeyFromObject(vc), got); err != nil {
					return false, err.Error()
				}
				return got.Status.Phase == vcluster.PhaseRunning && meta.IsStatusConditionTrue(got.Status.Conditions, "SyncerReady"), fmt.Sprintf("phase %s", got.Status.Phase)
			})
			if p := procsFor(dir); len(p) != 3 {
				t.Fatalf("want exactly kine, kube-apiserver and kube-controller-manager for the virtual cluster, got %v", p)
			}
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
			if err := vcl.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "survivor"}}); err != nil {
				t.Fatalf("the recovered virtual cluster does not take writes: %v", err)
			}
			return ctx
		}).
		Assess("killed while tearing down, a new engine finishes with nothing orphaned", func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			h := testenv.HostFrom(ctx)
			h.LogsOnFailure(t)
			c := newClient(t, cfg)
			vc := &vcluster.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
			if err := c.Delete(ctx, vc); err != nil {
				t.Fatal(err)
			}
			poll(t, time.Minute, "teardown to start", func(ctx context.Context) (bool, string) {
				got := &vcluster.VirtualCluster{}
				if err := c.Get(ctx, client.ObjectKeyFromObject(vc), got); err != nil {
					return false, err.Error()
				}
				return got.Status.Phase == vcluster.PhaseDeleting, fmt.Sprintf("phase %s deletionTimestamp %v conditions %+v", got.Status.Phase, got.DeletionTimestamp, got.Status.Conditions)
			})
			engine.kill(t)
			got := &vcluster.VirtualCluster{}
			if err := c.Get(ctx, client.ObjectKeyFromObject(vc), got); apierrors.IsNotFound(err) {
				t.Fatal("teardown finished before the engine was killed; the test did not test a crash mid-teardown")
			}
			engine = startEngine(outer, h.KubeconfigPath, stateDir)
			poll(t, 3*time.Minute, "the virtual cluster, its host namespace and its state to be gone", func(ctx context.Context) (bool, string) {
				err := c.Get(ctx, client.ObjectKeyFromObject(vc), &vcluster.VirtualCluster{})
				if !apierrors.IsNotFound(err) {
					return false, fmt.Sprintf("VirtualCluster still there (%v)", err)
				}
				err = c.Get(ctx, client.ObjectKey{Name: hostNS}, &corev1.Namespace{})
				if !apierrors.IsNotFound(err) {
					return false, fmt.Sprintf("host namespace still there (%v)", err)
				}
				if _, err := os.Stat(dir); !os.IsNotExist(err) {
					return false, "state directory still there"
				}
				return true, ""
			})
			if p := procsFor(dir); len(p) != 0 {
				t.Fatalf("control-plane processes orphaned: %v", p)
			}
			var secrets corev1.SecretList
			if err := c.List(ctx, &secrets, client.InNamespace(ns)); err != nil {
				t.Fatal(err)
			}
			for _, s := range secrets.Items {
				if strings.HasPrefix(s.Name, name+"-kubeconfig") {
					t.Errorf("kubeconfig Secret %s orphaned", s.Name)
				}
			}
			// A graceful stop of the engine exits cleanly.
			if err := engine.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- engine.cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("engine exit after SIGTERM: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("engine did not stop within 30s of SIGTERM")
			}
			return ctx
		}).Feature()
	testEnv.Test(t, f)
}
