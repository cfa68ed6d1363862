package vclusterkit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/vclusterkit/vclusterkit/internal/controllers/space"
	"github.com/vclusterkit/vclusterkit/internal/controllers/tenant"
	"github.com/vclusterkit/vclusterkit/internal/controllers/virtualcluster"
	"github.com/vclusterkit/vclusterkit/internal/hostns"
	"github.com/vclusterkit/vclusterkit/internal/names"
	"github.com/vclusterkit/vclusterkit/internal/nsguard"
	"github.com/vclusterkit/vclusterkit/internal/policyadmission"
	"github.com/vclusterkit/vclusterkit/internal/projection"
	"github.com/vclusterkit/vclusterkit/internal/quotaenforce"
	"github.com/vclusterkit/vclusterkit/internal/snapshot"
	"github.com/vclusterkit/vclusterkit/internal/spacetemplate"
	"github.com/vclusterkit/vclusterkit/lifecycle"
	"github.com/vclusterkit/vclusterkit/netpol"
	"github.com/vclusterkit/vclusterkit/quota"
	"github.com/vclusterkit/vclusterkit/sync/resources/builtin"
	"github.com/vclusterkit/vclusterkit/sync/syncer"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
	"github.com/vclusterkit/vclusterkit/vcluster/dns"
	"github.com/vclusterkit/vclusterkit/vcluster/local"
)

// Names an embedder needs beside the Engine. The finalizers, annotations
// and conditions the engine puts on the API objects live with their types
// (tenancy.FinalizerTenant, vcluster.AnnotationAsleepSince, …).
const (
	// AnnotationCascade is tenancy.AnnotationCascade: on a Tenant, deleting
	// it deletes its whole subtree.
	AnnotationCascade = tenancy.AnnotationCascade
	// LabelManagedBy marks RoleBindings, Secrets and other objects the
	// engine owns in host namespaces (value "vclusterkit"); nothing without
	// it is ever modified or deleted.
	LabelManagedBy = hostns.LabelManagedBy
	// DefaultTemplateNamespace holds space templates unless
	// Options.TemplateNamespace says otherwise.
	DefaultTemplateNamespace = spacetemplate.DefaultNamespace
)

// MemberKubeconfigSecret names the Secret holding a member's kubeconfig for
// a virtual cluster (in the VirtualCluster's namespace, key "config").
func MemberKubeconfigSecret(vcName, user string) string {
	return names.MemberKubeconfigSecret(vcName, user)
}

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
	// DNS configures the cluster DNS each virtual cluster gets (package
	// vcluster/dns: a CoreDNS inside it, so its Services and pods resolve
	// by their usual names). The zero value runs the upstream CoreDNS
	// image and forwards outside names to the host cluster's DNS Service
	// (kube-system/kube-dns) when the host has one, else to the node's
	// resolvers; DNS.Disabled leaves it out.
	DNS dns.Options
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
	// ResyncPeriod requeues Ready objects so drift is repaired, and paces
	// the store projection and the admission policy reconcile; zero means
	// each one's default: 30 s for tenants, virtual clusters, the
	// projection and the admission policies, five minutes for spaces.
	ResyncPeriod time.Duration
	// Logger is used by the manager and controllers; the zero value
	// discards.
	Logger logr.Logger
	// Recorder overrides the event recorder (tests); nil means the manager's.
	Recorder lifecycle.Recorder
	// Registerer receives the engine's metrics (the quota ledger's, and the
	// syncers'); nil means controller-runtime's metrics.Registry, which
	// MetricsBindAddress serves. Two Engines running at once in one process
	// need a Registerer each: Start refuses to share one.
	Registerer prometheus.Registerer
	// TenantSteps, SpaceSteps and VirtualClusterSteps edit the lifecycle
	// steps of the engine's controllers before they are registered: add
	// steps of your own, replace or drop built-in ones
	// (lifecycle.Customize). Nil keeps the built-in steps.
	TenantSteps         lifecycle.Customize[*tenancy.Tenant]
	SpaceSteps          lifecycle.Customize[*tenancy.Space]
	VirtualClusterSteps lifecycle.Customize[*vcluster.VirtualCluster]
}

// Engine composes the tenancy, quota, netpol, vcluster and sync packages
// into one controller-runtime manager: Tenant, Space and VirtualCluster
// controllers, the quota webhook, the shared sync host, metrics and health.
// Create it with New and run it with Start.
type Engine struct {
	mgr      ctrl.Manager
	client   client.Client
	host     *rest.Config
	registry *vcluster.Registry
	ledger   *quota.Ledger
	opts     Options
	policy   *policyadmission.PolicyAdmission
}

// New is NewContext with a background context: each of its two writes to
// the host (CRDs, namespace guard) is bounded by a minute.
func New(host *rest.Config, opts Options) (*Engine, error) {
	return NewContext(context.Background(), host, opts)
}

// NewContext validates opts, builds the manager with every controller
// registered, and prepares the host under ctx: it installs or updates the
// CRDs (unless Options.SkipCRDInstall) and puts the namespace guard in
// place, so that both exist when it returns (a caller may create Tenants at
// once). Nothing runs until Start.
func NewContext(ctx context.Context, host *rest.Config, opts Options) (*Engine, error) {
	if host == nil {
		return nil, errors.New("vclusterkit.New: host config is required")
	}
	if opts.LeaderElection && opts.LeaderElectionNamespace == "" {
		return nil, errors.New("vclusterkit.Options.LeaderElectionNamespace: required when LeaderElection is set")
	}
	if opts.LeaderElectionID == "" {
		opts.LeaderElectionID = "vclusterkit-engine"
	}
	if err := opts.DNS.Validate(field.NewPath("vclusterkit.Options", "DNS")); err != nil {
		return nil, err
	}
	if opts.Logger.GetSink() == nil {
		opts.Logger = logr.Discard()
	}
	if opts.Syncers == nil {
		opts.Syncers = DefaultSyncers
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
	e := &Engine{mgr: mgr, client: mgr.GetClient(), host: host, opts: opts, ledger: quota.NewLedger(quota.LedgerOptions{})}
	e.registry = opts.Provisioners
	if e.registry == nil {
		lp, err := local.New(opts.Local)
		if err != nil {
			return nil, fmt.Errorf("vclusterkit.New: local provisioner: %w", err)
		}
		e.registry = vcluster.NewRegistry()
		if err := e.registry.Register(local.Name, lp); err != nil {
			return nil, err
		}
	}
	if err := e.setup(); err != nil {
		return nil, fmt.Errorf("vclusterkit.New: %w", err)
	}
	if !opts.SkipCRDInstall {
		if err := installCRDs(ctx, host, opts.Scheme); err != nil {
			return nil, fmt.Errorf("vclusterkit.New: %w", err)
		}
	}
	if err := e.policy.Prepare(ctx); err != nil {
		return nil, fmt.Errorf("vclusterkit.New: %w", err)
	}
	return e, nil
}

// setup builds the engine's parts and registers them with the manager.
func (e *Engine) setup() error {
	mgr, opts := e.mgr, e.opts
	resync := func(d time.Duration) time.Duration {
		if opts.ResyncPeriod != 0 {
			return opts.ResyncPeriod
		}
		return d
	}
	recorder := func(name string) lifecycle.Recorder {
		if opts.Recorder != nil {
			return opts.Recorder
		}
		return mgr.GetEventRecorder(name)
	}

	// The tenant tree: from Tree, else Store, else the manager's cache (then
	// snapshots are cached between changes).
	snapshots := &snapshot.Reader{Source: opts.Tree}
	switch {
	case opts.Tree != nil:
	case opts.Store != nil:
		snapshots.Source = opts.Store
	default:
		snapshots.Source = snapshot.CacheSource{Reader: mgr.GetClient()}
		if err := mgr.Add(snapshots.Follow(mgr.GetCache())); err != nil {
			return err
		}
	}
	if opts.Store != nil {
		if err := mgr.Add(&projection.Projection{Store: opts.Store, Client: e.client, Resync: resync(30 * time.Second)}); err != nil {
			return err
		}
	}

	syncHost, err := syncer.NewHost(e.host, syncer.HostOptions{Scheme: opts.Scheme, Unfiltered: builtin.HostOptions()})
	if err != nil {
		return fmt.Errorf("sync host: %w", err)
	}
	if err := mgr.Add(syncHost); err != nil {
		return err
	}
	enforcer, err := quotaenforce.New(mgr, e.ledger, snapshots, quotaenforce.WebhookOptions{
		QuotaDisabled: opts.Quota.Disabled,
		// The store validates its writes; the host objects are its
		// projection.
		Tenancy:              !opts.TenancyWebhook.Disabled && opts.Store == nil,
		TenancyFailurePolicy: opts.TenancyWebhook.FailurePolicy,
		Addr:                 opts.Quota.Addr, Service: opts.Quota.Service, Hosts: opts.Quota.Hosts,
	})
	if err != nil {
		return err
	}
	if err := mgr.Add(enforcer); err != nil {
		return err
	}
	e.policy, err = policyadmission.New(mgr, snapshots, opts.Logger, resync(30*time.Second))
	if err != nil {
		return err
	}
	if err := mgr.Add(e.policy); err != nil {
		return err
	}

	namespaces := &hostns.Shaper{Client: e.client, NetworkPolicy: opts.NetworkPolicy}
	for _, c := range []interface{ SetupWithManager(ctrl.Manager) error }{
		&tenant.Reconciler{
			Client: e.client, Recorder: recorder("vclusterkit-tenant"), Snapshots: snapshots,
			Ledger: e.ledger, Quota: enforcer, ResyncAfter: resync(30 * time.Second), Customize: opts.TenantSteps,
		},
		&space.Reconciler{
			Client: e.client, Recorder: recorder("vclusterkit-space"), Snapshots: snapshots, Namespaces: namespaces,
			Templates:   &spacetemplate.Applier{Client: e.client, Namespace: opts.TemplateNamespace},
			ResyncAfter: resync(5 * time.Minute), Customize: opts.SpaceSteps,
		},
		&virtualcluster.Reconciler{
			Client: e.client, Recorder: recorder("vclusterkit-virtualcluster"), Snapshots: snapshots, Namespaces: namespaces,
			Provisioners: e.registry, Syncers: virtualcluster.SyncersFunc(opts.Syncers), SyncHost: syncHost,
			QuotaAdmit: enforcer.Admit, Registerer: opts.Registerer,
			ResyncAfter: resync(30 * time.Second), Customize: opts.VirtualClusterSteps,
			DNS: opts.DNS,
		},
		&nsguard.Reconciler{Client: e.client, Recorder: recorder("vclusterkit-namespace-guard")},
	} {
		if err := c.SetupWithManager(mgr); err != nil {
			return err
		}
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	return mgr.AddReadyzCheck("ping", healthz.Ping)
}

// Start runs the engine until ctx ends, then stops every syncer, the
// webhook and the manager, and shuts down the control planes of
// provisioners that run them in this process (vcluster.Shutdowner, as the
// local provisioner does), keeping their state: the next Start (of a new
// Engine) finds every virtual cluster again. Deleting the VirtualCluster
// objects is what removes them. Every goroutine the engine started has
// ended when Start returns. An Engine starts once.
func (e *Engine) Start(ctx context.Context) error {
	reg := e.opts.Registerer
	if reg == nil {
		reg = metrics.Registry
	}
	collector := quota.NewCollector(e.ledger)
	if err := reg.Register(collector); err != nil {
		return fmt.Errorf("vclusterkit: registering quota metrics (two Engines running at once need an Options.Registerer each): %w", err)
	}
	defer reg.Unregister(collector)
	defer e.shutdownProvisioners()
	return e.mgr.Start(ctx)
}

// shutdownProvisioners stops the control planes that run in this process.
func (e *Engine) shutdownProvisioners() {
	sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, name := range e.registry.Names() {
		if p, err := e.registry.Get(name); err == nil {
			if s, ok := p.(vcluster.Shutdowner); ok {
				s.Shutdown(sctx)
			}
		}
	}
}

// Manager returns the controller-runtime manager, to add controllers or
// runnables of your own before Start.
func (e *Engine) Manager() ctrl.Manager { return e.mgr }

// Provisioners returns the provisioner registry in use.
func (e *Engine) Provisioners() *vcluster.Registry { return e.registry }

// Ledger returns the quota ledger the webhook and the syncers admit against.
func (e *Engine) Ledger() *quota.Ledger { return e.ledger }

// Wake wakes a virtual cluster that sleeps for inactivity (it does not
// override Spec.Sleep.Paused, which the owner of the spec controls).
func (e *Engine) Wake(ctx context.Context, namespace, name string) error {
	vc := &vcluster.VirtualCluster{}
	if err := e.client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, vc); err != nil {
		return err
	}
	if _, ok := vc.Annotations[vcluster.AnnotationAsleepSince]; !ok {
		return nil
	}
	patch := client.MergeFrom(vc.DeepCopy())
	delete(vc.Annotations, vcluster.AnnotationAsleepSince)
	return e.client.Patch(ctx, vc, patch)
}

// installCRDs installs the tenancy and vcluster CRDs and waits until they
// are established.
func installCRDs(ctx context.Context, cfg *rest.Config, s *runtime.Scheme) error {
	c, err := client.New(cfg, client.Options{Scheme: s})
	if err != nil {
		return fmt.Errorf("installing CRDs: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := tenancy.InstallCRDs(ctx, c); err != nil {
		return fmt.Errorf("installing tenancy CRDs: %w", err)
	}
	if err := vcluster.InstallCRDs(ctx, c); err != nil {
		return fmt.Errorf("installing vcluster CRDs: %w", err)
	}
	return nil
}
