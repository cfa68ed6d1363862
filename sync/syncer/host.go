package syncer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/cluster"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/vclusterkit/vclusterkit/sync/translate"
)

// Default client rate limits the engine ships: one budget for everything
// a process sends to the host (all its virtual clusters), and one for
// everything an Engine sends to its virtual cluster. vcluster ships 40 QPS.
// A synced pod costs one host request (two and a patch with a service
// account token) and three virtual ones (four with a token: the token
// request, the Binding, two status patches); measured with go run
// ./internal/bench/sync -limits default -tokens, the former virtual
// default of 100 QPS held one virtual cluster to about 25 pods/s (52 s of
// limiter wait at 75 pods/s offered), hence 200.
const (
	DefaultHostQPS      float32 = 200
	DefaultHostBurst            = 400
	DefaultVirtualQPS   float32 = 200
	DefaultVirtualBurst         = 400
)

// HostOptions configure the shared host side. The zero value watches every
// namespace with the default rate limits and the client-go scheme.
type HostOptions struct {
	// Scheme knows every kind synced to the host. Default: client-go's.
	Scheme *runtime.Scheme
	// Namespaces limits the host cache to these namespaces (the tenants'
	// host namespaces). Empty means all namespaces.
	Namespaces []string
	// QPS and Burst of the host client: one budget for every request
	// the process makes to the host (all kinds, all virtual clusters, the
	// informers' lists and watches). Defaults DefaultHostQPS and
	// DefaultHostBurst (or the config's own QPS and Burst when set); a
	// negative QPS turns the limiter off. The wait is exported as
	// MetricRateLimiterWait{side="host"}.
	QPS   float32
	Burst int
	// Registerer for the rate limiter metric. Default controller-runtime's
	// metrics.Registry.
	Registerer prometheus.Registerer
	// Unfiltered lists kinds cached without the managed-label filter, for
	// syncers that read host objects the engine did not create (Events,
	// Nodes). Every other kind is cached only when it carries
	// translate.LabelVirtualCluster, so the host cache holds nothing but
	// objects that some virtual cluster manages.
	Unfiltered []client.Object
}

// Host is the host side shared by every Engine of a process: one client
// and one cache of managed host objects. Create it with NewHost, start it
// with Start (or add it to a controller-runtime manager: it is a
// manager.Runnable) and pass it to New for each virtual cluster.
type Host struct {
	cluster cluster.Cluster
	config  *rest.Config
}

// NewHost returns the shared host side for cfg. cfg is copied.
func NewHost(cfg *rest.Config, opts HostOptions) (*Host, error) {
	if cfg == nil {
		return nil, errors.New("syncer.NewHost: config is nil")
	}
	cfg = rest.CopyConfig(cfg)
	qps, burst := budget(cfg, opts.QPS, opts.Burst, DefaultHostQPS, DefaultHostBurst)
	if opts.Registerer == nil {
		opts.Registerer = ctrlmetrics.Registry
	}
	if err := limit(cfg, opts.Registerer, "host", qps, burst); err != nil {
		return nil, fmt.Errorf("syncer.NewHost: %w", err)
	}
	scheme := opts.Scheme
	if scheme == nil {
		scheme = clientgoscheme.Scheme
	}
	managed, err := labels.NewRequirement(translate.LabelVirtualCluster, selection.Exists, nil)
	if err != nil {
		return nil, fmt.Errorf("syncer.NewHost: %w", err)
	}
	cacheOpts := cache.Options{
		DefaultLabelSelector: labels.NewSelector().Add(*managed),
		ByObject:             map[client.Object]cache.ByObject{},
	}
	if len(opts.Namespaces) > 0 {
		cacheOpts.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range opts.Namespaces {
			cacheOpts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	for _, obj := range opts.Unfiltered {
		cacheOpts.ByObject[obj] = cache.ByObject{Label: labels.Everything()}
	}
	c, err := cluster.New(cfg, func(o *cluster.Options) {
		o.Scheme = scheme
		o.Cache = cacheOpts
	})
	if err != nil {
		return nil, fmt.Errorf("syncer.NewHost: %w", err)
	}
	return &Host{cluster: c, config: cfg}, nil
}

// Start runs the host cache until ctx is done.
func (h *Host) Start(ctx context.Context) error { return h.cluster.Start(ctx) }

// Cluster returns the underlying controller-runtime cluster.
func (h *Host) Cluster() cluster.Cluster { return h.cluster }

// Config returns the host client configuration (with the effective rate
// limits, and the shared limiter: clients built from it draw on the same
// budget).
func (h *Host) Config() *rest.Config { return rest.CopyConfig(h.config) }

// RateLimiterWait is how long host requests have waited for the
// client-side rate limiter since NewHost, in total.
func (h *Host) RateLimiterWait() time.Duration { return waited(h.config) }

// budget is the QPS and burst of a side: the option when set (a negative
// QPS means unlimited), else the config's own, else the default.
func budget(cfg *rest.Config, qps float32, burst int, defQPS float32, defBurst int) (float32, int) {
	switch {
	case qps != 0:
	case cfg.QPS != 0:
		qps = cfg.QPS
	default:
		qps = defQPS
	}
	switch {
	case burst > 0:
	case cfg.Burst > 0:
		burst = cfg.Burst
	default:
		burst = defBurst
	}
	if qps > 0 && float32(burst) < qps {
		// A token bucket whose burst is below its rate never reaches it.
		burst = int(qps)
	}
	return qps, burst
}
