// Package kubestore persists a quota.SharedLedger's state in a ConfigMap, using the API
// server's resourceVersion for optimistic concurrency, so that several engine replicas
// admit against one ledger without overshooting.
//
// One ConfigMap holds every charged object of the ledger; at roughly 150 bytes per
// object, it fits about 6,000 live objects under the API server's 1 MiB object limit.
// It is the simple choice for a few replicas; it is not a high-throughput store (every
// admission is one write to the API server).
package kubestore
