package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/go-logr/logr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/config"

	vclusterkit "github.com/vclusterkit/vclusterkit"
	"github.com/vclusterkit/vclusterkit/vcluster"
	"github.com/vclusterkit/vclusterkit/vcluster/helm"
	"github.com/vclusterkit/vclusterkit/vcluster/local"
)

// flags are the operator's command line.
type flags struct {
	kubeconfig              string
	leaderElect             bool
	leaderElectionNamespace string
	leaderElectionID        string
	metricsAddr             string
	probeAddr               string
	webhookAddr             string
	webhookServiceName      string
	webhookServiceNamespace string
	webhookServicePort      int
	disableQuotaWebhook     bool
	skipCRDInstall          bool
	provisioners            string
	localStateDir           string
	kubeletAddress          string
	logLevel                string
	logFormat               string
	podName                 string
	podNamespace            string
}

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// run is main without os.Exit: 0 on a clean shutdown, 1 on a runtime
// error, 2 on bad flags.
func run(args []string, stderr io.Writer) int {
	f, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "operator:", err)
		return 2
	}
	log, err := newLogger(stderr, f.logLevel, f.logFormat)
	if err != nil {
		fmt.Fprintln(stderr, "operator:", err)
		return 2
	}
	ctrl.SetLogger(log)
	klog.SetLogger(log) // client-go's own messages (leader election, warnings) as JSON too

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := serve(ctx, f, log); err != nil {
		log.Error(err, "operator stopped")
		return 1
	}
	log.Info("operator stopped cleanly")
	return 0
}

func parseFlags(args []string, out io.Writer) (flags, error) {
	var f flags
	// Our own FlagSet: controller-runtime registers a global --kubeconfig.
	fs := flag.NewFlagSet("operator", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "host cluster kubeconfig; empty means $KUBECONFIG, the in-cluster config, then ~/.kube/config")
	fs.BoolVar(&f.leaderElect, "leader-elect", false, "elect one active replica through a Lease")
	fs.StringVar(&f.leaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader election Lease; empty means $POD_NAMESPACE")
	fs.StringVar(&f.leaderElectionID, "leader-election-id", "vclusterkit-engine", "name of the leader election Lease")
	fs.StringVar(&f.metricsAddr, "metrics-bind-address", ":8080", "Prometheus metrics address; \"0\" turns it off")
	fs.StringVar(&f.probeAddr, "health-probe-bind-address", ":8081", "/healthz and /readyz address; \"0\" turns it off")
	fs.StringVar(&f.webhookAddr, "webhook-bind-address", "", "quota webhook listen address (\":9443\" in a cluster); empty means a free loopback port")
	fs.StringVar(&f.webhookServiceName, "webhook-service-name", "", "Service the API server reaches the quota webhook through; empty means by URL (engine on the API server's machine)")
	fs.StringVar(&f.webhookServiceNamespace, "webhook-service-namespace", "", "namespace of --webhook-service-name; empty means $POD_NAMESPACE")
	fs.IntVar(&f.webhookServicePort, "webhook-service-port", 443, "port of --webhook-service-name")
	fs.BoolVar(&f.disableQuotaWebhook, "disable-quota-webhook", false, "do not serve the quota admission webhook (ResourceQuotas still apply)")
	fs.BoolVar(&f.skipCRDInstall, "skip-crd-install", false, "do not install or update the CRDs (the Helm chart installs them)")
	fs.StringVar(&f.provisioners, "provisioners", "helm", "comma-separated provisioners to register: helm (control planes as pods in the host), local (child processes of this operator)")
	fs.StringVar(&f.localStateDir, "local-state-dir", "", "state directory of the local provisioner; empty means the user cache directory")
	fs.StringVar(&f.kubeletAddress, "kubelet-address", "", "IP address where the operator serves the kubelet API (logs, exec, port-forward) of helm virtual clusters, reachable from their control-plane pods; empty means $POD_IP")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info or error")
	fs.StringVar(&f.logFormat, "log-format", "json", "json or text")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		return f, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	f.podName, f.podNamespace = os.Getenv("POD_NAME"), os.Getenv("POD_NAMESPACE")
	if f.kubeletAddress == "" {
		f.kubeletAddress = os.Getenv("POD_IP")
	}
	if f.leaderElectionNamespace == "" {
		f.leaderElectionNamespace = f.podNamespace
	}
	if f.webhookServiceNamespace == "" {
		f.webhookServiceNamespace = f.podNamespace
	}
	var errs []error
	if f.leaderElect && f.leaderElectionNamespace == "" {
		errs = append(errs, errors.New("--leader-election-namespace: required with --leader-elect when $POD_NAMESPACE is not set"))
	}
	if f.webhookServiceName != "" {
		if f.webhookServiceNamespace == "" {
			errs = append(errs, errors.New("--webhook-service-namespace: required with --webhook-service-name when $POD_NAMESPACE is not set"))
		}
		if f.webhookServicePort < 1 || f.webhookServicePort > 65535 {
			errs = append(errs, fmt.Errorf("--webhook-service-port: %d is not a port", f.webhookServicePort))
		}
	}
	if _, err := provisionerNames(f.provisioners); err != nil {
		errs = append(errs, err)
	}
	if f.kubeletAddress != "" && net.ParseIP(f.kubeletAddress) == nil {
		errs = append(errs, fmt.Errorf("--kubelet-address: %q is not an IP address", f.kubeletAddress))
	}
	return f, errors.Join(errs...)
}

func provisionerNames(s string) ([]string, error) {
	var names []string
	seen := map[string]bool{}
	for _, n := range strings.Split(s, ",") {
		n = strings.TrimSpace(n)
		switch {
		case n == "":
			continue
		case n != helm.Name && n != local.Name:
			return nil, fmt.Errorf("--provisioners: unknown provisioner %q (known: %s, %s)", n, helm.Name, local.Name)
		case seen[n]:
			return nil, fmt.Errorf("--provisioners: %q given twice", n)
		}
		seen[n] = true
		names = append(names, n)
	}
	if len(names) == 0 {
		return nil, errors.New("--provisioners: at least one is required")
	}
	return names, nil
}

func newLogger(w io.Writer, level, format string) (logr.Logger, error) {
	var lv slog.Level
	switch level {
	case "debug":
		lv = slog.LevelDebug
	case "info":
		lv = slog.LevelInfo
	case "error":
		lv = slog.LevelError
	default:
		return logr.Logger{}, fmt.Errorf("--log-level: %q is not debug, info or error", level)
	}
	o := &slog.HandlerOptions{Level: lv}
	switch format {
	case "json":
		return logr.FromSlogHandler(slog.NewJSONHandler(w, o)), nil
	case "text":
		return logr.FromSlogHandler(slog.NewTextHandler(w, o)), nil
	}
	return logr.Logger{}, fmt.Errorf("--log-format: %q is not json or text", format)
}

func hostConfig(path string) (*rest.Config, error) {
	if path != "" {
		return clientcmd.BuildConfigFromFlags("", path)
	}
	return config.GetConfig()
}

// serve builds the engine from the flags and runs it until ctx ends.
func serve(ctx context.Context, f flags, log logr.Logger) error {
	cfg, err := hostConfig(f.kubeconfig)
	if err != nil {
		return fmt.Errorf("host kubeconfig: %w", err)
	}
	cfg.UserAgent = "vclusterkit-operator"
	opts := vclusterkit.Options{
		MetricsBindAddress:      f.metricsAddr,
		HealthProbeBindAddress:  f.probeAddr,
		LeaderElection:          f.leaderElect,
		LeaderElectionID:        f.leaderElectionID,
		LeaderElectionNamespace: f.leaderElectionNamespace,
		SkipCRDInstall:          f.skipCRDInstall,
		Local:                   local.Options{Dir: f.localStateDir},
		Logger:                  log,
		Quota: vclusterkit.QuotaOptions{
			Disabled: f.disableQuotaWebhook,
			Addr:     f.webhookAddr,
		},
	}
	if f.webhookServiceName != "" {
		port := int32(f.webhookServicePort)
		opts.Quota.Service = &admissionregistrationv1.ServiceReference{
			Name: f.webhookServiceName, Namespace: f.webhookServiceNamespace, Port: &port,
		}
	}
	names, _ := provisionerNames(f.provisioners) // checked by parseFlags
	// Local alone: leave the registry to the engine, which then also wakes
	// a virtual cluster at once when one of its processes dies.
	if len(names) != 1 || names[0] != local.Name {
		reg := vcluster.NewRegistry()
		for _, n := range names {
			var p vcluster.Provisioner
			switch n {
			case helm.Name:
				// Control planes run in pods: they reach the kubelet API
				// this operator serves at its pod's IP (nil: loopback, and
				// logs and exec fail inside those virtual clusters).
				p, err = helm.New(helm.Options{Config: cfg, KubeletAddress: net.ParseIP(f.kubeletAddress)})
			case local.Name:
				p, err = local.New(opts.Local)
			}
			if err != nil {
				return fmt.Errorf("provisioner %s: %w", n, err)
			}
			if err := reg.Register(n, p); err != nil {
				return err
			}
		}
		opts.Provisioners = reg
	}

	engine, err := vclusterkit.New(cfg, opts)
	if err != nil {
		return err
	}
	if f.podName != "" && f.podNamespace != "" {
		lbl, err := newLeaderLabeler(cfg, f.podNamespace, f.podName)
		if err != nil {
			return err
		}
		lbl.elected = engine.Manager().Elected()
		if err := engine.Manager().Add(lbl); err != nil {
			return err
		}
	}
	log.Info("starting vclusterkit engine", "provisioners", engine.Provisioners().Names(),
		"leaderElection", f.leaderElect, "metrics", f.metricsAddr, "probes", f.probeAddr)
	if err := engine.Start(ctx); err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	return nil
}
