// Package fleet runs one tenant tree across many host clusters: Clusters
// (registered host clusters), ClusterClaims (a tenant's request for room on
// one), the placement of Spaces and VirtualClusters on them, and one quota
// ledger for the whole fleet. It is for platforms that outgrow one host; a
// single-host Engine (package vclusterkit) needs none of it.
//
// # What runs where
//
// The management side is an API server (any: a plain kube-apiserver will
// do) holding the tree (Tenants, Spaces, VirtualClusters with their
// spec.placement), the Clusters and ClusterClaims, the kubeconfig Secrets of
// clusters reached by credential, and the quota ledger (a ConfigMap, see
// Quota). Its controllers (SetupManagement) keep the Clusters' health and
// capacity (ClusterReconciler), bind claims (ClaimReconciler, with the
// placement policy Place: labels or class, free capacity, the tenant
// policy's allowedClusters) and place Spaces and VirtualClusters
// (PlacementReconciler: a named cluster, a claim's cluster, or the default
// rule; written once into the AnnotationCluster annotation and explained by
// the Placed condition).
//
// Each member cluster runs its own Engine: namespaces, control planes,
// syncers and webhooks stay next to their host, as with one cluster. Two
// fleet pieces join it to the management side:
//
//   - a Member copies the tenant tree and the Spaces and VirtualClusters
//     placed on its cluster into it (labelled LabelMirrored), where the
//     Engine reconciles them, and copies their status back;
//   - a Quota serves the cluster's quota webhook against the fleet's one
//     ledger, which lives on the management API (quota.SharedLedger over
//     quota/kubestore: optimistic concurrency on one object), so a subtree
//     limit is exact across clusters however creates race on them, and
//     usage rolls up across clusters (Usage). The member's Engine runs with
//     its own quota webhook off.
//
// A cluster is reached in one of two ways (ClusterSpec.Connection). By
// Credential: the management side holds a kubeconfig in a Secret, probes
// the cluster and runs its Member (and, when the cluster's API server can
// call back, its Quota) itself (CredentialMembers). By Agent: package
// fleet/agent runs in the cluster, registers it, reports heartbeats and
// runs its Member and Quota there; every call goes out from the cluster to
// the management API, so a cluster behind NAT works.
//
// # When the link is cut
//
// Nothing is ever deleted because a link is down. A Member deletes a copy
// only after a complete read of the management API shows its source gone,
// and a failed read changes nothing; the management side never deletes
// what is placed on a lost cluster, and placement is sticky (a lost cluster
// keeps its objects; nothing is moved). The Cluster turns Ready=False with
// reason Unreachable (a failed probe, or no heartbeat within the grace
// period) and everything placed there shows ClusterReachable=False. When the
// link returns, the next pass converges: changes made on the management
// side meanwhile reach the cluster, status flows back.
//
// Admission fails closed: while a member cannot reach the ledger, its quota
// webhook refuses the creates it checks (pods, PersistentVolumeClaims,
// Services in tenants' namespaces) with a message saying so, within Quota.LedgerTimeout. Admitting
// without the ledger could overshoot a subtree limit that other clusters are
// spending at the same moment, and an overshoot cannot be taken back, while
// a refused create can be retried. What already runs keeps running: the
// member's Engine and syncers go on reconciling with the tree they last
// copied.
//
// The package's tests show each of these against a management API server
// and two KWOK host clusters, one joined by credential and one by agent,
// with the links between them cut and restored.
package fleet
