// Package quotaenforce keeps the engine's quota ledger in step with the
// host and enforces it there: informers on pods, claims and Services, and
// metadata informers on every other resource the tree counts, charge what
// exists (a periodic resync from full lists heals any missed event); a
// fail-closed validating webhook admits host creates against the ledger
// (and serves the tenancy webhook beside it); an in-process admission
// function lets the syncer charge a pod before it creates it.
package quotaenforce

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/internal/snapshot"
	"github.com/vclusterkit/vclusterkit/quota"
	"github.com/vclusterkit/vclusterkit/quota/admission"
	"github.com/vclusterkit/vclusterkit/sync/syncer"
	"github.com/vclusterkit/vclusterkit/sync/translate"
	"github.com/vclusterkit/vclusterkit/tenancy"
	tenancywebhook "github.com/vclusterkit/vclusterkit/tenancy/webhook"
	"github.com/vclusterkit/vclusterkit/vcluster"
)

// WebhookOptions configure the webhooks Enforcer serves (the engine's
// QuotaOptions and TenancyWebhookOptions).
type WebhookOptions struct {
	// QuotaDisabled turns the quota webhook off.
	QuotaDisabled bool
	// Tenancy serves and installs the tenancy webhook beside it.
	Tenancy bool
	// TenancyFailurePolicy is the tenancy webhook's; nil means Ignore.
	TenancyFailurePolicy *admissionregistrationv1.FailurePolicyType
	// Addr, Service and Hosts: see the engine's QuotaOptions.
	Addr    string
	Service *admissionregistrationv1.ServiceReference
	Hosts   []string
}

// Enforcer is a manager Runnable. Create it with New.
type Enforcer struct {
	mgr       ctrl.Manager
	client    client.Client
	ledger    *quota.Ledger
	snapshots *snapshot.Reader
	opts      WebhookOptions

	resolver admission.LabelResolver
	tracker  *admission.ObjectTracker
	counts   *counts
	// keys remembers the ledger key each host pod was charged under.
	keys podKeys
	// namespaces reads namespaces from the cache, and live on a miss.
	namespaces client.Reader
	// tracking is set while the tracker follows the host (Start runs and
	// its informers synced): Resync is only meaningful then.
	tracking atomic.Bool
}

// New returns an Enforcer for mgr's host. It does no I/O.
func New(mgr ctrl.Manager, ledger *quota.Ledger, snapshots *snapshot.Reader, opts WebhookOptions) (*Enforcer, error) {
	switch {
	case mgr == nil:
		return nil, errors.New("quotaenforce.New: a manager is required")
	case ledger == nil:
		return nil, errors.New("quotaenforce.New: a ledger is required")
	case snapshots == nil:
		return nil, errors.New("quotaenforce.New: a snapshot reader is required")
	}
	e := &Enforcer{mgr: mgr, client: mgr.GetClient(), ledger: ledger, snapshots: snapshots, opts: opts, counts: newCounts()}
	e.init(mgr.GetAPIReader())
	return e, nil
}

// init builds the resolver and the tracker over e.client; live confirms
// that a namespace the cache does not hold is really gone.
func (e *Enforcer) init(live client.Reader) {
	e.namespaces = liveOnMiss{cache: e.client, live: live}
	e.resolver = admission.LabelResolver{Reader: e.namespaces, Defaults: func(tenant string) *tenancy.LimitRangeDefaults {
		s, err := e.snapshots.Get(context.Background())
		if err != nil {
			return nil
		}
		return quota.EffectiveLimitRange(s.Tenants, tenant)
	}}
	e.tracker = &admission.ObjectTracker{Ledger: e.ledger, Resolver: e.resolver, KeyFor: e.trackedKey}
}

// Start follows the host and serves the webhooks until ctx ends; every
// goroutine it starts has ended when it returns. It implements
// manager.Runnable.
func (e *Enforcer) Start(ctx context.Context) error {
	// The ledger needs the tree before it can charge anything. A store that
	// fails now (a database restarting) is retried, never fatal.
	for backoff := time.Second; ; backoff = min(backoff*2, 30*time.Second) {
		err := e.refreshLedger(ctx)
		if err == nil {
			break
		}
		ctrl.LoggerFrom(ctx).Error(err, "quota: loading the tenant tree; retrying", "after", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
	var synced []toolscache.InformerSynced
	for _, obj := range []client.Object{&corev1.Pod{}, &corev1.PersistentVolumeClaim{}, &corev1.Service{}} {
		inf, err := e.mgr.GetCache().GetInformer(ctx, obj)
		if err != nil {
			return fmt.Errorf("quota: %T informer: %w", obj, err)
		}
		h := e.tracker.EventHandler(ctx)
		if _, ok := obj.(*corev1.Pod); ok {
			h = e.podEventHandler(ctx)
		}
		reg, err := inf.AddEventHandler(h)
		if err != nil {
			return err
		}
		defer func() { _ = inf.RemoveEventHandler(reg) }()
		synced = append(synced, inf.HasSynced)
	}
	if !toolscache.WaitForCacheSync(ctx.Done(), synced...) {
		return nil // stopped before the caches synced
	}
	e.tracking.Store(true)
	defer e.tracking.Store(false)
	// Object counts the tree limits (count/configmaps, …): follow them
	// before the webhook is registered, so it counts them from the start.
	if err := e.syncCounts(ctx); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "quota: following counted resources")
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	// The counted set follows the tree: on a kick (a tenant changed) and
	// every 15 s (a CRD installed after its limit was set becomes
	// countable then).
	wg.Go(func() { repeat(ctx, 15*time.Second, e.counts.kick, "quota: following counted resources", e.syncCounts) })
	wg.Go(func() { repeat(ctx, time.Minute, nil, "quota resync", e.Resync) })
	if e.opts.QuotaDisabled && !e.opts.Tenancy {
		<-ctx.Done()
		return nil
	}
	return e.serveWebhook(ctx)
}

// Tracking reports whether the ledger follows the host now (Start runs
// and its informers synced).
func (e *Enforcer) Tracking() bool { return e.tracking.Load() }

// Resync rebuilds the ledger's committed usage from every pod, claim,
// Service and counted object that exists: a charge whose object is gone is
// dropped.
func (e *Enforcer) Resync(ctx context.Context) error {
	listed := e.keys.mark()
	var objs []client.Object
	var pods corev1.PodList
	var pvcs corev1.PersistentVolumeClaimList
	var svcs corev1.ServiceList
	for _, l := range []client.ObjectList{&pods, &pvcs, &svcs} {
		if err := e.client.List(ctx, l); err != nil {
			return err
		}
	}
	uids := make(map[types.UID]bool, len(pods.Items))
	for i := range pods.Items {
		objs = append(objs, &pods.Items[i])
		uids[pods.Items[i].UID] = true
	}
	e.keys.prune(listed, uids)
	for i := range pvcs.Items {
		objs = append(objs, &pvcs.Items[i])
	}
	for i := range svcs.Items {
		objs = append(objs, &svcs.Items[i])
	}
	counted, err := e.countedObjects(ctx)
	if err != nil {
		return err
	}
	return e.tracker.Resync(ctx, append(objs, counted...))
}

// repeat runs fn every interval, and at once whenever kick fires (nil: never),
// until ctx ends, logging its errors as what.
func repeat(ctx context.Context, every time.Duration, kick <-chan struct{}, what string, fn func(context.Context) error) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-kick:
		}
		if err := fn(ctx); err != nil && ctx.Err() == nil {
			ctrl.LoggerFrom(ctx).Error(err, what)
		}
	}
}

func (e *Enforcer) refreshLedger(ctx context.Context) error {
	s, err := e.snapshots.Get(ctx)
	if err != nil {
		return fmt.Errorf("quota: %w", err)
	}
	return e.ledger.SetNodes(quota.Nodes(s.Tenants, s.Spaces))
}

// serveWebhook serves the quota webhook and, beside it on the same server,
// the tenancy webhook, installs their configurations, and removes them
// again when it stops (unless behind a Service, where another replica
// takes over).
func (e *Enforcer) serveWebhook(ctx context.Context) error {
	qo := e.opts
	addr := qo.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	hosts := qo.Hosts
	if len(hosts) == 0 {
		if qo.Service != nil {
			hosts = []string{qo.Service.Name + "." + qo.Service.Namespace + ".svc"}
		} else if h, _, err := net.SplitHostPort(addr); err == nil && h != "" {
			hosts = []string{h}
		}
	}
	certs, err := admission.GenerateCerts(admission.CertOptions{Hosts: hosts})
	if err != nil {
		return fmt.Errorf("quota webhook certificates: %w", err)
	}
	wh := &admission.Webhook{Ledger: e.ledger, Resolver: e.resolver, KeyFor: e.quotaKey, Counted: e.counts.has}
	so := admission.ServerOptions{Addr: addr, Certs: certs}
	if e.opts.Tenancy {
		// Read live, not from the cache: a child applied right after its
		// parent (one kubectl apply of a tree) must find it. Only spec
		// changes of tenants and spaces, which are rare, pay the list.
		so.Handlers = map[string]http.Handler{tenancywebhook.Path: &tenancywebhook.Validator{Source: tenancywebhook.ClientSource(e.mgr.GetAPIReader())}}
	}
	srv, err := admission.Serve(ctx, wh, so)
	if err != nil {
		return fmt.Errorf("quota webhook: %w", err)
	}
	defer func() { _ = srv.Close() }()
	// A short timeout: the webhook answers from memory, and callers (Helm
	// installing a control plane, the syncer) must not hang on an engine
	// that is stopping.
	io := admission.InstallOptions{CABundle: certs.CAPEM, TimeoutSeconds: 3}
	if qo.Service != nil {
		io.Service = qo.Service
	} else {
		io.URL = srv.URL
	}
	c, err := client.New(e.mgr.GetConfig(), client.Options{Scheme: e.mgr.GetScheme()})
	if err != nil {
		return err
	}
	// Installs are serialised and always write the current counted set, so
	// the last one wins whichever of this and the counts loop runs last.
	var installMu sync.Mutex
	var cfg *admissionregistrationv1.ValidatingWebhookConfiguration
	install := func(ctx context.Context) error {
		installMu.Lock()
		defer installMu.Unlock()
		opts := io
		opts.Counted = e.counts.list()
		ictx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		got, err := admission.Install(ictx, c, opts)
		if err != nil {
			return err
		}
		cfg = got
		return nil
	}
	var tenancyCfg *admissionregistrationv1.ValidatingWebhookConfiguration
	if e.opts.Tenancy {
		to := tenancywebhook.InstallOptions{CABundle: certs.CAPEM, FailurePolicy: e.opts.TenancyFailurePolicy}
		if qo.Service != nil {
			svc := qo.Service.DeepCopy()
			svc.Path = nil // the tenancy webhook's own path
			to.Service = svc
		} else {
			to.URL = srv.URLFor(tenancywebhook.Path)
		}
		ictx, cancel := context.WithTimeout(ctx, 30*time.Second)
		tenancyCfg, err = tenancywebhook.Install(ictx, c, to)
		cancel()
		if err != nil {
			return fmt.Errorf("installing the tenancy webhook: %w", err)
		}
	}
	if !qo.QuotaDisabled {
		e.counts.mu.Lock()
		e.counts.install = install
		e.counts.mu.Unlock()
		if err := install(ctx); err != nil {
			return fmt.Errorf("installing the quota webhook: %w", err)
		}
	}
	<-ctx.Done()
	if qo.Service != nil {
		// Behind a Service another replica takes over: the webhook stays,
		// failing closed while none answers.
		return nil
	}
	// A loopback webhook dies with this process: remove it so the host
	// keeps admitting pods once the engine is gone.
	dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer dcancel()
	e.counts.mu.Lock()
	e.counts.install = nil
	e.counts.mu.Unlock()
	installMu.Lock()
	defer installMu.Unlock()
	for _, x := range []*admissionregistrationv1.ValidatingWebhookConfiguration{cfg, tenancyCfg} {
		if x != nil {
			_ = client.IgnoreNotFound(c.Delete(dctx, &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: x.ObjectMeta}))
		}
	}
	return nil
}

// Admit is the syncer's in-process admission for a virtual cluster
// with a dedicated host namespace: a host pod is charged to the tenant's
// ledger under the virtual pod's UID before it is created; over the limit,
// the virtual pod is refused (an event and a PodScheduled=False condition
// with reason QuotaExceeded) and tried again later.
func (e *Enforcer) Admit(tenant string) syncer.AdmitFunc {
	return func(ctx context.Context, virtual, host client.Object) error {
		pod, ok := host.(*corev1.Pod)
		if !ok {
			return nil
		}
		var defaults *tenancy.LimitRangeDefaults
		if s, err := e.snapshots.Get(ctx); err == nil {
			defaults = quota.EffectiveLimitRange(s.Tenants, tenant)
		}
		err := e.ledger.Admit(ctx, virtual.GetUID(), tenant, quota.PodUsage(pod, defaults))
		if errors.Is(err, quota.ErrQuotaExceeded) {
			return syncer.Refuse("QuotaExceeded", "%v", err)
		}
		return err
	}
}

// quotaKey is the ledger key of a host pod, for the webhook and the
// tracker: in a virtual cluster's dedicated host namespace, where only the
// syncer creates pods, the virtual pod's UID the syncer reserved under (so
// the webhook finds that reservation instead of charging twice);
// everywhere else the pod's own UID, since a tenant could write any
// annotation there.
func (e *Enforcer) quotaKey(p *corev1.Pod) types.UID {
	k, _ := e.podKey(p)
	return k
}

// podKey is quotaKey, and whether the namespace it depends on was read
// (false: the pod's own UID, for want of the namespace).
func (e *Enforcer) podKey(p *corev1.Pod) (types.UID, bool) {
	uid := p.Annotations[translate.AnnotationUID]
	if uid == "" || p.Labels[translate.LabelVirtualCluster] == "" {
		return p.UID, true
	}
	ns := &corev1.Namespace{}
	if err := e.namespaces.Get(context.Background(), client.ObjectKey{Name: p.Namespace}, ns); err != nil {
		return p.UID, false
	}
	if ns.Labels[vcluster.LabelVirtualCluster] != p.Labels[translate.LabelVirtualCluster] || ns.Labels[tenancy.LabelSpace] != "" {
		return p.UID, true
	}
	return types.UID(uid), true
}
