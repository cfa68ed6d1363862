package images

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/vclusterkit/vclusterkit/internal/binaries"
)

// References of the images this package makes. The registry host
// "vclusterkit.local" does not exist: a pod naming one of these with
// imagePullPolicy IfNotPresent or Never runs what was imported here, and
// fails loudly (ErrImageNeverPull, ImagePullBackOff) anywhere else.
const (
	Pause                 = "vclusterkit.local/pause:v1"
	Busybox               = "vclusterkit.local/busybox:v1"
	CoreDNS               = "vclusterkit.local/coredns:v1.15.0"
	KubeAPIServer         = "vclusterkit.local/kube-apiserver:" + binaries.KubernetesVersion
	KubeControllerManager = "vclusterkit.local/kube-controller-manager:" + binaries.KubernetesVersion
	Kine                  = "vclusterkit.local/kine:v0.17.5"
	Kubectl               = "vclusterkit.local/kubectl:" + binaries.KubernetesVersion
	// Operator is examples/operator, which the operator chart runs
	// (ghcr.io/vclusterkit/operator there).
	Operator = "vclusterkit.local/operator:dev"
)

// BusyboxPath is where Debian's busybox-static package puts its binary.
const BusyboxPath = "/usr/bin/busybox"

// base is what every image gets: users for root and the conventional
// non-root 65532, and a world-writable /tmp.
func base() []File {
	return []File{
		{Path: "/etc/passwd", Data: []byte("root:x:0:0:root:/root:/bin/sh\nnonroot:x:65532:65532:nonroot:/home/nonroot:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")},
		{Path: "/etc/group", Data: []byte("root:x:0:\nnonroot:x:65532:\nnobody:x:65534:\n")},
		{Path: "/tmp", Mode: os.ModeDir | os.ModeSticky | 0o777},
	}
}

// busyboxFiles is Debian's static busybox with a link for each applet, as
// `busybox --list-full` places them.
func busyboxFiles() ([]File, error) {
	if _, err := os.Stat(BusyboxPath); err != nil {
		return nil, fmt.Errorf("%s is missing: install Debian's busybox-static (make test-deps)", BusyboxPath)
	}
	out, err := exec.Command(BusyboxPath, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list-full: %w", BusyboxPath, err)
	}
	files := []File{{Path: "/bin/busybox", Source: BusyboxPath}}
	for _, a := range strings.Fields(string(out)) {
		p := "/" + a
		if p == "/bin/busybox" {
			continue
		}
		files = append(files, File{Path: p, Link: "/bin/busybox"})
	}
	return files, nil
}

// NodeImages returns the images a real node itself runs: the sandbox
// (pause), busybox for test workloads, and CoreDNS for the cluster DNS.
func NodeImages() ([]Image, error) {
	bins, err := binaries.Paths(binaries.Pause, binaries.CoreDNS)
	if err != nil {
		return nil, err
	}
	bb, err := busyboxFiles()
	if err != nil {
		return nil, err
	}
	return []Image{
		{Ref: Pause, Files: []File{{Path: "/pause", Source: bins[binaries.Pause]}}, Entrypoint: []string{"/pause"}},
		{Ref: Busybox, Files: append(base(), bb...), Cmd: []string{"sh"}},
		{Ref: CoreDNS, Files: append(base(), File{Path: "/coredns", Source: bins[binaries.CoreDNS]}), Entrypoint: []string{"/coredns"}},
	}, nil
}

// ControlPlaneImages returns the images of the vcluster/helm chart's
// control plane (kube-apiserver, kube-controller-manager, kine) and
// kubectl, each from the binary cache with its shared libraries and
// busybox (for probes and debugging). The chart runs them by name
// (command: [kube-apiserver]) as a non-root user. They are large (about
// 100 MB each): import them when a test needs them.
func ControlPlaneImages() ([]Image, error) {
	bins, err := binaries.Paths(binaries.KubeAPIServer, binaries.KubeControllerManager, binaries.Kine, binaries.Kubectl)
	if err != nil {
		return nil, err
	}
	bb, err := busyboxFiles()
	if err != nil {
		return nil, err
	}
	var imgs []Image
	for _, c := range []struct{ ref, bin string }{
		{KubeAPIServer, binaries.KubeAPIServer},
		{KubeControllerManager, binaries.KubeControllerManager},
		{Kine, binaries.Kine},
		{Kubectl, binaries.Kubectl},
	} {
		files, err := Binary(bins[c.bin], path.Join("/usr/local/bin", c.bin))
		if err != nil {
			return nil, err
		}
		imgs = append(imgs, Image{Ref: c.ref, Files: append(append(base(), bb...), files...), Entrypoint: []string{path.Join("/usr/local/bin", c.bin)}})
	}
	return imgs, nil
}

// OperatorImage builds examples/operator from this checkout into the image
// the operator chart runs: /operator as user 65532. It is built as the tests
// build (the machine's cgo setting, so from the warm build cache) and
// carries its shared libraries, like the control-plane images.
func OperatorImage(ctx context.Context) (Image, error) {
	root, err := binaries.RepoRoot()
	if err != nil {
		return Image{}, err
	}
	dir, err := os.MkdirTemp("", "vclusterkit-operator-")
	if err != nil {
		return Image{}, err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "operator")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./examples/operator")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return Image{}, fmt.Errorf("building examples/operator: %w\n%s", err, out)
	}
	files, err := Binary(bin, "/operator")
	if err != nil {
		return Image{}, err
	}
	// The build directory goes when this returns: keep the program's bytes.
	data, err := os.ReadFile(bin)
	if err != nil {
		return Image{}, err
	}
	files[0] = File{Path: "/operator", Data: data, Mode: 0o755}
	return Image{Ref: Operator, Files: append(base(), files...), Entrypoint: []string{"/operator"}, User: "65532:65532"}, nil
}
