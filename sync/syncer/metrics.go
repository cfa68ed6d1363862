package syncer

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric names the engine exports. Queue depth per kind is exported by
// controller-runtime as workqueue_depth{name="sync-<vcluster>-<kind>"}
// (with workqueue_adds_total, workqueue_queue_duration_seconds, ...); the
// engine mirrors it as vclusterkit_sync_queue_depth.
const (
	MetricObjectsSynced = "vclusterkit_sync_objects_total"
	MetricDuration      = "vclusterkit_sync_duration_seconds"
	MetricErrors        = "vclusterkit_sync_errors_total"
	MetricRefused       = "vclusterkit_sync_refused_total"
	MetricQueueDepth    = "vclusterkit_sync_queue_depth"
	// MetricEchoes counts watch events of the engine's own writes that
	// were not reconciled again, by side (host, virtual).
	MetricEchoes = "vclusterkit_sync_echoes_skipped_total"
	// MetricStatusOnly counts reconciles that only carried status back
	// (a host change of status alone): no translation, no host write.
	MetricStatusOnly = "vclusterkit_sync_status_only_total"
	// MetricRateLimiterWait is the time client requests waited for the
	// engine's client-side rate limiter, by side (host: the one budget
	// of the process; virtual: one budget per virtual cluster).
	MetricRateLimiterWait = "vclusterkit_sync_client_rate_limiter_wait_seconds"
)

// Directions and operations used as metric labels.
const (
	DirectionToHost    = "to_host"
	DirectionToVirtual = "to_virtual"
	OpCreate           = "create"
	OpUpdate           = "update"
	OpDelete           = "delete"
)

type metrics struct {
	synced   *prometheus.CounterVec
	duration *prometheus.HistogramVec
	errors   *prometheus.CounterVec
	refused  *prometheus.CounterVec
	depth    *prometheus.GaugeVec
	echoes   *prometheus.CounterVec
	status   *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		synced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricObjectsSynced,
			Help: "Objects written by the sync engine, by virtual cluster, kind, direction and operation.",
		}, []string{"vcluster", "kind", "direction", "op"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    MetricDuration,
			Help:    "Time to sync one object (one reconcile), by virtual cluster and kind.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}, []string{"vcluster", "kind"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricErrors,
			Help: "Sync attempts that failed with an error (conflicts, which are retried silently, excluded).",
		}, []string{"vcluster", "kind"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricRefused,
			Help: "Virtual objects refused by a syncer, by reason.",
		}, []string{"vcluster", "kind", "reason"}),
		depth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: MetricQueueDepth,
			Help: "Virtual objects waiting to be synced, by virtual cluster and kind.",
		}, []string{"vcluster", "kind"}),
		echoes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricEchoes,
			Help: "Watch events of the engine's own writes not reconciled again, by virtual cluster, kind and side.",
		}, []string{"vcluster", "kind", "side"}),
		status: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricStatusOnly,
			Help: "Reconciles that only carried status back to the virtual object, by virtual cluster and kind.",
		}, []string{"vcluster", "kind"}),
	}
	var err error
	m.synced, err = register(reg, m.synced)
	if err != nil {
		return nil, err
	}
	if m.duration, err = register(reg, m.duration); err != nil {
		return nil, err
	}
	if m.errors, err = register(reg, m.errors); err != nil {
		return nil, err
	}
	if m.refused, err = register(reg, m.refused); err != nil {
		return nil, err
	}
	if m.depth, err = register(reg, m.depth); err != nil {
		return nil, err
	}
	if m.echoes, err = register(reg, m.echoes); err != nil {
		return nil, err
	}
	if m.status, err = register(reg, m.status); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or returns the collector already registered under
// the same description, so every Engine of a process shares one set.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}
