package showback_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/vclusterkit/vclusterkit/quota"
	"github.com/vclusterkit/vclusterkit/quota/showback"
)

// clock is a settable clock: the meter's time is the test's, not the
// machine's.
type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }

func rl(kv ...string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		out[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return out
}

// TestMeterOnLedger meters a real ledger: acme → web, a pod of 2 cores and
// 4 GiB in web from 23:00, another core from 01:00, both gone at 07:00, a
// period boundary at midnight. Usage is sampled and held: a change counts
// from the next sample. Parents are charged their subtree.
func TestMeterOnLedger(t *testing.T) {
	l := quota.NewLedger(quota.LedgerOptions{})
	if err := l.SetNodes([]quota.Node{{Name: "acme", Hard: rl("requests.cpu", "10")}, {Name: "web", Parent: "acme"}, {Name: "globex"}}); err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 12, 6, 23, 0, 0, 0, time.UTC)}
	m, err := showback.NewMeter(showback.Options{Source: l, Now: c.now, Prices: showback.PriceTable{
		corev1.ResourceRequestsCPU: {PerUnitHour: 0.5}, corev1.ResourceRequestsMemory: {PerUnitHour: 0.25}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Observe(quota.Object{UID: "pod-1", Node: "web", Resources: rl("requests.cpu", "2", "requests.memory", "4Gi", "pods", "1")}); err != nil {
		t.Fatal(err)
	}
	m.Sample() // 23:00
	c.add(2 * time.Hour)
	m.Sample() // 01:00 next day: 1 h in each day
	if err := l.Observe(quota.Object{UID: "pod-2", Node: "web", Resources: rl("requests.cpu", "1")}); err != nil {
		t.Fatal(err)
	}
	c.add(time.Hour)
	m.Sample() // 02:00

	day1 := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	day2 := day1.Add(24 * time.Hour)
	got := m.Report("web", day2)
	want := showback.Report{Tenant: "web", Start: day2, End: day2.Add(24 * time.Hour), Currency: "USD", Total: 4*0.5 + 8*0.25,
		Lines: []showback.Line{
			{Resource: "pods", Unit: "unit", UnitHours: 2},
			// pod-2 came after the 01:00 sample: counted from 02:00.
			{Resource: "requests.cpu", Unit: "core", UnitHours: 4, PerUnitHour: 0.5, Cost: 2},
			{Resource: "requests.memory", Unit: "GiB", UnitHours: 8, PerUnitHour: 0.25, Cost: 2},
		}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("web, second day (-want +got):\n%s", diff)
	}
	if r := m.Report("web", day1.Add(23*time.Hour+30*time.Minute)); r.Total != 2*0.5+4*0.25 || !r.Start.Equal(day1) {
		t.Fatalf("web, first day: %+v", r)
	}
	if r := m.Report("acme", day2); r.Total != want.Total {
		t.Fatalf("acme is charged its subtree: %+v, want total %v", r, want.Total)
	}
	if r := m.Report("globex", day2); r.Total != 0 || len(r.Lines) != 0 {
		t.Fatalf("globex used nothing: %+v", r)
	}
	if diff := cmp.Diff([]time.Time{day2, day1}, m.Periods()); diff != "" {
		t.Fatalf("periods (-want +got):\n%s", diff)
	}

	// Released usage stops costing.
	l.Release("pod-1")
	l.Release("pod-2")
	c.add(5 * time.Hour)
	m.Sample() // 07:00: charges the 3 cores held since 02:00
	c.add(5 * time.Hour)
	m.Sample() // 12:00: nothing held
	if r := m.Report("web", day2); r.Lines[1].UnitHours != 4+3*5 || r.Lines[2].UnitHours != 8+4*5 {
		t.Fatalf("after release: %+v", r.Lines)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP vclusterkit_showback_cost_total Priced usage of a tenant subtree since the process started.
# TYPE vclusterkit_showback_cost_total counter
vclusterkit_showback_cost_total{currency="USD",tenant="acme"} 18.5
vclusterkit_showback_cost_total{currency="USD",tenant="globex"} 0
vclusterkit_showback_cost_total{currency="USD",tenant="web"} 18.5
`), "vclusterkit_showback_cost_total"); err != nil {
		t.Fatal(err)
	}
}

func TestBadPrice(t *testing.T) {
	l := quota.NewLedger(quota.LedgerOptions{})
	if _, err := showback.NewMeter(showback.Options{Source: l, Prices: showback.PriceTable{"requests.cpu": {PerUnitHour: -1}}}); err == nil {
		t.Fatal("a negative price was accepted")
	}
	if _, err := showback.NewMeter(showback.Options{}); err == nil {
		t.Fatal("a meter without a source was accepted")
	}
}
