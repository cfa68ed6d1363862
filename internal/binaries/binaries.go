// Package binaries locates and builds the Kubernetes binaries that
// vclusterkit's tests, examples and local provisioner run: kube-apiserver,
// kube-controller-manager, kube-scheduler, kubectl, etcd, kine, kwok and
// kwokctl.
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
}

func (t Tool) stamp() string { return t.Package + "@" + t.Version }

// tools is the pinned set, in build order: the slowest, most depended-on
// binary first so a partial run leaves the most useful ones.
var tools = []Tool{
	{Name: KubeAPIServer, Module: "k8s", Package: "k8s.io/kubernetes/cmd/kube-apiserver", Version: KubernetesVersion},
	{Name: Etcd, Module: "etcd", Package: "go.etcd.io/etcd/server/v3", Version: "v3.7.3"},
	{Name: Kubectl, Module: "k8s", Package: "k8s.io/kubernetes/cmd/kubectl", Version: KubernetesVersion},
	{Name: KubeControllerManager, Module: "k8s", Package: "k8s.io/kubernetes/cmd/kube-controller-manager", Version: KubernetesVersion},
	{Name: KubeScheduler, Module: "k8s", Package: "k8s.io/kubernetes/cmd/kube-scheduler", Version: KubernetesVersion},
	{Name: Kwok, Module: "kwok", Package: "sigs.k8s.io/kwok/cmd/kwok", Version: "v0.8.0"},
	{Name: Kwokctl, Module: "kwok", Package: "sigs.k8s.io/kwok/cmd/kwokctl", Version: "v0.8.0"},
	{Name: Kine, Module: "kine", Package: "github.com/k3s-io/kine", Version: "v0.17.5", CGO: true},
}

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
