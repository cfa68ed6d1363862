package vclusterkit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/vclusterkit/vclusterkit/netpol"
	"github.com/vclusterkit/vclusterkit/quota"
	"github.com/vclusterkit/vclusterkit/quota/admission"
	"github.com/vclusterkit/vclusterkit/sync/resources/builtin"
	"github.com/vclusterkit/vclusterkit/sync/syncer"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
	"github.com/vclusterkit/vclusterkit/vcluster/local"
)

// fieldOwner is the server-side apply field manager of everything the
// engine writes to the host.
const fieldOwner = "vclusterkit"

// Finalizers the engine's controllers put on their objects.
const (
	FinalizerTenant         = "tenancy.vclusterkit.io/tenant"
	FinalizerSpace          = "tenancy.vclusterkit.io/space"
	FinalizerVirtualCluster = "vcluster.vclusterkit.io/virtualcluster"
)

// AnnotationCascade on a Tenant asks for its deletion to delete its whole
// subtree (child tenants, spaces, virtual clusters). Without it, deleting a
// tenant that still has any is refused: the tenant stays, with a Deleting
// condition that lists what is in the way.
const AnnotationCascade = "tenancy.vclusterkit.io/cascade-delete"

// TreeSource is what the engine reads the tenant tree from. The default
// reads the Tenant and Space objects of the host API through the manager's
// cache; tenancy/kubestore's Store satisfies it too.
type TreeSource interface {
	ListTenants(ctx context.Context) (*tenancy.TenantList, error)
	ListSpaces(ctx context.Context) (*tenancy.SpaceList, error)
}

// SyncersFunc returns the syncers for one virtual cluster. Policy is the
// owning tenant's effective policy with the virtual cluster's overrides
// applied.
type SyncersFunc func(vc *vcluster.VirtualCluster, policy tenancy.Policy) ([]syncer.Syncer, error)

// QuotaOptions configure the quota admission webhook the engine serves.
// In the namespaces of tenants it checks pod creates and in-place resizes,
// creates and updates of PersistentVolumeClaims and Services, and creates
// of every other resource some tenant's quota counts (count/configmaps,
// count/deployments.apps, …: registered when such a limit appears, dropped
// when none is left). It fails closed: while no engine answers, those
// requests are refused.
type QuotaOptions struct {
	// Disabled turns the webhook off; the per-namespace ResourceQuota
	// objects still apply.
	Disabled bool
	// Addr is where the webhook listens; empty means a free port on
	// 127.0.0.1, for a host API server on the same machine.
	Addr string
	// Service routes the API server to the webhook through a Service (an
	// engine running in the cluster); nil means by URL to Addr.
	Service *admissionregistrationv1.ServiceReference
	// Hosts are the names in the serving certificate; empty means the
	// listen address's host, or the Service's DNS name.
	Hosts []string
}

// TenancyWebhookOptions configure the admission webhook for Tenants and
// Spaces (tenancy/webhook): a write that breaks a tree rule (a child's
// quota above its parent's, a loosened policy, a cycle, a missing parent or
// tenant, MaxSpaces) is refused when it is made instead of becoming a
// condition afterwards. It is served by the same server as the quota
// webhook (QuotaOptions Addr, Service and Hosts), and is not installed when
// Options.Store is set (the store validates its writes; the host objects
// are its projection).
type TenancyWebhookOptions struct {
	// Disabled leaves the tree rules to the reconcile alone.
	Disabled bool
	// FailurePolicy when the webhook cannot answer; nil means Ignore, so
	// that tenants can be repaired while no engine runs (the engine checks
	// the whole tree again anyway, see tenancy/webhook).
	FailurePolicy *admissionregistrationv1.FailurePolicyType
}

// Options configure New. The zero value runs every controller against the
// host, with the local provisioner, metrics and health endpoints off, and
// the quota webhook on a loopback port.
type Options struct {
	// Scheme is extended with the engine's types; nil means a new one.
	Scheme *runtime.Scheme
	// Store, when set, is the source of truth for tenants and spaces
	// (tenancy/sqlstore, tenancy/memstore or your own): the engine projects
	// them onto the host as Tenant and Space objects, which its
	// controllers reconcile, deletes projected objects the store no longer
	// has, and copies their status back into the store. Nil means the
	// host's Tenant and Space objects are the truth (tenancy/kubestore).
	Store tenancy.Store
	// Tree is where the tenant tree is read from; nil means Store when it
	// is set, else the host API through the manager's cache.
	Tree TreeSource
	// Provisioners maps provisioner names to implementations; nil means a
	// registry holding the local provisioner built from Local.
	Provisioners *vcluster.Registry
	// Local configures the default local provisioner.
	Local local.Options
	// Syncers chooses the syncers of each virtual cluster; nil means the
	// built-in set (DefaultSyncers).
	Syncers SyncersFunc
	// TemplateNamespace holds the ConfigMaps that Space.Spec.Template
	// names; empty means DefaultTemplateNamespace.
	TemplateNamespace string
	// NetworkPolicy tunes the generated isolation policies.
	NetworkPolicy netpol.Options
	// Quota configures the admission webhook.
	Quota QuotaOptions
	// TenancyWebhook configures the tenant and space admission webhook.
	TenancyWebhook TenancyWebhookOptions
	// MetricsBindAddress serves Prometheus metrics; empty or "0" means off.
	MetricsBindAddress string
	// HealthProbeBindAddress serves /healthz and /readyz; empty or "0"
	// means off.
	HealthProbeBindAddress string
	// LeaderElection makes replicas elect one active engine, in
	// LeaderElectionNamespace (required with it) under LeaderElectionID
	// (default "vclusterkit-engine").
	LeaderElection          bool
	LeaderElectionID        string
	LeaderElectionNamespace string
	// LeaderElectionReleaseOnCancel gives the lease up when the engine
	// stops cleanly, so a standby takes over at once instead of waiting
	// for the lease to expire. Only safe when nothing the engine started
	// outlives Start (true of this engine: it stops its syncers and
	// control planes before returning).
	LeaderElectionReleaseOnCancel bool
	// SkipCRDInstall leaves installing the CRDs to someone else (a Helm
	// chart); by default New installs or updates them.
	SkipCRDInstall bool
	// ResyncPeriod requeues Ready objects so drift is repaired; zero means
	// five minutes.
	ResyncPeriod time.Duration
	// Logger is used by the manager and controllers; the zero value
	// discards.
	Logger logr.Logger
	// Recorder overrides the event recorder (tests); nil means the manager's.
	Recorder interface {
		Eventf(regarding runtime.Object, related runtime.Object, eventtype, reason, action, note string, args ...any)
	}
}

// Engine composes the tenancy, quota, netpol, vcluster and sync packages
// into one controller-runtime manager: Tenant, Space and VirtualCluster
// controllers, the quota webhook, the shared sync host, metrics and health.
// Create it with New and run it with Start.
type Engine struct {
	mgr      ctrl.Manager
	client   client.Client
	store    TreeSource
	registry *vcluster.Registry
	syncHost *syncer.Host
	syncers  *syncerSet
	ledger   *quota.Ledger
	opts     Options
	exits    chan vclusterExit
	webhook  *admission.Server
	activity *activityTracker
	tracker  *admission.ObjectTracker
	counts   *quotaCounts
	// snapshots caches the tenant tree between changes (snapshotCache).
	snapshots *snapshotCache
	// exited holds, per virtual cluster (exitKey), the control-plane
	// process death reported by ComponentExited and not yet recovered from.
	exited sync.Map
}

// New validates opts, installs the CRDs (unless SkipCRDInstall) and builds
// the manager with every controller registered. Nothing runs until Start.
func New(host *rest.Config, opts Options) (*Engine, error) {
	if host == nil {
		return nil, errors.New("vclusterkit.New: host config is required")
	}
	if opts.LeaderElection && opts.LeaderElectionNamespace == "" {
		return nil, errors.New("vclusterkit.Options.LeaderElectionNamespace: required when LeaderElection is set")
	}
	if opts.LeaderElectionID == "" {
		opts.LeaderElectionID = "vclusterkit-engine"
	}
	if opts.Logger.GetSink() == nil {
		opts.Logger = logr.Discard()
	}
	s := opts.Scheme
	if s == nil {
		s = runtime.NewScheme()
	}
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme, tenancy.AddToScheme, vcluster.AddToScheme} {
		if err := add(s); err != nil {
			return nil, fmt.Errorf("vclusterkit.New: scheme: %w", err)
		}
	}
	opts.Scheme = s
	bind := func(a string) string {
		if a == "" {
			return "0"
		}
		return a
	}
	skipNameValidation := true
	mgr, err := ctrl.NewManager(host, ctrl.Options{
		Scheme:                        s,
		Logger:                        opts.Logger,
		Metrics:                       metricsserver.Options{BindAddress: bind(opts.MetricsBindAddress)},
		HealthProbeBindAddress:        bind(opts.HealthProbeBindAddress),
		LeaderElection:                opts.LeaderElection,
		LeaderElectionID:              opts.LeaderElectionID,
		LeaderElectionNamespace:       opts.LeaderElectionNamespace,
		LeaderElectionReleaseOnCancel: opts.LeaderElectionReleaseOnCancel,
		// Several engines may run in one process (one per host cluster, or
		// tests): their controllers share names, and with them the
		// controller metrics' labels.
		Controller: config.Controller{SkipNameValidation: &skipNameValidation},
	})
	if err != nil {
		return nil, fmt.Errorf("vclusterkit.New: manager: %w", err)
	}
	e := &Engine{
		mgr:    mgr,
		client: mgr.GetClient(),
		opts:   opts,
		ledger: quota.NewLedger(quota.LedgerOptions{}),
		exits:  make(chan vclusterExit, 64),

		activity: newActivityTracker(),
	}
	e.store = opts.Tree
	switch {
	case e.store != nil:
	case opts.Store != nil:
		e.store = opts.Store
	default:
		e.store = cacheTree{mgr.GetClient()}
	}
	if opts.Store != nil {
		resync := opts.ResyncPeriod
		if resync <= 0 {
			resync = 30 * time.Second
		}
		if err := mgr.Add(&projection{store: opts.Store, client: mgr.GetClient(), resync: resync}); err != nil {
			return nil, err
		}
	}
	e.registry = opts.Provisioners
	if e.registry == nil {
		lo := opts.Local
		userExit := lo.OnComponentExit
		lo.OnComponentExit = func(ns, name, component string, err error) {
			e.ComponentExited(ns, name, component, err)
			if userExit != nil {
				userExit(ns, name, component, err)
			}
		}
		lp, err := local.New(lo)
		if err != nil {
			return nil, fmt.Errorf("vclusterkit.New: local provisioner: %w", err)
		}
		e.registry = vcluster.NewRegistry()
		if err := e.registry.Register(local.Name, lp); err != nil {
			return nil, err
		}
	}
	if opts.Syncers == nil {
		e.opts.Syncers = DefaultSyncers
	}
	e.syncHost, err = syncer.NewHost(host, syncer.HostOptions{Scheme: s, Unfiltered: builtin.HostOptions()})
	if err != nil {
		return nil, fmt.Errorf("vclusterkit.New: sync host: %w", err)
	}
	if err := mgr.Add(e.syncHost); err != nil {
		return nil, err
	}
	e.syncers = newSyncerSet(e.syncHost)
	if err := mgr.Add(manager.RunnableFunc(e.syncers.run)); err != nil {
		return nil, err
	}

	if !opts.SkipCRDInstall {
		if err := installCRDs(host, s); err != nil {
			return nil, err
		}
	}
	for _, setup := range []func() error{e.setupSnapshotCache, e.setupTenants, e.setupSpaces, e.setupVirtualClusters, e.setupNamespaceGuard, e.setupQuota, e.setupPolicyAdmission} {
		if err := setup(); err != nil {
			return nil, err
		}
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
		return nil, err
	}
	if err := metrics.Registry.Register(quota.NewCollector(e.ledger)); err != nil {
		var already prometheus.AlreadyRegisteredError
		if !errors.As(err, &already) {
			return nil, fmt.Errorf("registering quota metrics: %w", err)
		}
	}
	return e, nil
}

// Start runs the engine until ctx ends, then stops every syncer, the
// webhook and the manager, and shuts down the control planes of
// provisioners that have a Shutdown(ctx) method (the local provisioner),
// keeping their state: the next Start finds every virtual cluster again.
// Deleting the VirtualCluster objects is what removes them.
func (e *Engine) Start(ctx context.Context) error {
	err := e.mgr.Start(ctx)
	sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, name := range e.registry.Names() {
		if p, perr := e.registry.Get(name); perr == nil {
			if s, ok := p.(interface{ Shutdown(context.Context) }); ok {
				s.Shutdown(sctx)
			}
		}
	}
	return err
}

// ComponentExited tells the engine that a process of a virtual control
// plane exited unexpectedly, so its VirtualCluster is reconciled (and the
// death shown on its conditions) at once rather than at the next resync.
// The engine wires it for the local provisioner it builds itself; an
// embedder who passes Options.Provisioners with a local provisioner of its
// own sets local.Options.OnComponentExit to this method.
func (e *Engine) ComponentExited(hostNamespace, name, component string, err error) {
	// Recorded, so the death shows on the VirtualCluster even when the
	// reconcile it triggers reads an object from the cache that does not
	// say Ready yet (a death right after the first start).
	e.exited.Store(exitKey(hostNamespace, name), fmt.Sprintf("not running: %s: %v", component, err))
	select {
	case e.exits <- vclusterExit{namespace: hostNamespace, name: name, component: component, err: err}:
	default: // a full channel already holds a wake-up
	}
}

// Manager returns the controller-runtime manager, to add controllers or
// runnables of your own before Start.
func (e *Engine) Manager() ctrl.Manager { return e.mgr }

// Provisioners returns the provisioner registry in use.
func (e *Engine) Provisioners() *vcluster.Registry { return e.registry }

// Ledger returns the quota ledger the webhook and the syncers admit against.
func (e *Engine) Ledger() *quota.Ledger { return e.ledger }

// installCRDs installs the tenancy and vcluster CRDs and waits until they
// are established.
func installCRDs(cfg *rest.Config, s *runtime.Scheme) error {
	c, err := client.New(cfg, client.Options{Scheme: s})
	if err != nil {
		return fmt.Errorf("installing CRDs: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := tenancy.InstallCRDs(ctx, c); err != nil {
		return fmt.Errorf("installing tenancy CRDs: %w", err)
	}
	if err := vcluster.InstallCRDs(ctx, c); err != nil {
		return fmt.Errorf("installing vcluster CRDs: %w", err)
	}
	return nil
}

// cacheTree reads the tree from the manager's cache.
type cacheTree struct{ c client.Reader }

func (t cacheTree) ListTenants(ctx context.Context) (*tenancy.TenantList, error) {
	l := &tenancy.TenantList{}
	return l, t.c.List(ctx, l)
}

func (t cacheTree) ListSpaces(ctx context.Context) (*tenancy.SpaceList, error) {
	l := &tenancy.SpaceList{}
	return l, t.c.List(ctx, l)
}

// dnsSafe turns s into a DNS-label-safe name part that never collides
// for different inputs: s itself when it already is one (lower case, at
// most 40 characters), else a lower-cased, cut-down form followed by 8 hex
// characters of the SHA-256 of s ("Bob" and "bob", "bob.smith" and
// "bob-smith" get different names).
func dnsSafe(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-")
	if out == s && len(out) <= 40 && out != "" {
		return out
	}
	if len(out) > 31 {
		out = strings.TrimRight(out[:31], "-")
	}
	sum := sha256.Sum256([]byte(s))
	if out == "" {
		return hex.EncodeToString(sum[:4])
	}
	return out + "-" + hex.EncodeToString(sum[:4])
}
