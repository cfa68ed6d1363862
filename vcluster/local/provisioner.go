package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/vclusterkit/vclusterkit/internal/binaries"
	"github.com/vclusterkit/vclusterkit/internal/pki"
	"github.com/vclusterkit/vclusterkit/vcluster"
	"github.com/vclusterkit/vclusterkit/vcluster/kubeconfig"
)

// Name is the name the local provisioner is usually registered under
// (vcluster.DefaultProvisioner).
const Name = vcluster.DefaultProvisioner

// Provisioner runs each virtual control plane as child processes of the
// embedding program. Safe for concurrent use; operations on one virtual
// cluster are serialised.
type Provisioner struct {
	opts Options

	mu      sync.Mutex
	locks   map[string]*sync.Mutex
	running map[string]*instance
	dirLock *os.File // Options.Dir claimed (claimDir), until Shutdown

	exitMu   sync.Mutex
	exitSubs map[int]func(vcluster.ComponentExit) // ReportExits
	exitNext int
}

var (
	_ vcluster.Provisioner          = (*Provisioner)(nil)
	_ vcluster.Sleeper              = (*Provisioner)(nil)
	_ vcluster.HealthReporter       = (*Provisioner)(nil)
	_ vcluster.UserKubeconfigIssuer = (*Provisioner)(nil)
	_ vcluster.Snapshotter          = (*Provisioner)(nil)
	_ vcluster.ExitReporter         = (*Provisioner)(nil)
	_ vcluster.Shutdowner           = (*Provisioner)(nil)
)

// New returns a Provisioner. It does not start anything: control planes
// left in Options.Dir by an earlier run are started again by Provision.
func New(opts Options) (*Provisioner, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Provisioner{opts: o, locks: map[string]*sync.Mutex{}, running: map[string]*instance{}}, nil
}

// Dir returns the root of the state directories.
func (p *Provisioner) Dir() string { return p.opts.Dir }

// StateDir returns the state directory of a virtual cluster:
// Dir/<host namespace>/<name>. Two clusters share a directory only if they
// share host namespace and name, which CheckClaim and Provision refuse.
func (p *Provisioner) StateDir(vc *vcluster.VirtualCluster) string {
	return filepath.Join(p.opts.Dir, vc.EffectiveHostNamespace(), vc.Name)
}

// EtcdPrefix is the key prefix of a virtual cluster in its store. Each
// cluster also has its own SQLite file or etcd, but with a shared
// PostgreSQL (or external etcd) the prefix is what keeps them apart: it
// ends in "/registry" after the name, so no prefix is a prefix of another's
// ("…/a/registry" vs "…/aa/registry").
func EtcdPrefix(hostNamespace, name string) string {
	return "/vclusterkit/" + hostNamespace + "/" + name + "/registry"
}

func (p *Provisioner) lock(key string) func() {
	p.mu.Lock()
	l, ok := p.locks[key]
	if !ok {
		l = &sync.Mutex{}
		p.locks[key] = l
	}
	p.mu.Unlock()
	l.Lock()
	return l.Unlock
}

func (p *Provisioner) getRunning(key string) *instance {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.running[key]
}

func (p *Provisioner) setRunning(key string, i *instance) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if i == nil {
		delete(p.running, key)
	} else {
		p.running[key] = i
	}
}

// checkNames guards the path built from the names (Validate does the full
// check for Provision).
func checkNames(vc *vcluster.VirtualCluster) error {
	if vc == nil {
		return errors.New("local: nil VirtualCluster")
	}
	for _, s := range []string{vc.Name, vc.EffectiveHostNamespace()} {
		if s == "" || s == "." || s == ".." || strings.ContainsAny(s, `/\`) {
			return fmt.Errorf("local: invalid VirtualCluster name or host namespace %q", s)
		}
	}
	return nil
}

// Provision creates the state directory (PKI, store) on first use and
// starts kine (or etcd) , kube-apiserver and kube-controller-manager,
// waiting up to Options.StartTimeout for each to be ready. It is
// idempotent: a running, healthy control plane is left alone; one with a
// dead component is restarted; one left by an earlier run of the program is
// started again on its existing data. A paused control plane stays paused
// (Result.Sleeping). If a new control plane fails to start, its processes
// and directory are removed before the error is returned.
func (p *Provisioner) Provision(ctx context.Context, req vcluster.Request) (vcluster.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	vc := req.Cluster
	if err := checkNames(vc); err != nil {
		return vcluster.Result{}, err
	}
	// The version first, so its error wraps ErrUnsupportedVersion.
	version, err := vcluster.ResolveKubernetesVersion(vc.Spec.KubernetesVersion)
	if err != nil {
		return vcluster.Result{}, fmt.Errorf("spec.kubernetesVersion: %w", err)
	}
	if errs := vcluster.Validate(vc); len(errs) > 0 {
		return vcluster.Result{}, fmt.Errorf("local: %w", errs.ToAggregate())
	}
	if version != binaries.KubernetesVersion {
		return vcluster.Result{}, fmt.Errorf("spec.kubernetesVersion: %w: the local provisioner runs the binaries built by `make tools` (%s), not %s",
			vcluster.ErrUnsupportedVersion, binaries.KubernetesVersion, version)
	}
	store := vc.EffectiveBackingStore()
	if err := vcluster.ValidateDSN(store, req.BackingStoreDSN); err != nil {
		return vcluster.Result{}, fmt.Errorf("spec.backingStore: %w", err)
	}
	if err := p.claimDir(); err != nil {
		return vcluster.Result{}, err
	}
	dir := p.StateDir(vc)
	defer p.lock(dir)()

	if inst := p.getRunning(dir); inst != nil {
		if !inst.st.Owner.same(ownerOf(vc)) {
			return vcluster.Result{}, p.conflict(vc, inst.st)
		}
		// Every process still runs: wait for the API server to answer (a
		// slow /readyz under load is no reason to restart anything).
		if dead := inst.exitedComponent(); dead == "" {
			if err := inst.waitAnswering(ctx, p.opts.StartTimeout); err == nil {
				return p.result(inst.st, true), nil
			} else if inst.exitedComponent() == "" {
				return vcluster.Result{}, err
			}
		}
		h := inst.health(ctx)
		log.Info("restarting virtual control plane", "hostNamespace", inst.st.HostNamespace, "name", inst.st.Name, "health", h.Summary())
		req.Report("restart", h.Summary())
		inst.stop(p.opts.StopGrace)
		p.setRunning(dir, nil)
	}

	st, err := readState(dir)
	fresh := false
	switch {
	case errors.Is(err, fs.ErrNotExist):
		req.Report("create", "creating state directory and PKI in "+dir)
		if st, err = p.create(dir, vc, store, version, req.BackingStoreDSN); err != nil {
			return vcluster.Result{}, err
		}
		fresh = true
	case err != nil:
		return vcluster.Result{}, fmt.Errorf("local: reading state of %s: %w", dir, err)
	default:
		if !st.Owner.same(ownerOf(vc)) {
			return vcluster.Result{}, p.conflict(vc, st)
		}
		if st.BackingStore != store {
			return vcluster.Result{}, fmt.Errorf("spec.backingStore.type: is immutable: the control plane in %s uses %s", dir, st.BackingStore)
		}
		if req.BackingStoreDSN != "" {
			if err := os.WriteFile(filepath.Join(dir, storeDir, dsnFile), []byte(req.BackingStoreDSN), 0o600); err != nil {
				return vcluster.Result{}, fmt.Errorf("updating DSN: %w", err)
			}
		}
		if st.Paused {
			return p.result(st, false), nil
		}
	}
	req.Report("start", "starting "+string(store)+" store, kube-apiserver and kube-controller-manager")
	inst, err := p.start(ctx, dir, st, req.Report)
	if err != nil {
		if fresh {
			p.removeDir(dir)
		}
		return vcluster.Result{}, err
	}
	p.setRunning(dir, inst)
	req.Report("ready", "API server ready at "+inst.endpoint())
	log.V(1).Info("virtual control plane ready", "dir", dir, "endpoint", inst.endpoint())
	return p.result(st, true), nil
}

func (p *Provisioner) result(st *state, ready bool) vcluster.Result {
	r := vcluster.Result{Ready: ready, Sleeping: st.Paused, Endpoint: endpointOf(st), KubernetesVersion: st.Version}
	switch {
	case st.Paused:
		r.Message = "sleeping"
	case ready:
		r.Message = "running"
	}
	return r
}

func (p *Provisioner) conflict(vc *vcluster.VirtualCluster, st *state) error {
	return fmt.Errorf("%w: host namespace %q and name %q are already used by VirtualCluster %s/%s",
		vcluster.ErrConflict, vc.EffectiveHostNamespace(), vc.Name, st.Owner.Namespace, st.Owner.Name)
}

// create makes a new state directory; on any error nothing is left.
func (p *Provisioner) create(dir string, vc *vcluster.VirtualCluster, store vcluster.BackingStoreType, version, dsn string) (_ *state, err error) {
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return nil, fmt.Errorf("local: creating state directory: %w", err)
	}
	// A directory without state.json is a creation that crashed half-way.
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("local: clearing half-created %s: %w", dir, err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("local: creating state directory: %w", err)
	}
	defer func() {
		if err != nil {
			p.removeDir(dir)
		}
	}()
	hostNS := vc.EffectiveHostNamespace()
	var dns []string
	if vc.Spec.Expose != nil {
		if vc.Spec.Expose.Hostname != "" {
			dns = append(dns, vc.Spec.Expose.Hostname)
		}
		dns = append(dns, vc.Spec.Expose.ExtraSANs...)
	}
	var ips []net.IP
	if p.opts.Address != "" {
		ips = append(ips, net.ParseIP(p.opts.Address))
	}
	set, err := pki.Generate(pki.Options{CommonName: "vclusterkit-" + hostNS + "-" + vc.Name, DNSNames: dns, IPs: ips})
	if err != nil {
		return nil, fmt.Errorf("local: generating PKI: %w", err)
	}
	if err := writePKI(dir, set); err != nil {
		return nil, fmt.Errorf("local: writing PKI: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, storeDir), 0o700); err != nil {
		return nil, fmt.Errorf("local: creating store directory: %w", err)
	}
	if dsn != "" {
		if err := os.WriteFile(filepath.Join(dir, storeDir, dsnFile), []byte(dsn), 0o600); err != nil {
			return nil, fmt.Errorf("local: writing DSN: %w", err)
		}
	}
	st := &state{
		Owner: ownerOf(vc), HostNamespace: hostNS, Name: vc.Name, BackingStore: store,
		EtcdPrefix: EtcdPrefix(hostNS, vc.Name), Version: version,
	}
	if err := writeState(dir, st); err != nil {
		return nil, err
	}
	return st, nil
}

// removeDir removes a state directory and its host-namespace parent when
// that is left empty.
func (p *Provisioner) removeDir(dir string) {
	_ = os.RemoveAll(dir)
	_ = os.Remove(filepath.Dir(dir)) // fails unless empty, as intended
}

// Deprovision stops the control plane and removes its state directory.
// Idempotent. A directory owned by another VirtualCluster (a claim that
// was refused) is left alone.
func (p *Provisioner) Deprovision(ctx context.Context, vc *vcluster.VirtualCluster) error {
	if err := checkNames(vc); err != nil {
		return err
	}
	if err := p.claimDir(); err != nil {
		return err
	}
	dir := p.StateDir(vc)
	defer p.lock(dir)()
	if inst := p.getRunning(dir); inst != nil {
		if !inst.st.Owner.same(ownerOf(vc)) {
			ctrl.LoggerFrom(ctx).Info("not deprovisioning a control plane owned by another VirtualCluster", "dir", dir)
			return nil
		}
		inst.stop(p.opts.StopGrace)
		p.setRunning(dir, nil)
	}
	st, err := readState(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	case !st.Owner.same(ownerOf(vc)):
		ctrl.LoggerFrom(ctx).Info("not deprovisioning a control plane owned by another VirtualCluster", "dir", dir,
			"owner", st.Owner.Namespace+"/"+st.Owner.Name)
		return nil
	default:
		killStale(st.PIDs, dir)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("local: removing %s: %w", dir, err)
	}
	_ = os.Remove(filepath.Dir(dir))
	return nil
}

// owned reads the state of vc's directory and checks the owner.
func (p *Provisioner) owned(vc *vcluster.VirtualCluster) (string, *state, error) {
	if err := checkNames(vc); err != nil {
		return "", nil, err
	}
	dir := p.StateDir(vc)
	st, err := readState(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil, fmt.Errorf("%w: no state directory %s", vcluster.ErrNotFound, dir)
	}
	if err != nil {
		return "", nil, err
	}
	if !st.Owner.same(ownerOf(vc)) {
		return "", nil, p.conflict(vc, st)
	}
	return dir, st, nil
}

// Kubeconfig returns the admin kubeconfig (user vclusterkit-admin in
// system:masters). Its server is the API server's current port, which stays
// the same across pause and resume unless another program took the port.
func (p *Provisioner) Kubeconfig(ctx context.Context, vc *vcluster.VirtualCluster) ([]byte, error) {
	dir, _, err := p.owned(vc)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, adminKC))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: control plane in %s was never started", vcluster.ErrNotFound, dir)
	}
	return b, err
}

// UserKubeconfig issues a client certificate for user (its groups as
// organizations), signed by the virtual cluster's CA, valid for a year.
func (p *Provisioner) UserKubeconfig(ctx context.Context, vc *vcluster.VirtualCluster, user vcluster.User) ([]byte, error) {
	dir, st, err := p.owned(vc)
	if err != nil {
		return nil, err
	}
	ca, err := readKeyPair(dir, "ca")
	if err != nil {
		return nil, err
	}
	kp, err := pki.ClientCert(ca, user.Name, user.Groups)
	if err != nil {
		return nil, err
	}
	return kubeconfig.Build(kubeconfig.Config{Server: endpointOf(st), CA: ca.Cert, ClientCert: kp.Cert, ClientKey: kp.Key,
		User: user.Name, Name: st.HostNamespace + "-" + st.Name})
}

// Pause stops every component and marks the control plane paused; the
// store and PKI stay. Idempotent.
func (p *Provisioner) Pause(ctx context.Context, vc *vcluster.VirtualCluster) error {
	dir, _, err := p.owned(vc)
	if err != nil {
		return err
	}
	if err := p.claimDir(); err != nil {
		return err
	}
	defer p.lock(dir)()
	if inst := p.getRunning(dir); inst != nil {
		inst.stop(p.opts.StopGrace)
		p.setRunning(dir, nil)
	}
	st, err := readState(dir)
	if err != nil {
		return err
	}
	killStale(st.PIDs, dir)
	st.Paused, st.PIDs = true, nil
	return writeState(dir, st)
}

// Resume starts a paused control plane on its existing data and waits
// until it is ready. Idempotent.
func (p *Provisioner) Resume(ctx context.Context, vc *vcluster.VirtualCluster) error {
	dir, _, err := p.owned(vc)
	if err != nil {
		return err
	}
	if err := p.claimDir(); err != nil {
		return err
	}
	defer p.lock(dir)()
	if inst := p.getRunning(dir); inst != nil && inst.exitedComponent() == "" {
		return inst.waitAnswering(ctx, p.opts.StartTimeout)
	} else if inst != nil {
		inst.stop(p.opts.StopGrace)
		p.setRunning(dir, nil)
	}
	st, err := readState(dir)
	if err != nil {
		return err
	}
	st.Paused = false
	if err := writeState(dir, st); err != nil {
		return err
	}
	inst, err := p.start(ctx, dir, st, nil)
	if err != nil {
		return err
	}
	p.setRunning(dir, inst)
	return nil
}

// Health reports whether each component still runs. A component that
// died shows as not running with its exit status; a control plane not
// started by this process (after a restart of the program) shows as not
// ready until Provision starts it again.
func (p *Provisioner) Health(ctx context.Context, vc *vcluster.VirtualCluster) (vcluster.Health, error) {
	dir, st, err := p.owned(vc)
	if err != nil {
		return vcluster.Health{}, err
	}
	if inst := p.getRunning(dir); inst != nil {
		return inst.health(ctx), nil
	}
	if st.Paused {
		return vcluster.Health{Sleeping: true}, nil
	}
	return vcluster.Health{Components: []vcluster.ComponentHealth{{
		Name: "control plane", Message: "not started by this process; Provision starts it",
	}}}, nil
}

// ReportExits implements vcluster.ExitReporter: report is called, besides
// Options.OnComponentExit, for every component that exits without being
// stopped, until stop is called.
func (p *Provisioner) ReportExits(report func(vcluster.ComponentExit)) (stop func()) {
	p.exitMu.Lock()
	defer p.exitMu.Unlock()
	if p.exitSubs == nil {
		p.exitSubs = map[int]func(vcluster.ComponentExit){}
	}
	id := p.exitNext
	p.exitNext++
	p.exitSubs[id] = report
	return func() {
		p.exitMu.Lock()
		delete(p.exitSubs, id)
		p.exitMu.Unlock()
	}
}

// componentExited tells Options.OnComponentExit and every ReportExits
// subscriber.
func (p *Provisioner) componentExited(x vcluster.ComponentExit) {
	if p.opts.OnComponentExit != nil {
		p.opts.OnComponentExit(x.HostNamespace, x.Name, x.Component, x.Err)
	}
	p.exitMu.Lock()
	subs := make([]func(vcluster.ComponentExit), 0, len(p.exitSubs))
	for _, f := range p.exitSubs {
		subs = append(subs, f)
	}
	p.exitMu.Unlock()
	for _, f := range subs {
		f(x)
	}
}

// Shutdown stops every control plane this Provisioner runs, keeping their
// state, so the next run of the program can start them again, and gives up
// Options.Dir (see ErrDirInUse). Use it on a graceful exit of the
// embedding program.
func (p *Provisioner) Shutdown(ctx context.Context) {
	p.mu.Lock()
	keys := make([]string, 0, len(p.running))
	for k := range p.running {
		keys = append(keys, k)
	}
	p.mu.Unlock()
	for _, k := range keys {
		unlock := p.lock(k)
		if inst := p.getRunning(k); inst != nil {
			inst.stop(p.opts.StopGrace)
			p.setRunning(k, nil)
		}
		unlock()
	}
	p.releaseDir()
}
