// Package fleet registers many host clusters with one management side:
// Cluster (a host cluster, reached by a credential or by an agent that
// connects out), ClusterClaim (a tenant's request for room on a cluster,
// bound by a placement policy), and the controllers that keep them.
package fleet
