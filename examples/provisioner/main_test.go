package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
	"github.com/vclusterkit/vclusterkit/vcluster/local"
)

var apiServer *testenv.APIServer

// TestMain starts one real kube-apiserver + etcd: the host the inventory
// is kept in and the engine runs against.
func TestMain(m *testing.M) { testenv.Main(m, testenv.APIServerOptions{}, &apiServer) }

const costCenter = "platform.example.com/cost-center"

func hostClient(t *testing.T) client.Client {
	t.Helper()
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, tenancy.AddToScheme, vcluster.AddToScheme} {
		if err := add(s); err != nil {
			t.Fatal(err)
		}
	}
	c, err := client.New(apiServer.Config, client.Options{Scheme: s})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ensureNamespace(t *testing.T, c client.Client, name string) {
	t.Helper()
	if err := c.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// newInventory returns an Inventory on a fresh state directory whose
// control planes are all stopped at the end of the test.
func newInventory(t *testing.T, o Options) (*Inventory, *local.Provisioner) {
	t.Helper()
	lp, err := local.New(local.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		lp.Shutdown(ctx)
	})
	o.Host = hostClient(t)
	ensureNamespace(t, o.Host, o.Namespace)
	inv, err := NewInventory(lp, o)
	if err != nil {
		t.Fatal(err)
	}
	return inv, lp
}

// leftovers is what provisionertest checks after Deprovision: the local
// state directory, any process started from it, and the inventory entry.
func leftovers(inv *Inventory, lp *local.Provisioner) func(context.Context, *vcluster.VirtualCluster) ([]string, error) {
	return func(ctx context.Context, vc *vcluster.VirtualCluster) ([]string, error) {
		var out []string
		dir := lp.StateDir(vc)
		if _, err := os.Stat(dir); err == nil {
			out = append(out, "directory "+dir)
		}
		out = append(out, processesMentioning(dir)...)
		var cm corev1.ConfigMap
		err := inv.opts.Host.Get(ctx, inv.entry(vc), &cm)
		switch {
		case err == nil && cm.Annotations[annotationUID] == string(vc.UID):
			out = append(out, "inventory ConfigMap "+cm.Name)
		case err != nil && !apierrors.IsNotFound(err) && !apierrors.IsInvalid(err):
			return nil, err
		}
		return out, nil
	}
}

func processesMentioning(dir string) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(b, []byte(dir+"/")) {
			continue
		}
		st, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if f := strings.Fields(string(st)); len(f) > 2 && f[2] == "Z" {
			continue
		}
		out = append(out, fmt.Sprintf("process %d: %s", pid, strings.ReplaceAll(string(b[:min(len(b), 120)]), "\x00", " ")))
	}
	return out
}

// eventually is testenv.Eventually.
var eventually = testenv.Eventually

// testLogger collects the engine's log and prints its tail if t fails.
func testLogger(t *testing.T) logr.Logger {
	var mu sync.Mutex
	var lines []string
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		if t.Failed() {
			t.Logf("engine log (last 60 lines):\n%s", strings.Join(lines[max(0, len(lines)-60):], "\n"))
		}
	})
	return funcr.New(func(prefix, args string) {
		mu.Lock()
		lines = append(lines, prefix+" "+args)
		mu.Unlock()
	}, funcr.Options{})
}
