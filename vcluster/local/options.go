package local

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/vclusterkit/vclusterkit/internal/binaries"
)

// Options configure a Provisioner. The zero value is usable.
type Options struct {
	// Dir is the root of the state directories, one per virtual cluster at
	// Dir/<host namespace>/<name>. Empty means "vclusterkit/local" under the
	// user cache directory. A program that restarts with the same Dir finds
	// its virtual clusters again.
	Dir string
	// Binaries overrides where the component binaries are; empty fields
	// are looked up in the vclusterkit binary cache (`make tools`).
	Binaries Binaries
	// StartTimeout bounds how long Provision and Resume wait for every
	// component to be ready; zero means 2 minutes.
	StartTimeout time.Duration
	// StopGrace is how long a component gets to exit after SIGTERM before
	// it is killed; zero means 10 seconds.
	StopGrace time.Duration
	// LogTailLines is how many lines of each component log an error
	// carries; zero means 25.
	LogTailLines int
	// Address is the IP address each virtual API server listens on and
	// advertises, and the host of its endpoint (VirtualCluster
	// status.endpoint and every kubeconfig). Empty means 127.0.0.1:
	// reachable from this machine only, so pods on the host cannot reach
	// their virtual cluster's API server. Set it to an address the host's
	// pods can reach — the IP of the node when the host's node is this
	// machine — and the engine's pod syncer points kubernetes.default of
	// every synced pod at it. The serving certificate covers it (it is
	// reissued from the cluster CA when a control plane starts with an
	// address its certificate does not cover); the API server then does not
	// listen on 127.0.0.1 unless that is the address. kube-controller-manager
	// and the store stay on 127.0.0.1. It must be a specific address, not
	// 0.0.0.0 or ::.
	Address string
	// Port returns a free TCP port on 127.0.0.1; nil asks the kernel.
	// Tests use it to inject a port that is taken.
	Port func() (int, error)
	// Controllers is kube-controller-manager's --controllers list; empty
	// means DefaultControllers.
	Controllers []string

	// The fields below size the control plane. Their defaults come from
	// the memory table in the package documentation; each is measured by
	// internal/bench/memory. A list field distinguishes nil (the default)
	// from an empty, non-nil slice (pass nothing: kube-apiserver's own
	// default).

	// RuntimeConfig is kube-apiserver's --runtime-config, one
	// "group/version=true|false" entry each. nil means DefaultRuntimeConfig:
	// API groups a virtual cluster has no use for are not served. A
	// program whose tenants need one of them back (resource.k8s.io for
	// dynamic resource allocation, say) passes its own list, or
	// []string{} for every API kube-apiserver serves by default.
	RuntimeConfig []string
	// DisableAdmissionPlugins is kube-apiserver's
	// --disable-admission-plugins. nil means
	// DefaultDisabledAdmissionPlugins; []string{} runs every plugin
	// kube-apiserver enables by default.
	DisableAdmissionPlugins []string
	// WatchCacheSizes is kube-apiserver's --watch-cache-sizes
	// ("resource[.group]#0" turns the watch cache of one resource off:
	// its lists and watches are served by the store). nil and empty both
	// mean none: every resource keeps its watch cache.
	WatchCacheSizes []string
	// DisableWatchCache turns kube-apiserver's watch cache off for every
	// resource (--watch-cache=false). Off by default: the store then serves
	// every list and watch, which costs the store more than the cache
	// saves.
	DisableWatchCache bool
	// GOGC is the Go garbage-collection target of the control-plane
	// processes (kube-apiserver, kube-controller-manager, kine, etcd):
	// their heap may grow by GOGC percent of the live heap before a
	// collection. Zero means DefaultGOGC; a negative value leaves GOGC
	// unset (the Go default, 100, unless the embedding program's own
	// environment sets it, which children inherit).
	GOGC int
	// ComponentEnv adds environment variables ("KEY=value") to one
	// component, keyed by its name ("kube-apiserver",
	// "kube-controller-manager", "kine", "etcd"); for example
	// {"kube-apiserver": {"GOMEMLIMIT=160MiB"}}. They come after GOGC, so
	// a GOGC here wins. nil means none: components inherit the embedding
	// program's environment.
	ComponentEnv map[string][]string
	// APIServerArgs and ControllerManagerArgs are appended to the command
	// lines of kube-apiserver and kube-controller-manager, after the flags
	// set here (a flag given twice takes the last value). For flags this
	// type has no field for; nil means none.
	APIServerArgs, ControllerManagerArgs []string
	// OnComponentExit, when set, is called (from a goroutine) when a
	// component of a running control plane exits without being stopped, so
	// a controller can requeue the VirtualCluster at once instead of waiting
	// for its next Health poll. The engine does not need it: it subscribes
	// through ReportExits (vcluster.ExitReporter) on its own.
	OnComponentExit func(hostNamespace, name, component string, err error)
}

// DefaultControllers are the kube-controller-manager controllers a virtual
// cluster runs: what workloads, namespaces, service accounts, garbage
// collection, quota and RBAC aggregation need. Node, volume-attachment,
// IPAM, cloud and bootstrap-token controllers are left out: a virtual
// cluster has no nodes or volumes of its own (the host has them), and
// fewer controllers make it ready sooner and smaller.
func DefaultControllers() []string {
	return []string{
		"serviceaccount-token-controller", "serviceaccount-controller", "root-ca-certificate-publisher-controller",
		"legacy-serviceaccount-token-cleaner-controller", "namespace-controller", "garbage-collector-controller",
		"resourcequota-controller", "clusterrole-aggregation-controller",
		"deployment-controller", "replicaset-controller", "replicationcontroller-controller", "statefulset-controller",
		"daemonset-controller", "job-controller", "cronjob-controller", "ttl-after-finished-controller",
		"disruption-controller", "pod-garbage-collector-controller",
		"endpoints-controller", "endpointslice-controller", "endpointslice-mirroring-controller", "service-cidr-controller",
		"persistentvolumeclaim-protection-controller",
		"certificatesigningrequest-signing-controller", "certificatesigningrequest-approving-controller",
		"certificatesigningrequest-cleaner-controller",
	}
}

// DefaultRuntimeConfig is the --runtime-config of a virtual API server:
// the API groups it does not serve. resource.k8s.io (dynamic resource
// allocation: a virtual cluster has no devices, its pods run on the host)
// and storagemigration.k8s.io (no storage version migrator runs) each cost
// watch caches, storage and OpenAPI schemas in every virtual cluster and
// are of no use to its tenants. Everything the syncers and ordinary tools
// use stays: core, apps, batch, discovery, networking, policy, RBAC,
// coordination, events, certificates, admissionregistration, storage,
// scheduling, node, autoscaling, flowcontrol and CRDs.
func DefaultRuntimeConfig() []string {
	return []string{"resource.k8s.io/v1=false", "storagemigration.k8s.io/v1=false"}
}

// DefaultDisabledAdmissionPlugins are the admission plugins a virtual API
// server does not run. Each runs informers (or, for the admission
// policies, informers plus a CEL type checker) for objects that have no
// meaning in a virtual cluster: there are no nodes (PodTopologyLabels,
// NodeDeclaredFeatureValidator), no storage or ingress classes of its own
// (the host's are used: DefaultStorageClass, PersistentVolumeClaimResize,
// DefaultIngressClass) and no cluster trust bundles (ClusterTrustBundleAttest).
// ValidatingAdmissionPolicy, MutatingAdmissionPolicy and the admission
// webhooks stay on: tenants install charts that use them. The names are
// Kubernetes v1.37's; a kube-apiserver of another release given through
// Options.Binaries refuses names it does not know, so pass its own list.
func DefaultDisabledAdmissionPlugins() []string {
	return []string{
		"PodTopologyLabels", "NodeDeclaredFeatureValidator", "DefaultStorageClass",
		"PersistentVolumeClaimResize", "DefaultIngressClass", "ClusterTrustBundleAttest",
	}
}

// DefaultGOGC is the GOGC of the control-plane processes: a collection
// when the heap has grown by half of the live heap instead of doubled,
// which cuts an idle kube-apiserver's resident memory for a little more
// collection work (see the memory table in the package documentation).
const DefaultGOGC = 50

// Binaries are paths of the component binaries.
type Binaries struct {
	KubeAPIServer, KubeControllerManager, Kine, Etcd string
}

func (o Options) withDefaults() (Options, error) {
	if o.Dir == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			return o, fmt.Errorf("local: no state directory (set Options.Dir): %w", err)
		}
		o.Dir = filepath.Join(c, "vclusterkit", "local")
	}
	d, err := filepath.Abs(o.Dir)
	if err != nil {
		return o, fmt.Errorf("local: Options.Dir: %w", err)
	}
	o.Dir = d
	if o.Address != "" {
		ip := net.ParseIP(o.Address)
		if ip == nil || ip.IsUnspecified() {
			return o, fmt.Errorf("local: Options.Address %q: want a specific IP address (empty means %s)", o.Address, loopback)
		}
		o.Address = ip.String()
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 2 * time.Minute
	}
	if o.StopGrace <= 0 {
		o.StopGrace = 10 * time.Second
	}
	if o.LogTailLines <= 0 {
		o.LogTailLines = 25
	}
	if len(o.Controllers) == 0 {
		o.Controllers = DefaultControllers()
	}
	if o.RuntimeConfig == nil {
		o.RuntimeConfig = DefaultRuntimeConfig()
	}
	if o.DisableAdmissionPlugins == nil {
		o.DisableAdmissionPlugins = DefaultDisabledAdmissionPlugins()
	}
	if o.GOGC == 0 {
		o.GOGC = DefaultGOGC
	}
	if o.Port == nil {
		o.Port = freePort
	}
	return o, nil
}

// binary returns the configured path or the cached one.
func (o Options) binary(name string) (string, error) {
	var p string
	switch name {
	case binaries.KubeAPIServer:
		p = o.Binaries.KubeAPIServer
	case binaries.KubeControllerManager:
		p = o.Binaries.KubeControllerManager
	case binaries.Kine:
		p = o.Binaries.Kine
	case binaries.Etcd:
		p = o.Binaries.Etcd
	}
	if p != "" {
		return p, nil
	}
	return binaries.Path(name)
}

// loopback is where every component listens unless Options.Address moves
// the API server.
const loopback = "127.0.0.1"

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// portFree reports whether host:port can be bound now.
func portFree(host string, port int) bool {
	if port <= 0 {
		return false
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}
