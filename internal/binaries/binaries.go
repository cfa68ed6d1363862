// Package binaries locates and builds the Kubernetes binaries that
// vclusterkit's tests, examples and local provisioner run: kube-apiserver,
// kube-controller-manager, kube-scheduler, kubectl, etcd, kine, kwok and
// kwokctl, and for a host with a real node kubelet, kube-proxy, containerd
// (with its runc shim and ctr), CoreDNS and kube-router (its NetworkPolicy
// firewall only).
//
// Nothing is downloaded. Each binary is built with the Go toolchain from a
// pinned module version declared in a nested module under internal/tools
// (so replace directives never reach users of the SDK) into one cache
// directory outside the repository, shared by every clone on the machine.
// The directory is $VCLUSTERKIT_TOOLS_DIR, or else "vclusterkit/tools"
// under the user cache directory (~/.cache on Linux).
//
// A binary counts as present only when it exists and its version stamp
// (NAME.version beside it) names the pinned version; anything else is
// rebuilt by Build and reported as missing by Path, with an error that names
// the command that builds it (make tools).
package binaries

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// EnvDir overrides the cache directory the binaries live in.
const EnvDir = "VCLUSTERKIT_TOOLS_DIR"

// BuildCommand is what a person runs to build missing binaries. Errors about
// a missing binary name it.
const BuildCommand = "make tools"

// Names of the binaries this package knows.
const (
	KubeAPIServer         = "kube-apiserver"
	KubeControllerManager = "kube-controller-manager"
	KubeScheduler         = "kube-scheduler"
	Kubectl               = "kubectl"
	Etcd                  = "etcd"
	Kine                  = "kine"
	Kwok                  = "kwok"
	Kwokctl               = "kwokctl"
	Kubelet               = "kubelet"
	KubeProxy             = "kube-proxy"
	Containerd            = "containerd"
	ContainerdShim        = "containerd-shim-runc-v2"
	Ctr                   = "ctr"
	CoreDNS               = "coredns"
	KubeRouter            = "kube-router"
	Pause                 = "pause"
)

// KubernetesVersion is the Kubernetes release the binaries are built from.
const KubernetesVersion = "v1.37.2"

// Tool describes one pinned binary.
type Tool struct {
	// Name is the file name of the binary.
	Name string
	// Module is the nested module under internal/tools that pins it.
	Module string
	// Package is the import path of the main package to build.
	Package string
	// Version is the pinned module version; it is written to the stamp.
	Version string
	// CGO is true when the binary needs cgo (kine's SQLite driver).
	CGO bool
	// Static builds with CGO_ENABLED=0: a binary that goes into a container
	// image (CoreDNS), or whose upstream release is built so (containerd).
	// The others keep the environment's setting, so that the Kubernetes
	// components share one Go build cache.
	Static bool
	// Tags are Go build tags.
	Tags []string
	// Ldflags are passed to the linker (version stamping).
	Ldflags string
}

// stamp names what a binary was built from; a binary whose stamp differs
// is rebuilt. It says whether the version was linked in, so that adding
// Ldflags to a tool rebuilds it.
func (t Tool) stamp() string {
	s := t.Package + "@" + t.Version
	if t.Ldflags != "" {
		s += " (version stamped)"
	}
	return s
}

// k8sVersionLdflags stamps a Kubernetes component with its release, as the
// upstream build does; without it a kubelet or an API server reports
// v0.0.0-master+$Format:%H$ (to clients, to `kubectl version`, to version
// skew checks).
const k8sVersionLdflags = "-X k8s.io/component-base/version.gitVersion=" + KubernetesVersion +
	" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37" +
	" -X k8s.io/client-go/pkg/version.gitVersion=" + KubernetesVersion

// containerdTags leave out the snapshotters that need cgo or kernel
// features these machines lack; overlayfs and native stay.
var containerdTags = []string{"no_btrfs", "no_devmapper", "no_zfs"}

// tools is the pinned set, in build order: the slowest, most depended-on
// binary first so a partial run leaves the most useful ones.
var tools = []Tool{
	{Name: KubeAPIServer, Module: "k8s", Package: "k8s.io/kubernetes/cmd/kube-apiserver", Version: KubernetesVersion, Ldflags: k8sVersionLdflags},
	{Name: Etcd, Module: "etcd", Package: "go.etcd.io/etcd/server/v3", Version: "v3.7.3"},
	{Name: Kubectl, Module: "k8s", Package: "k8s.io/kubernetes/cmd/kubectl", Version: KubernetesVersion, Ldflags: k8sVersionLdflags},
	{Name: KubeControllerManager, Module: "k8s", Package: "k8s.io/kubernetes/cmd/kube-controller-manager", Version: KubernetesVersion, Ldflags: k8sVersionLdflags},
	{Name: KubeScheduler, Module: "k8s", Package: "k8s.io/kubernetes/cmd/kube-scheduler", Version: KubernetesVersion, Ldflags: k8sVersionLdflags},
	{Name: Kwok, Module: "kwok", Package: "sigs.k8s.io/kwok/cmd/kwok", Version: "v0.8.0"},
	{Name: Kwokctl, Module: "kwok", Package: "sigs.k8s.io/kwok/cmd/kwokctl", Version: "v0.8.0"},
	{Name: Kine, Module: "kine", Package: "github.com/k3s-io/kine", Version: "v0.17.5", CGO: true},
	// A real node (testenv.HostOptions.RealNode).
	{Name: Kubelet, Module: "k8s", Package: "k8s.io/kubernetes/cmd/kubelet", Version: KubernetesVersion, Ldflags: k8sVersionLdflags},
	{Name: KubeProxy, Module: "k8s", Package: "k8s.io/kubernetes/cmd/kube-proxy", Version: KubernetesVersion, Ldflags: k8sVersionLdflags},
	{Name: Containerd, Module: "containerd", Package: "github.com/containerd/containerd/v2/cmd/containerd", Version: "v2.4.2", Tags: containerdTags, Static: true},
	{Name: ContainerdShim, Module: "containerd", Package: "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2", Version: "v2.4.2", Tags: containerdTags, Static: true},
	{Name: Ctr, Module: "containerd", Package: "github.com/containerd/containerd/v2/cmd/ctr", Version: "v2.4.2", Tags: containerdTags, Static: true},
	{Name: CoreDNS, Module: "coredns", Package: "github.com/coredns/coredns", Version: "v1.15.0", Static: true},
	// kube-network-policies v0.8.0 was the first choice, but it hands new
	// connections to user space with nftables' queue expression, which
	// needs CONFIG_NFT_QUEUE; these machines' kernels lack it (zcat
	// /proc/config.gz). kube-router's firewall is iptables + ipset, which
	// they have, and is an implementation independent of ours, so its
	// verdicts can check the netpol evaluator.
	// Our own sandbox program; bump Version when internal/tools/pause changes.
	{Name: Pause, Module: "pause", Package: "github.com/vclusterkit/vclusterkit/internal/tools/pause", Version: "v1", Static: true},
	{Name: KubeRouter, Module: "kuberouter", Package: "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router", Version: "v2.1.0"},
}

// RealNode lists the binaries a host with a real node needs besides the
// control plane's.
var RealNode = []string{Kubelet, KubeProxy, Containerd, ContainerdShim, Ctr, CoreDNS, KubeRouter, Pause}

// Tools returns the pinned set in build order.
func Tools() []Tool { return append([]Tool(nil), tools...) }

// Lookup returns the pinned tool called name.
func Lookup(name string) (Tool, error) {
	for _, t := range tools {
		if t.Name == name {
			return t, nil
		}
	}
	names := make([]string, 0, len(tools))
	for _, t := range tools {
		names = append(names, t.Name)
	}
	sort.Strings(names)
	return Tool{}, fmt.Errorf("unknown binary %q (known: %s)", name, strings.Join(names, ", "))
}

// Dir returns the cache directory for the binaries. It does not create it.
func Dir() (string, error) {
	if d := os.Getenv(EnvDir); d != "" {
		return filepath.Abs(d)
	}
	c, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory for Kubernetes binaries (set %s): %w", EnvDir, err)
	}
	return filepath.Join(c, "vclusterkit", "tools"), nil
}

// ErrMissing is wrapped by Path when a binary is absent or stale.
var ErrMissing = errors.New("binary missing")

// Path returns the absolute path of the named binary in Dir, or an error
// wrapping ErrMissing that names the directory and BuildCommand when it is
// absent or built from another version.
func Path(name string) (string, error) {
	t, err := Lookup(name)
	if err != nil {
		return "", err
	}
	dir, err := Dir()
	if err != nil {
		return "", err
	}
	return t.path(dir)
}

func (t Tool) path(dir string) (string, error) {
	p := filepath.Join(dir, t.Name)
	fi, err := os.Stat(p)
	if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%w: %s (%s) not found in %s; run `%s` from the vclusterkit repository to build it (about 10 minutes the first time)",
			ErrMissing, t.Name, t.stamp(), dir, BuildCommand)
	}
	got, err := os.ReadFile(p + ".version")
	if err != nil || strings.TrimSpace(string(got)) != t.stamp() {
		return "", fmt.Errorf("%w: %s in %s was not built from %s; run `%s` to rebuild it",
			ErrMissing, t.Name, dir, t.stamp(), BuildCommand)
	}
	return p, nil
}

// Paths returns the paths of several binaries, or one error listing every
// missing one.
func Paths(names ...string) (map[string]string, error) {
	out := make(map[string]string, len(names))
	var errs []error
	for _, n := range names {
		p, err := Path(n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out[n] = p
	}
	return out, errors.Join(errs...)
}
