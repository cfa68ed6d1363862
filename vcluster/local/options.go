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
