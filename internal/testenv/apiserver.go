package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/vclusterkit/vclusterkit/internal/binaries"
)

// APIServerOptions configures StartAPIServer. The zero value starts a bare
// API server.
type APIServerOptions struct {
	// CRDs are installed, and waited for, before StartAPIServer returns.
	CRDs []*apiextensionsv1.CustomResourceDefinition
	// StartTimeout bounds the start of etcd and kube-apiserver; zero means
	// 90 seconds (generous: CI machines are shared and slow).
	StartTimeout time.Duration
}

// APIServer is a running kube-apiserver with its own etcd.
type APIServer struct {
	// Config is an admin (system:masters) client configuration.
	Config *rest.Config
	// KubeconfigPath is a kubeconfig file with the same credentials, for
	// kubectl and other tools.
	KubeconfigPath string

	env    *envtest.Environment
	dir    string // logs and kubeconfig
	reaper *reaper
}

// StartAPIServer starts etcd and kube-apiserver from the binary cache.
// A missing binary is an error that names `make tools`.
func StartAPIServer(opts APIServerOptions) (_ *APIServer, err error) {
	paths, err := binaries.Paths(binaries.KubeAPIServer, binaries.Etcd, binaries.Kubectl)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "vclusterkit-apiserver-")
	if err != nil {
		return nil, err
	}
	s := &APIServer{dir: dir}
	defer func() {
		if err != nil {
			_ = s.Stop()
		}
	}()
	etcdLog, err := os.Create(filepath.Join(dir, "etcd.log"))
	if err != nil {
		return nil, err
	}
	defer etcdLog.Close()
	apiLog, err := os.Create(filepath.Join(dir, "kube-apiserver.log"))
	if err != nil {
		return nil, err
	}
	defer apiLog.Close()

	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = 90 * time.Second
	}
	s.env = &envtest.Environment{
		BinaryAssetsDirectory:    filepath.Dir(paths[binaries.KubeAPIServer]),
		CRDs:                     opts.CRDs,
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: timeout,
		ControlPlaneStopTimeout:  30 * time.Second,
	}
	s.env.ControlPlane.Etcd = &envtest.Etcd{Out: etcdLog, Err: etcdLog}
	s.env.ControlPlane.APIServer = &envtest.APIServer{Out: apiLog, Err: apiLog}

	cfg, err := s.env.Start()
	// Whatever happened, make sure a crash of this process cannot orphan
	// what did start.
	if r, rerr := startReaper(reap{
		pids: s.pids(),
		dirs: []string{dir, s.env.ControlPlane.Etcd.DataDir, s.env.ControlPlane.APIServer.CertDir},
	}); rerr == nil {
		s.reaper = r
	} else if err == nil {
		err = rerr
	}
	if err != nil {
		var b bytesBuffer
		dumpLogs(&b, "apiserver", dir)
		return nil, fmt.Errorf("starting kube-apiserver + etcd: %w\n%s", err, b.String())
	}
	s.Config = cfg
	if err := waitForDiscovery(cfg, opts.CRDs, timeout); err != nil {
		return nil, err
	}
	s.KubeconfigPath = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(s.KubeconfigPath, s.env.KubeConfig, 0o600); err != nil {
		return nil, err
	}
	return s, nil
}

// Stop stops kube-apiserver and etcd and removes their directories. It is
// safe to call more than once.
func (s *APIServer) Stop() error {
	if s == nil {
		return nil
	}
	var errs []error
	if s.env != nil {
		errs = append(errs, s.env.Stop())
		s.env = nil
	}
	s.reaper.stop()
	s.reaper = nil
	if s.dir != "" {
		errs = append(errs, os.RemoveAll(s.dir))
		s.dir = ""
	}
	return errors.Join(errs...)
}

// LogsOnFailure prints the tail of the etcd and kube-apiserver logs when t
// has failed by the end of the test.
func (s *APIServer) LogsOnFailure(t testing.TB) {
	t.Helper()
	logsOnFailure(t, "apiserver", s.dir)
}

// pids returns the process ids of this server's etcd and kube-apiserver.
func (s *APIServer) pids() []int {
	if s.env == nil {
		return nil
	}
	var out []int
	if d := s.env.ControlPlane.Etcd.DataDir; d != "" {
		out = append(out, childPIDs(d)...)
	}
	if d := s.env.ControlPlane.APIServer.CertDir; d != "" {
		out = append(out, childPIDs(d)...)
	}
	return out
}

// Dir is the directory holding the component logs and the kubeconfig.
func (s *APIServer) Dir() string { return s.dir }

// waitForDiscovery waits until discovery lists every CRD's served versions:
// envtest waits for the CRDs to be Established, but clients resolve kinds
// through discovery, which can lag behind for a moment.
func waitForDiscovery(cfg *rest.Config, crds []*apiextensionsv1.CustomResourceDefinition, timeout time.Duration) error {
	if len(crds) == 0 {
		return nil
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	for _, crd := range crds {
		for _, v := range crd.Spec.Versions {
			if !v.Served {
				continue
			}
			gv := crd.Spec.Group + "/" + v.Name
			for {
				list, err := dc.ServerResourcesForGroupVersion(gv)
				if err == nil && hasResource(list.APIResources, crd.Spec.Names.Plural) {
					break
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("CRD %s: %s/%s not served by discovery after %s (last error: %v)", crd.Name, gv, crd.Spec.Names.Plural, timeout, err)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
	return nil
}

func hasResource(list []metav1.APIResource, plural string) bool {
	for _, r := range list {
		if r.Name == plural {
			return true
		}
	}
	return false
}
