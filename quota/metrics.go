package quota

import (
	"github.com/prometheus/client_golang/prometheus"
)

var (
	descHard = prometheus.NewDesc("vclusterkit_quota_hard", "Hard limit of a tenant's subtree (own limit as given).",
		[]string{"tenant", "resource"}, nil)
	descUsed = prometheus.NewDesc("vclusterkit_quota_used", "Committed usage of a tenant: scope=own for objects charged to it directly, scope=subtree for its whole subtree.",
		[]string{"tenant", "resource", "scope"}, nil)
	descReserved = prometheus.NewDesc("vclusterkit_quota_reserved", "Admitted but not yet committed usage of a tenant's subtree.",
		[]string{"tenant", "resource"}, nil)
	descDecisions = prometheus.NewDesc("vclusterkit_quota_admission_decisions_total", "Quota admission decisions by result.",
		[]string{"result"}, nil)
)

// Collector exposes a Ledger as Prometheus metrics. Register it with the registry of your
// choice (for example controller-runtime's metrics.Registry); nothing is registered
// globally.
type Collector struct{ l *Ledger }

// NewCollector returns a collector for l.
func NewCollector(l *Ledger) *Collector { return &Collector{l: l} }

var _ prometheus.Collector = (*Collector)(nil)

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descHard
	ch <- descUsed
	ch <- descReserved
	ch <- descDecisions
}

// Collect implements prometheus.Collector. Values are in the resource's base unit (cores,
// bytes, objects).
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, name := range c.l.NodeNames() {
		u, err := c.l.Usage(name)
		if err != nil {
			continue // removed between the two calls
		}
		for r, q := range u.Hard {
			ch <- prometheus.MustNewConstMetric(descHard, prometheus.GaugeValue, q.AsApproximateFloat64(), name, string(r))
		}
		for r, q := range u.Own {
			ch <- prometheus.MustNewConstMetric(descUsed, prometheus.GaugeValue, q.AsApproximateFloat64(), name, string(r), "own")
		}
		for r, q := range u.Subtree {
			ch <- prometheus.MustNewConstMetric(descUsed, prometheus.GaugeValue, q.AsApproximateFloat64(), name, string(r), "subtree")
		}
		for r, q := range u.Reserved {
			ch <- prometheus.MustNewConstMetric(descReserved, prometheus.GaugeValue, q.AsApproximateFloat64(), name, string(r))
		}
	}
	s := c.l.Stats()
	ch <- prometheus.MustNewConstMetric(descDecisions, prometheus.CounterValue, float64(s.Admitted), "admitted")
	ch <- prometheus.MustNewConstMetric(descDecisions, prometheus.CounterValue, float64(s.Denied), "denied")
}
