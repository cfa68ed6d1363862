package local

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/vclusterkit/vclusterkit/internal/binaries"
	"github.com/vclusterkit/vclusterkit/vcluster"
	"github.com/vclusterkit/vclusterkit/vcluster/kubeconfig"
)

// instance is a running control plane.
type instance struct {
	dir   string
	st    *state
	procs []*proc // in start order
}

// StartError is returned when a control plane does not become ready: it
// names the component that failed and carries the tail of every
// component's log.
type StartError struct {
	Component string
	Err       error
	// Logs maps component name to the last lines of its log.
	Logs map[string]string
	// order of components for Error.
	order []string
}

func (e *StartError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s did not become ready: %v", e.Component, e.Err)
	for _, c := range e.order {
		fmt.Fprintf(&b, "\n--- %s log (tail) ---\n%s", c, e.Logs[c])
	}
	return b.String()
}

func (e *StartError) Unwrap() error { return e.Err }

func (i *instance) endpoint() string { return endpointOf(i.st) }

// endpointOf is the API server's URL: its address (loopback unless
// Options.Address says otherwise) and port.
func endpointOf(st *state) string {
	return "https://" + net.JoinHostPort(addressOf(st), strconv.Itoa(st.Ports.APIServer))
}

func addressOf(st *state) string {
	if st.Address == "" {
		return loopback
	}
	return st.Address
}

// ErrNoPort is returned when no free loopback port can be found.
var ErrNoPort = errors.New("no free port")

// choosePorts keeps the recorded ports that are still free and picks new
// ones for the rest; every port is checked free and distinct before any
// process starts.
func (p *Provisioner) choosePorts(st *state, externalStore bool) error {
	used := map[int]bool{}
	pick := func(what string, cur *int) error {
		return p.pickPort(what, loopback, cur, used)
	}
	if err := p.pickPort("kube-apiserver", addressOf(st), &st.Ports.APIServer, used); err != nil {
		return err
	}
	if err := pick("kube-controller-manager", &st.Ports.ControllerManager); err != nil {
		return err
	}
	if externalStore {
		return nil
	}
	if err := pick("store", &st.Ports.Store); err != nil {
		return err
	}
	if st.BackingStore == vcluster.BackingStoreEtcd {
		return pick("etcd peer", &st.Ports.StorePeer)
	}
	return nil
}

// pickPort keeps *cur when it is free on host and not used yet, else asks
// Options.Port for one that is.
func (p *Provisioner) pickPort(what, host string, cur *int, used map[int]bool) error {
	if *cur > 0 && !used[*cur] && portFree(host, *cur) {
		used[*cur] = true
		return nil
	}
	last := 0
	for range 5 {
		n, err := p.opts.Port()
		if err != nil {
			return fmt.Errorf("%w for %s: %w", ErrNoPort, what, err)
		}
		if !used[n] && portFree(host, n) {
			*cur, used[n] = n, true
			return nil
		}
		last = n
	}
	return fmt.Errorf("%w for %s: port %d on %s is in use (5 tries)", ErrNoPort, what, last, host)
}

// start runs the components of the control plane in dir and waits until
// each is ready. On failure every started process is stopped again.
func (p *Provisioner) start(ctx context.Context, dir string, st *state, report func(step, msg string)) (_ *instance, err error) {
	if report == nil {
		report = func(string, string) {}
	}
	killStale(st.PIDs, dir)
	st.PIDs = nil
	apiBin, err := p.opts.binary(binaries.KubeAPIServer)
	if err != nil {
		return nil, err
	}
	kcmBin, err := p.opts.binary(binaries.KubeControllerManager)
	if err != nil {
		return nil, err
	}
	dsn := ""
	if b, rerr := os.ReadFile(filepath.Join(dir, storeDir, dsnFile)); rerr == nil {
		dsn = strings.TrimSpace(string(b))
	}
	st.Address = p.opts.Address
	if err := ensureServingCert(dir, st.Address); err != nil {
		return nil, err
	}
	if err := p.choosePorts(st, st.BackingStore == vcluster.BackingStoreEtcd && dsn != ""); err != nil {
		return nil, err
	}
	if err := writeKubeconfigs(dir, st); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, logsDir), 0o700); err != nil {
		return nil, fmt.Errorf("creating logs directory: %w", err)
	}

	inst := &instance{dir: dir, st: st}
	ctx, cancel := context.WithTimeout(ctx, p.opts.StartTimeout)
	defer cancel()
	defer func() {
		if err != nil {
			var se *StartError
			if !errors.As(err, &se) {
				se = &StartError{Component: "control plane", Err: err}
			}
			se.Logs = map[string]string{}
			for _, pr := range inst.procs {
				se.order = append(se.order, pr.name)
				se.Logs[pr.name] = tail(pr.logPath, p.opts.LogTailLines)
			}
			inst.stop(p.opts.StopGrace)
			err = se
		}
	}()

	etcdServers := dsn
	switch {
	case st.BackingStore == vcluster.BackingStoreEtcd && dsn == "":
		etcdBin, err := p.opts.binary(binaries.Etcd)
		if err != nil {
			return nil, err
		}
		client := fmt.Sprintf("http://127.0.0.1:%d", st.Ports.Store)
		peer := fmt.Sprintf("http://127.0.0.1:%d", st.Ports.StorePeer)
		if err := p.run(inst, "etcd", etcdBin, []string{
			"--name=default", "--data-dir=" + filepath.Join(dir, storeDir, "etcd"),
			"--listen-client-urls=" + client, "--advertise-client-urls=" + client,
			"--listen-peer-urls=" + peer, "--initial-advertise-peer-urls=" + peer,
			"--initial-cluster=default=" + peer, "--log-level=warn",
		}); err != nil {
			return nil, err
		}
		etcdServers = client
		if err := waitReady(ctx, inst, "etcd", func(ctx context.Context) error {
			return httpOK(ctx, http.DefaultClient, client+"/health")
		}); err != nil {
			return nil, err
		}
		report("etcd", "ready")
	case st.BackingStore == vcluster.BackingStoreEtcd:
		// external etcd: nothing to run
	default:
		kineBin, err := p.opts.binary(binaries.Kine)
		if err != nil {
			return nil, err
		}
		endpoint := dsn
		if st.BackingStore != vcluster.BackingStorePostgres {
			endpoint = "sqlite://" + filepath.Join(dir, storeDir, "state.db") + "?_journal=WAL&cache=shared"
		}
		addr := fmt.Sprintf("127.0.0.1:%d", st.Ports.Store)
		if err := p.run(inst, "kine", kineBin, []string{
			"--endpoint=" + endpoint, "--listen-address=" + addr, "--metrics-bind-address=0",
		}); err != nil {
			return nil, err
		}
		etcdServers = "http://" + addr
		if err := waitReady(ctx, inst, "kine", func(ctx context.Context) error { return tcpOpen(ctx, addr) }); err != nil {
			return nil, err
		}
		report("kine", "ready")
	}

	pk := filepath.Join(dir, pkiDir)
	if err := ensureKubeletPKI(dir); err != nil {
		return nil, err
	}
	if err := p.run(inst, "kube-apiserver", apiBin, append([]string{
		"--advertise-address=" + addressOf(st), "--bind-address=" + addressOf(st),
		"--secure-port=" + strconv.Itoa(st.Ports.APIServer),
		"--etcd-servers=" + etcdServers, "--etcd-prefix=" + st.EtcdPrefix,
		"--endpoint-reconciler-type=none",
		"--tls-cert-file=" + filepath.Join(pk, "apiserver.crt"), "--tls-private-key-file=" + filepath.Join(pk, "apiserver.key"),
		"--client-ca-file=" + filepath.Join(pk, "ca.crt"),
		"--service-account-key-file=" + filepath.Join(pk, "sa.pub"),
		"--service-account-signing-key-file=" + filepath.Join(pk, "sa.key"),
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--api-audiences=https://kubernetes.default.svc.cluster.local",
		"--service-cluster-ip-range=10.96.0.0/12",
		"--authorization-mode=RBAC", "--allow-privileged=true", "--profiling=false",
		"--requestheader-client-ca-file=" + filepath.Join(pk, "front-proxy-ca.crt"),
		"--requestheader-allowed-names=front-proxy-client",
		"--requestheader-username-headers=X-Remote-User", "--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file=" + filepath.Join(pk, "front-proxy-client.crt"),
		"--proxy-client-key-file=" + filepath.Join(pk, "front-proxy-client.key"),
	}, p.apiServerArgs(pk)...)); err != nil {
		return nil, err
	}
	apiClient, err := adminHTTPClient(dir)
	if err != nil {
		return nil, err
	}

	// The controller manager starts once the API server listens (it waits
	// only 10 seconds for /healthz itself), so its start-up overlaps the
	// rest of the API server's.
	if err := waitReady(ctx, inst, "kube-apiserver", func(ctx context.Context) error {
		return tcpOpen(ctx, net.JoinHostPort(addressOf(st), strconv.Itoa(st.Ports.APIServer)))
	}); err != nil {
		return nil, err
	}
	report("kube-apiserver", "listening")
	if err := p.run(inst, "kube-controller-manager", kcmBin, append([]string{
		"--kubeconfig=" + filepath.Join(dir, kcmKC),
		"--bind-address=127.0.0.1", "--secure-port=" + strconv.Itoa(st.Ports.ControllerManager),
		"--leader-elect=false",
		"--service-account-private-key-file=" + filepath.Join(pk, "sa.key"),
		"--root-ca-file=" + filepath.Join(pk, "ca.crt"),
		"--cluster-signing-cert-file=" + filepath.Join(pk, "ca.crt"),
		"--cluster-signing-key-file=" + filepath.Join(pk, "ca.key"),
		"--use-service-account-credentials=true",
		"--controllers=" + strings.Join(p.opts.Controllers, ","),
		// The default client rate limit (20 QPS) slows building the
		// controllers on a fresh cluster.
		"--kube-api-qps=200", "--kube-api-burst=400",
	}, p.opts.ControllerManagerArgs...)); err != nil {
		return nil, err
	}
	if err := waitReady(ctx, inst, "kube-apiserver", func(ctx context.Context) error {
		return httpOK(ctx, apiClient, inst.endpoint()+"/readyz")
	}); err != nil {
		return nil, err
	}
	report("kube-apiserver", "ready")
	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // only /healthz of a local child
	if err := waitReady(ctx, inst, "kube-controller-manager", func(ctx context.Context) error {
		return httpOK(ctx, insecure, fmt.Sprintf("https://127.0.0.1:%d/healthz", st.Ports.ControllerManager))
	}); err != nil {
		return nil, err
	}
	report("kube-controller-manager", "ready")
	return inst, nil
}

// apiServerArgs are the kube-apiserver flags that follow from Options:
// kubelet client, API groups, admission plugins, watch cache, then
// Options.APIServerArgs.
func (p *Provisioner) apiServerArgs(pk string) []string {
	args := kubeletArgs(pk)
	if len(p.opts.RuntimeConfig) > 0 {
		args = append(args, "--runtime-config="+strings.Join(p.opts.RuntimeConfig, ","))
	}
	if len(p.opts.DisableAdmissionPlugins) > 0 {
		args = append(args, "--disable-admission-plugins="+strings.Join(p.opts.DisableAdmissionPlugins, ","))
	}
	if len(p.opts.WatchCacheSizes) > 0 {
		args = append(args, "--watch-cache-sizes="+strings.Join(p.opts.WatchCacheSizes, ","))
	}
	if p.opts.DisableWatchCache {
		args = append(args, "--watch-cache=false")
	}
	return append(args, p.opts.APIServerArgs...)
}

// env is the environment a component gets on top of this process's:
// GOGC, then Options.ComponentEnv[name].
func (p *Provisioner) env(name string) []string {
	var env []string
	if p.opts.GOGC > 0 {
		env = append(env, "GOGC="+strconv.Itoa(p.opts.GOGC))
	}
	return append(env, p.opts.ComponentEnv[name]...)
}

func (p *Provisioner) run(inst *instance, name, bin string, args []string) error {
	st := inst.st
	pr, err := startProc(name, bin, args, p.env(name), inst.dir, filepath.Join(inst.dir, logsDir, name+".log"), func(pr *proc, err error) {
		p.componentExited(vcluster.ComponentExit{HostNamespace: st.HostNamespace, Name: st.Name, Component: pr.name, Err: err})
	})
	if err != nil {
		return &StartError{Component: name, Err: err}
	}
	inst.procs = append(inst.procs, pr)
	// Record the pid at once, so a crash during the rest of the start
	// still lets the next Provision find and kill it.
	st.PIDs = append(st.PIDs, pr.pid())
	return writeState(inst.dir, st)
}

// stop stops the components in reverse start order.
func (i *instance) stop(grace time.Duration) {
	for k := len(i.procs) - 1; k >= 0; k-- {
		i.procs[k].stop(grace)
	}
}

// health reports each component.
func (i *instance) health(ctx context.Context) vcluster.Health {
	h := vcluster.Health{Ready: true}
	for _, pr := range i.procs {
		c := vcluster.ComponentHealth{Name: pr.name, Running: true}
		if err, done := pr.exited(); done {
			c.Running, c.Message = false, err.Error()
			h.Ready = false
		}
		h.Components = append(h.Components, c)
	}
	if h.Ready {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if cl, err := adminHTTPClient(i.dir); err != nil || httpOK(cctx, cl, i.endpoint()+"/readyz") != nil {
			h.Ready = false
		}
	}
	return h
}

// exitedComponent names a component that has exited, or "".
func (i *instance) exitedComponent() string {
	for _, pr := range i.procs {
		if _, done := pr.exited(); done {
			return pr.name
		}
	}
	return ""
}

// waitAnswering waits (bounded by timeout) until the API server answers
// /readyz, failing early if a component exits.
func (i *instance) waitAnswering(ctx context.Context, timeout time.Duration) error {
	cl, err := adminHTTPClient(i.dir)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return waitReady(ctx, i, "kube-apiserver", func(ctx context.Context) error {
		return httpOK(ctx, cl, i.endpoint()+"/readyz")
	})
}

// waitReady polls check until it succeeds, ctx ends, or a started
// component exits.
func waitReady(ctx context.Context, inst *instance, component string, check func(context.Context) error) error {
	var last error
	for {
		for _, pr := range inst.procs {
			if err, done := pr.exited(); done {
				return &StartError{Component: component, Err: fmt.Errorf("%s exited: %w", pr.name, err)}
			}
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		last = check(cctx)
		cancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return &StartError{Component: component, Err: fmt.Errorf("%w (last check: %v)", ctx.Err(), last)}
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func tcpOpen(ctx context.Context, addr string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return c.Close()
}

func httpOK(ctx context.Context, c *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", url, resp.Status, strings.TrimSpace(string(b)))
	}
	return nil
}

func adminHTTPClient(dir string) (*http.Client, error) {
	caPEM, err := os.ReadFile(filepath.Join(dir, pkiDir, "ca.crt"))
	if err != nil {
		return nil, err
	}
	admin, err := readKeyPair(dir, "admin")
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(admin.Cert, admin.Key)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
	}}, nil
}

// writeKubeconfigs writes the admin and controller-manager kubeconfigs for
// the current API server port.
func writeKubeconfigs(dir string, st *state) error {
	caPEM, err := os.ReadFile(filepath.Join(dir, pkiDir, "ca.crt"))
	if err != nil {
		return err
	}
	for _, kc := range []struct{ file, pair, user string }{{adminKC, "admin", "admin"}, {kcmKC, "kcm", "kube-controller-manager"}} {
		kp, err := readKeyPair(dir, kc.pair)
		if err != nil {
			return err
		}
		b, err := kubeconfig.Build(kubeconfig.Config{Server: endpointOf(st), CA: caPEM, ClientCert: kp.Cert, ClientKey: kp.Key,
			User: kc.user, Name: st.HostNamespace + "-" + st.Name})
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, kc.file), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}
