// Package endpointslices is the built-in syncer for EndpointSlices of
// virtual Services that have no selector (endpoints the tenant manages
// itself). Host copies point at the host Service and are marked as managed
// by the syncer so the host's EndpointSlice controller ignores them. Slices
// of Services with a selector are not synced: the host derives those from
// the synced pods and the scoped host selector.
//
// # Address policy
//
// A tenant writes the addresses of these slices freely, and the host's
// Service proxies (and any Ingress or load balancer in front of the host
// Service) send traffic to them: copied unchecked, a slice would point the
// host at another tenant's pods, at host Services or at nodes
// (CVE-2021-25740). So an address is synced only when it is
//
//   - the pod IP of a host pod of this virtual cluster (in its host
//     namespace, carrying its managed label, not on the host network, not
//     Succeeded or Failed), or
//   - outside every range of Options.DeniedCIDRs, which defaults to the
//     private and local ranges 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16,
//     100.64.0.0/10, 127.0.0.0/8, 169.254.0.0/16, fc00::/7, fe80::/10 and
//     ::1/128 (see DefaultDeniedCIDRs).
//
// External endpoints on public addresses (a database outside the cluster)
// therefore keep working, while anything cluster-internal must be one of
// the tenant's own pods. Unspecified, multicast and broadcast addresses and
// slices of address type FQDN are never synced. A slice with one address
// that is not allowed is refused as a whole: it gets a SyncRefused event
// (reason EndpointAddressNotAllowed or EndpointAddressTypeNotAllowed,
// naming the address) and an existing host copy is deleted. Slices are
// checked again when a host pod of the virtual cluster changes, so a slice
// naming a pod that gets its IP is synced, and one naming a pod that
// terminates loses its host copy.
//
// When the host's node, pod or service networks use public addresses, add
// them to Options.DeniedCIDRs: the policy knows nothing about the host's
// networks but what that list says.
//
// The package is not a NetworkPolicy: it only decides what the host's
// Service machinery is told to route to.
package endpointslices
