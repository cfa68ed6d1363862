package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/vclusterkit/vclusterkit/internal/binaries"
)

// HostOptions configures StartHost. The zero value starts a host with one
// fake node.
type HostOptions struct {
	// Nodes is the number of KWOK fake nodes; zero means 1. It must be zero
	// with RealNode.
	Nodes int
	// RealNode starts a host whose one node is real: kubelet, containerd and
	// runc run real containers from images built here (package
	// internal/images), on a CNI bridge, with kube-proxy, CoreDNS as the
	// cluster DNS and kube-router enforcing NetworkPolicies. It needs root
	// and the packages of `make test-deps`; a machine without them is an
	// error naming what is missing. One real node runs on a machine at a
	// time: a second StartHost waits for the first one's Stop (a file lock),
	// within StartTimeout.
	RealNode bool
	// StartTimeout bounds cluster creation; zero means 3 minutes.
	StartTimeout time.Duration
}

// Host is a whole host cluster on this machine: etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler and either the KWOK controller,
// started by kwokctl's binary runtime, or one real node (HostOptions.RealNode).
// Pods scheduled to fake nodes are marked Running (no containers run), so
// Deployments become Available, garbage collection and namespace deletion
// work as on a real cluster; on the real node they run.
type Host struct {
	// Config is an admin client configuration.
	Config *rest.Config
	// KubeconfigPath is a kubeconfig file for the same admin access.
	KubeconfigPath string
	// Name is the kwokctl cluster name.
	Name string

	workdir string
	kwokctl string
	env     []string
	reaper  *reaper
	node    *realNode
}

// Real reports whether the host's node is real.
func (h *Host) Real() bool { return h.node != nil }

// NodeTimings says how long the real node took to start; zero for KWOK.
func (h *Host) NodeTimings() NodeTimings {
	if h.node == nil {
		return NodeTimings{}
	}
	return h.node.Timings
}

// StartHost creates a host cluster and waits until its nodes are Ready.
// A missing binary is an error that names `make tools`.
func StartHost(ctx context.Context, opts HostOptions) (_ *Host, err error) {
	if opts.RealNode {
		if opts.Nodes != 0 {
			return nil, fmt.Errorf("HostOptions.Nodes: a real-node host has exactly one node; leave Nodes zero (got %d)", opts.Nodes)
		}
		timeout := opts.StartTimeout
		if timeout == 0 {
			timeout = 5 * time.Minute
		}
		h := &Host{Name: NodeName}
		if err := startRealHost(ctx, h, timeout); err != nil {
			if serr := h.Stop(); serr != nil {
				err = errors.Join(err, serr)
			}
			return nil, err
		}
		return h, nil
	}
	paths, err := binaries.Paths(binaries.Kwokctl, binaries.Kwok, binaries.Etcd, binaries.KubeAPIServer,
		binaries.KubeControllerManager, binaries.KubeScheduler, binaries.Kubectl)
	if err != nil {
		return nil, err
	}
	if opts.Nodes < 0 {
		return nil, fmt.Errorf("HostOptions.Nodes: must not be negative, got %d", opts.Nodes)
	}
	if opts.Nodes == 0 {
		opts.Nodes = 1
	}
	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = 3 * time.Minute
	}
	workdir, err := os.MkdirTemp("", "vclusterkit-host-")
	if err != nil {
		return nil, err
	}
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	h := &Host{
		Name:           "vck-" + hex.EncodeToString(suffix[:]),
		KubeconfigPath: filepath.Join(workdir, "kubeconfig"),
		workdir:        workdir,
		kwokctl:        paths[binaries.Kwokctl],
		env: []string{
			"KWOK_WORKDIR=" + workdir,
			"KWOK_KUBECTL_BINARY=" + paths[binaries.Kubectl],
		},
	}
	// The reaper first: kwokctl detaches its components (setsid), so only
	// kwokctl delete, or the pid files it keeps, can find them again.
	pidGlob := filepath.Join(workdir, "clusters", h.Name, "pids", "*.pid")
	h.reaper, err = startReaper(reap{
		commands: [][]string{
			{h.kwokctl, "delete", "cluster", "--name", h.Name},
			{"/bin/sh", "-c", "for f in " + pidGlob + "; do [ -f \"$f\" ] && kill -KILL $(cat \"$f\"); done; true"},
		},
		dirs: []string{workdir},
		env:  h.env,
	})
	if err != nil {
		os.RemoveAll(workdir)
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = h.Stop()
		}
	}()

	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	create := func(wait time.Duration) ([]byte, error) {
		// Each attempt has its own deadline: kwokctl can also hang rather
		// than fail, and a hang must leave time for the retry.
		actx, acancel := context.WithTimeout(cctx, wait)
		defer acancel()
		return h.run(actx, "create", "cluster", "--name", h.Name, "--runtime", "binary",
			"--etcd-binary", paths[binaries.Etcd],
			"--kube-apiserver-binary", paths[binaries.KubeAPIServer],
			"--kube-controller-manager-binary", paths[binaries.KubeControllerManager],
			"--kube-scheduler-binary", paths[binaries.KubeScheduler],
			"--kwok-controller-binary", paths[binaries.Kwok],
			"--kubeconfig", h.KubeconfigPath,
			"--wait", wait.String(),
		)
	}
	// kwokctl picks its ports by binding and releasing them, so two hosts
	// started at the same moment can pick the same one: the first attempt
	// gets half the time, and a failure is cleaned up and tried once more.
	out, err := create(timeout / 2)
	if err != nil && cctx.Err() == nil {
		first := fmt.Sprintf("%v\n%s\n%s", err, out, h.logTails())
		_, _ = h.run(cctx, "delete", "cluster", "--name", h.Name)
		_ = os.Remove(h.KubeconfigPath)
		if out, err = create(timeout / 2); err != nil {
			return nil, fmt.Errorf("kwokctl create cluster (twice): %w\n%s\n%s\nfirst attempt: %s", err, out, h.logTails(), first)
		}
	} else if err != nil {
		return nil, fmt.Errorf("kwokctl create cluster: %w\n%s\n%s", err, out, h.logTails())
	}
	if err := h.ScaleNodes(cctx, opts.Nodes); err != nil {
		return nil, err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", h.KubeconfigPath)
	if err != nil {
		return nil, fmt.Errorf("reading host kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst = 100, 200
	h.Config = cfg
	return h, nil
}

// ScaleNodes sets the number of fake nodes.
func (h *Host) ScaleNodes(ctx context.Context, n int) error {
	if h.node != nil {
		return errors.New("ScaleNodes: a real-node host has exactly one node")
	}
	if out, err := h.run(ctx, "scale", "node", "--name", h.Name, "--replicas", strconv.Itoa(n)); err != nil {
		return fmt.Errorf("kwokctl scale node --replicas %d: %w\n%s", n, err, out)
	}
	return nil
}

func (h *Host) run(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, h.kwokctl, args...)
	cmd.Env = append(os.Environ(), h.env...)
	cmd.Dir = h.workdir
	return cmd.CombinedOutput()
}

// Stop deletes the cluster, which stops every component, and removes its
// working directory. It is safe to call more than once.
func (h *Host) Stop() error {
	if h == nil {
		return nil
	}
	if h.node != nil {
		err := h.node.stop()
		h.node, h.workdir = nil, ""
		return err
	}
	if h.workdir == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var errs []error
	if out, err := h.run(ctx, "delete", "cluster", "--name", h.Name); err != nil {
		errs = append(errs, fmt.Errorf("kwokctl delete cluster: %w\n%s", err, out))
	}
	h.reaper.stop()
	errs = append(errs, os.RemoveAll(h.workdir))
	h.workdir = ""
	return errors.Join(errs...)
}

func (h *Host) logDir() string {
	if h.node != nil {
		return filepath.Join(h.node.dir, "logs")
	}
	return filepath.Join(h.workdir, "clusters", h.Name, "logs")
}

func (h *Host) logTails() string {
	var b bytes.Buffer
	dumpLogs(&b, "host", h.logDir())
	return b.String()
}

// LogsOnFailure prints the tail of every component log of the host when t
// has failed by the end of the test.
func (h *Host) LogsOnFailure(t testing.TB) {
	t.Helper()
	logsOnFailure(t, "host", h.logDir())
}
