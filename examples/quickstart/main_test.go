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

// TestQuickstartStory runs the main job as `make demo` does on a machine
// that can run a real node; it asks for one (--nodes real), so a machine
// that cannot is a failure naming what it lacks, not a quiet fallback to
// KWOK. Every step of the story checks what it shows (a pod refused by
// quota, a privileged pod refused, real HTTP, logs and exec, real packets
// agreeing with the evaluator, objects surviving sleep, nothing left after
// a delete) and fails the run when it does not hold.
func TestQuickstartStory(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), options{nodes: nodesReal, timeout: 8 * time.Minute}, &out)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatalf("quickstart: %v", err)
	}
	for _, want := range []string{
		"nodes: a real node",
		"scheduled on the real node (real containers)",
		"logs client      → client up on client",
		"(web's virtual cluster, as bob) → shop shop-",
		"(web's virtual cluster, as bob) → exec in shop-",
		"(web's virtual cluster, its own DNS) → ",
		"(inside web's virtual cluster) → vclient to shop: refused",
		"vclient role=frontend → vclient to shop: shop says hello",
		"shop says hello from shop-",
		"the evaluator and real packets agree on all 30 cells",
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
// host cluster that is already running (KWOK nodes: the story without real
// containers), and --out: the kubeconfigs and the engine log are kept, and
// the host is left running (it is not the quickstart's to stop). With
// --clusters 2: a second cluster joins by its agent and a virtual cluster
// is placed on it through a claim, Running there.
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
	err = run(ctx, options{kubeconfig: h.KubeconfigPath, out: out, timeout: 8 * time.Minute, clusters: 2}, &buf)
	if err != nil {
		t.Fatalf("quickstart --kubeconfig: %v\n%s", err, buf.String())
	}
	if !strings.Contains(buf.String(), "Using the host cluster of "+h.KubeconfigPath) {
		t.Errorf("the story did not use the given host:\n%s", buf.String())
	}
	for _, want := range []string{
		"cluster cluster-1 connection Credential labels region=eu  Ready",
		"cluster cluster-2 connection Agent      labels region=us  Ready",
		"claim demo-us (tenant fleet-demo, region=us, cpu 2) bound: placed on cluster-2",
		"virtual cluster demo-us placed on cluster-2",
		"virtual clusters from the fleet on cluster-2: 1 (vclusterkit-system/demo-us), on cluster-1: 0",
		"gone from both clusters",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("--clusters 2: the story's output lacks %q", want)
		}
	}
	for _, f := range []string{"web-bob.kubeconfig", "data-carol.kubeconfig", "engine.log", "management.kubeconfig"} {
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
