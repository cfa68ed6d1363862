package syncer

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"
)

// meteredLimiter is the one client-side rate limiter of a side: every
// client and informer built from the side's rest.Config shares it (left
// to itself, controller-runtime builds a REST client, and so a limiter,
// per kind, which would turn "QPS" into QPS per kind). It records how long
// requests waited for it, so a run held by the limiter says so.
type meteredLimiter struct {
	flowcontrol.RateLimiter
	wait   prometheus.Observer
	waited atomic.Int64 // nanoseconds, in total
}

func (l *meteredLimiter) Wait(ctx context.Context) error {
	start := time.Now()
	err := l.RateLimiter.Wait(ctx)
	d := time.Since(start)
	l.waited.Add(int64(d))
	l.wait.Observe(d.Seconds())
	return err
}

// waited returns the total time requests of cfg waited for its limiter
// (zero without one).
func waited(cfg *rest.Config) time.Duration {
	if l, ok := cfg.RateLimiter.(*meteredLimiter); ok {
		return time.Duration(l.waited.Load())
	}
	return 0
}

var rateLimiterWait = prometheus.NewHistogramVec(prometheus.HistogramOpts{
	Name:    MetricRateLimiterWait,
	Help:    "Time client requests of the sync engine waited for its client-side rate limiter, by side (host, or the virtual cluster's name).",
	Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
}, []string{"side"})

// limit gives cfg (a copy the caller owns) one shared, metered rate
// limiter at qps and burst; a negative qps leaves the client unlimited.
// A limiter the caller set on cfg is kept.
func limit(cfg *rest.Config, reg prometheus.Registerer, side string, qps float32, burst int) error {
	cfg.QPS, cfg.Burst = qps, burst
	if cfg.RateLimiter != nil || qps < 0 {
		return nil
	}
	h, err := register(reg, rateLimiterWait)
	if err != nil {
		return err
	}
	cfg.RateLimiter = &meteredLimiter{RateLimiter: flowcontrol.NewTokenBucketRateLimiter(qps, burst), wait: h.WithLabelValues(side)}
	return nil
}
