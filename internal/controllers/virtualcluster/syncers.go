package virtualcluster

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/rest"
	psapi "k8s.io/pod-security-admission/api"

	"github.com/vclusterkit/vclusterkit/lifecycle"
	"github.com/vclusterkit/vclusterkit/sync/syncer"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
	"github.com/vclusterkit/vclusterkit/vcluster/kubeconfig"
)

// newSyncerSpec is everything one virtual cluster's syncer runs with: the
// syncers (Reconciler.Syncers, from the tenant's effective policy with the
// virtual cluster's overrides), the virtual API server's config, and the
// in-process quota admission when the host namespace is dedicated. A
// different generation of the VirtualCluster restarts the syncer; a changed
// policy alone reaches the running one (syncer.Engine.SetPolicy).
func (r *Reconciler) newSyncerSpec(ctx context.Context, vc *vcluster.VirtualCluster) (syncerSpec, error) {
	s, err := r.Snapshots.Get(ctx)
	if err != nil {
		return syncerSpec{}, err
	}
	pol, err := effectivePolicy(s, vc)
	if err != nil {
		return syncerSpec{}, lifecycle.Permanent(err)
	}
	syncers, err := r.Syncers(vc, pol)
	if err != nil {
		return syncerSpec{}, lifecycle.Permanent(fmt.Errorf("spec.sync: %w", err))
	}
	p, err := r.provisioner(vc)
	if err != nil {
		return syncerSpec{}, lifecycle.Permanent(err)
	}
	kc, err := p.Kubeconfig(ctx, vc)
	if err != nil {
		return syncerSpec{}, err
	}
	cfg, err := kubeconfig.RESTConfig(kc)
	if err != nil {
		return syncerSpec{}, err
	}
	spec := syncerSpec{
		name: vc.Name, hostNamespace: vc.EffectiveHostNamespace(), config: cfg, syncers: syncers,
		generation: vc.Generation, policy: syncerPolicy(pol),
	}
	if spec.kubelet, spec.kubeletAddress, err = kubeletTLS(ctx, p, vc); err != nil {
		return syncerSpec{}, err
	}
	if spec.hostNamespace != vc.Namespace && r.QuotaAdmit != nil {
		// A dedicated host namespace: pods are admitted against the quota
		// in process, so a refusal shows on the virtual pod.
		spec.admit = r.QuotaAdmit(vc.Spec.Tenant)
	}
	return spec, nil
}

// newSyncEngine builds the sync engine of one virtual cluster from its spec.
func newSyncEngine(host *syncer.Host, spec syncerSpec, reg prometheus.Registerer) (*syncer.Engine, error) {
	return syncer.New(host, spec.config, syncer.Options{Name: spec.name, HostNamespace: spec.hostNamespace, Syncers: spec.syncers, Admit: spec.admit, Registerer: reg, Kubelet: spec.kubeletEndpoint})
}

// syncerPolicy maps a tenant's effective policy onto what the syncers
// enforce, as DefaultSyncers does: a level other than privileged or
// restricted is baseline.
func syncerPolicy(pol tenancy.Policy) syncer.Policy {
	level := psapi.LevelBaseline
	switch pol.PodSecurity {
	case tenancy.PodSecurityPrivileged:
		level = psapi.LevelPrivileged
	case tenancy.PodSecurityRestricted:
		level = psapi.LevelRestricted
	}
	return syncer.Policy{
		PodSecurity: level, NodeSelector: pol.NodeSelector,
		AllowedRuntimeClasses: pol.AllowedRuntimeClasses, AllowedPriorityClasses: pol.AllowedPriorityClasses,
		AllowedStorageClasses: pol.AllowedStorageClasses, AllowedIngressClasses: pol.AllowedIngressClasses,
	}
}

type syncerSpec struct {
	name, hostNamespace string
	config              *rest.Config
	syncers             []syncer.Syncer
	generation          int64
	admit               syncer.AdmitFunc
	// policy is the tenant's effective policy as the syncers enforce it.
	policy syncer.Policy
	// kubelet, when set, are the credentials of the virtual cluster's
	// kubelet API (kubelet.go), served beside its sync engine at
	// kubeletEndpoint, a free port on kubeletAddress.
	kubelet         *vcluster.KubeletTLS
	kubeletAddress  net.IP
	kubeletEndpoint *syncer.KubeletEndpoint
}

type runningSyncer struct {
	spec   syncerSpec
	engine *syncer.Engine
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// syncerSet runs one sync engine per virtual cluster inside the engine's
// process, all sharing the host cache.
type syncerSet struct {
	host    *syncer.Host
	reg     prometheus.Registerer
	mu      sync.Mutex
	root    context.Context
	running map[string]*runningSyncer
	// kubeletPorts are the ports each virtual cluster's kubelet API had
	// last, which a restarted one binds again when it can.
	kubeletPorts map[string]int32
}

func newSyncerSet(h *syncer.Host, reg prometheus.Registerer) *syncerSet {
	return &syncerSet{host: h, reg: reg, running: map[string]*runningSyncer{}, kubeletPorts: map[string]int32{}}
}

// run is the manager runnable: it provides the context the syncers run in
// and stops them all, waiting for each, when the manager stops.
func (s *syncerSet) run(ctx context.Context) error {
	s.mu.Lock()
	s.root = ctx
	s.mu.Unlock()
	<-ctx.Done()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.root = nil
	for k, r := range s.running {
		r.cancel()
		<-r.done
		delete(s.running, k)
	}
	return nil
}

// ensure starts the syncer for key, or restarts it when it died or its
// spec's generation changed; a running syncer of the same generation is
// handed the spec's policy, so a tenant's policy change reaches it without
// a restart.
func (s *syncerSet) ensure(ctx context.Context, key string, spec syncerSpec) error {
	eng, err := s.start(key, spec)
	if err != nil || eng == nil {
		return err
	}
	// Outside the lock: a policy that changed lists the virtual objects
	// of each kind it concerns, which must not hold up other clusters.
	if err := eng.SetPolicy(ctx, spec.policy); err != nil {
		if verr := spec.policy.Validate(); verr != nil {
			return lifecycle.Permanent(err)
		}
		return err
	}
	return nil
}

// start starts the syncer for key unless one of spec's generation runs;
// it returns that running one's engine, or nil when it started one (its
// syncers were built with spec's policy).
func (s *syncerSet) start(key string, spec syncerSpec) (*syncer.Engine, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.root == nil || s.root.Err() != nil {
		return nil, lifecycle.Wait(time.Second, "waiting for the engine to start")
	}
	if r, ok := s.running[key]; ok {
		select {
		case <-r.done:
			delete(s.running, key) // died: start again below
		default:
			if r.spec.generation == spec.generation {
				return r.engine, nil
			}
			r.cancel()
			<-r.done
			delete(s.running, key)
		}
	}
	kp, ep, err := newKubeletProxy(s.host, spec, s.kubeletPorts[key])
	if err != nil {
		return nil, err
	}
	if ep != nil {
		s.kubeletPorts[key] = ep.Port
	}
	spec.kubeletEndpoint = ep
	eng, err := newSyncEngine(s.host, spec, s.reg)
	if err != nil {
		if kp != nil {
			_ = kp.Close()
		}
		return nil, lifecycle.Permanent(fmt.Errorf("syncer: %w", err))
	}
	rctx, cancel := context.WithCancel(s.root)
	r := &runningSyncer{spec: spec, engine: eng, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		if kp != nil {
			// The kubelet API lives and dies with the sync engine.
			kdone := make(chan struct{})
			go func() {
				defer close(kdone)
				_ = kp.Start(rctx)
			}()
			defer func() { <-kdone }()
			defer cancel()
		}
		r.err = eng.Start(rctx)
	}()
	s.running[key] = r
	return nil, nil
}

// stop stops the syncer for key and waits for it; a syncer not running is
// not an error.
func (s *syncerSet) stop(key string) error {
	s.mu.Lock()
	r, ok := s.running[key]
	delete(s.running, key)
	s.mu.Unlock()
	if ok {
		r.cancel()
		<-r.done
	}
	return nil
}
