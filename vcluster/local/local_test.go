package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/vclusterkit/vclusterkit/internal/binaries"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
	"github.com/vclusterkit/vclusterkit/vcluster/kubeconfig"
	"github.com/vclusterkit/vclusterkit/vcluster/provisionertest"

	"github.com/vclusterkit/vclusterkit/internal/testenv"
)

func init() { ctrl.SetLogger(logr.Discard()) }

func newVC(name string) *vcluster.VirtualCluster {
	return &vcluster.VirtualCluster{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team-a", UID: types.UID("uid-" + name)},
		Spec:       vcluster.VirtualClusterSpec{Tenant: "team-a"},
	}
}

func newProvisioner(t *testing.T, o Options) *Provisioner {
	t.Helper()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Shutdown(context.Background()) })
	return p
}

// leftovers lists the state directory and any process whose command line
// mentions it.
func leftovers(p *Provisioner) func(context.Context, *vcluster.VirtualCluster) ([]string, error) {
	return func(_ context.Context, vc *vcluster.VirtualCluster) ([]string, error) {
		dir := p.StateDir(vc)
		var out []string
		if _, err := os.Stat(dir); err == nil {
			out = append(out, "directory "+dir)
		}
		out = append(out, processesMentioning(dir)...)
		return out, nil
	}
}

func processesMentioning(marker string) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(b, []byte(marker+"/")) {
			continue
		}
		st, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if f := strings.Fields(string(st)); len(f) > 2 && f[2] == "Z" {
			continue // zombie: already dead
		}
		out = append(out, fmt.Sprintf("process %d: %s", pid, strings.ReplaceAll(string(b[:min(len(b), 120)]), "\x00", " ")))
	}
	return out
}

func TestConformanceSQLite(t *testing.T) {
	p := newProvisioner(t, Options{})
	provisionertest.Run(t, provisionertest.Options{Provisioner: p, Leftovers: leftovers(p)})
}

// TestDoneWhen is the acceptance test: a tenant member uses kubectl
// with a per-user kubeconfig, objects survive pause and resume, and
// deprovision leaves no process or directory.
func TestDoneWhen(t *testing.T) {
	kubectl, err := binaries.Path(binaries.Kubectl)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p := newProvisioner(t, Options{})
	vc := newVC("dev")
	res, err := p.Provision(ctx, vcluster.Request{Cluster: vc})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Ready {
		t.Fatalf("not ready: %+v", res)
	}
	admin, err := p.Kubeconfig(ctx, vc)
	if err != nil {
		t.Fatal(err)
	}
	members := []tenancy.Member{
		{Kind: tenancy.MemberUser, Name: "alice@example.com", Role: tenancy.RoleAdmin},
		{Kind: tenancy.MemberUser, Name: "bob", Role: tenancy.RoleView},
	}
	if err := kubeconfig.BindMembers(ctx, clientForKubeconfig(t, admin), members); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	aliceKC, err := kubeconfig.ForMember(ctx, p, vc, members[0], "team-a")
	if err != nil {
		t.Fatal(err)
	}
	bobKC, err := kubeconfig.ForMember(ctx, p, vc, members[1])
	if err != nil {
		t.Fatal(err)
	}
	alice, bob := write("alice", aliceKC), write("bob", bobKC)
	run := func(kc string, args ...string) (string, error) {
		cmd := exec.Command(kubectl, append([]string{"--kubeconfig", kc, "--request-timeout=30s"}, args...)...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	must := func(kc string, args ...string) string {
		t.Helper()
		out, err := run(kc, args...)
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	if out := must(alice, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"); out != "alice@example.com" {
		t.Errorf("alice authenticates as %q", out)
	}
	must(alice, "create", "namespace", "shop")
	must(alice, "-n", "shop", "create", "deployment", "web", "--image=registry.k8s.io/pause:3.10", "--replicas=2")
	// bob is a viewer: he sees, but cannot create.
	must(bob, "-n", "shop", "get", "deployment", "web")
	if out, err := run(bob, "create", "namespace", "bobs"); err == nil || !strings.Contains(out, "forbidden") {
		t.Errorf("viewer created a namespace: %v %s", err, out)
	}
	// kube-controller-manager runs: the Deployment gets a ReplicaSet.
	waitFor(t, time.Minute, func() error {
		out, err := run(alice, "-n", "shop", "get", "replicasets", "-o", "name")
		if err != nil || !strings.Contains(out, "replicaset.apps/web-") {
			return fmt.Errorf("no ReplicaSet yet: %v %s", err, out)
		}
		return nil
	})

	inst := p.getRunning(p.StateDir(vc))
	var pids []int
	for _, pr := range inst.procs {
		pids = append(pids, pr.pid())
	}
	if err := p.Pause(ctx, vc); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if processAlive(pid, p.StateDir(vc)) {
			t.Errorf("process %d still runs while paused", pid)
		}
	}
	if out, err := run(alice, "get", "namespaces"); err == nil {
		t.Errorf("paused API server still answers: %s", out)
	}
	if err := p.Resume(ctx, vc); err != nil {
		t.Fatal(err)
	}
	if out := must(alice, "-n", "shop", "get", "deployment", "web", "-o", "jsonpath={.spec.replicas}"); out != "2" {
		t.Errorf("deployment after resume: replicas %q", out)
	}
	must(alice, "get", "namespace", "shop")

	if err := p.Deprovision(ctx, vc); err != nil {
		t.Fatal(err)
	}
	if left, _ := leftovers(p)(ctx, vc); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
	// Nothing is left but the lock file of the directory itself.
	ents, _ := os.ReadDir(p.Dir())
	if len(ents) != 1 || ents[0].Name() != lockFile {
		t.Errorf("state root holds more than its lock after deprovision: %v", ents)
	}
}

func waitFor(t *testing.T, d time.Duration, f func() error) {
	t.Helper()
	testenv.Eventually(t, d, "the condition", func(context.Context) (bool, string) {
		if err := f(); err != nil {
			return false, err.Error()
		}
		return true, ""
	})
}

// A component that dies is reported by Health and OnComponentExit, and the
// next Provision restarts it.
func TestComponentDeathDetected(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	var exited []string
	p := newProvisioner(t, Options{OnComponentExit: func(ns, name, comp string, err error) {
		mu.Lock()
		exited = append(exited, ns+"/"+name+"/"+comp)
		mu.Unlock()
	}})
	vc := newVC("dies")
	if _, err := p.Provision(ctx, vcluster.Request{Cluster: vc}); err != nil {
		t.Fatal(err)
	}
	inst := p.getRunning(p.StateDir(vc))
	api := inst.procs[1]
	if api.name != "kube-apiserver" {
		t.Fatalf("unexpected order %s", api.name)
	}
	_ = syscall.Kill(api.pid(), syscall.SIGKILL)
	<-api.done
	h, err := p.Health(ctx, vc)
	if err != nil {
		t.Fatal(err)
	}
	if h.Ready || h.Components[1].Running || !strings.Contains(h.Components[1].Message, "killed") {
		t.Errorf("health after kill: %+v", h)
	}
	obj := vc.DeepCopy()
	vcluster.ApplyHealth(obj, h)
	if obj.Status.Phase != vcluster.PhaseFailed || obj.Status.Conditions[0].Reason != vcluster.ReasonComponentDown {
		t.Errorf("status: %+v", obj.Status)
	}
	waitFor(t, 5*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(exited) != 1 || exited[0] != "team-a/dies/kube-apiserver" {
			return fmt.Errorf("OnComponentExit calls: %v", exited)
		}
		return nil
	})
	res, err := p.Provision(ctx, vcluster.Request{Cluster: vc})
	if err != nil || !res.Ready {
		t.Fatalf("Provision after a death: %+v %v", res, err)
	}
	if h, _ := p.Health(ctx, vc); !h.Ready {
		t.Errorf("not healthy after restart: %+v", h)
	}
	if err := p.Deprovision(ctx, vc); err != nil {
		t.Fatal(err)
	}
}

// A restart of the embedding program (its children killed with it) finds
// the state directory again and keeps every object.
func TestRestartReattaches(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p1 := newProvisioner(t, Options{Dir: dir})
	vc := newVC("again")
	if _, err := p1.Provision(ctx, vcluster.Request{Cluster: vc}); err != nil {
		t.Fatal(err)
	}
	kc, _ := p1.Kubeconfig(ctx, vc)
	runKubectl(t, kc, "create", "namespace", "survivor")
	// Simulate the crash: SIGKILL every child as the parent-death signal would.
	for _, pr := range p1.getRunning(p1.StateDir(vc)).procs {
		pr.stopping.Store(true)
		killGroup(pr.pid(), syscall.SIGKILL)
		<-pr.done
	}
	// A dead process holds no lock: the kernel drops it with the process.
	p1.releaseDir()
	p2 := newProvisioner(t, Options{Dir: dir})
	if h, err := p2.Health(ctx, vc); err != nil || h.Ready {
		t.Errorf("health before re-provision: %+v %v", h, err)
	}
	res, err := p2.Provision(ctx, vcluster.Request{Cluster: vc})
	if err != nil || !res.Ready {
		t.Fatalf("re-provision: %+v %v", res, err)
	}
	kc, _ = p2.Kubeconfig(ctx, vc)
	runKubectl(t, kc, "get", "namespace", "survivor")
	if err := p2.Deprovision(ctx, vc); err != nil {
		t.Fatal(err)
	}
	if left, _ := leftovers(p2)(ctx, vc); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

// Two provisioners on one directory would each restart the other's
// control planes as ones "left by an earlier run": the second is refused,
// naming the directory and the holder, before it writes anything, until the
// first shuts down.
func TestStateDirectoryIsExclusive(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p1 := newProvisioner(t, Options{Dir: dir})
	if err := p1.claimDir(); err != nil {
		t.Fatal(err)
	}
	p2 := newProvisioner(t, Options{Dir: dir})
	vc := newVC("shared")
	_, err := p2.Provision(ctx, vcluster.Request{Cluster: vc})
	if !errors.Is(err, ErrDirInUse) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Fatalf("second provisioner on %s: want ErrDirInUse naming the directory and pid, got %v", dir, err)
	}
	if _, err := os.Stat(p2.StateDir(vc)); !os.IsNotExist(err) {
		t.Fatalf("the refused Provision left %s behind (%v)", p2.StateDir(vc), err)
	}
	if err := p2.Deprovision(ctx, vc); !errors.Is(err, ErrDirInUse) {
		t.Fatalf("Deprovision on a directory in use: want ErrDirInUse, got %v", err)
	}
	p1.Shutdown(ctx)
	if err := p2.claimDir(); err != nil {
		t.Fatalf("after the first provisioner shut down: %v", err)
	}
}

func runKubectl(t *testing.T, kc []byte, args ...string) string {
	t.Helper()
	kubectl, err := binaries.Path(binaries.Kubectl)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "kc")
	if err := os.WriteFile(f, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(kubectl, append([]string{"--kubeconfig", f}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// Bad input at start: a port that is taken, a state directory that cannot
// be created. Each is a clear error and leaves nothing behind.
func TestStartFailuresLeaveNothing(t *testing.T) {
	ctx := context.Background()
	t.Run("port taken", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		taken := l.Addr().(*net.TCPAddr).Port
		p := newProvisioner(t, Options{Port: func() (int, error) { return taken, nil }})
		vc := newVC("ports")
		_, err = p.Provision(ctx, vcluster.Request{Cluster: vc})
		if !errors.Is(err, ErrNoPort) || !strings.Contains(err.Error(), strconv.Itoa(taken)) {
			t.Fatalf("error = %v, want ErrNoPort naming port %d", err, taken)
		}
		if left, _ := leftovers(p)(ctx, vc); len(left) > 0 {
			t.Errorf("left behind: %v", left)
		}
	})
	t.Run("component exits at start", func(t *testing.T) {
		// An API server that fails at once (as one that loses a port race
		// would): the error names it and carries its log; nothing is left.
		fake := filepath.Join(t.TempDir(), "kube-apiserver")
		if err := os.WriteFile(fake, []byte("#!/bin/sh\necho 'bind: address already in use' >&2\nexit 1\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		p := newProvisioner(t, Options{Binaries: Binaries{KubeAPIServer: fake}})
		vc := newVC("dies-at-start")
		_, err := p.Provision(ctx, vcluster.Request{Cluster: vc})
		var se *StartError
		if !errors.As(err, &se) {
			t.Fatalf("want a *StartError, got %v", err)
		}
		if se.Component != "kube-apiserver" || !strings.Contains(se.Logs["kube-apiserver"], "address already in use") ||
			!strings.Contains(err.Error(), "--- kine log (tail) ---") {
			t.Errorf("error does not name the component and carry the logs: %v", err)
		}
		if left, _ := leftovers(p)(ctx, vc); len(left) > 0 {
			t.Errorf("left behind: %v", left)
		}
	})
	t.Run("no port", func(t *testing.T) {
		p := newProvisioner(t, Options{Port: func() (int, error) { return 0, errors.New("no free port") }})
		vc := newVC("noport")
		if _, err := p.Provision(ctx, vcluster.Request{Cluster: vc}); err == nil || !strings.Contains(err.Error(), "no free port") {
			t.Errorf("error = %v", err)
		}
		if left, _ := leftovers(p)(ctx, vc); len(left) > 0 {
			t.Errorf("left behind: %v", left)
		}
	})
	t.Run("disk", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "not-a-dir")
		if err := os.WriteFile(file, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		p := newProvisioner(t, Options{Dir: file})
		vc := newVC("disk")
		_, err := p.Provision(ctx, vcluster.Request{Cluster: vc})
		if err == nil || !strings.Contains(err.Error(), "creating state directory root") || !strings.Contains(err.Error(), "not a directory") {
			t.Errorf("error = %v", err)
		}
		if fi, err := os.Stat(file); err != nil || fi.IsDir() {
			t.Errorf("state root changed: %v", err)
		}
	})
	t.Run("store unreachable", func(t *testing.T) {
		// PostgreSQL DSN that parses but where nothing listens: kine fails.
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		p := newProvisioner(t, Options{StartTimeout: 8 * time.Second})
		vc := newVC("pgdown")
		vc.Spec.BackingStore = vcluster.BackingStore{Type: vcluster.BackingStorePostgres, DSNSecretRef: &vcluster.SecretKeyRef{Name: "db", Key: "dsn"}}
		_, err := p.Provision(ctx, vcluster.Request{Cluster: vc, BackingStoreDSN: fmt.Sprintf("postgres://kine:pw@127.0.0.1:%d/kine?sslmode=disable", port)})
		var se *StartError
		if !errors.As(err, &se) {
			t.Fatalf("want a *StartError, got %v", err)
		}
		if left, _ := leftovers(p)(ctx, vc); len(left) > 0 {
			t.Errorf("left behind: %v", left)
		}
	})
}

func TestUnknownProvisioner(t *testing.T) {
	reg := vcluster.NewRegistry()
	p := newProvisioner(t, Options{})
	if err := reg.Register(Name, p); err != nil {
		t.Fatal(err)
	}
	vc := newVC("x")
	vc.Spec.Provisioner = "kamaji"
	_, err := reg.For(vc)
	if !errors.Is(err, vcluster.ErrUnknownProvisioner) || !strings.Contains(err.Error(), "registered: local") {
		t.Errorf("error = %v", err)
	}
}

func TestEtcdPrefixesNeverNest(t *testing.T) {
	a, aa := EtcdPrefix("ns", "a"), EtcdPrefix("ns", "aa")
	if strings.HasPrefix(aa, a) || strings.HasPrefix(a, aa) {
		t.Errorf("%q and %q nest", a, aa)
	}
	p := newProvisioner(t, Options{})
	if da, daa := p.StateDir(newVC("a")), p.StateDir(newVC("aa")); strings.HasPrefix(daa, da+"/") || da == daa {
		t.Errorf("state dirs %q and %q nest", da, daa)
	}
}
