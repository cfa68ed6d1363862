// Package services is the built-in syncer for Services. A virtual Service
// is written to the host with its selector scoped to the virtual cluster
// and namespace (so it can only select that tenant's pods), without the
// addresses the host allocates, and without externalIPs, which are refused.
// The virtual Service then takes the host's cluster IP and node ports:
// those fields are immutable, so the virtual Service is recreated with
// them; this needs the virtual API server's service CIDR to match the
// host's (when the virtual API server refuses the IP, a
// ClusterIPNotMirrored event says so and the Service keeps its own IP).
// Load balancer status flows back. default/kubernetes is not synced.
package services
