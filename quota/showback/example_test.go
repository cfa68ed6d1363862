package showback_test

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/vclusterkit/vclusterkit/quota"
	"github.com/vclusterkit/vclusterkit/quota/showback"
)

// A meter on a ledger: two cores requested for three hours at the default
// price of 0.03 per core-hour.
func ExampleMeter() {
	l := quota.NewLedger(quota.LedgerOptions{})
	_ = l.SetNodes([]quota.Node{{Name: "acme"}})
	_ = l.Observe(quota.Object{UID: "pod-1", Node: "acme", Resources: rl("requests.cpu", "2")})
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	m, _ := showback.NewMeter(showback.Options{Source: l, Now: func() time.Time { return now }})
	m.Sample()
	now = now.Add(3 * time.Hour)
	m.Sample()
	r := m.Report("acme", now)
	for _, line := range r.Lines {
		fmt.Printf("%s: %.1f %s-hours × %.2f = %.2f %s\n", line.Resource, line.UnitHours, line.Unit, line.PerUnitHour, line.Cost, r.Currency)
	}
	fmt.Println(r.Start.Format(time.DateOnly), corev1.ResourceRequestsCPU)
	// Output:
	// requests.cpu: 6.0 core-hours × 0.03 = 0.18 USD
	// 2026-12-07 requests.cpu
}
