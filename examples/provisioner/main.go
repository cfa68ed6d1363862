package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	vclusterkit "github.com/vclusterkit/vclusterkit"
	"github.com/vclusterkit/vclusterkit/vcluster"
	"github.com/vclusterkit/vclusterkit/vcluster/local"
)

// Name is what VirtualCluster.Spec.Provisioner says to use this provisioner.
const Name = "inventory"

// labelList is a repeatable flag.
type labelList []string

func (l *labelList) String() string     { return strings.Join(*l, ",") }
func (l *labelList) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	fs := flag.NewFlagSet("provisioner", flag.ExitOnError)
	kubeconfig := fs.String("kubeconfig", "", "host cluster kubeconfig (required)")
	namespace := fs.String("inventory-namespace", "platform-inventory", "namespace of the inventory ConfigMaps (must exist)")
	maxPerTenant := fs.Int("max-per-tenant", 3, "control planes per tenant; 0 means no cap")
	stateDir := fs.String("state-dir", "", "state of the local control planes; empty means the user cache directory")
	var required labelList
	fs.Var(&required, "require-label", "label every VirtualCluster must carry (repeatable)")
	_ = fs.Parse(os.Args[1:])
	if *kubeconfig == "" {
		fmt.Fprintln(os.Stderr, "provisioner: --kubeconfig is required")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := logr.FromSlogHandler(slog.NewTextHandler(os.Stderr, nil))
	ctrl.SetLogger(log)
	if err := run(ctx, log, *kubeconfig, *stateDir, Options{Namespace: *namespace, RequiredLabels: required, MaxPerTenant: *maxPerTenant}); err != nil {
		fmt.Fprintln(os.Stderr, "provisioner:", err)
		os.Exit(1)
	}
}

// run starts the Engine with the Inventory provisioner registered as Name
// until ctx ends, then stops the control planes it started.
func run(ctx context.Context, log logr.Logger, kubeconfig, stateDir string, o Options) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	sch := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(sch); err != nil {
		return err
	}
	if o.Host, err = client.New(cfg, client.Options{Scheme: sch}); err != nil {
		return err
	}
	lp, err := local.New(local.Options{Dir: stateDir})
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		lp.Shutdown(sctx)
	}()
	inv, err := NewInventory(lp, o)
	if err != nil {
		return err
	}
	reg := vcluster.NewRegistry()
	if err := reg.Register(Name, inv); err != nil {
		return err
	}
	engine, err := vclusterkit.New(cfg, vclusterkit.Options{Provisioners: reg, Logger: log})
	if err != nil {
		return err
	}
	log.Info("engine running; create VirtualClusters with spec.provisioner: " + Name)
	return engine.Start(ctx)
}
