package fleet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/quota"
	"github.com/vclusterkit/vclusterkit/quota/admission"
	"github.com/vclusterkit/vclusterkit/quota/kubestore"
	"github.com/vclusterkit/vclusterkit/tenancy"
)

// Default location of the fleet's quota ledger on the management API.
const (
	DefaultLedgerNamespace = "vclusterkit-fleet"
	DefaultLedgerName      = "quota-ledger"
)

// Quota enforces the tenant tree's quotas on one member cluster against
// the one ledger of the whole fleet, kept in a ConfigMap of the management
// API (quota.SharedLedger over quota/kubestore): every member's webhook
// reserves with optimistic concurrency on that one object, so a subtree
// limit holds exactly across clusters, however creates race on them.
//
// It serves a fail-closed validating webhook next to its cluster (pods,
// PersistentVolumeClaims and Services; see quota/admission), installs it
// there, and follows those objects (one that appears commits its
// reservation, one that ends or is deleted releases it). The tree (every
// Tenant and Space) is read from the management API every Interval.
//
// While the management API cannot be reached, the webhook cannot load the
// ledger and refuses the creates it checks (fail closed: admitting
// without the ledger could overshoot a limit that other clusters are
// using at the same moment); running pods are not touched.
//
// A member Engine on the same cluster should run with its own quota
// webhook off (Options.Quota.Disabled): this one replaces it.
type Quota struct {
	// Cluster names the member cluster (logs); required.
	Cluster string
	// Host reaches the member cluster; required.
	Host *rest.Config
	// Management is a client of the management API; required.
	Management client.Client
	// LedgerNamespace and LedgerName locate the ledger ConfigMap; empty
	// means DefaultLedgerNamespace and DefaultLedgerName. The namespace
	// must exist.
	LedgerNamespace, LedgerName string
	// Addr is where the webhook listens; empty means a free port on
	// 127.0.0.1 (a host API server on the same machine).
	Addr string
	// Hosts are the names in the serving certificate; empty means the
	// listen address's host.
	Hosts []string
	// WebhookName names the ValidatingWebhookConfiguration; empty means
	// "vclusterkit-fleet-quota".
	WebhookName string
	// Interval between reads of the tree; zero means 10 s.
	Interval time.Duration
	// LedgerTimeout bounds one admission's round trip to the ledger, so
	// that a cut link is answered with a clear refusal before the API
	// server gives up on the webhook; zero means 3 s.
	LedgerTimeout time.Duration
	// Defaults are the LimitRange defaults of a tenant, for pods that set
	// no requests; nil means none.
	Defaults func(tenant string) *tenancy.LimitRangeDefaults
}

func (q *Quota) check() error {
	switch {
	case q.Cluster == "":
		return errors.New("fleet.Quota.Cluster: required")
	case q.Host == nil:
		return errors.New("fleet.Quota.Host: required")
	case q.Management == nil:
		return errors.New("fleet.Quota.Management: required")
	}
	return nil
}

// Start serves and installs the webhook, then keeps the tree current until
// ctx ends (a manager.Runnable). It returns early only on bad options or
// when the webhook cannot be served or installed.
func (q *Quota) Start(ctx context.Context) error {
	if err := q.check(); err != nil {
		return err
	}
	ns, name := q.LedgerNamespace, q.LedgerName
	if ns == "" {
		ns = DefaultLedgerNamespace
	}
	if name == "" {
		name = DefaultLedgerName
	}
	interval := q.Interval
	if interval == 0 {
		interval = 10 * time.Second
	}
	log := ctrl.LoggerFrom(ctx).WithValues("cluster", q.Cluster)
	ledger := quota.NewSharedLedger(&kubestore.ConfigMapStore{Client: q.Management, Namespace: ns, Name: name}, quota.SharedLedgerOptions{})
	// Until the tree is read the ledger knows no tenant, and refuses.
	if err := refreshTree(ctx, q.Management, ledger); err != nil {
		log.Info("fleet quota: reading the tree failed; creates are refused until it succeeds", "error", err.Error())
	}
	hostClient, err := client.New(q.Host, client.Options{})
	if err != nil {
		return fmt.Errorf("fleet.Quota: %w", err)
	}
	addr := q.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	hosts := q.Hosts
	if len(hosts) == 0 {
		h, _, err := net.SplitHostPort(addr)
		if err != nil {
			return fmt.Errorf("fleet.Quota.Addr: %w", err)
		}
		hosts = []string{h}
	}
	certs, err := admission.GenerateCerts(admission.CertOptions{Hosts: hosts})
	if err != nil {
		return fmt.Errorf("fleet.Quota: %w", err)
	}
	resolver := admission.LabelResolver{Reader: hostClient, Defaults: q.Defaults}
	srv, err := admission.Serve(ctx, &admission.Webhook{Ledger: boundedAdmitter{ledger, q.ledgerTimeout()}, Resolver: resolver}, admission.ServerOptions{Addr: addr, Certs: certs})
	if err != nil {
		return fmt.Errorf("fleet.Quota: %w", err)
	}
	defer srv.Close()
	whName := q.WebhookName
	if whName == "" {
		whName = "vclusterkit-fleet-quota"
	}
	if _, err := admission.Install(ctx, hostClient, admission.InstallOptions{Name: whName, URL: srv.URL, CABundle: certs.CAPEM}); err != nil {
		return fmt.Errorf("fleet.Quota: %w", err)
	}
	cs, err := kubernetes.NewForConfig(q.Host)
	if err != nil {
		return fmt.Errorf("fleet.Quota: %w", err)
	}
	factory := informers.NewSharedInformerFactory(cs, 0)
	tracker := &admission.ObjectTracker{Ledger: ledger, Resolver: resolver}
	for _, inf := range []cache.SharedIndexInformer{
		factory.Core().V1().Pods().Informer(),
		factory.Core().V1().PersistentVolumeClaims().Informer(),
		factory.Core().V1().Services().Informer(),
	} {
		if _, err := inf.AddEventHandler(tracker.EventHandler(ctx)); err != nil {
			return fmt.Errorf("fleet.Quota: %w", err)
		}
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := refreshTree(ctx, q.Management, ledger); err != nil && ctx.Err() == nil {
				log.Info("fleet quota: reading the tree failed; keeping the last one", "error", err.Error())
			}
		}
	}
}

func (q *Quota) ledgerTimeout() time.Duration {
	if q.LedgerTimeout == 0 {
		return 3 * time.Second
	}
	return q.LedgerTimeout
}

// boundedAdmitter bounds each admission's ledger round trip.
type boundedAdmitter struct {
	*quota.SharedLedger
	timeout time.Duration
}

func (b boundedAdmitter) Admit(ctx context.Context, uid types.UID, node string, requested corev1.ResourceList) error {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	if err := b.SharedLedger.Admit(ctx, uid, node, requested); err != nil {
		if errors.Is(err, quota.ErrQuotaExceeded) {
			return err
		}
		return fmt.Errorf("the fleet's quota ledger on the management API cannot be reached, so nothing is admitted (fail closed): %w", err)
	}
	return nil
}

// refreshTree reads the tree from the management API into the ledger.
func refreshTree(ctx context.Context, mgmt client.Reader, ledger *quota.SharedLedger) error {
	var tenants tenancy.TenantList
	var spaces tenancy.SpaceList
	if err := mgmt.List(ctx, &tenants); err != nil {
		return err
	}
	if err := mgmt.List(ctx, &spaces); err != nil {
		return err
	}
	return ledger.SetNodes(quota.Nodes(tenants.Items, spaces.Items))
}

// Usage is a tenant's usage across every cluster of the fleet (its whole
// subtree, every cluster's charges together), read from the shared ledger
// on the management API; namespace and name locate the ledger ("" means
// the defaults).
func Usage(ctx context.Context, mgmt client.Client, namespace, name, tenant string) (quota.Usage, error) {
	if namespace == "" {
		namespace = DefaultLedgerNamespace
	}
	if name == "" {
		name = DefaultLedgerName
	}
	ledger := quota.NewSharedLedger(&kubestore.ConfigMapStore{Client: mgmt, Namespace: namespace, Name: name}, quota.SharedLedgerOptions{})
	if err := refreshTree(ctx, mgmt, ledger); err != nil {
		return quota.Usage{}, err
	}
	return ledger.Usage(ctx, tenant)
}
