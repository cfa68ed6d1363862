// Package showback turns the quota ledger's usage into cost: it samples
// what each tenant subtree has requested (CPU, memory, storage, anything
// the ledger counts), integrates it over time into unit-hours per period
// (a day by default), and prices it with a configurable table. Reports
// answer per tenant and period; a Prometheus collector exports the running
// totals.
//
// It is showback, not billing: the integral is a sum of samples (one a
// minute by default), so a change between two samples is counted from the
// next one; totals live in memory and start at zero when the process
// starts. An embedder that bills keeps its own store, fed by Report.
package showback
