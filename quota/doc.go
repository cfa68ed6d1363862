// Package quota enforces hierarchical resource quota: a tenant's hard limits apply to the
// sum over its whole subtree (its spaces, its virtual clusters' host namespaces and its
// descendants), and a child's limit can only be lower than its ancestors'.
//
// The core is Ledger, a reservation ledger that admission consults. A request is admitted
// only if, for the node and each ancestor, used + reserved + requested <= hard; the check
// and the reservation are one atomic step, so concurrent creates never overshoot.
// Reservations are keyed by object UID and are committed when the object exists
// (Commit), released when it is gone or never came (Release, or expiry after
// LedgerOptions.ReservationTTL, applied by Admit, Reconcile and SetNodes), and Reconcile
// rebuilds usage from the objects that exist so that drift heals. Only committed usage
// keeps a node in the tree; reservations are released with their node. Deleting an object frees exactly what its UID was charged,
// once; a re-created object is a new UID and is charged anew.
//
// Around the ledger: PodUsage computes what a pod is charged (LimitRange defaults
// applied, then the API server's own totals: sidecars, pod-level resources, overhead, and
// during an in-place resize the larger of spec and what the kubelet holds),
// PersistentVolumeClaimUsage and ServiceUsage what a claim and a Service are charged, and
// CountUsage what any other object is charged when a limit counts its kind
// (count/configmaps, count/deployments.apps, count/widgets.example.com — every key
// ResourceQuota knows is a subtree limit; ParseCountResource and CountedResources tell
// which kinds a tree counts). Increase is what an update adds; Ledger.Recharge follows
// an existing object's changed usage. What is charged is what exists in host
// namespaces: objects that live only inside a virtual cluster (its Deployments, say)
// are not counted until a syncer writes them to the host.
// Nodes builds the tree from tenancy.Tenant and tenancy.Space objects,
// RenderResourceQuota and RenderLimitRange render the per-namespace objects that let the
// API server's own quota admission act as a second line, Ledger.Usage rolls usage up per
// tenant (own and subtree) for tenant status, and Collector exposes it all to Prometheus.
// Package quota/admission serves the ledger as a fail-closed validating webhook; the
// syncer calls Ledger.Admit in process before it creates host objects.
//
// Ledger keeps its state in memory, for one engine process that feeds it object events
// (see admission.ObjectTracker) and reconciles it at start. SharedLedger is the same
// ledger with its state in a Store (quota/kubestore keeps it in a ConfigMap) saved with
// optimistic concurrency, for several replicas admitting at once. quota does not watch
// the cluster by itself. Amounts are counted in milli-units for cpu and in whole units
// (rounded up) for everything else, each at most 2^53.
package quota
