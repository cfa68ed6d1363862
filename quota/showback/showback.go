package showback

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"

	"github.com/vclusterkit/vclusterkit/quota"
)

// UsageReader is the part of the quota ledger the meter reads
// (*quota.Ledger and *quota.SharedLedger have it).
type UsageReader interface {
	Usage(node string) (quota.Usage, error)
	NodeNames() []string
}

// Price is what one unit of a resource costs for one hour. Units: cores
// for resources whose name holds "cpu", GiB for "memory" and "storage",
// one for anything else (pods, services, …).
type Price struct {
	PerUnitHour float64 `json:"perUnitHour"`
}

// PriceTable prices resources by ledger name (requests.cpu,
// requests.memory, requests.storage, …); resources without a price are
// metered but cost nothing.
type PriceTable map[corev1.ResourceName]Price

// DefaultPrices is an example table: 0.03 per core-hour, 0.004 per
// GiB-hour of memory, 0.0002 per GiB-hour of storage.
func DefaultPrices() PriceTable {
	return PriceTable{
		corev1.ResourceRequestsCPU:     {PerUnitHour: 0.03},
		corev1.ResourceRequestsMemory:  {PerUnitHour: 0.004},
		corev1.ResourceRequestsStorage: {PerUnitHour: 0.0002},
	}
}

// Options configure NewMeter.
type Options struct {
	// Source is the ledger. Required.
	Source UsageReader
	// Prices; nil means DefaultPrices.
	Prices PriceTable
	// Period is the length of a reporting period, aligned to the Unix
	// epoch in UTC; zero means 24 hours.
	Period time.Duration
	// Interval between samples when run by Start; zero means a minute.
	Interval time.Duration
	// Currency labels amounts; empty means "USD".
	Currency string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Meter integrates usage. Safe for concurrent use.
type Meter struct {
	opts Options
	mu   sync.Mutex
	last time.Time
	// usage held since last, per node and resource (unit amounts)
	held map[string]map[corev1.ResourceName]float64
	// buckets[period start][node][resource] unit-hours
	buckets map[time.Time]map[string]map[corev1.ResourceName]float64
	totals  map[string]map[corev1.ResourceName]float64
}

// NewMeter checks opts.
func NewMeter(opts Options) (*Meter, error) {
	if opts.Source == nil {
		return nil, errors.New("showback.Options.Source is required")
	}
	if opts.Prices == nil {
		opts.Prices = DefaultPrices()
	}
	if opts.Period == 0 {
		opts.Period = 24 * time.Hour
	}
	if opts.Interval == 0 {
		opts.Interval = time.Minute
	}
	if opts.Currency == "" {
		opts.Currency = "USD"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	for r, p := range opts.Prices {
		if p.PerUnitHour < 0 || math.IsNaN(p.PerUnitHour) || math.IsInf(p.PerUnitHour, 0) {
			return nil, fmt.Errorf("showback.Options.Prices[%s]: %v is not a price", r, p.PerUnitHour)
		}
	}
	return &Meter{opts: opts, buckets: map[time.Time]map[string]map[corev1.ResourceName]float64{},
		totals: map[string]map[corev1.ResourceName]float64{}}, nil
}

// units converts a quantity to the resource's pricing unit.
func units(name corev1.ResourceName, q float64) float64 {
	n := string(name)
	switch {
	case strings.Contains(n, "cpu"):
		return q
	case strings.Contains(n, "memory"), strings.Contains(n, "storage"):
		return q / (1 << 30)
	}
	return q
}

// Unit names the pricing unit of a resource: "core", "GiB" or "unit".
func Unit(name corev1.ResourceName) string {
	n := string(name)
	switch {
	case strings.Contains(n, "cpu"):
		return "core"
	case strings.Contains(n, "memory"), strings.Contains(n, "storage"):
		return "GiB"
	}
	return "unit"
}

// Sample charges what each node held since the previous sample (split
// across period boundaries) and reads what it holds now. The first sample
// only reads. Each tenant is charged its subtree's usage, so a parent's
// figure includes its children's.
func (m *Meter) Sample() {
	now := m.opts.Now().UTC()
	held := map[string]map[corev1.ResourceName]float64{}
	for _, n := range m.opts.Source.NodeNames() {
		if strings.HasPrefix(n, "space:") {
			continue // charged to its tenant's subtree already
		}
		u, err := m.opts.Source.Usage(n)
		if err != nil {
			continue
		}
		h := map[corev1.ResourceName]float64{}
		for r, q := range u.Subtree {
			h[r] = units(r, q.AsApproximateFloat64())
		}
		held[n] = h
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.last.IsZero() && now.After(m.last) {
		from := m.last
		for from.Before(now) {
			start := from.Truncate(m.opts.Period)
			to := start.Add(m.opts.Period)
			if to.After(now) {
				to = now
			}
			hours := to.Sub(from).Hours()
			b := m.buckets[start]
			if b == nil {
				b = map[string]map[corev1.ResourceName]float64{}
				m.buckets[start] = b
			}
			for n, h := range m.held {
				if b[n] == nil {
					b[n] = map[corev1.ResourceName]float64{}
				}
				if m.totals[n] == nil {
					m.totals[n] = map[corev1.ResourceName]float64{}
				}
				for r, x := range h {
					b[n][r] += x * hours
					m.totals[n][r] += x * hours
				}
			}
			from = to
		}
	}
	m.last, m.held = now, held
}

// Start samples every Interval until ctx ends (a manager.Runnable).
func (m *Meter) Start(ctx context.Context) error {
	m.Sample()
	t := time.NewTicker(m.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			m.Sample()
			return nil
		case <-t.C:
			m.Sample()
		}
	}
}

// Line is one resource of a report.
type Line struct {
	Resource    corev1.ResourceName `json:"resource"`
	Unit        string              `json:"unit"`
	UnitHours   float64             `json:"unitHours"`
	PerUnitHour float64             `json:"perUnitHour"`
	Cost        float64             `json:"cost"`
}

// Report is the cost of one tenant subtree in one period.
type Report struct {
	Tenant   string    `json:"tenant"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Currency string    `json:"currency"`
	Lines    []Line    `json:"lines"`
	Total    float64   `json:"total"`
}

// Periods lists the starts of the periods with data, newest first.
func (m *Meter) Periods() []time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]time.Time, 0, len(m.buckets))
	for s := range m.buckets {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].After(out[j]) })
	return out
}

// PeriodOf is the start of the period holding t.
func (m *Meter) PeriodOf(t time.Time) time.Time { return t.UTC().Truncate(m.opts.Period) }

// Report prices tenant's usage in the period that starts at start (see
// PeriodOf); a period without data reports zero.
func (m *Meter) Report(tenant string, start time.Time) Report {
	start = m.PeriodOf(start)
	m.mu.Lock()
	defer m.mu.Unlock()
	rep := Report{Tenant: tenant, Start: start, End: start.Add(m.opts.Period), Currency: m.opts.Currency, Lines: []Line{}}
	for r, x := range m.buckets[start][tenant] {
		p := m.opts.Prices[r].PerUnitHour
		l := Line{Resource: r, Unit: Unit(r), UnitHours: round(x), PerUnitHour: p, Cost: round(x * p)}
		rep.Lines = append(rep.Lines, l)
		rep.Total += x * p
	}
	rep.Total = round(rep.Total)
	sort.Slice(rep.Lines, func(i, j int) bool { return rep.Lines[i].Resource < rep.Lines[j].Resource })
	return rep
}

func round(x float64) float64 { return math.Round(x*1e6) / 1e6 }

var (
	unitHoursDesc = prometheus.NewDesc("vclusterkit_showback_unit_hours_total",
		"Requested resource × time of a tenant subtree since the process started, in core-, GiB- or unit-hours.",
		[]string{"tenant", "resource", "unit"}, nil)
	costDesc = prometheus.NewDesc("vclusterkit_showback_cost_total",
		"Priced usage of a tenant subtree since the process started.", []string{"tenant", "currency"}, nil)
)

// Describe implements prometheus.Collector.
func (m *Meter) Describe(ch chan<- *prometheus.Desc) {
	ch <- unitHoursDesc
	ch <- costDesc
}

// Collect implements prometheus.Collector.
func (m *Meter) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for n, rs := range m.totals {
		var cost float64
		for r, x := range rs {
			ch <- prometheus.MustNewConstMetric(unitHoursDesc, prometheus.CounterValue, x, n, string(r), Unit(r))
			cost += x * m.opts.Prices[r].PerUnitHour
		}
		ch <- prometheus.MustNewConstMetric(costDesc, prometheus.CounterValue, cost, n, m.opts.Currency)
	}
}

var _ prometheus.Collector = (*Meter)(nil)
