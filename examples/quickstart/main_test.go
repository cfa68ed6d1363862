package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/vclusterkit/vclusterkit/internal/testenv"
)

// TestQuickstartStory runs the main job exactly as `make demo` does. Every
// step of the story checks what it shows (a pod refused by quota, a
// privileged pod refused, objects surviving sleep, nothing left after a
// delete) and fails the run when it does not hold.
func TestQuickstartStory(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), options{timeout: 8 * time.Minute}, &out)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatalf("quickstart: %v", err)
	}
	for _, want := range []string{
		"denied the request: quota exceeded",
		`pod violates PodSecurity "restricted"`,
		"deployment still there: shop 3 replicas",
		"refused: tenant data still has",
		"its control-plane state directory is gone",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the story's output lacks %q", want)
		}
	}
}

// TestQuickstartOnExistingHost runs the story with --kubeconfig against a
// host cluster that is already running, and --out: the kubeconfigs and
// the engine log are kept, and the host is left running (it is not the
// quickstart's to stop).
func TestQuickstartOnExistingHost(t *testing.T) {
	ctx := context.Background()
	h, err := testenv.StartHost(ctx, testenv.HostOptions{Nodes: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Stop()
	h.LogsOnFailure(t)
	out := t.TempDir()
	var buf bytes.Buffer
	err = run(ctx, options{kubeconfig: h.KubeconfigPath, out: out, timeout: 8 * time.Minute}, &buf)
	if err != nil {
		t.Fatalf("quickstart --kubeconfig: %v\n%s", err, buf.String())
	}
	if !strings.Contains(buf.String(), "Using the host cluster of "+h.KubeconfigPath) {
		t.Errorf("the story did not use the given host:\n%s", buf.String())
	}
	for _, f := range []string{"web-bob.kubeconfig", "data-carol.kubeconfig", "engine.log"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("--out: %s not kept: %v", f, err)
		}
	}
	cs, err := kubernetes.NewForConfig(h.Config)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.Discovery().ServerVersion(); err != nil {
		t.Fatalf("the existing host was stopped by the quickstart: %v", err)
	}
}
