// Package poddisruptionbudgets is the optional built-in syncer for
// PodDisruptionBudgets: the host copy's selector is scoped to the virtual
// cluster and namespace, so a tenant's budget can never match — and block
// evictions of — another tenant's pods. Status flows back.
package poddisruptionbudgets
