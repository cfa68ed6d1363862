package local

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vclusterkit/vclusterkit/vcluster"
)

const crashEnv = "VCLUSTERKIT_LOCAL_CRASH_DIR"

// TestCrashHelper is not a test: TestEmbedderCrashLeavesNoOrphans runs the
// test binary again with crashEnv set, and this becomes the embedding
// program that provisions a virtual cluster and is then killed.
func TestCrashHelper(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		return // only meaningful as the child of TestEmbedderCrashLeavesNoOrphans
	}
	ctx := context.Background()
	p, err := New(Options{Dir: dir})
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	vc := newVC("crash")
	if _, err := p.Provision(ctx, vcluster.Request{Cluster: vc}); err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	kc, _ := p.Kubeconfig(ctx, vc)
	runKubectl(t, kc, "create", "namespace", "before-crash")
	fmt.Println("READY")
	time.Sleep(10 * time.Minute)
}

// The embedding program is SIGKILLed: its control plane dies with it (no
// orphan), and the next program finds the state directory and every object.
func TestEmbedderCrashLeavesNoOrphans(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.v")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	sc := bufio.NewScanner(out)
	ready := false
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "ERROR") {
			t.Fatal(line)
		}
		if line == "READY" {
			ready = true
			break
		}
	}
	if !ready {
		t.Fatal("child never became ready")
	}
	p := newProvisioner(t, Options{Dir: dir})
	vc := newVC("crash")
	stateDir := p.StateDir(vc)
	if len(processesMentioning(stateDir)) != 3 {
		t.Fatalf("expected 3 control-plane processes, found %v", processesMentioning(stateDir))
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	waitFor(t, 10*time.Second, func() error {
		if left := processesMentioning(stateDir); len(left) > 0 {
			return fmt.Errorf("orphans after the embedding program died: %v", left)
		}
		return nil
	})
	res, err := p.Provision(context.Background(), vcluster.Request{Cluster: vc})
	if err != nil || !res.Ready {
		t.Fatalf("re-provision after crash: %+v %v", res, err)
	}
	kc, _ := p.Kubeconfig(context.Background(), vc)
	runKubectl(t, kc, "get", "namespace", "before-crash")
	if err := p.Deprovision(context.Background(), vc); err != nil {
		t.Fatal(err)
	}
	if left, _ := leftovers(p)(context.Background(), vc); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}
