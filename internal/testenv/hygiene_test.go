package testenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vclusterkit/vclusterkit/internal/binaries"
)

const crashEnv = "VCLUSTERKIT_TESTENV_CRASH_REPORT"

func TestMissingBinaryFailsNamingMakeTools(t *testing.T) {
	t.Setenv(binaries.EnvDir, t.TempDir())
	_, err := StartAPIServer(APIServerOptions{})
	if err == nil || !strings.Contains(err.Error(), "make tools") || !errors.Is(err, binaries.ErrMissing) {
		t.Fatalf("StartAPIServer with an empty binary cache: err = %v, want ErrMissing naming `make tools`", err)
	}
	_, err = StartHost(context.Background(), HostOptions{})
	if err == nil || !strings.Contains(err.Error(), "make tools") {
		t.Fatalf("StartHost with an empty binary cache: err = %v, want an error naming `make tools`", err)
	}
}

func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	// A zombie is dead for our purposes.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || !strings.HasPrefix(strings.TrimSpace(s[i+1:]), "Z")
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

func TestStopLeavesNothing(t *testing.T) {
	s, err := StartAPIServer(APIServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pids := s.pids()
	dirs := []string{s.dir, s.env.ControlPlane.Etcd.DataDir, s.env.ControlPlane.APIServer.CertDir}
	if len(pids) != 2 {
		t.Fatalf("expected etcd and kube-apiserver children, found pids %v", pids)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	for _, p := range pids {
		if alive(p) {
			t.Errorf("process %d still running after Stop", p)
		}
	}
	for _, d := range dirs {
		if exists(d) {
			t.Errorf("directory %s still exists after Stop", d)
		}
	}
}

// TestCrashLeavesNothing runs a test binary that starts an API server and
// panics, then checks that the reaper removed its processes and
// directories: a panicking test never reaches its cleanup code.
func TestCrashLeavesNothing(t *testing.T) {
	report := t.TempDir() + "/report"
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperCrash$", "-test.v")
	cmd.Env = append(os.Environ(), crashEnv+"="+report)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the crashing helper exited 0:\n%s", out)
	}
	f, err := os.Open(report)
	if err != nil {
		t.Fatalf("helper wrote no report (%v):\n%s", err, out)
	}
	defer f.Close()
	var pids []int
	var dirs []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		kind, val, _ := strings.Cut(sc.Text(), " ")
		switch kind {
		case "pid":
			p, _ := strconv.Atoi(val)
			pids = append(pids, p)
		case "dir":
			dirs = append(dirs, val)
		}
	}
	if len(pids) != 2 || len(dirs) != 3 {
		t.Fatalf("report lists pids %v dirs %v, want 2 pids and 3 dirs", pids, dirs)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var left []string
		for _, p := range pids {
			if alive(p) {
				left = append(left, fmt.Sprintf("pid %d", p))
			}
		}
		for _, d := range dirs {
			if exists(d) {
				left = append(left, d)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("30s after the test binary crashed these are still there: %v", left)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestHelperCrash(t *testing.T) {
	report := os.Getenv(crashEnv)
	if report == "" {
		return // only meaningful as TestCrashLeavesNothing's child
	}
	s, err := StartAPIServer(APIServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, p := range s.pids() {
		fmt.Fprintf(&b, "pid %d\n", p)
	}
	for _, d := range []string{s.dir, s.env.ControlPlane.Etcd.DataDir, s.env.ControlPlane.APIServer.CertDir} {
		fmt.Fprintf(&b, "dir %s\n", d)
	}
	if err := os.WriteFile(report, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	panic("simulated crash with a running API server")
}
